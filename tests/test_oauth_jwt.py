"""Unattended sign-in with an OAuth JWT service app (服务类应用), against the simulator that
verifies JWTs for real: configuration, the shared access token and its refresh, renewal
after a revoke, Chinese errors, no key material anywhere, the official SDK, Python 3.7."""
import glob
import os
import subprocess
import sys
import threading
import time
import traceback

import pytest

from helpers import BOT_ID as BOT, DIST, ROOT, find_python

from oauth_app import APP_ID, KEY_ID, AppKey

PY37 = find_python("3.7")


@pytest.fixture(scope="module")
def app_key(tmp_path_factory):
    return AppKey(folder=str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="module")
def other_key():
    return AppKey()


def oauth_sim(app_key, token_life=None, latency=0.05, **extra):
    from yingdao_module.simulator import Simulator
    return Simulator(latency=latency, oauth_app_id=APP_ID, oauth_key_id=KEY_ID, oauth_public_key=app_key.public_path,
                     oauth_token_life=token_life, **extra)


@pytest.fixture
def osim(app_key):
    with oauth_sim(app_key) as server:
        yield server


@pytest.fixture
def app_env(monkeypatch):
    for name in ("COZE_APP_ID", "COZE_KEY_ID", "COZE_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)


def app_kw(app_key, sim, key=None):
    return dict(bot_id=BOT, base_url=sim.url, app_id=APP_ID, key_id=KEY_ID,
                private_key=app_key.pkcs8 if key is None else key)


# ---- the official SDK against the simulator ---------------------------------------------------

def test_official_sdk_signs_in_and_a_foreign_key_is_refused(osim, app_key, other_key):
    import cozepy
    token = cozepy.JWTOAuthApp(APP_ID, app_key.pkcs8, KEY_ID, base_url=osim.url).get_access_token(ttl=600)
    assert token.access_token.startswith("czs_")
    assert 590 <= token.expires_in - time.time() <= 600  # a unix timestamp, not a duration
    coze = cozepy.Coze(auth=cozepy.TokenAuth(token.access_token), base_url=osim.url)
    question = [cozepy.Message.build_user_question_text("SDK 登录")]
    poll = coze.chat.create_and_poll(bot_id=BOT, user_id="u", additional_messages=question)
    assert poll.chat.status == cozepy.ChatStatus.COMPLETED
    with pytest.raises(cozepy.CozeAPIError) as refused:
        cozepy.JWTOAuthApp(APP_ID, other_key.pkcs8, KEY_ID, base_url=osim.url).get_access_token()
    assert "signature" in str(refused.value)
    with pytest.raises(cozepy.CozeAPIError) as wrong_kid:
        cozepy.JWTOAuthApp(APP_ID, app_key.pkcs8, "kid_unknown", base_url=osim.url).get_access_token()
    assert "kid not been registred" in str(wrong_kid.value)
    with pytest.raises(cozepy.CozeAPIError):  # only tokens it issued are accepted
        cozepy.Coze(auth=cozepy.TokenAuth("pat_anything"), base_url=osim.url).chat.create_and_poll(
            bot_id=BOT, user_id="u", additional_messages=question)
    assert osim.stats()["oauth_exchanges"] == 1 and osim.stats()["oauth_refused"] == 2


def test_simulator_checks_every_claim(osim, app_key):
    """Raw JWTs with one thing wrong each: the simulator refuses them all, and a jti is single-use."""
    import json
    import urllib.request
    from yingdao_module.auth import JWTApp, b64url, b64url_json
    from yingdao_module.rsa_sign import load_private_key
    signer = JWTApp(APP_ID, KEY_ID, load_private_key(app_key.pkcs8), osim.url)

    def jwt(**changes):
        now = int(time.time())
        payload = {"iss": APP_ID, "aud": signer.audience, "iat": now, "exp": now + 600, "jti": os.urandom(8).hex()}
        payload.update(changes)
        signing_input = b64url_json({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}) + "." + b64url_json(payload)
        return signing_input + "." + b64url(signer._key.sign_rs256(signing_input.encode("ascii")))

    def exchange(token, grant="urn:ietf:params:oauth:grant-type:jwt-bearer"):
        body = json.dumps({"duration_seconds": 600, "grant_type": grant}).encode()
        request = urllib.request.Request(osim.url + "/api/permission/oauth2/token", body, method="POST",
                                         headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    now = int(time.time())
    good = jwt(jti="once")
    assert exchange(good)[0] == 200
    assert "jti" in exchange(good)[1]["error_message"]
    assert exchange(jwt(aud="127.0.0.1"))[0] == 200  # the bare host works as well as cozepy's host:port
    for bad, words in ((jwt(iss="999"), "iss"), (jwt(aud="api.coze.cn"), "aud"),
                       (jwt(iat=now - 700, exp=now - 100), "expired"), (jwt(iat=now, exp=now + 86400), "86399"),
                       (jwt(iat=now + 600, exp=now + 900), "future"), (good[:-4] + "AAAA", "signature")):
        status, answer = exchange(bad)
        assert status == 401 and words in answer["error_message"], (words, answer)
    assert exchange(jwt(), grant="client_credentials")[0] == 400


def test_serve_command_takes_the_oauth_options(app_key, tmp_path):
    import cozepy
    command = [sys.executable, "-m", "yingdao_module", "serve", "--oauth-app-id", APP_ID, "--oauth-key-id", KEY_ID,
               "--oauth-public-key", app_key.public_path, "--oauth-token-life", "30"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        token = cozepy.JWTOAuthApp(APP_ID, app_key.pkcs8, KEY_ID, base_url=url).get_access_token(ttl=600)
        assert 25 <= token.expires_in - time.time() <= 30  # capped by --oauth-token-life
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    bad = subprocess.run(command[:-2] + ["--oauth-public-key", str(tmp_path / "missing.pem")], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "公钥" in bad.stderr and "Traceback" not in bad.stderr


# ---- our client ---------------------------------------------------------------------------------

def test_every_entry_point_signs_in_with_the_app(coze, backend, osim, app_key, app_env, tmp_path):
    kw = app_kw(app_key, osim)
    assert "你好" in coze.ask("你好", **kw)
    assert "轮询" in coze.chat("轮询", stream=False, **kw)["answer"]
    assert coze.new_conversation(**kw)
    conn = dict(base_url=osim.url, app_id=APP_ID, key_id=KEY_ID, private_key=app_key.pkcs1)  # the PKCS#1 file too
    assert coze.run_workflow("7400000000000000001", {"a": "b"}, **conn) == {"output": {"a": "b"}}
    picture = tmp_path / "a.png"
    picture.write_bytes(b"png")
    assert coze.upload_file(str(picture), **conn).isdigit()
    args = {"question": "流程", "bot_id": BOT, "base_url": osim.url, "app_id": APP_ID, "key_id": KEY_ID,
            "private_key": app_key.private_path}
    assert "流程" in coze.main(args) and args["error"] == ""
    stats = osim.stats()
    assert stats["oauth_exchanges"] == 1  # one token for the app, key and base URL, whichever key form
    assert stats["requests"]["/api/permission/oauth2/token"] == 1


def test_settings_from_environment_and_shadowbot_globals(coze, osim, app_key, app_env, monkeypatch, quiet_log):
    monkeypatch.setenv("COZE_APP_ID", APP_ID)
    monkeypatch.setenv("COZE_KEY_ID", KEY_ID)
    monkeypatch.setenv("COZE_PRIVATE_KEY", app_key.pkcs8.replace("\n", "\\n"))  # the one-line form
    assert "环境" in coze.ask("环境", bot_id=BOT, base_url=osim.url)
    monkeypatch.setenv("COZE_PRIVATE_KEY", app_key.private_path)  # or a path
    assert "路径" in coze.ask("路径", bot_id=BOT, base_url=osim.url)
    for name in ("COZE_APP_ID", "COZE_KEY_ID", "COZE_PRIVATE_KEY"):
        monkeypatch.delenv(name)
    coze.patch("glv", {"coze_app_id": APP_ID, "coze_key_id": KEY_ID, "coze_private_key": app_key.pkcs1,
                       "coze_bot_id": BOT, "coze_base_url": osim.url})
    assert "全局" in coze.ask("全局")
    # both a token and an app: the more specific place wins, and the log says which is used
    with pytest.raises(coze.AuthError):
        coze.ask("令牌", token="pat_from_argument")  # the argument wins: the simulator knows no such token
    assert any("使用令牌" in line for line in quiet_log)
    monkeypatch.setenv("COZE_API_TOKEN", "pat_from_environment")
    assert "应用" in coze.ask("应用")
    assert any("使用服务类应用" in line for line in quiet_log)
    assert osim.stats()["oauth_exchanges"] == 1


def test_incomplete_app_names_what_is_missing(coze, app_env, app_key):
    with pytest.raises(coze.InputError) as caught:
        coze.Client(bot_id=BOT, app_id=APP_ID, private_key=app_key.pkcs8)
    assert "key_id" in str(caught.value) and "coze_key_id" in str(caught.value)
    with pytest.raises(coze.InputError) as caught:
        coze.Client(bot_id=BOT, app_id=APP_ID, key_id="有 空格", private_key=app_key.pkcs8)
    assert "key_id" in str(caught.value)


def test_bad_key_fails_before_any_request(coze, osim, app_key, app_env):
    broken = "\n".join(app_key.pkcs8.splitlines()[:4] + app_key.pkcs8.splitlines()[-1:])
    for bad in (broken, app_key.public, "C:/keys/missing.pem"):
        with pytest.raises(coze.InputError) as caught:
            coze.ask("你好", **app_kw(app_key, osim, key=bad))
        assert "私钥" in str(caught.value)
    args = {"question": "你好", "bot_id": BOT, "base_url": osim.url, "app_id": APP_ID, "key_id": KEY_ID,
            "private_key": broken}
    assert coze.main(args) == "" and "私钥" in args["error"] and "BEGIN PRIVATE KEY" in args["error"]
    assert osim.stats()["requests"] == {}


def test_rejected_jwt_quotes_the_server_and_is_not_retried(coze, backend, osim, app_key, app_env, other_key):
    for kw, reason in ((dict(key_id="kid_wrong"), "kid not been registred"),
                       (dict(private_key=other_key.pkcs8), "signature")):
        call = dict(app_kw(app_key, osim), **kw)
        with pytest.raises(coze.AuthError) as caught:
            coze.ask("你好", **call)
        message = str(caught.value)
        assert reason in message and "OAuth 应用" in message and "logid" in message and caught.value.logid
    stats = osim.stats()
    assert stats["requests"] == {"/api/permission/oauth2/token": 2} and stats["oauth_refused"] == 2


def test_revoked_token_is_renewed_once_and_a_second_refusal_is_fatal(coze, backend, osim, app_key, app_env,
                                                                     quiet_log):
    kw = app_kw(app_key, osim)
    assert coze.ask("一", **kw)
    osim.revoke_tokens()
    assert "二" in coze.ask("二", **kw)                        # stream: renewed, asked once
    osim.revoke_tokens()
    assert "三" in coze.chat("三", stream=False, **kw)["answer"]  # poll
    osim.revoke_tokens()
    assert coze.run_workflow("7400000000000000001", {"x": 1}, base_url=osim.url, app_id=APP_ID, key_id=KEY_ID,
                             private_key=app_key.pkcs8) == {"output": {"x": 1}}
    stats = osim.stats()
    assert stats["oauth_exchanges"] == 4 and stats["chats_created"] == 3  # no chat paid for twice
    # a service that never accepts the token it just issued: one renewal, then a clear fatal error
    osim.oauth.accepts = lambda token, now: "unknown"
    with pytest.raises(coze.AuthError) as caught:
        coze.ask("四", **kw)
    assert "重新换取后仍被拒绝" in str(caught.value) and caught.value.fatal
    assert osim.stats()["oauth_exchanges"] == 5


def test_eight_threads_share_one_token_through_short_lifetimes(coze, app_key, app_env):
    """Tokens live 3 s, so they are refreshed every 1.5 s: exactly one exchange per refresh,
    never a request with an expired token."""
    with oauth_sim(app_key, token_life=3, latency=0.02) as sim:
        kw = app_kw(app_key, sim)
        client = coze.Client(**kw)
        errors, done = [], []
        stop_at = time.monotonic() + 8

        def worker():
            try:
                while time.monotonic() < stop_at:
                    client.new_conversation()
                    done.append(1)
                    time.sleep(0.03)
            except Exception as err:  # collected: the assertion below shows it
                errors.append(repr(err))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        stats = sim.stats()
        expiries = sorted(sim.oauth.issued.values())
    assert errors == []
    assert len(done) > 100
    assert stats["expired_token_requests"] == 0 and stats["oauth_refused"] == 0
    # expires_in is a whole second, so a token is refreshed every 1 to 1.5 s: ~6-9 exchanges in 8 s
    assert 4 <= stats["oauth_exchanges"] <= 10
    gaps = [later - earlier for earlier, later in zip(expiries, expiries[1:])]
    assert min(gaps) > 0.8, gaps  # never two exchanges for one refresh
    assert client.transport.auth.exchanges == stats["oauth_exchanges"]


def test_batch_across_token_lifetimes_never_fails_a_row(coze, app_key, app_env, tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text("问题\n" + "".join("第%d行\n" % i for i in range(120)), encoding="utf-8")
    with oauth_sim(app_key, token_life=1.5, latency=0.1) as sim:
        summary = coze.batch(str(table), question_column="问题", concurrency=4, **app_kw(app_key, sim))
        stats = sim.stats()
    assert summary["done"] == 120 and summary["failed"] == 0 and not summary["stopped_reason"]
    assert stats["expired_token_requests"] == 0 and stats["oauth_exchanges"] >= 3


# ---- secrets --------------------------------------------------------------------------------------

def test_no_key_jwt_or_access_token_in_any_output(coze, osim, app_key, other_key, app_env, tmp_path, capfd):
    from yingdao_module.simulator import Simulator
    texts, lines = [], []
    jwts = []
    original = coze.JWTApp.signed_jwt

    def recording(self):
        jwts.append(original(self))
        return jwts[-1]
    coze.patch("JWTApp", type("RecordingJWTApp", (coze.JWTApp,), {"signed_jwt": recording}))
    coze.set_log_sink(lines.append)

    def attempt(where, func):
        try:
            texts.append(repr(func()))
        except Exception as err:
            texts.extend([str(err), repr(err), repr(vars(err)),
                          "".join(traceback.format_exception(type(err), err, err.__traceback__))])

    kw = app_kw(app_key, osim)
    try:
        attempt("ask", lambda: coze.ask("你好", **kw))
        osim.revoke_tokens()
        attempt("renewed", lambda: coze.ask("你好", **kw))
        attempt("bad kid", lambda: coze.ask("你好", **dict(kw, key_id="kid_wrong")))
        attempt("foreign key", lambda: coze.ask("你好", **dict(kw, private_key=other_key.pkcs8)))
        attempt("broken key", lambda: coze.ask("你好", **dict(kw, private_key=app_key.pkcs8[:400])))
        attempt("bad app id", lambda: coze.ask("你好", **dict(kw, app_id=app_key.pkcs8)))
        for kind in ("http500", "reset", "malformed"):
            osim.inject(kind, count=1, path="/api/permission/oauth2/token")
            coze.reset_clients()
            attempt("exchange " + kind, lambda: coze.ask("故障", **kw))
        with Simulator(latency=0.02, token="pat_other") as plain:  # a service that knows no OAuth app
            attempt("no app", lambda: coze.ask("你好", **dict(kw, base_url=plain.url)))
        args = dict(kw, question="你好")
        attempt("main", lambda: coze.main(args))
        texts.append(repr(dict((k, args.get(k)) for k in coze.CODE_FLOW_OUTPUTS)))
        args = dict(kw, question="你好", key_id="kid_wrong")
        attempt("main error", lambda: coze.main(args))
        texts.append(repr(dict((k, args.get(k)) for k in coze.CODE_FLOW_OUTPUTS)))
        client = coze.Client(**kw)
        texts.append(repr(client) + repr(client.settings) + repr(client.transport) + repr(client.transport.auth)
                     + str(vars(client)) + str(vars(client.settings)) + repr(coze._clients) + repr(coze._jwt_apps))
        table = tmp_path / "rows.csv"
        table.write_text("问题\n一\n二\n", encoding="utf-8")
        attempt("batch", lambda: coze.batch(str(table), question_column="问题", **kw))
        attempt("batch bad kid", lambda: coze.batch(str(table), question_column="问题",
                                                    output_path=str(tmp_path / "bad.csv"),
                                                    **dict(kw, key_id="kid_wrong")))
    finally:
        coze.set_log_sink(None)
    access_tokens = list(osim.oauth.issued)
    texts.extend(lines)
    captured = capfd.readouterr()
    texts.extend([captured.out, captured.err])
    for path in glob.glob(str(tmp_path / "**" / "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                texts.append(handle.read().decode("utf-8", "replace"))
    assert len(jwts) >= 4 and len(access_tokens) >= 1 and len(texts) > 40
    secrets = app_key.secret_pieces + other_key.secret_pieces + jwts + [jwt.split(".")[2][:20] for jwt in jwts]
    secrets += access_tokens + [token[:12] for token in access_tokens]
    leaks = [(secret[:12], text[:120]) for text in texts for secret in secrets if secret in text]
    assert leaks == []
    assert any("kid not been registred" in text for text in texts)  # the scan saw the errors


def test_cli_signs_in_with_the_app_and_prints_no_key(osim, app_key, tmp_path):
    env = dict(os.environ, COZE_BOT_ID=BOT)
    env.pop("COZE_API_TOKEN", None)
    base = [sys.executable, "-m", "yingdao_module"]
    creds = ["--base-url", osim.url, "--app-id", APP_ID, "--key-id", KEY_ID, "--private-key", app_key.private_path]
    ask = subprocess.run(base + ["ask", "命令行"] + creds, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert ask.returncode == 0 and "命令行" in ask.stdout, ask.stderr
    table = tmp_path / "rows.csv"
    table.write_text("问题\n一\n二\n", encoding="utf-8")
    batch = subprocess.run(base + ["batch", str(table), "--question-column", "问题"] + creds, cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert batch.returncode == 0, batch.stderr
    typo = subprocess.run(base + ["ask", "你好", "--private-kye", app_key.pkcs8], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert typo.returncode == 2
    everything = ask.stdout + ask.stderr + batch.stdout + batch.stderr + typo.stdout + typo.stderr
    assert not [piece for piece in app_key.secret_pieces if piece in everything]
    assert osim.stats()["oauth_exchanges"] == 2  # one per process


# ---- dist/coze.py on Python 3.7 -------------------------------------------------------------------

@pytest.mark.skipif(PY37 is None, reason="Python 3.7 is not installed here (looked on PATH and under PYENV_ROOT / pyenv root)")
def test_dist_signs_in_on_python37_without_packages(osim, app_key):
    script = ("import importlib.util, sys\n"
              "spec = importlib.util.spec_from_file_location('coze', sys.argv[1])\n"
              "coze = importlib.util.module_from_spec(spec); spec.loader.exec_module(coze)\n"
              "print(coze.ask('三点七', bot_id=sys.argv[3], base_url=sys.argv[2], app_id=sys.argv[4],\n"
              "               key_id=sys.argv[5], private_key=sys.argv[6]))\n")
    env = dict(os.environ, COZE_HTTP_BACKEND="urllib")
    out = subprocess.run([PY37, "-I", "-c", script, DIST, osim.url, BOT, APP_ID, KEY_ID, app_key.pkcs1],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "三点七" in out.stdout
    assert osim.stats()["oauth_exchanges"] == 1


def test_threads_waiting_on_a_refused_exchange_do_not_repeat_it(coze, osim, app_key, app_env):
    client = coze.Client(**dict(app_kw(app_key, osim), key_id="kid_wrong"))
    osim.inject("slow:0.5", count=1, path="/api/permission/oauth2/token")  # the others queue behind it
    errors = []

    def worker():
        try:
            client.new_conversation()
        except coze.AuthError as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 8 and all("kid not been registred" in str(err) for err in errors)
    assert osim.stats()["requests"] == {"/api/permission/oauth2/token": 1}


def test_a_token_refused_right_after_its_exchange_is_replaced(coze, backend, osim, app_key, app_env):
    """The first access token is refused on its first use (revoked at once, clock skew): one
    fresh exchange, one retry, success."""
    accepts, refused = osim.oauth.accepts, []

    def refuse_the_first(token, now):
        refused[:] = refused or [token]
        return "unknown" if token == refused[0] else accepts(token, now)
    osim.oauth.accepts = refuse_the_first
    assert "你好" in coze.ask("你好", **app_kw(app_key, osim))
    stats = osim.stats()
    assert stats["oauth_exchanges"] == 2 and stats["chats_created"] == 1

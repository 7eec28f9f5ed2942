"""Signing in (the OAuth JWT token exchange) keeps the caller's deadline: a token endpoint that
never answers, or trickles, ends ask(timeout=T) at about T with a message that names signing
in and says no chat was created; threads waiting for the same exchange each give up at their
own deadline; the next call after a failed exchange tries a fresh one. Both backends, source
and dist (the coze and backend fixtures)."""
import threading
import time

import pytest

from helpers import BOT_ID as BOT
from rawserver import HOLD, JSON, reply, trickle
from oauth_app import APP_ID, KEY_ID, AppKey

TOKEN_PATH = "/api/permission/oauth2/token"
SLACK = 1.5  # thread start-up, a loaded machine; far below the 30 s an exchange used to take


@pytest.fixture(scope="module")
def key():
    return AppKey()


def app_ask(coze, server, key, timeout):
    return coze.ask("你好", bot_id=BOT, base_url=server.url, app_id=APP_ID, key_id=KEY_ID, private_key=key.pkcs8,
                    timeout=timeout)


def token_posts(server):
    return [r for r in server.requests if r.path == TOKEN_PATH]


def assert_sign_in_timeout(coze, err, server):
    message = str(err)
    assert isinstance(err, coze.CozeTimeoutError)
    assert "登录" in message and "换取访问令牌" in message and "没有创建对话" in message, message
    assert "已取消这次对话" not in message and server.url in message
    assert not [r for r in server.requests if r.path.startswith("/v3/")]  # no chat, nothing to cancel


@pytest.mark.parametrize("how", ["never answers", "trickles its head"])
def test_a_token_endpoint_that_never_answers_ends_the_call_at_its_timeout(coze, backend, route, key, how):
    script = [HOLD] if how == "never answers" else trickle(reply(200, JSON, length=False) + b"X-Pad: " + b"." * 200, 0.3)
    server = route({TOKEN_PATH: [script]})
    started = time.monotonic()
    with pytest.raises(coze.CozeError) as caught:
        app_ask(coze, server, key, timeout=2)
    elapsed = time.monotonic() - started
    assert 1.8 <= elapsed < 2 + SLACK, elapsed
    assert_sign_in_timeout(coze, caught.value, server)
    assert len(token_posts(server)) == 1


def test_waiting_threads_keep_their_own_deadlines_and_the_next_call_exchanges_afresh(coze, backend, route, key):
    server = route({TOKEN_PATH: [[HOLD]]})
    outcomes = {}

    def worker(name, timeout, delay):
        time.sleep(delay)
        started = time.monotonic()
        try:
            app_ask(coze, server, key, timeout)
            outcomes[name] = ("answered", time.monotonic() - started)
        except Exception as err:  # noqa: BLE001 - recorded and checked below
            outcomes[name] = (err, time.monotonic() - started)
    # the long caller starts the exchange; the short one arrives while it holds the lock
    threads = [threading.Thread(target=worker, args=("long", 4.0, 0.0)),
               threading.Thread(target=worker, args=("short", 1.0, 0.3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    short_err, short_took = outcomes["short"]
    long_err, long_took = outcomes["long"]
    assert 0.8 <= short_took < 1.0 + SLACK, short_took  # not behind the other thread's exchange
    assert 3.8 <= long_took < 4.0 + SLACK, long_took
    for err in (short_err, long_err):
        assert_sign_in_timeout(coze, err, server)
    assert "另一个线程" in str(short_err)
    assert len(token_posts(server)) == 1  # the waiting thread did not start a second exchange
    with pytest.raises(coze.CozeTimeoutError):
        app_ask(coze, server, key, timeout=0.5)
    assert len(token_posts(server)) == 2  # a failed exchange is not remembered: the next call tries again


def test_one_stalled_token_exchange_is_retried_within_the_callers_timeout(coze, backend, route, key):
    from chat_script import FINISHED, STARTED
    from rawserver import SSE
    coze.patch("EXCHANGE_DEADLINE", 2.0)  # each attempt gets 1 s (30 s by default)
    answer = reply(200, JSON, '{"access_token": "czs_TESTaccessTOKEN", "expires_in": %d, "token_type": "Bearer"}'
                   % (time.time() + 3600))
    server = route({TOKEN_PATH: [[HOLD], [answer]], "/v3/chat": [reply(200, SSE, STARTED + FINISHED)]})
    started = time.monotonic()
    result = app_ask(coze, server, key, timeout=8)
    assert "杭州今天晴" in str(result), result
    assert len(token_posts(server)) == 2 and time.monotonic() - started < 8  # the stalled attempt did not end the call


def test_token_exchange_attempts_that_all_stall_end_with_the_sign_in_message(coze, backend, route, key):
    coze.patch("EXCHANGE_DEADLINE", 2.0)
    server = route({TOKEN_PATH: [[HOLD]]})
    with pytest.raises(coze.CozeError) as caught:
        app_ask(coze, server, key, timeout=8)
    assert_sign_in_timeout(coze, caught.value, server)
    assert len(token_posts(server)) >= 2

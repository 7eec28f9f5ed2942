"""Secrets: one redact() masks tokens, JWTs, private keys and long random secrets in every
log line and error; ids stay readable. A token pasted into the wrong field is refused
without being echoed or sent anywhere. main(args) never lets an exception escape and its
args["error"] never holds a secret. Source and dist."""
import pytest

from rawserver import SSE, RawServer, json_reply, reply
from chat_script import BOT, FINISHED, STARTED

CANARY = "pat_Zq9xWRONGfieldCANARY7f3e1b2c4d5e6f708192a3b4"
JWT = ("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxMTU1NDg3OTAwIiwiYXVkIjoiYXBpLmNvemUuY24ifQ."
       "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU")
PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
       "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4n5m6\n-----END PRIVATE KEY-----")
SECRETS = {
    "personal token": CANARY,
    "service token": "sat_" + "Ab3" * 20,
    "OAuth access token": "czs_" + "xY7" * 20,
    "JWT": JWT,
    "private key": PEM,
    "40-digit hex key": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "base64 secret": "kJ8sD7fG6hJ5kL4zX3cV2bN1mQ9wE8rT7yU6iO5pA4sD3fG2",
}
KEPT = {
    "Coze logid": "20241210152726BFBA0E6B2B5C7C0E4E16",
    "simulator logid": "0123456789abcdef0123456789abcdef",
    "chat id": "7390342853760696354",
    "Windows path": "C:/Users/Administrator/Desktop/数据2024/商品清单_final_version_2.xlsx",
    "debug url": "https://www.coze.cn/work_flow?execute_id=7400000000000000009&space_id=7400000000000000010",
    "format hint": "私钥应是 PEM 文本,形如「-----BEGIN PRIVATE KEY-----…-----END PRIVATE KEY-----」",
    "prefix alone": "令牌以 pat_ 开头",
}


def secret_parts(secret):
    """Pieces of a secret that must never be seen (its first characters, and its longest line)."""
    body = max(secret.splitlines(), key=len)
    return [secret[:10], body[-16:]]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_redact_masks_every_kind_of_secret(coze, kind):
    text = coze.redact("请求失败:Authorization: Bearer %s 之后" % SECRETS[kind])
    assert text.startswith("请求失败:Authorization: Bearer ") and text.endswith(" 之后")
    for part in secret_parts(SECRETS[kind]):
        assert part not in text, text


@pytest.mark.parametrize("kind", sorted(KEPT))
def test_redact_keeps_ids_paths_and_hints_readable(coze, kind):
    text = "出错了:%s。" % KEPT[kind]
    assert coze.redact(text) == text


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_no_error_message_or_log_line_carries_a_secret(coze, quiet_log, kind):
    err = coze.APIError("扣子原话:token %s invalid" % SECRETS[kind], code=4100, logid=KEPT["Coze logid"])
    coze.log("日志:%s" % SECRETS[kind])
    for text in [str(err), repr(err), err.message] + quiet_log:
        for part in secret_parts(SECRETS[kind]):
            assert part not in text
    assert KEPT["Coze logid"] in str(err)


# ---- a token pasted into the wrong field ----------------------------------------------------------

WRONG_FIELDS = {
    "bot_id": lambda coze, kw, s: coze.ask("你好", **dict(kw, bot_id=s)),
    "user_id": lambda coze, kw, s: coze.ask("你好", user_id=s, **kw),
    "conversation_id": lambda coze, kw, s: coze.ask("你好", conversation_id=s, **kw),
    "workflow_id": lambda coze, kw, s: coze.run_workflow(s, {"a": 1}, token=kw["token"], base_url=kw["base_url"]),
    "base_url": lambda coze, kw, s: coze.ask("你好", **dict(kw, base_url="https://api.coze.cn/" + s)),
    "files": lambda coze, kw, s: coze.ask("你好", files=[s], **kw),
    "custom_variables value": lambda coze, kw, s: coze.ask("你好", custom_variables={"令牌": s}, **kw),
    "custom_variables key": lambda coze, kw, s: coze.ask("你好", custom_variables={s: "x"}, **kw),
}


@pytest.fixture
def server():
    with RawServer({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)],
                    "/v1/workflow/stream_run": [json_reply(None, code=4000, msg="bad")]}) as raw:
        yield raw


@pytest.mark.parametrize("secret", ["personal token", "JWT", "private key"])
@pytest.mark.parametrize("field", sorted(WRONG_FIELDS))
def test_a_secret_in_the_wrong_field_is_refused_without_echo_or_request(coze, backend, server, quiet_log, field,
                                                                         secret):
    kw = dict(bot_id=BOT, token="pat_theRIGHTtokenFORthisTEST0123", base_url=server.url)
    with pytest.raises(coze.InputError) as caught:
        WRONG_FIELDS[field](coze, kw, SECRETS[secret])
    seen = [str(caught.value), repr(caught.value)] + quiet_log + [repr(v) for v in vars(caught.value).values()]
    for text in seen:
        for part in secret_parts(SECRETS[secret]):
            assert part not in text
    assert server.requests == []  # the secret went nowhere


def test_main_reports_a_secret_in_the_wrong_field_without_echo(coze, server, quiet_log):
    args = {"question": "你好", "token": "pat_theRIGHTtokenFORthisTEST0123", "bot_id": BOT, "base_url": server.url,
            "user_id": CANARY}
    assert coze.main(args) == ""
    assert "user_id" in args["error"] and CANARY[:10] not in args["error"] + "".join(quiet_log)


# ---- main(args) never raises -----------------------------------------------------------------------

@pytest.mark.parametrize("question", [["苹果", "香蕉"], {"问": "题"}, object(), b"bytes"])
def test_main_with_a_question_that_is_not_text_reports_it(coze, server, question):
    args = {"question": question, "token": "pat_theRIGHTtokenFORthisTEST0123", "bot_id": BOT, "base_url": server.url}
    assert coze.main(args) == ""
    assert "question" in args["error"] and args["answer"] == ""
    assert server.requests == []


def test_main_turns_any_unexpected_exception_into_args_error(coze, server, quiet_log):
    def broken(*args, **kwargs):
        raise KeyError("内部状态 %s" % CANARY)
    coze.patch("chat", broken)
    args = {"question": "你好", "token": CANARY, "bot_id": BOT, "base_url": server.url}
    assert coze.main(args) == ""
    assert "KeyError" in args["error"] and "模块内部错误" in args["error"]
    assert CANARY[:10] not in args["error"] + "".join(quiet_log)


@pytest.mark.parametrize("args", [["question", "你好"], "你好", 42])
def test_main_with_args_that_are_not_a_dict_does_not_raise(coze, args, quiet_log):
    assert coze.main(args) == ""
    assert any("参数字典" in line for line in quiet_log)


# ---- backends share a base class; sessions are closed --------------------------------------------

def test_both_backends_share_the_base_class_and_the_client_closes_its_sessions(coze, backend, server):
    with coze.Client(token="pat_theRIGHTtokenFORthisTEST0123", bot_id=BOT, base_url=server.url) as client:
        assert isinstance(client.transport.backend, coze.HttpBackend)
        assert client.transport.backend.name == backend
        assert client.ask("你好") == "杭州今天晴。"
        if backend == "requests":
            sessions = list(client.transport.backend._sessions)
            assert len(sessions) == 1
    if backend == "requests":
        assert list(client.transport.backend._sessions) == []
        assert all(not adapter.poolmanager.pools for adapter in sessions[0].adapters.values())

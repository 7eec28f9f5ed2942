"""The client against a hostile server (tests/rawserver.py plays raw bytes with pauses):
redirects, trickles, keep-alives, a connection held open after the answer, standard but
unusual framing, cuts, bodies of the wrong shape, gzip, echoed secrets, proxies.
Every test runs on the source package and dist/coze.py, with requests and with urllib,
and stays bounded in time (the server gives up after at most ~15 s)."""
import json
import time

import pytest

from rawserver import (HOLD, JSON, SSE, chunk, gzipped, json_reply, reply, trickle)
from chat_script import BOT, CHAT, CHAT_ID, CONV_ID, FINISHED, RECOVERY, STARTED, TOKEN, trickling
from sse_streams import OWN_STREAMS


def ask(coze, server, **kw):
    kw.setdefault("bot_id", BOT)
    kw.setdefault("token", TOKEN)
    kw.setdefault("base_url", server.url)
    return coze.chat("杭州天气?", **kw)


def chat_posts(server):
    return [r for r in server.requests if r.path.endswith("/v3/chat")]


# ---- redirects --------------------------------------------------------------------------------

def test_a_redirect_to_another_host_is_refused_and_never_carries_the_token(coze, backend, route):
    other = route({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)]})
    target = other.url + "/v3/chat"
    server = route({"/v3/chat": [reply(307, JSON, "", headers={"Location": target})]})
    with pytest.raises(coze.NetworkError) as caught:
        ask(coze, server)
    assert "重定向" in str(caught.value) and target in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN[:8] not in repr(caught.value)
    assert other.requests == []  # nothing at all went to the other host
    assert len(server.requests) == 1  # not retried: it would be refused again


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_same_host_redirect_is_followed(coze, backend, route, status):
    server = route({"/old/v3/chat": [reply(status, JSON, "", headers={"Location": "/v3/chat"})],
                    "/v3/chat": [reply(200, SSE, STARTED + FINISHED)]})
    assert ask(coze, server, base_url=server.url + "/old")["answer"] == "杭州今天晴。"
    assert [r.path for r in server.requests] == ["/old/v3/chat", "/v3/chat"]
    assert server.requests[1].headers["authorization"] == "Bearer " + TOKEN
    assert server.requests[1].method == "POST" and server.requests[1].json()["bot_id"] == BOT


def test_a_redirect_loop_stops(coze, backend, route):
    server = route({"/v3/chat": [reply(302, JSON, "", headers={"Location": "/v3/chat"})]})
    with pytest.raises(coze.NetworkError) as caught:
        ask(coze, server)
    assert "重定向次数太多" in str(caught.value)
    assert len(server.requests) == 4  # the first try and three hops, no retries


# ---- the deadline holds -----------------------------------------------------------------------

TIMEOUT = 1.0  # trickled pieces still arrive before the deadline; the server trickles for ~15 s
SLACK = 2.5  # generous: the real figure (~0.0-0.3 s) is measured by tests/benchmarks/bench_deadline.py


@pytest.mark.parametrize("kind", ["one byte at a time", "keep-alive comments", "PING events", "silence"])
def test_a_trickling_stream_cannot_hold_the_call_past_its_timeout(coze, backend, route, kind):
    server = route(dict(RECOVERY, **{"/v3/chat": [trickling(kind)]}))
    started = time.monotonic()
    with pytest.raises(coze.CozeTimeoutError) as caught:
        ask(coze, server, timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.2 <= elapsed < TIMEOUT + SLACK, elapsed
    assert "超时" in str(caught.value) and caught.value.chat_id == CHAT_ID
    assert "/v3/chat/cancel" in server.paths()  # the paid chat was stopped
    assert len(chat_posts(server)) == 1


@pytest.mark.parametrize("path", ["/v3/chat", "/v1/conversation/create"])
def test_trickled_status_line_and_headers_cannot_hold_the_call_past_its_timeout(coze, backend, route, path):
    """A socket timeout bounds each read, not their sum: headers sent a byte every 0.3 s would
    hold the call for ~60 s if only the socket timeout stood in the way."""
    head = reply(200, SSE if path == "/v3/chat" else JSON, length=False) + b"X-Pad: " + b"." * 200
    server = route({path: [trickle(head, 0.3)]})
    started = time.monotonic()
    with pytest.raises(coze.CozeTimeoutError) as caught:
        if path == "/v3/chat":
            ask(coze, server, timeout=TIMEOUT)
        else:
            coze.new_conversation(bot_id=BOT, token=TOKEN, base_url=server.url, timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.2 <= elapsed < TIMEOUT + SLACK, elapsed
    assert "超时" in str(caught.value)
    assert len([r for r in server.requests if r.path == path]) == 1  # not sent again after the deadline


def test_a_response_head_after_the_deadline_is_closed_quietly(coze, backend, route, monkeypatch):
    """The helper thread given up at the deadline gets the head later: it closes that response,
    raises nothing, and the next request is served."""
    import threading
    crashes = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    server = route({"/v1/conversation/create": [[TIMEOUT + 0.3, json_reply({"id": "7400000000000000011"})],
                                                [json_reply({"id": "7400000000000000012"})]]})
    with pytest.raises(coze.CozeTimeoutError):
        coze.new_conversation(bot_id=BOT, token=TOKEN, base_url=server.url, timeout=TIMEOUT)
    time.sleep(0.6)  # the late head arrives and is closed meanwhile
    assert coze.new_conversation(bot_id=BOT, token=TOKEN, base_url=server.url, timeout=5) == "7400000000000000012"
    assert crashes == []


def test_a_trickling_poll_response_cannot_hold_the_call_past_its_timeout(coze, backend, route):
    body = json.dumps({"code": 0, "msg": "", "data": CHAT})
    server = route(dict(RECOVERY, **{
        "/v3/chat": [json_reply(dict(CHAT, status="created"))],
        "/v3/chat/retrieve": [[reply(200, JSON, length=False)] + trickle(body * 10, 0.5, pieces=2)]}))
    started = time.monotonic()
    with pytest.raises(coze.CozeTimeoutError) as caught:
        ask(coze, server, timeout=TIMEOUT, stream=False)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.2 <= elapsed < TIMEOUT + SLACK, elapsed
    assert caught.value.chat_id == CHAT_ID and "/v3/chat/cancel" in server.paths()


def test_a_workflow_stream_of_pings_cannot_hold_the_call_past_its_timeout(coze, backend, route):
    server = route({"/v1/workflow/stream_run": [[reply(200, SSE, length=False)]
                                                + ["id: 0\nevent: PING\ndata: {}\n\n", 0.3] * 50]})
    started = time.monotonic()
    with pytest.raises(coze.CozeTimeoutError):
        coze.run_workflow("7400000000000000008", {"a": 1}, token=TOKEN, base_url=server.url, timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + SLACK


# ---- the answer returns at the terminal event ---------------------------------------------------

@pytest.mark.parametrize("framing", ["close-delimited", "chunked"])
def test_the_answer_returns_at_chat_completed_while_the_server_keeps_the_connection_open(coze, backend, route,
                                                                                           framing):
    if framing == "chunked":
        script = [reply(200, SSE, chunked=True), chunk(STARTED), 0.2, chunk(FINISHED), HOLD]
    else:  # no length, no chunks: requests' iter_content(8192) used to wait for 8 KB or the close
        script = [reply(200, SSE, length=False), STARTED, 0.2, FINISHED, HOLD]
    server = route({"/v3/chat": [script]})
    started = time.monotonic()
    result = ask(coze, server, timeout=30)
    assert result["answer"] == "杭州今天晴。" and result["usage"]["token_count"] == 30
    assert time.monotonic() - started < 5  # the server holds the connection for 15 s


def test_a_workflow_returns_at_done_while_the_server_keeps_the_connection_open(coze, backend, route):
    server = route({"/v1/workflow/stream_run": [[reply(200, SSE, length=False), OWN_STREAMS["own workflow"] + "\n\n",
                                                 HOLD]]})
    started = time.monotonic()
    output = coze.run_workflow("7400000000000000008", {"a": 1}, token=TOKEN, base_url=server.url, timeout=30)
    assert "结果" in json.dumps(output, ensure_ascii=False)
    assert time.monotonic() - started < 5


# ---- SSE framing over a real socket -------------------------------------------------------------

def framed(text, how):
    if how == "CRLF":
        return text.replace("\n", "\r\n")
    if how == "bare CR":
        return text.replace("\n", "\r")
    if how == "BOM":
        return "\ufeff" + text
    return text


@pytest.mark.parametrize("how", ["CRLF", "bare CR", "BOM"])
def test_unusual_framing_in_tiny_pieces_gives_the_same_answer(coze, backend, route, how):
    data = framed(STARTED + FINISHED, how).encode("utf-8")
    pieces = []
    for i in range(0, len(data), 3):
        pieces += [chunk(data[i:i + 3])]
    server = route({"/v3/chat": [[reply(200, SSE, chunked=True)] + pieces + [b"0\r\n\r\n"]]})
    result = ask(coze, server)
    assert result["answer"] == "杭州今天晴。" and result["chat_id"] == CHAT_ID
    assert len(server.requests) == 1


def test_a_failed_chat_whose_stream_has_no_closing_blank_line_is_reported_not_paid_again(coze, backend, route):
    server = route({"/v3/chat": [reply(200, SSE, OWN_STREAMS["own failed chat"])]})
    with pytest.raises(coze.CozeError) as caught:
        ask(coze, server)
    assert caught.value.code == 5000 and "对话失败" in str(caught.value)
    assert not isinstance(caught.value, coze.NetworkError)
    assert len(chat_posts(server)) == 1  # a re-POST would be a second paid chat


@pytest.mark.parametrize("how", ["bare CR", "BOM"])
def test_a_cut_after_unusual_framing_recovers_the_same_chat(coze, backend, route, how):
    server = route(dict(RECOVERY, **{"/v3/chat": [reply(200, SSE, framed(STARTED, how), length=False)]}))
    result = ask(coze, server)
    assert result["answer"] == "从消息列表找回的回答"
    assert len(chat_posts(server)) == 1


# ---- bodies that are not what they claim ------------------------------------------------------

def test_garbled_json_in_a_completed_message_recovers_the_answer_from_the_message_list(coze, backend, route):
    garbled = STARTED + 'event:conversation.message.completed\ndata:{"id":"1","content":"杭\n\n' + FINISHED
    server = route(dict(RECOVERY, **{"/v3/chat": [reply(200, SSE, garbled)]}))
    assert ask(coze, server)["answer"] == "从消息列表找回的回答"
    assert len(chat_posts(server)) == 1


@pytest.mark.parametrize("data", [None, {"items": []}, "[]"])
def test_a_message_list_that_is_not_a_list_is_a_chinese_error_with_the_logid(coze, backend, route, data):
    server = route(dict(RECOVERY, **{"/v3/chat": [reply(200, SSE, STARTED, length=False)],
                                     "/v3/chat/message/list": [json_reply(data)]}))
    with pytest.raises(coze.CozeError) as caught:
        ask(coze, server)
    assert "格式不对" in str(caught.value) and "20241210152726BFBA0E6B2B5C7C0E4E16" in str(caught.value)
    assert len(chat_posts(server)) == 1


def test_data_null_when_creating_a_polled_chat_is_an_error_not_a_wait(coze, backend, route):
    server = route(dict(RECOVERY, **{"/v3/chat": [json_reply(None)]}))
    started = time.monotonic()
    with pytest.raises(coze.CozeError) as caught:
        ask(coze, server, stream=False, timeout=20)
    assert "格式不对" in str(caught.value) and caught.value.logid
    assert time.monotonic() - started < 5 and len(chat_posts(server)) == 1


def test_data_null_in_a_stream_event_is_not_a_silent_empty_answer(coze, backend, route):
    stream = STARTED + "event:conversation.message.completed\ndata:null\n\n" + FINISHED
    server = route(dict(RECOVERY, **{"/v3/chat": [reply(200, SSE, stream)]}))
    assert ask(coze, server)["answer"] == "从消息列表找回的回答"


@pytest.mark.parametrize("data", [None, {}, {"id": ""}, "7400000000000000002"])
def test_a_created_conversation_or_upload_without_an_id_is_an_error_not_the_text_none(coze, backend, route,
                                                                                      tmp_path, data):
    server = route({"/v1/conversation/create": [json_reply(data)], "/v1/files/upload": [json_reply(data)]})
    with pytest.raises(coze.CozeError) as caught:
        coze.new_conversation(bot_id=BOT, token=TOKEN, base_url=server.url)
    assert "没有 id" in str(caught.value) and caught.value.logid
    picture = tmp_path / "a.png"
    picture.write_bytes(b"png")
    with pytest.raises(coze.CozeError):
        coze.upload_file(str(picture), token=TOKEN, base_url=server.url)
    assert len(server.requests) == 2  # not retried


def test_an_unrequested_gzip_body_is_decoded(coze, backend, route):
    envelope = json.dumps({"code": 0, "msg": "", "data": {"id": CONV_ID}})
    server = route({"/v1/conversation/create": [reply(200, JSON, gzipped(envelope),
                                                      headers={"Content-Encoding": "gzip"})],
                    "/v3/chat": [reply(200, SSE, gzipped(STARTED + FINISHED), headers={"Content-Encoding": "gzip"})]})
    assert coze.new_conversation(bot_id=BOT, token=TOKEN, base_url=server.url) == CONV_ID
    assert ask(coze, server)["answer"] == "杭州今天晴。"
    assert server.requests[0].headers.get("accept-encoding") == "identity"


# ---- secrets --------------------------------------------------------------------------------------

def test_a_token_echoed_by_the_server_is_never_shown(coze, backend, route, quiet_log):
    echo = "invalid token: Bearer %s (jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2lnbmF0dXJl)" % TOKEN
    server = route({"/v3/chat": [json_reply(None, code=4100, msg=echo)]})
    with pytest.raises(coze.AuthError) as caught:
        ask(coze, server)
    args = {"question": "你好", "token": TOKEN, "bot_id": BOT, "base_url": server.url}
    coze.main(args)
    seen = [str(caught.value), repr(caught.value), args["error"]] + quiet_log
    assert "令牌无效" in args["error"] and "扣子原话" in args["error"]
    for text in seen:
        assert TOKEN[:8] not in text and "eyJhbGciOiJSUzI1NiJ9.eyJ" not in text, text


# ---- proxies --------------------------------------------------------------------------------------

def test_http_proxy_from_the_environment_is_used(coze, backend, route, monkeypatch):
    proxy = route({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)]})
    monkeypatch.setenv("COZE_ALLOW_ANY_BASE_URL", "1")
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    result = coze.chat("杭州天气?", bot_id=BOT, token=TOKEN, base_url="http://api.coze.invalid")
    assert result["answer"] == "杭州今天晴。"
    assert proxy.requests[0].target == "http://api.coze.invalid/v3/chat"  # absolute form: a proxy request


def test_no_proxy_is_honoured(coze, backend, route, monkeypatch):
    server = route({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)]})
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    assert ask(coze, server)["answer"] == "杭州今天晴。"


# ---- one way to stream ---------------------------------------------------------------------------

def test_chats_and_workflows_stream_through_transport_open_stream(coze, route, monkeypatch):
    server = route({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)],
                    "/v1/workflow/stream_run": [reply(200, SSE, OWN_STREAMS["own workflow"])]})
    opened = []
    original = coze.Transport.open_stream

    def counting(self, method, path, *args, **kwargs):
        opened.append(path)
        return original(self, method, path, *args, **kwargs)
    monkeypatch.setattr(coze.Transport, "open_stream", counting)
    ask(coze, server)
    coze.run_workflow("7400000000000000008", {"a": 1}, token=TOKEN, base_url=server.url)
    assert opened == ["/v3/chat", "/v1/workflow/stream_run"]


def test_a_name_lookup_that_hangs_cannot_hold_the_call_past_its_timeout(coze, backend, monkeypatch):
    """A socket timeout does not cover getaddrinfo: the lookup of a host name is given up at the
    deadline too (a kept-alive connection needs none; an IP address is looked up in place)."""
    import socket
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if host == "hangs.coze.invalid":
            time.sleep(TIMEOUT + SLACK + 1.5)
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setenv("COZE_ALLOW_ANY_BASE_URL", "1")
    started = time.monotonic()
    with pytest.raises(coze.CozeTimeoutError):
        coze.new_conversation(bot_id=BOT, token=TOKEN, base_url="http://hangs.coze.invalid:9", timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.2 <= elapsed < TIMEOUT + SLACK, elapsed

"""The simulator over raw HTTP (no client code of ours) and through the official SDK:
envelopes, codes, stream event order, memory, limits, every fault kind, stats."""
import http.client
import json
import socket
import time
from urllib.parse import urlparse

import pytest

from yingdao_module.simulator import Simulator

from helpers import BOT_ID as BOT
from simcalls import call, chat_body, events_of


def wait_completed(sim, chat, limit=5.0):
    query = "?conversation_id=%s&chat_id=%s" % (chat["conversation_id"], chat["id"])
    deadline = time.time() + limit
    while time.time() < deadline:
        data = call(sim, "GET", "/v3/chat/retrieve" + query)[2]["data"]
        if data["status"] != "in_progress":
            return data, query
        time.sleep(0.02)
    raise AssertionError("chat never ended")


@pytest.fixture
def sim():
    with Simulator(latency=0.1) as server:
        yield server


def test_envelope_and_logid_on_every_response(sim):
    for method, path, body in (("POST", "/v3/chat", chat_body()), ("POST", "/v3/chat", {}), ("GET", "/nope", None),
                               ("GET", "/_sim/stats", None)):
        status, headers, payload = call(sim, method, path, body)
        assert headers["x-tt-logid"]
        if path != "/_sim/stats":
            assert set(payload) >= {"code", "msg", "data", "detail"} and payload["detail"]["logid"]
    assert call(sim, "GET", "/nope")[0] == 404


def test_stream_event_order_and_shapes(sim):
    events = events_of(sim, chat_body("流式", stream=True))
    names = [name for name, _ in events]
    assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
    deltas = [data for name, data in events if name == "conversation.message.delta"]
    assert len(deltas) >= 2 and "流式" in "".join(d["content"] for d in deltas)
    completed = [data for name, data in events if name == "conversation.message.completed"]
    assert [m["type"] for m in completed][0] == "answer" and "follow_up" in [m["type"] for m in completed]
    assert completed[0]["content"] == "".join(d["content"] for d in deltas)
    assert names[-2:] == ["conversation.chat.completed", "done"]
    usage = events[-2][1]["usage"]
    assert usage["token_count"] == usage["input_count"] + usage["output_count"] > 0


def test_non_stream_in_progress_then_completed_then_messages(sim):
    chat = call(sim, "POST", "/v3/chat", chat_body("轮询"))[2]["data"]
    assert chat["status"] == "in_progress"  # the official SDK polls only while in_progress
    final, query = wait_completed(sim, chat)
    assert final["status"] == "completed" and final["usage"]["token_count"] > 0
    messages = call(sim, "GET", "/v3/chat/message/list" + query)[2]["data"]
    types = [m["type"] for m in messages]
    assert types[0] == "answer" and "follow_up" in types and "verbose" in types
    assert "轮询" in messages[0]["content"]


def test_conversation_memory_counts_earlier_turns(sim):
    conversation = call(sim, "POST", "/v1/conversation/create", {"bot_id": BOT})[2]["data"]["id"]
    answers = []
    for question in ("一", "二", "三"):
        chat = call(sim, "POST", "/v3/chat?conversation_id=" + conversation, chat_body(question))[2]["data"]
        assert chat["conversation_id"] == conversation
        _, query = wait_completed(sim, chat)
        answers.append(call(sim, "GET", "/v3/chat/message/list" + query)[2]["data"][0]["content"])
    assert ["0 轮" in answers[0], "1 轮" in answers[1], "2 轮" in answers[2]] == [True, True, True]


def test_json_question_and_workflow_echo(sim):
    events = events_of(sim, chat_body("给我 JSON", stream=True))
    answer = [d for n, d in events if n == "conversation.message.completed"][0]["content"]
    assert answer.startswith("```json") and json.loads(answer[7:-3])["问题"] == "给我 JSON"
    run = call(sim, "POST", "/v1/workflow/run", {"workflow_id": "7401", "parameters": {"a": "b"}})[2]
    assert json.loads(run["data"]) == {"output": {"a": "b"}} and run["execute_id"]
    names = [name for name, _ in events_of(sim, {"workflow_id": "7401", "parameters": {"a": "b"}},
                                           "/v1/workflow/stream_run")]
    assert names == ["Message", "PING", "Message", "Message", "Done"]  # Message node pieces, then the End output


def test_badjson_breaks_json_answers_only(sim):
    sim.inject("badjson", count=2, path="/v3/chat")
    events = events_of(sim, chat_body("给我 JSON", stream=True))
    answer = [d for n, d in events if n == "conversation.message.completed"][0]["content"]
    assert answer.startswith("```json")
    with pytest.raises(ValueError):
        json.loads(answer[7:-3])
    events = events_of(sim, chat_body("普通问题", stream=True))  # not JSON mode: the fault changes nothing
    answer = [d for n, d in events if n == "conversation.message.completed"][0]["content"]
    assert "普通问题" in answer and sim.stats()["faults"] == {"badjson": 2}


@pytest.mark.parametrize("body,code", [
    ({"user_id": "u"}, 4000),
    (chat_body(bot_id=123), 4000),
    (chat_body(user_id=""), 4000),
    (chat_body(custom_variables={"a": 1}), 4000),
    (chat_body(additional_messages="hi"), 4000),
    (chat_body(auto_save_history=False), 4007),
])
def test_validation_codes(sim, body, code):
    assert call(sim, "POST", "/v3/chat", body)[2]["code"] == code


def test_token_unpublished_prompt_and_unknown_ids():
    with Simulator(latency=0.5, token="pat_right", unpublished=[BOT], max_prompt_chars=5) as sim:
        status, _, payload = call(sim, "POST", "/v3/chat", chat_body(), token="pat_wrong")
        assert (status, payload["code"]) == (401, 4100)
        assert call(sim, "POST", "/v3/chat", chat_body(), token=None)[2]["code"] == 4100
        assert call(sim, "POST", "/v3/chat", chat_body(), token="pat_right")[2]["code"] == 4015
        other = chat_body("太长的问题问题", bot_id="7002")
        assert call(sim, "POST", "/v3/chat", other, token="pat_right")[2]["code"] == 4010
        assert call(sim, "GET", "/v3/chat/retrieve?conversation_id=1&chat_id=2", token="pat_right")[2]["code"] == 4001
        assert call(sim, "POST", "/v3/chat?conversation_id=999", chat_body("x", bot_id="7002"),
                    token="pat_right")[2]["code"] == 4002
        first = call(sim, "POST", "/v3/chat", chat_body("x", bot_id="7002"), token="pat_right")[2]["data"]
        again = call(sim, "POST", "/v3/chat?conversation_id=" + first["conversation_id"],
                     chat_body("y", bot_id="7002"), token="pat_right")[2]
        assert again["code"] == 4016  # one chat at a time per conversation


def test_rate_limits_and_quota():
    with Simulator(latency=0.01, qps=2, qpd=3, quota=2) as sim:
        codes = [call(sim, "POST", "/v3/chat", chat_body(str(i)))[2]["code"] for i in range(3)]
        assert codes == [0, 0, 4020]
        time.sleep(1.1)
        third = call(sim, "POST", "/v3/chat", chat_body("3"))[2]
        assert third["code"] == 0  # the day's third call, over the quota of 2 chats
        final, _ = wait_completed(sim, third["data"])
        assert final["status"] == "failed" and final["last_error"]["code"] == 4028
        assert call(sim, "POST", "/v3/chat", chat_body("4"))[2]["code"] == 4008
        assert sim.stats()["rate_limited"] == 2


@pytest.mark.parametrize("kind,check", [
    ("http500", lambda r: r[0] == 500),
    ("http502", lambda r: r[0] == 502),
    ("http429", lambda r: r[0] == 429 and r[1]["Retry-After"]),
    ("malformed", lambda r: r[0] == 200 and isinstance(r[2], bytes)),
    ("4009", lambda r: r[2]["code"] == 4009),
    ("4020", lambda r: r[2]["code"] == 4020),
    ("5000", lambda r: r[2]["code"] == 5000),
])
def test_error_faults(sim, kind, check):
    sim.inject(kind, path="/v3/chat")
    assert check(call(sim, "POST", "/v3/chat", chat_body()))
    assert call(sim, "POST", "/v3/chat", chat_body())[2]["code"] == 0  # only the next request
    assert sim.stats()["faults"] == {kind: 1} and sim.stats()["chats_created"] == 1


def test_reset_closes_without_a_response(sim):
    sim.inject("reset")
    address = urlparse(sim.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, socket.error)):
        conn.request("POST", "/v3/chat", json.dumps(chat_body()), {"Authorization": "Bearer x",
                                                                    "Content-Type": "application/json"})
        conn.getresponse()
    assert sim.stats()["chats_created"] == 0


def test_cut_fail_and_stuck(sim):
    sim.inject("cut", path="/v3/chat")
    names = [name for name, _ in events_of(sim, chat_body("断", stream=True))]
    assert "conversation.chat.created" in names and "done" not in names
    sim.inject("fail", path="/v3/chat")
    names = [name for name, _ in events_of(sim, chat_body("败", stream=True))]
    assert names[-2:] == ["conversation.chat.failed", "done"]
    sim.inject("stuck", path="/v3/chat")
    chat = call(sim, "POST", "/v3/chat", chat_body("卡"))[2]["data"]
    time.sleep(0.3)
    query = "?conversation_id=%s&chat_id=%s" % (chat["conversation_id"], chat["id"])
    assert call(sim, "GET", "/v3/chat/retrieve" + query)[2]["data"]["status"] == "in_progress"
    cancel = call(sim, "POST", "/v3/chat/cancel", {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]})
    assert cancel[2]["data"]["status"] == "canceled"
    again = call(sim, "POST", "/v3/chat/cancel", {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]})
    assert again[2]["code"] == 4104
    stats = sim.stats()
    assert stats["chats_cancelled"] == 1 and stats["faults"] == {"cut": 1, "fail": 1, "stuck": 1}


def test_random_faults_are_reproducible_with_a_seed():
    def outcomes(seed):
        with Simulator(latency=0.01, faults=["http500:0.5"], seed=seed) as sim:
            return [call(sim, "POST", "/v1/conversation/create", {})[0] for _ in range(12)]
    assert outcomes(3) == outcomes(3)
    assert 500 in outcomes(3) and 200 in outcomes(3)


def test_bad_requests_get_an_envelope_not_a_traceback(sim):
    assert call(sim, "POST", "/v3/chat", raw=b"{not json")[2]["code"] == 4000
    assert call(sim, "POST", "/v3/chat", raw=b"a=1", content_type="application/x-www-form-urlencoded")[2]["code"] == 4000
    address = urlparse(sim.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    conn.putrequest("POST", "/v3/chat")
    conn.putheader("Content-Length", str(10 ** 10))  # never sent: refused from the header alone
    conn.putheader("Authorization", "Bearer x")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["code"] == 4000


def test_stats_and_reset(sim):
    call(sim, "POST", "/v3/chat", chat_body())
    stats = sim.stats()
    assert stats["requests"] == {"/v3/chat": 1} and stats["chats_created"] == 1
    assert call(sim, "POST", "/_sim/reset", {})[0] == 200
    assert sim.stats()["chats_created"] == 0 and sim.stats()["requests"] == {}


def test_official_sdk_polls_and_streams():
    cozepy = pytest.importorskip("cozepy")
    with Simulator(latency=0.2) as sim:
        coze = cozepy.Coze(auth=cozepy.TokenAuth("pat_sdk"), base_url=sim.url)
        question = [cozepy.Message.build_user_question_text("SDK 轮询")]
        poll = coze.chat.create_and_poll(bot_id=BOT, user_id="u", additional_messages=question)
        assert poll.chat.status == cozepy.ChatStatus.COMPLETED and poll.chat.usage.token_count > 0
        assert any("SDK 轮询" in m.content for m in poll.messages if m.type == cozepy.MessageType.ANSWER)
        answer, finished = "", False
        for event in coze.chat.stream(bot_id=BOT, user_id="u",
                                      additional_messages=[cozepy.Message.build_user_question_text("SDK 流式")]):
            if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_DELTA:
                answer += event.message.content
            if event.event == cozepy.ChatEventType.CONVERSATION_CHAT_COMPLETED:
                finished = True
        assert finished and "SDK 流式" in answer
        result = coze.workflows.runs.create(workflow_id="7401", parameters={"k": "v"})
        assert json.loads(result.data) == {"output": {"k": "v"}}


def test_a_client_hanging_up_prints_no_traceback(sim, capfd):
    address = urlparse(sim.url)
    for _ in range(3):
        conn = socket.create_connection((address.hostname, address.port))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
        conn.send(b"GET /_sim/st")
        conn.close()
    time.sleep(0.3)
    assert "Traceback" not in capfd.readouterr().err
    assert call(sim, "GET", "/_sim/stats")[0] == 200


def sdk_ids(seed):
    """The conversation, chat and file ids a fresh simulator with `seed` gives the official SDK."""
    import io
    import cozepy
    from helpers import TOKEN
    with Simulator(latency=0.0, seed=seed) as sim:
        sdk = cozepy.Coze(auth=cozepy.TokenAuth(TOKEN), base_url=sim.url)
        conversation = sdk.conversations.create().id
        chat = sdk.chat.create(bot_id=BOT, user_id="u", conversation_id=conversation,
                               additional_messages=[cozepy.Message.build_user_question_text("你好")])
        upload = io.BytesIO(b"hello")
        upload.name = "a.txt"
        uploaded = sdk.files.upload(file=upload).id
        return [conversation, chat.id, uploaded]


def test_a_seed_reproduces_the_ids_the_sdk_is_given():
    first, again, other = sdk_ids(7), sdk_ids(7), sdk_ids(8)
    assert first == again and len(set(first)) == 3
    assert all(len(value) == 19 and value.isdigit() for value in first)
    assert not set(first) & set(other)


def test_the_services_import_nothing_back_from_service_py():
    """ids live in a leaf module: chat, files and workflows take sim.new_id, no import circle."""
    import ast
    import os
    from helpers import ROOT
    folder = os.path.join(ROOT, "yingdao_module", "simulator")
    for name in ("chat.py", "files.py", "workflows.py", "ids.py"):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
        assert "service" not in imported and "server" not in imported, (name, imported)

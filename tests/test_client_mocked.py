"""The client against recorded protocol shapes (requests-mock): streams, envelopes,
retries, recovery of a cut stream, cancellation, polling."""
import json

import pytest

BASE = "https://api.coze.cn"
from helpers import BOT_ID as BOT, TOKEN, sdk_recording


def sse(*events):
    """Build an event stream the way Coze sends it: event:NAME / data:JSON / blank line."""
    out = []
    for name, data in events:
        out.append("event:%s\ndata:%s\n\n" % (name, data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)))
    return "".join(out)


CHAT = {"id": "chat1", "conversation_id": "conv1", "bot_id": BOT, "status": "in_progress"}
DONE_CHAT = dict(CHAT, status="completed", usage={"token_count": 30, "output_count": 10, "input_count": 20})
ANSWER = {"id": "msg1", "conversation_id": "conv1", "chat_id": "chat1", "role": "assistant", "type": "answer",
          "content": "杭州今天晴。", "content_type": "text"}
FULL_STREAM = sse(
    ("conversation.chat.created", dict(CHAT, status="created")),
    ("conversation.chat.in_progress", CHAT),
    ("conversation.message.delta", dict(ANSWER, content="杭州", reasoning_content="先想")),
    ("conversation.message.delta", dict(ANSWER, content="今天晴", reasoning_content="一想")),
    ("conversation.message.completed", ANSWER),
    ("conversation.message.completed", dict(ANSWER, id="msg2", type="follow_up", content="明天呢?")),
    ("conversation.message.completed", dict(ANSWER, id="msg3", type="verbose", content='{"msg_type":"generate_answer_finish"}')),
    ("conversation.chat.completed", DONE_CHAT),
    ("done", '"[DONE]"'),
)
SSE_HEADERS = {"Content-Type": "text/event-stream", "x-tt-logid": "LOGID123"}


def envelope(data=None, code=0, msg=""):
    return {"code": code, "msg": msg, "data": data, "detail": {"logid": "LOGID123"}}


@pytest.fixture
def mocked(requests_mock, coze, monkeypatch):
    monkeypatch.setenv("COZE_HTTP_BACKEND", "requests")
    return requests_mock


def chat_posts(mocked):
    return [r for r in mocked.request_history if r.path == "/v3/chat"]


def test_stream_answer_usage_followups_reasoning(mocked, coze):
    mocked.post(BASE + "/v3/chat", text=FULL_STREAM, headers=SSE_HEADERS)
    result = coze.chat("杭州天气?", bot_id=BOT, token=TOKEN)
    assert result["answer"] == "杭州今天晴。"  # the completed message wins over the deltas "杭州今天晴"
    assert result["usage"] == {"token_count": 30, "input_count": 20, "output_count": 10}
    assert result["follow_ups"] == ["明天呢?"]
    assert result["reasoning"] == "先想一想"
    assert (result["chat_id"], result["conversation_id"], result["logid"]) == ("chat1", "conv1", "LOGID123")
    sent = mocked.last_request
    assert sent.headers["Authorization"] == "Bearer " + TOKEN
    body = sent.json()
    assert body["stream"] is True and body["bot_id"] == BOT and body["auto_save_history"] is True
    assert body["additional_messages"] == [{"role": "user", "type": "question", "content": "杭州天气?", "content_type": "text"}]
    assert len(mocked.request_history) == 1  # one request per answer


def test_conversation_id_goes_in_the_query_string(mocked, coze):
    mocked.post(BASE + "/v3/chat", text=FULL_STREAM, headers=SSE_HEADERS)
    coze.ask("hi", bot_id=BOT, token=TOKEN, conversation_id="conv1")
    assert mocked.last_request.qs == {"conversation_id": ["conv1"]}
    assert "conversation_id" not in mocked.last_request.json()


def test_several_answer_messages_are_joined(mocked, coze):
    second = dict(ANSWER, id="msgB", content="第二段")
    stream = FULL_STREAM.replace("event:conversation.chat.completed",
                                 "event:conversation.message.completed\ndata:%s\n\nevent:conversation.chat.completed"
                                 % json.dumps(second, ensure_ascii=False), 1)
    mocked.post(BASE + "/v3/chat", text=stream, headers=SSE_HEADERS)
    assert coze.ask("hi", bot_id=BOT, token=TOKEN) == "杭州今天晴。\n第二段"


def test_crlf_and_spaced_event_lines_parse(mocked, coze):
    stream = FULL_STREAM.replace("event:", "event: ").replace("data:", "data: ").replace("\n", "\r\n")
    mocked.post(BASE + "/v3/chat", text=stream, headers=SSE_HEADERS)
    assert coze.ask("hi", bot_id=BOT, token=TOKEN) == "杭州今天晴。"


@pytest.mark.parametrize("code,cls", [(4100, "AuthError"), (4101, "AuthError"), (4015, "BotError"),
                                      (4006, "BotError"), (4028, "QuotaError"), (4011, "QuotaError"),
                                      (4008, "QuotaError"), (4010, "APIError"), (4105, "APIError")])
def test_fatal_codes_are_not_retried(mocked, coze, code, cls):
    mocked.post(BASE + "/v3/chat", json=envelope(code=code, msg="server words"),
                status_code=401 if code == 4100 else 200)
    with pytest.raises(getattr(coze, cls)) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN)
    assert info.value.code == code and info.value.logid == "LOGID123"
    assert len(chat_posts(mocked)) == 1
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_4100_message_names_token_and_region(mocked, coze):
    mocked.post("https://api.coze.com/v3/chat", json=envelope(code=4100, msg="authentication is invalid"), status_code=401)
    with pytest.raises(coze.AuthError) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN, base_url="https://api.coze.com")
    text = str(info.value)
    assert "令牌" in text and "api.coze.cn" in text and "当前 https://api.coze.com" in text and "4100" in text


def test_4015_says_publish_as_api(mocked, coze):
    mocked.post(BASE + "/v3/chat", json=envelope(code=4015))
    with pytest.raises(coze.BotError, match="发布"):
        coze.ask("hi", bot_id=BOT, token=TOKEN)


@pytest.mark.parametrize("first", [
    {"status_code": 500, "text": "oops"},
    {"status_code": 502, "text": "<html>bad gateway</html>"},
    {"status_code": 429, "text": "", "headers": {"Retry-After": "1"}},
    {"json": envelope(code=4009)},
    {"json": envelope(code=4020)},
    {"json": envelope(code=4016)},
    {"json": envelope(code=5000)},
    {"text": "{not json", "headers": {"Content-Type": "application/json"}},
])
def test_retryable_failures_before_the_chat_exists_are_retried(mocked, coze, quiet_log, first):
    mocked.post(BASE + "/v3/chat", [first, {"text": FULL_STREAM, "headers": SSE_HEADERS}])
    assert coze.ask("hi", bot_id=BOT, token=TOKEN) == "杭州今天晴。"
    assert len(chat_posts(mocked)) == 2
    assert any("重试" in line for line in quiet_log)


def test_retries_give_up_after_the_limit(mocked, coze, quiet_log):
    mocked.post(BASE + "/v3/chat", status_code=503, text="down")
    with pytest.raises(coze.ServerError) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN)
    assert info.value.code == 503
    assert len(chat_posts(mocked)) == 1 + coze.MAX_RETRIES
    # the last word says what happened, not that a retry will follow
    assert "自动重试 %d 次仍失败" % coze.MAX_RETRIES in str(info.value) and "稍后自动重试" not in str(info.value)


@pytest.mark.parametrize("failure", [
    {"json": envelope(code=4009)},
    {"json": envelope(code=4016)},
    {"text": "{not json", "headers": {"Content-Type": "application/json"}},
    {"exc": "ConnectionError"},
])
def test_the_last_retry_does_not_promise_another(mocked, coze, quiet_log, failure):
    if "exc" in failure:
        import requests
        failure = {"exc": requests.exceptions.ConnectionError("refused")}
    mocked.post(BASE + "/v3/chat", [failure])
    with pytest.raises(coze.CozeError) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN)
    assert "会自动重试" not in str(info.value) and "稍后自动重试" not in str(info.value)
    assert "自动重试 %d 次仍失败" % coze.MAX_RETRIES in str(info.value)
    assert any("秒后第 1 次重试" in line for line in quiet_log)  # while retries remain, the log says so


def test_connection_error_is_retried(mocked, coze, quiet_log):
    import requests
    mocked.post(BASE + "/v3/chat", [{"exc": requests.exceptions.ConnectionError("refused")},
                                    {"text": FULL_STREAM, "headers": SSE_HEADERS}])
    assert coze.ask("hi", bot_id=BOT, token=TOKEN) == "杭州今天晴。"


def test_cut_stream_recovers_the_same_chat(mocked, coze):
    cut = FULL_STREAM.split("event:conversation.message.completed")[0]  # created + deltas, then nothing
    mocked.post(BASE + "/v3/chat", text=cut, headers=SSE_HEADERS)
    mocked.get(BASE + "/v3/chat/retrieve", json=envelope(DONE_CHAT))
    mocked.get(BASE + "/v3/chat/message/list", json=envelope([ANSWER, dict(ANSWER, id="f", type="follow_up", content="再问")]))
    result = coze.chat("hi", bot_id=BOT, token=TOKEN)
    assert result["answer"] == "杭州今天晴。" and result["follow_ups"] == ["再问"]
    assert result["usage"]["token_count"] == 30
    assert len(chat_posts(mocked)) == 1  # no second, paid chat
    retrieve = [r for r in mocked.request_history if r.path == "/v3/chat/retrieve"][0]
    assert retrieve.qs == {"conversation_id": ["conv1"], "chat_id": ["chat1"]}


def test_stream_cut_before_the_chat_exists_is_retried(mocked, coze, quiet_log):
    mocked.post(BASE + "/v3/chat", [{"text": "event:conversation.chat.cr", "headers": SSE_HEADERS},
                                    {"text": FULL_STREAM, "headers": SSE_HEADERS}])
    assert coze.ask("hi", bot_id=BOT, token=TOKEN) == "杭州今天晴。"
    assert len(chat_posts(mocked)) == 2


def test_failed_chat_shows_last_error_and_is_not_retried(mocked, coze):
    failed = dict(CHAT, status="failed", last_error={"code": 4028, "msg": "quota exceeded"})
    mocked.post(BASE + "/v3/chat", text=sse(("conversation.chat.created", CHAT),
                                            ("conversation.chat.failed", failed), ("done", '"[DONE]"')),
                headers=SSE_HEADERS)
    with pytest.raises(coze.QuotaError) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN)
    assert info.value.code == 4028 and info.value.chat_id == "chat1"
    assert "额度" in str(info.value) and "quota exceeded" in str(info.value)
    assert len(chat_posts(mocked)) == 1


def test_error_event_mid_stream_raises_without_a_second_chat(mocked, coze):
    mocked.post(BASE + "/v3/chat", text=sse(("conversation.chat.created", CHAT), ("error", {"code": 5000, "msg": "x"})),
                headers=SSE_HEADERS)
    with pytest.raises(coze.ServerError):
        coze.ask("hi", bot_id=BOT, token=TOKEN)
    assert len(chat_posts(mocked)) == 1


def test_polling_backs_off_and_reads_messages(mocked, coze):
    mocked.post(BASE + "/v3/chat", json=envelope(CHAT))
    mocked.get(BASE + "/v3/chat/retrieve", [{"json": envelope(CHAT)}] * 3 + [{"json": envelope(DONE_CHAT)}])
    mocked.get(BASE + "/v3/chat/message/list", json=envelope([ANSWER]))
    result = coze.chat("hi", bot_id=BOT, token=TOKEN, stream=False)
    assert result["answer"] == "杭州今天晴。" and result["usage"]["token_count"] == 30
    assert chat_posts(mocked)[0].json()["stream"] is False
    assert chat_posts(mocked)[0].json()["auto_save_history"] is True
    # 4 status checks at 0.1, 0.15, 0.225, 0.34 s: well under the tutorial's fixed 2 s
    assert result["elapsed"] < 1.5


def test_timeout_cancels_the_chat_and_names_it(mocked, coze):
    mocked.post(BASE + "/v3/chat", json=envelope(CHAT))
    mocked.get(BASE + "/v3/chat/retrieve", json=envelope(CHAT))
    cancel = mocked.post(BASE + "/v3/chat/cancel", json=envelope(dict(CHAT, status="canceled")))
    with pytest.raises(coze.CozeTimeoutError) as info:
        coze.ask("hi", bot_id=BOT, token=TOKEN, stream=False, timeout=0.6)
    assert cancel.call_count == 1 and cancel.last_request.json() == {"conversation_id": "conv1", "chat_id": "chat1"}
    assert "chat1" in str(info.value) and "conv1" in str(info.value) and "超时" in str(info.value)


def test_requires_action_without_tool_calls_is_a_clear_error(mocked, coze):
    mocked.post(BASE + "/v3/chat", text=sse(("conversation.chat.created", CHAT),
                                            ("conversation.chat.requires_action", dict(CHAT, status="requires_action"))),
                headers=SSE_HEADERS)
    with pytest.raises(coze.APIError, match="requires_action"):
        coze.ask("hi", bot_id=BOT, token=TOKEN, timeout=10)


def test_requires_action_is_answered_by_the_tool_and_submitted(mocked, coze):
    action = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "查询库存", "arguments": '{"sku": "A1"}'}}]}}
    mocked.post(BASE + "/v3/chat", text=sse(("conversation.chat.created", CHAT), (
        "conversation.chat.requires_action", dict(CHAT, status="requires_action", required_action=action))),
        headers=SSE_HEADERS)
    submit = mocked.post(BASE + "/v3/chat/submit_tool_outputs", json=envelope(CHAT))
    mocked.get(BASE + "/v3/chat/retrieve", json=envelope(DONE_CHAT))
    mocked.get(BASE + "/v3/chat/message/list", json=envelope([ANSWER]))
    assert coze.ask("A1 还有吗", bot_id=BOT, token=TOKEN, tools={"查询库存": lambda sku: {"sku": sku, "库存": 3}}) == \
        "杭州今天晴。"
    assert submit.last_request.qs == {"conversation_id": ["conv1"], "chat_id": ["chat1"]}
    assert submit.last_request.json() == {"tool_outputs": [{"tool_call_id": "call_1",
                                                            "output": '{"sku": "A1", "库存": 3}'}], "stream": False}


def test_new_conversation(mocked, coze):
    mocked.post(BASE + "/v1/conversation/create", json=envelope({"id": "conv9", "created_at": 1}))
    assert coze.new_conversation(bot_id=BOT, token=TOKEN) == "conv9"
    assert mocked.last_request.json() == {"bot_id": BOT}


def test_workflow_stream_output_is_parsed(mocked, coze):
    stream = ('id: 0\nevent: Message\ndata: {"content":"{\\"output\\":\\"你好\\"}","node_title":"End","node_is_finish":true}\n\n'
              'id: 1\nevent: Done\ndata: {"debug_url":"https://www.coze.cn/work_flow?x"}\n\n')
    mocked.post(BASE + "/v1/workflow/stream_run", text=stream, headers=SSE_HEADERS)
    assert coze.run_workflow("7400000000000000001", {"input": "你好"}, token=TOKEN) == {"output": "你好"}
    assert mocked.last_request.json() == {"workflow_id": "7400000000000000001", "parameters": {"input": "你好"}}


def test_workflow_end_output_is_never_glued_to_message_text(mocked, coze):
    stream = ('id: 0\nevent: Message\ndata: {"content":"正在查询","node_title":"消息","node_seq_id":"0","node_is_finish":false}\n\n'
              'id: 1\nevent: Message\ndata: {"content":"杭州","node_title":"消息","node_seq_id":"1","node_is_finish":true}\n\n'
              'id: 2\nevent: Message\ndata: {"content":"{\\"output\\":\\"晴\\"}","node_title":"End","node_seq_id":"0",'
              '"node_is_finish":true}\n\n'
              'id: 3\nevent: Done\ndata: {"debug_url":"https://www.coze.cn/work_flow?execute_id=741&space_id=1"}\n\n')
    mocked.post(BASE + "/v1/workflow/stream_run", text=stream, headers=SSE_HEADERS)
    assert coze.run_workflow("7400000000000000001", {"城市": "杭州"}, token=TOKEN) == {"output": "晴"}


def test_workflow_non_stream_and_error(mocked, coze):
    mocked.post(BASE + "/v1/workflow/run", json=dict(envelope('{"a": 1}'), debug_url="u", execute_id="e"))
    assert coze.run_workflow("74", '{"x": "1"}', token=TOKEN, stream="false") == {"a": 1}
    stream = 'id: 0\nevent: Error\ndata: {"error_code":4200,"error_message":"workflow not found"}\n\n'
    mocked.post(BASE + "/v1/workflow/stream_run", text=stream, headers=SSE_HEADERS)
    with pytest.raises(coze.APIError, match="workflow not found"):
        coze.run_workflow("74", token=TOKEN)


def test_upload_and_send_files(mocked, coze, tmp_path):
    picture = tmp_path / "发票.png"
    picture.write_bytes(b"\x89PNG fake")
    mocked.post(BASE + "/v1/files/upload", json=envelope({"id": "file77", "file_name": "发票.png"}))
    mocked.post(BASE + "/v3/chat", text=FULL_STREAM, headers=SSE_HEADERS)
    coze.ask("这张发票金额多少?", bot_id=BOT, token=TOKEN, files=[str(picture), "12345"])
    upload = [r for r in mocked.request_history if r.path == "/v1/files/upload"][0]
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="' in upload.body and b"\x89PNG fake" in upload.body
    message = mocked.last_request.json()["additional_messages"][0]
    assert message["content_type"] == "object_string"
    assert json.loads(message["content"]) == [{"type": "text", "text": "这张发票金额多少?"},
                                              {"type": "image", "file_id": "file77"},
                                              {"type": "file", "file_id": "12345"}]


def test_recorded_workflow_stream_end_output_apart_from_message_text(mocked, coze):
    first_run = sdk_recording("workflow_run_stream_resp.txt").split("id: 0\nevent: Error")[0]
    mocked.post(BASE + "/v1/workflow/stream_run", text=first_run + "id: 6\nevent: Done\ndata: {}\n\n",
                headers=SSE_HEADERS)
    assert coze.run_workflow("7400000000000000001", token=TOKEN) == {
        "output": "为什么小明要带一把尺子去看电影？因为他听说电影很长，怕坐不下！"}

"""Event streams in the shapes Coze sends, written by hand (shared by the SSE parser tests and the
hostile-server tests): chats frame `event:x`/`data:{...}` with no space, workflows `id: n`/`event: X`;
the last event has NO closing blank line."""
import json

CHAT, CONV, BOT, MSG = "7400000000000000001", "7400000000000000002", "7400000000000000003", "7400000000000000004"


def _chat(status, **extra):
    chat = {"id": CHAT, "conversation_id": CONV, "bot_id": BOT, "created_at": 1732500000,
            "last_error": {"code": 0, "msg": ""}, "status": status,
            "usage": {"token_count": 0, "output_count": 0, "input_count": 0}}
    chat.update(extra)
    return json.dumps(chat, ensure_ascii=False, separators=(",", ":"))


def _message(content, kind="answer"):
    return json.dumps({"id": MSG, "conversation_id": CONV, "bot_id": BOT, "role": "assistant", "type": kind,
                       "content": content, "content_type": "text", "chat_id": CHAT},
                      ensure_ascii=False, separators=(",", ":"))


# Our own streams, in Coze's shapes: chats frame `event:x`/`data:{...}` with no space, workflows
# `id: n`/`event: X`/`data: {...}`; the last event has NO closing blank line.
OWN_STREAMS = {
    "own chat": "\n\n".join([
        "event:conversation.chat.created\ndata:" + _chat("created"),
        "event:conversation.chat.in_progress\ndata:" + _chat("in_progress"),
        "event:conversation.message.delta\ndata:" + _message("杭州"),
        "event:conversation.message.delta\ndata:" + _message("今天晴。"),
        "event:conversation.message.completed\ndata:" + _message("杭州今天晴。"),
        "event:conversation.message.completed\ndata:" + _message('{"msg_type":"generate_answer_finish"}', "verbose"),
        "event:conversation.chat.completed\ndata:" + _chat("completed", usage={"token_count": 30, "output_count": 10,
                                                                                 "input_count": 20}),
        'event:done\ndata:"[DONE]"']),
    "own failed chat": "event:conversation.chat.failed\ndata:" + _chat(
        "failed", failed_at=1732500001, last_error={"code": 5000, "msg": "event interval error"}),
    "own error": "event:error\ndata:{}",
    "own workflow": "\n\n".join([
        'id: 0\nevent: Message\ndata: {"content":"第一段","node_is_finish":false,"node_seq_id":"0","node_title":"Message"}',
        'id: 1\nevent: Message\ndata: {"content":"{\\"output\\":\\"结果\\"}","node_is_finish":true,"node_seq_id":"0","node_title":""}',
        'id: 2\nevent: PING\ndata: {}',
        'id: 3\nevent: Done\ndata: {"debug_url":"https://www.coze.cn/work_flow?execute_id=7400000000000000009"}']),
    "own chatflow": "\n\n".join([
        "event: conversation.chat.created\ndata: " + _chat("created"),
        "event: conversation.message.delta\ndata: " + _message("好"),
        "event: conversation.message.completed\ndata: " + _message("好的"),
        "event: conversation.chat.completed\ndata: " + _chat("completed"),
        'event: done\ndata: {"debug_url":"https://www.coze.cn/work_flow?execute_id=7400000000000000009"}']),
}

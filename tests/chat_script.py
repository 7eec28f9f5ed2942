"""One Coze chat as a hostile-server script (tests/rawserver.py): its ids, the events that start and
finish it, and what a cut stream is recovered from. Shared by the hostile-server, TLS, secrets tests
and bench_deadline."""
from rawserver import HOLD, SSE, json_reply, reply, sse_text, trickle

TOKEN = "pat_HOSTILEtestTOKEN0123456789abcdefABCDEF"
BOT = "7000000000000000001"
CHAT_ID, CONV_ID = "7400000000000000001", "7400000000000000002"
CHAT = {"id": CHAT_ID, "conversation_id": CONV_ID, "bot_id": BOT, "status": "in_progress"}
DONE_CHAT = dict(CHAT, status="completed", usage={"token_count": 30, "output_count": 10, "input_count": 20})
ANSWER = {"id": "7400000000000000004", "conversation_id": CONV_ID, "chat_id": CHAT_ID, "role": "assistant",
          "type": "answer", "content": "杭州今天晴。", "content_type": "text"}
STARTED = sse_text(("conversation.chat.created", dict(CHAT, status="created")), ("conversation.chat.in_progress", CHAT))
FINISHED = sse_text(("conversation.message.completed", ANSWER), ("conversation.chat.completed", DONE_CHAT),
                    ("done", '"[DONE]"'))
RECOVERY = {  # what a cut stream is recovered from: the same chat, never a new one
    "/v3/chat/retrieve": [json_reply(DONE_CHAT)],
    "/v3/chat/message/list": [json_reply([dict(ANSWER, content="从消息列表找回的回答")])],
    "/v3/chat/cancel": [json_reply(dict(CHAT, status="canceled"))],
}


def trickling(kind):
    """A script that keeps the connection busy for ~15 s without ever finishing the chat."""
    if kind == "one byte at a time":
        return [reply(200, SSE, length=False), STARTED] + trickle(sse_text(("conversation.message.delta", ANSWER)) * 20, 0.5)
    if kind == "keep-alive comments":
        return [reply(200, SSE, length=False), STARTED] + [":\n\n", 0.3] * 50
    if kind == "PING events":
        return [reply(200, SSE, length=False), STARTED] + ["event:PING\ndata:{}\n\n", 0.3] * 50
    if kind == "silence":
        return [reply(200, SSE, length=False), STARTED, HOLD]
    raise ValueError(kind)

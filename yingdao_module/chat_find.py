"""Finding a chat in its conversation, where no chat id ever reached us: a stream cut (or a lost
connection) before conversation.chat.created, or a batch killed between creating a row's conversation
and hearing of its chat. The conversation's message list shows each chat's user question, with its
chat_id, from the moment the chat exists, so a chat that may exist is looked for (unpaid) before a
question is paid for again.
"""
import json

from .errors import APIError, BadResponseError

LOOK_LIMIT = 20  # newest messages looked at: a chat shows its question and a few answer messages
CLOCK_SLACK = 5  # seconds Coze's clock may run behind ours when created_at is compared


def sent_text(message):
    """The text of a user message: its content, or the text parts of an object_string list."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or message.get("content_type") != "object_string":
        return content if isinstance(content, str) else ""
    try:
        parts = json.loads(content)
    except ValueError:
        return content
    if not isinstance(parts, list):
        return content
    return "".join(part.get("text") or "" for part in parts if isinstance(part, dict) and part.get("type") == "text")


def recent_messages(transport, conversation_id, deadline):
    """The newest LOOK_LIMIT messages of a conversation, newest first."""
    envelope = transport.call("POST", "/v1/conversation/message/list", {"conversation_id": conversation_id},
                              {"order": "desc", "limit": LOOK_LIMIT}, deadline=deadline, what="读取会话消息")
    data = envelope.get("data")
    if not isinstance(data, list):
        raise BadResponseError("扣子返回的会话消息列表格式不对(应为列表):请稍后重试,反复出现请把 logid 发给扣子客服",
                               logid=envelope.get("logid"), conversation_id=conversation_id)
    return [message for message in data if isinstance(message, dict)]


def asked(messages, since=None):
    """[(chat_id, question text)] of the user questions, newest first; with `since` (a Unix time) only
    chats created after it (less the clock slack) that had not answered before it."""
    answered_before = set()
    if since is not None:
        answered_before = set(str(m.get("chat_id")) for m in messages
                              if m.get("role") == "assistant" and _seconds(m) < int(since))
    found = []
    for message in messages:
        if message.get("role") != "user" or message.get("type", "question") != "question":
            continue
        chat_id = str(message.get("chat_id") or "")
        if not chat_id or chat_id in answered_before or (
                since is not None and _seconds(message) < int(since) - CLOCK_SLACK):
            continue
        found.append((chat_id, sent_text(message)))
    return found


def _seconds(message):
    try:
        return int(message.get("created_at") or 0)
    except (TypeError, ValueError):
        return 0


def find_asked(transport, conversation_id, question, deadline, since=None):
    """The id of the newest chat that asked `question` in the conversation, or None.

    With `since` (when the request was sent) only chats created after it count: a conversation a
    caller passed may hold the same question asked before. Without it the conversation is the row's
    own: a question there that is not `question` means a chat we cannot tell is ours (APIError,
    never paid again)."""
    questions = asked(recent_messages(transport, conversation_id, deadline), since)
    for chat_id, text in questions:
        if text == question:
            return chat_id
    if questions and since is None:
        raise APIError("这一行的会话 %s 里已经有一次对话,但问的不是这一行的问题,认不出是不是这一行付过费的那次:"
                       "为免重复付费没有重问。请在扣子里查看这个会话;确认后用 --retry-failed(影刀里 retry_failed 填 是)重问"
                       % conversation_id, conversation_id=conversation_id)
    return None

"""Conversation messages: POST /v1/conversation/message/list?conversation_id=... with a JSON body
{order, limit, before_id, after_id, chat_id}, answered like the real service (and read by cozepy's
coze.conversations.messages.list): `data` is the page of messages, with `first_id`, `last_id` and
`has_more` beside it. Each chat shows its user question at once (with its chat_id) and its answer
messages once it is completed.
"""

MAX_PAGE = 50


def conversation_messages(sim, conversation):
    """The conversation's messages, oldest first (call with sim.lock held)."""
    messages = []
    for chat_id in conversation.get("chats", ()):
        chat = sim.chats[chat_id]
        messages.append(chat.question_message())
        if chat.status(sim.stuck_cap) == "completed":
            messages += chat.messages()
    return messages


def page_of(messages, before_id, after_id, limit):
    """(page, has_more): the messages after `after_id` or before `before_id` in this order, at most `limit`."""
    ids = [message["id"] for message in messages]
    if after_id in ids:
        messages = messages[ids.index(after_id) + 1:]
    elif before_id in ids:
        messages = messages[:ids.index(before_id)][::-1][:limit][::-1]
        return messages, ids.index(before_id) > len(messages)
    return messages[:limit], len(messages) > limit


class MessageRoutes(object):
    """Handler methods for conversation messages (mixed into the HTTP handler)."""

    ROUTES = {
        ("POST", "/v1/conversation/message/list"): "conversation_message_list",
    }

    def conversation_message_list(self, query, body, raw, fault):
        order, limit = body.get("order") or "desc", body.get("limit") or MAX_PAGE
        if order not in ("asc", "desc") or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            return self.error(4000, "invalid parameter: order must be asc or desc, limit 1 to %d" % MAX_PAGE)
        with self.sim.lock:
            conversation = self.sim.conversations.get(query.get("conversation_id") or "")
            if conversation is None:
                return self.error(4002, "conversation not found")
            messages = conversation_messages(self.sim, conversation)
        if body.get("chat_id"):
            messages = [message for message in messages if message["chat_id"] == body["chat_id"]]
        if order == "desc":
            messages.reverse()
        page, more = page_of(messages, body.get("before_id"), body.get("after_id"), limit)
        self.ok(page, first_id=page[0]["id"] if page else "", last_id=page[-1]["id"] if page else "",
                has_more=more)

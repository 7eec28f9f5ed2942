"""What one chat sends, built in one place: the path, query parameters and body for a bot
(/v3/chat) or a chatflow (对话流, /v1/workflows/chat), from inputs already checked."""


class ChatRequest(object):
    """path, params (query, or None), body (a dict sent as JSON) and whether the answer streams."""

    def __init__(self, path, params, body, stream):
        self.path, self.params, self.body, self.stream = path, params, body, stream


def chat_request(message, bot_id, user_id, conversation_id=None, custom_variables=None, stream=True,
                 workflow_id=None, parameters=None):
    """The ChatRequest asking `message` (an additional message). A chatflow streams only and takes
    its conversation id (and optional bot id) in the body; a bot takes the conversation id as a query
    parameter."""
    if workflow_id:
        body = {"workflow_id": workflow_id, "additional_messages": [message], "parameters": parameters}
        for name, value in (("conversation_id", conversation_id), ("bot_id", bot_id)):
            if value:
                body[name] = value
        return ChatRequest("/v1/workflows/chat", None, body, True)
    body = {"bot_id": bot_id, "user_id": user_id, "stream": stream, "auto_save_history": True,
            "additional_messages": [message]}
    if custom_variables:
        body["custom_variables"] = custom_variables
    params = {"conversation_id": conversation_id} if conversation_id else None
    return ChatRequest("/v3/chat", params, body, stream)

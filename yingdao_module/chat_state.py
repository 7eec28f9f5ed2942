"""ChatState: what one chat has told us so far, from stream events or from polling (its answer,
reasoning, follow-ups, usage, tool calls), and the two signals a chat in flight raises."""
import time

from .errors import BadResponseError, error_for_code


class ChatState(object):
    """What one chat has told us so far, from stream events or from polling."""

    def __init__(self, conversation_id=None, on_created=None):
        self.on_created = on_created  # called once with (chat_id, conversation_id) when the chat exists
        self.chat_id = None
        self.conversation_id = conversation_id
        self.status = None
        self.usage = {}
        self.last_error = None
        self.logid = None
        self.canceled = False      # a cancel was already sent
        self._answer_ids = []      # answer message ids in order of appearance
        self._deltas = {}          # message id -> [delta text, ...] (joined once: += would copy it all each time)
        self._completed = {}       # message id -> full text of the completed message
        self._reasoning_parts = []  # reasoning deltas, joined once
        self._reasoning_done = {}  # message id -> reasoning of the completed message
        self.follow_ups = []
        self.required_action = None  # the local tool calls the chat waits for
        self.tool_calls = []         # [{name, arguments, output}] answered so far

    # -- feeding --------------------------------------------------------------------------
    def take_chat(self, chat):
        chat = self._expect_object(chat, "对话状态")
        created = self.chat_id is None and chat.get("id")
        self.chat_id = chat.get("id") or self.chat_id
        self.conversation_id = chat.get("conversation_id") or self.conversation_id
        self.status = chat.get("status") or self.status
        if isinstance(chat.get("usage"), dict):
            self.usage = chat["usage"]
        last_error = chat.get("last_error")
        if isinstance(last_error, dict) and (last_error.get("code") or 0) != 0:
            self.last_error = last_error
        if created and self.on_created:
            self.on_created(self.chat_id, self.conversation_id)
        if isinstance(chat.get("required_action"), dict):
            self.required_action = chat["required_action"]

    def take_message(self, message, completed):
        message = self._expect_object(message, "消息")
        kind = message.get("type")
        msg_id = message.get("id") or "answer"
        if kind == "answer":
            if msg_id not in self._answer_ids:
                self._answer_ids.append(msg_id)
            if completed:
                self._completed[msg_id] = message.get("content") or ""
                if message.get("reasoning_content"):
                    self._reasoning_done[msg_id] = message["reasoning_content"]
            else:
                self._deltas.setdefault(msg_id, []).append(message.get("content") or "")
                self._reasoning_parts.append(message.get("reasoning_content") or "")
        elif kind == "follow_up" and completed and message.get("content"):
            self.follow_ups.append(message["content"])

    def take_message_list(self, messages):
        if not isinstance(messages, list):
            raise BadResponseError("扣子返回的消息列表格式不对(应为列表,实际是 %s):请稍后重试,反复出现请把 logid 发给扣子客服"
                                   % type(messages).__name__, logid=self.logid, chat_id=self.chat_id,
                                   conversation_id=self.conversation_id)
        self._answer_ids, self._deltas, self._completed, self.follow_ups = [], {}, {}, []
        self._reasoning_done = {}
        for message in messages:
            message = self._expect_object(message, "消息")
            if message.get("role", "assistant") == "assistant":
                self.take_message(message, completed=True)

    def _expect_object(self, value, what):
        """`value` when it is a JSON object; a wrong shape must never pass as an empty answer."""
        if isinstance(value, dict):
            return value
        shown = "null" if value is None else type(value).__name__
        raise BadResponseError("扣子返回的%s格式不对(应为 JSON 对象,实际是 %s):请稍后重试,反复出现请把 logid 发给扣子客服"
                               % (what, shown), logid=self.logid, chat_id=self.chat_id,
                               conversation_id=self.conversation_id)

    # -- results --------------------------------------------------------------------------
    @property
    def answer(self):
        # the completed message is authoritative; deltas only fill in what never completed
        return "\n".join(self._completed[i] if i in self._completed else "".join(self._deltas.get(i, ()))
                         for i in self._answer_ids)

    @property
    def reasoning(self):
        return "".join(self._reasoning_parts)

    def result(self, started):
        reasoning = "".join(self._reasoning_done.get(i, "") for i in self._answer_ids) or self.reasoning
        usage = self.usage or {}
        return {
            "answer": self.answer,
            "conversation_id": self.conversation_id,
            "chat_id": self.chat_id,
            "usage": {"token_count": int(usage.get("token_count") or 0),
                      "input_count": int(usage.get("input_count") or 0),
                      "output_count": int(usage.get("output_count") or 0)},
            "follow_ups": list(self.follow_ups),
            "reasoning": reasoning,
            "logid": self.logid,
            "tool_calls": list(self.tool_calls),
            "elapsed": 0.0 if started is None else round(time.monotonic() - started, 3),
        }

    def failure(self, base_url):
        """The error a failed chat carries; its last_error is never hidden."""
        error = self.last_error or {}
        code = error.get("code") or 5000
        err = error_for_code(code, error.get("msg") or "", self.logid, base_url, self.chat_id, self.conversation_id)
        err = type(err)("对话失败:" + err.message, err.code, err.logid, err.chat_id, err.conversation_id)
        err.retryable = False  # the chat ran and was billed; asking again is the caller's choice
        err.failed_chat = True
        return err.without_retry_promise()


class StreamCut(Exception):
    """The event stream ended before the chat did (network cut, proxy timeout)."""


class ToolCallsPending(Exception):
    """The chat stopped in requires_action: local tools must answer before it goes on."""

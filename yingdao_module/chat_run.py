"""ChatRun: one chat in flight, from the request to its end, within one deadline.

Streaming costs one request and returns at conversation.chat.completed; if the stream breaks after
the chat was created, the same chat is recovered with retrieve + message list (a new chat would be
paid for twice); if it breaks before, a known conversation is searched for the chat first (chat_find.py).
Polling checks the status no more often than the official SDK, at the moments the bot's recent chats
ended (polling.py). Local tool calls are answered until the chat ends; at the
deadline the chat is cancelled and CozeTimeoutError names it.
"""
import time

from .auth import SignInTimeoutError
from .chat_find import find_asked, sent_text
from .chat_state import StreamCut, ToolCallsPending
from .errors import APIError, BadResponseError, CozeError, CozeTimeoutError, NetworkError, error_for_code
from .log import log
from .polling import CompletionClock, PollPlan, server_length_bound
from .tools import MAX_TOOL_ROUNDS, tool_outputs
from .transport import with_retries

CANCEL_TIMEOUT = 1.0  # best effort, and short: a timeout must be reported about when it is due
FINAL_STATUSES = ("completed", "failed", "canceled", "requires_action")


def cancel_chat(transport, conversation_id, chat_id):
    """Cancel a running chat (so it stops costing tokens)."""
    return transport.call("POST", "/v3/chat/cancel", body={"conversation_id": conversation_id, "chat_id": chat_id},
                          deadline=time.monotonic() + CANCEL_TIMEOUT, retry=False, what="取消对话")


def create_or_find(transport, send, body, params, state, deadline):
    """send() the chat request with retries; False when it went through. True when the chat is known
    but not followed: a stream cut after its creation, or a chat a lost attempt created, found in the
    known conversation before a retry (so it is followed, not paid again). Without a known conversation
    nothing can be looked up: the request is sent again (the only way to an answer)."""
    conversation = (params or {}).get("conversation_id") or body.get("conversation_id")
    question = sent_text((body.get("additional_messages") or [None])[-1])
    sent = []

    def attempt():
        if sent and conversation and not state.chat_id:
            chat_id = find_asked(transport, conversation, question, deadline, since=sent[0])
            if chat_id:
                log("提问的回复在对话创建前中断,但会话里已有这次对话 %s:找回它,不再重新提问" % chat_id)
                state.take_chat({"id": chat_id, "conversation_id": conversation})
                raise StreamCut()
        sent.append(time.time())
        send()

    try:
        with_retries(attempt, "提问", deadline, transport.retry)
    except StreamCut:
        return True
    return False


class ChatRun(object):
    """Follows one chat (`state`, a ChatState) for a Client: its transport, and the completion
    clocks (bot_id -> CompletionClock) the Client keeps across chats."""

    def __init__(self, transport, state, deadline, clocks, tools=None):
        self.transport = transport
        self.base_url = transport.base_url
        self.state = state
        self.deadline = deadline
        self.clocks = clocks
        self.tools = tools

    def ask(self, request):
        """Send `request` (a ChatRequest) and follow the chat to its end; Ctrl-C or the deadline
        cancels it (a timeout then names the chat)."""
        def start():
            if request.stream:
                self._chat_streaming(request.body, request.params, self.state, self.deadline, request.path)
            else:
                self._chat_polling(request.body, request.params, self.state, self.deadline)
        try:
            self.follow(start)
        except KeyboardInterrupt:
            self._cancel_quietly(self.state)  # the user stopped the flow: do not leave a paid chat running
            raise
        except CozeTimeoutError as err:  # from any read past the deadline: stop the chat, name it
            if isinstance(err, SignInTimeoutError) and not self.state.chat_id:
                raise  # signing in took the time: no chat exists to cancel
            self._cancel_quietly(self.state)
            raise self._timeout(self.state)

    def recover(self):
        """Follow a chat created earlier (state.chat_id set) until it ends."""
        self.follow(lambda: self._wait_until_done(self.state, self.deadline))

    def follow(self, start):
        """start() (create or find the chat and follow it), then answer the local tool calls it
        stops for until it ends; a bounded number of rounds."""
        rounds = 0
        while True:
            try:
                return start() if rounds == 0 else self._wait_until_done(self.state, self.deadline)
            except ToolCallsPending:
                rounds += 1
                self._submit_tool_outputs(self.state, self.tools, rounds, self.deadline)

    # -- streaming ------------------------------------------------------------------------------
    def _chat_streaming(self, body, params, state, deadline, path="/v3/chat"):
        def create_and_read():
            with self.transport.open_stream("POST", path, params, body, deadline=deadline) as events:
                state.logid = events.logid
                try:
                    self._read_stream(events, state)
                except (NetworkError, BadResponseError, StreamCut):
                    if state.chat_id:  # the chat exists and is paid for: recover it, never re-create
                        raise StreamCut()
                    raise NetworkError("流式回复在对话创建前中断:会自动重试", logid=events.logid)

        if create_or_find(self.transport, create_and_read, body, params, state, deadline):
            self._wait_until_done(state, deadline)

    def _read_stream(self, events, state):
        """Follow the chat's events; return at conversation.chat.completed without reading on."""
        for event, data in events:
            if event in ("conversation.chat.created", "conversation.chat.in_progress"):
                state.take_chat(data)
            elif event == "conversation.message.delta":
                state.take_message(data, completed=False)
            elif event == "conversation.message.completed":
                state.take_message(data, completed=True)
            elif event == "conversation.chat.completed":
                state.take_chat(data)
                state.status = "completed"
                return
            elif event == "conversation.chat.failed":
                state.take_chat(data)
                raise state.failure(self.base_url)
            elif event == "conversation.chat.requires_action":
                state.take_chat(data)
                raise ToolCallsPending()
            elif event == "error":
                data = data if isinstance(data, dict) else {}
                err = error_for_code(data.get("code") or 5000, data.get("msg") or "", state.logid,
                                     self.base_url, state.chat_id, state.conversation_id)
                if state.chat_id:
                    err.retryable = False  # a chat exists: a retry would pay for a second one
                raise err
            elif event == "done":
                break
        raise StreamCut()  # the stream ended without conversation.chat.completed

    # -- polling ----------------------------------------------------------------------------------
    def _chat_polling(self, body, params, state, deadline):
        clock = self.clocks.setdefault(body["bot_id"], CompletionClock())

        def send():
            envelope = self.transport.call("POST", "/v3/chat", params, body, deadline=deadline, retry=False,
                                           what="提问")
            state.logid = envelope.get("logid")
            state.take_chat(envelope.get("data"))
        if create_or_find(self.transport, send, body, params, state, deadline):
            return self._wait_until_done(state, deadline)  # found after a lost answer: no polling plan
        created = time.monotonic()  # the SDK starts its once-a-second checks here too
        self._wait_until_done(state, deadline, PollPlan(clock.expected()), created, clock)

    def _wait_until_done(self, state, deadline, plan=None, created=None, clock=None):
        """Check the chat's status as `plan` says (after a stream cut: soon, then backing off),
        tell `clock` when it ended, then fetch its messages."""
        plan = plan or PollPlan(budget=False)
        created = time.monotonic() if created is None else created
        query = {"conversation_id": state.conversation_id, "chat_id": state.chat_id}
        running = 0.0  # offset of the last check that found the chat running
        while state.status not in FINAL_STATUSES:
            now = time.monotonic()
            check_at = created + plan.next_check(now - created)
            if check_at >= deadline:
                self._cancel_quietly(state)
                raise self._timeout(state)
            time.sleep(check_at - now)
            sent = time.monotonic() - created
            try:
                envelope = self.transport.call("GET", "/v3/chat/retrieve", query, deadline=deadline,
                                               what="查询对话状态")
            except CozeError as err:
                if not err.retryable:
                    raise
                continue  # retries were used up; keep polling until the deadline
            state.take_chat(envelope.get("data"))
            if state.status not in FINAL_STATUSES:
                running = sent
            elif state.status == "completed" and clock is not None:
                clock.learn(running, sent, server_length_bound(envelope.get("data") or {}))
        if state.status == "failed":
            raise state.failure(self.base_url)
        if state.status == "canceled":
            raise APIError("对话已被取消", code=None, logid=state.logid, chat_id=state.chat_id,
                           conversation_id=state.conversation_id)
        if state.status == "requires_action":
            raise ToolCallsPending()
        envelope = self.transport.call("GET", "/v3/chat/message/list", query, deadline=deadline + 30,
                                       what="读取回答")
        state.take_message_list(envelope.get("data"))

    # -- endings --------------------------------------------------------------------------------------
    def _cancel_quietly(self, state):
        if state.chat_id and state.conversation_id and not state.canceled:
            state.canceled = True
            try:
                cancel_chat(self.transport, state.conversation_id, state.chat_id)
            except Exception:
                pass  # best effort: the chat may have just finished

    def _timeout(self, state):
        return CozeTimeoutError(
            "等待扣子回答超时(超过 timeout 设定的秒数),已取消这次对话:可把 timeout 调大,或让智能体回答短一些",
            logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)

    # -- local tools ------------------------------------------------------------------------------------
    def _submit_tool_outputs(self, state, tools, rounds, deadline):
        """Answer the chat's tool calls (it cannot be cancelled: it must be answered to end)."""
        if rounds > MAX_TOOL_ROUNDS:
            raise APIError("智能体连续 %d 轮调用本地工具仍没有结束,已停止:检查工具的结果是否是智能体要的内容"
                           "(这次对话停在等待工具结果,扣子不允许取消,会在扣子那边超时结束)" % MAX_TOOL_ROUNDS,
                           logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)
        outputs = tool_outputs(state.required_action, tools, state.tool_calls)
        state.required_action = None
        if not outputs:
            raise APIError("智能体要求调用本地工具(requires_action),但没有说要调用哪个工具:请检查智能体的端插件设置",
                           logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)
        query = {"conversation_id": state.conversation_id, "chat_id": state.chat_id}
        try:
            self.transport.call("POST", "/v3/chat/submit_tool_outputs", query,
                                {"tool_outputs": outputs, "stream": False}, deadline=deadline,
                                what="提交本地工具结果")
        except CozeError as err:  # the chat's status (polled next) says whether it went through
            log("提交本地工具结果时出错:%s;继续查询对话状态" % err)
        state.status = None

"""Client: one chat with a Coze bot, from question to answer, within one deadline.

Streaming (the default) costs one HTTP request and returns the moment the chat completes.
If the stream breaks after the chat was created, the same chat is recovered with
retrieve + message list: a new chat would be paid for twice. Polling (stream=False) checks
the chat's status no more often than the official SDK, at the moments the bot's recent chats
ended (polling.py). When the deadline passes the chat is cancelled and CozeTimeoutError names it.
"""
import time

from .config import (DEFAULT_TIMEOUT, Settings, clean_bool, clean_bot_id, clean_conversation_id, clean_file_list,
                     clean_json_dict, clean_question, clean_str_dict, clean_timeout, clean_user_id, clean_workflow_id)
from .errors import (APIError, BadResponseError, CozeError, CozeTimeoutError, NetworkError, error_for_code)
from .files import message_with_files, upload
from .auth import auth_for
from .polling import CompletionClock, PollPlan, server_length_bound
from .log import log
from .tools import MAX_TOOL_ROUNDS, clean_tools, tool_outputs
from .transport import Transport, id_of, with_retries
from .workflow import run_workflow_on

CANCEL_TIMEOUT = 1.0  # best effort, and short: a timeout must be reported about when it is due
FINAL_STATUSES = ("completed", "failed", "canceled", "requires_action")


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
        self._deltas = {}          # message id -> concatenated delta text
        self._completed = {}       # message id -> full text of the completed message
        self.reasoning = ""
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
                self._deltas[msg_id] = self._deltas.get(msg_id, "") + (message.get("content") or "")
                self.reasoning += message.get("reasoning_content") or ""
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
        return "\n".join(self._completed.get(i, self._deltas.get(i, "")) for i in self._answer_ids)

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
        return err


class StreamCut(Exception):
    """The event stream ended before the chat did (network cut, proxy timeout)."""


class ToolCallsPending(Exception):
    """The chat stopped in requires_action: local tools must answer before it goes on."""


class Client(object):
    """A connection to Coze with resolved settings; reuse it for many calls.

    >>> client = Client(token="pat_...", bot_id="7xxxxxxxxxxxxxxxxxx")
    >>> client.ask("你好")

    A robot that runs for months should sign in with an OAuth service app instead of a
    token (a PAT expires within 30 days): Client(app_id=..., key_id=..., private_key=...).
    """

    def __init__(self, token=None, bot_id=None, base_url=None, user_id=None, timeout=DEFAULT_TIMEOUT,
                 max_retries=None, backend=None, app_id=None, key_id=None, private_key=None, before_request=None):
        self.settings = Settings(token=token, bot_id=bot_id, base_url=base_url, user_id=user_id,
                                 app_id=app_id, key_id=key_id, private_key=private_key)
        self.timeout = clean_timeout(timeout)
        self.transport = Transport(self.settings.base_url, auth_for(self.settings), backend, max_retries, before_request)
        self._completion_clocks = {}  # bot_id -> CompletionClock: when its chats end, for polling

    def __repr__(self):
        return "Client(base_url=%r, bot_id=%r, token=<隐藏>)" % (self.settings.base_url, self.settings.bot_id)

    def close(self):
        """Close pooled connections (the client stays usable: they reopen on demand)."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def base_url(self):
        return self.settings.base_url

    # -- public calls -------------------------------------------------------------------------
    def ask(self, question, **kwargs):
        """The answer text, like ShadowBot's AI大语言模型 block."""
        return self.chat(question, **kwargs)["answer"]

    def chat(self, question, conversation_id=None, custom_variables=None, files=None, stream=True,
             timeout=None, bot_id=None, user_id=None, on_created=None, tools=None, workflow_id=None,
             parameters=None):
        """Ask once; returns {answer, conversation_id, chat_id, usage, follow_ups, reasoning, logid,
        tool_calls, elapsed}. on_created(chat_id, conversation_id) is called the moment the chat exists
        (it is paid for from then on), so a caller can note it and recover() it after a crash instead
        of asking again. `tools` answers local tool calls (see tools.py); `workflow_id` asks a chatflow
        (对话流) instead of a bot, with its `parameters`."""
        question = clean_question(question)
        tools = clean_tools(tools)
        if workflow_id not in (None, ""):
            workflow_id = clean_workflow_id(workflow_id)
            parameters = clean_json_dict(parameters, "parameters")
            bot_id = clean_bot_id(bot_id, required=False)
        else:
            bot_id = clean_bot_id(bot_id or self.settings.bot_id, required=True)
        user_id = clean_user_id(user_id) if user_id else self.settings.user_id
        custom_variables = clean_str_dict(custom_variables, "custom_variables")
        file_list = clean_file_list(files)
        stream = clean_bool(stream, "stream", True)
        timeout = clean_timeout(timeout, self.timeout)
        conversation_id = clean_conversation_id(conversation_id)

        started = time.monotonic()
        deadline = started + timeout
        file_refs = [(self.upload_file(value, deadline=deadline), value) if kind == "path" else (value, None)
                     for kind, value in file_list]
        message = message_with_files(question, file_refs)
        if workflow_id:  # a chatflow streams only; its conversation id goes in the body
            path, params, stream = "/v1/workflows/chat", None, True
            body = {"workflow_id": workflow_id, "additional_messages": [message], "parameters": parameters}
            for name, value in (("conversation_id", conversation_id), ("bot_id", bot_id)):
                if value:
                    body[name] = value
        else:
            path = "/v3/chat"
            body = {"bot_id": bot_id, "user_id": user_id, "stream": stream, "auto_save_history": True,
                    "additional_messages": [message]}
            if custom_variables:
                body["custom_variables"] = custom_variables
            params = {"conversation_id": conversation_id} if conversation_id else None

        state = ChatState(conversation_id, on_created)

        def start():
            if stream:
                self._chat_streaming(body, params, state, deadline, path)
            else:
                self._chat_polling(body, params, state, deadline)
        try:
            self._follow(start, state, tools, deadline)
        except KeyboardInterrupt:
            self._cancel_quietly(state)  # the user stopped the flow: do not leave a paid chat running
            raise
        except CozeTimeoutError:  # from any read past the deadline: stop the chat, name it
            self._cancel_quietly(state)
            raise self._timeout(state)
        return state.result(started)

    def recover(self, chat_id, conversation_id, timeout=None, tools=None):
        """The result of a chat created earlier (as chat() returns it), waiting while it is still
        in progress: how a crashed batch gets an answer it already paid for without asking again."""
        tools = clean_tools(tools)
        started = time.monotonic()
        deadline = started + clean_timeout(timeout, self.timeout)
        state = ChatState(str(conversation_id))
        state.chat_id = str(chat_id)
        self._follow(lambda: self._wait_until_done(state, deadline), state, tools, deadline)
        return state.result(started)

    def run_workflow(self, workflow_id, parameters=None, bot_id=None, timeout=None, stream=True, answers=None,
                     is_async=None):
        """The End node's output of one workflow run (a dict when it is JSON, else text)."""
        return self.run_workflow_full(workflow_id, parameters, bot_id, timeout, stream, answers, is_async)["output"]

    def run_workflow_full(self, workflow_id, parameters=None, bot_id=None, timeout=None, stream=True, answers=None,
                          is_async=None):
        """Run a workflow; returns {output, messages, questions, execute_id, debug_url, usage, logid,
        elapsed} (workflow.py). `bot_id` only for workflows with bot nodes: the client's own bot_id
        is not sent. A run that may have started is never sent again."""
        return run_workflow_on(self.transport, workflow_id, parameters, bot_id, clean_timeout(timeout, self.timeout),
                               stream, answers, is_async)

    def new_conversation(self, bot_id=None, timeout=60):
        """A new conversation id; pass it to chat()/ask() so the bot remembers earlier turns."""
        bot_id = clean_bot_id(bot_id or self.settings.bot_id, required=False)
        deadline = time.monotonic() + clean_timeout(timeout, 60)
        body = {"bot_id": bot_id} if bot_id else {}
        envelope = self.transport.call("POST", "/v1/conversation/create", body=body, deadline=deadline,
                                       what="新建会话")
        return id_of(envelope, "新建会话")

    def upload_file(self, path, timeout=120, deadline=None):
        """Upload a local file; returns the file id to pass in `files`."""
        kind, value = clean_file_list([path])[0]
        if kind == "id":
            return value
        if deadline is None:
            deadline = time.monotonic() + clean_timeout(timeout, 120)
        return upload(self.transport, value, deadline)

    def cancel(self, conversation_id, chat_id):
        """Cancel a running chat (so it stops costing tokens)."""
        return self.transport.call("POST", "/v3/chat/cancel",
                                   body={"conversation_id": conversation_id, "chat_id": chat_id},
                                   deadline=time.monotonic() + CANCEL_TIMEOUT, retry=False, what="取消对话")

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

        try:
            with_retries(create_and_read, "提问", deadline, self.transport.retry)
        except StreamCut:
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
        clock = self._completion_clocks.setdefault(body["bot_id"], CompletionClock())
        envelope = self.transport.call("POST", "/v3/chat", params, body, deadline=deadline, what="提问")
        created = time.monotonic()  # the SDK starts its once-a-second checks here too
        state.logid = envelope.get("logid")
        state.take_chat(envelope.get("data"))
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
                self.cancel(state.conversation_id, state.chat_id)
            except Exception:
                pass  # best effort: the chat may have just finished

    def _timeout(self, state):
        return CozeTimeoutError(
            "等待扣子回答超时(超过 timeout 设定的秒数),已取消这次对话:可把 timeout 调大,或让智能体回答短一些",
            logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)

    # -- local tools ------------------------------------------------------------------------------------
    def _follow(self, start, state, tools, deadline):
        """start() (create or find the chat and follow it), then answer the local tool calls it
        stops for until it ends; a bounded number of rounds."""
        rounds = 0
        while True:
            try:
                return start() if rounds == 0 else self._wait_until_done(state, deadline)
            except ToolCallsPending:
                rounds += 1
                self._submit_tool_outputs(state, tools, rounds, deadline)

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

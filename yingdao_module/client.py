"""Client: resolved settings and one transport; its calls check their inputs, then hand the work on.

A chat's request is built in chat_request.py and followed to its end in chat_run.py (streaming,
recovery after a cut, polling, local tools, cancel at the deadline); workflows in workflow.py.
"""
import time

from .auth import auth_for
from .chat_find import find_asked
from .chat_request import chat_request
from .chat_run import ChatRun, cancel_chat
from .chat_state import ChatState
from .config import (DEFAULT_TIMEOUT, Settings, clean_bool, clean_bot_id, clean_conversation_id, clean_file_list,
                     clean_json_dict, clean_question, clean_str_dict, clean_timeout, clean_user_id, clean_workflow_id)
from .errors import InputError
from .files import message_with_files, upload
from .tools import clean_tools
from .transport import Transport, id_of
from .workflow import run_workflow_on


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
        self.transport = Transport(self.settings.base_url, auth_for(self.settings), backend, max_retries,
                                   before_request)
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
        request = chat_request(message, bot_id, user_id, conversation_id, custom_variables, stream,
                               workflow_id, parameters)
        state = ChatState(conversation_id, on_created)
        ChatRun(self.transport, state, deadline, self._completion_clocks, tools).ask(request)
        return state.result(started)

    def recover(self, chat_id, conversation_id, timeout=None, tools=None):
        """The result of a chat created earlier (as chat() returns it), waiting while it is still
        in progress: how a crashed batch gets an answer it already paid for without asking again."""
        tools = clean_tools(tools)
        started = time.monotonic()
        deadline = started + clean_timeout(timeout, self.timeout)
        state = ChatState(str(conversation_id))
        state.chat_id = str(chat_id)
        ChatRun(self.transport, state, deadline, self._completion_clocks, tools).recover()
        return state.result(started)

    def find_chat(self, conversation_id, question, timeout=60):
        """The id of the chat that asked `question` in a conversation of its own, or None when the
        conversation holds no chat yet (ask in it); APIError when it holds another question's chat.
        Unpaid: one message list request. How a batch killed before hearing of its chat finds it."""
        conversation_id, question = clean_conversation_id(conversation_id), clean_question(question)
        if conversation_id is None:
            raise InputError("会话 ID(conversation_id)是空的:请填写要查找的会话")
        return find_asked(self.transport, conversation_id, question, time.monotonic() + clean_timeout(timeout, 60))

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
        return cancel_chat(self.transport, conversation_id, chat_id)

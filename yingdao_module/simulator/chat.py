"""Chat service: POST /v3/chat (stream and poll), retrieve, message list, cancel,
submit_tool_outputs, conversations, and chatflows (POST /v1/workflows/chat).

The demo bot is deterministic: its answer contains the question verbatim, counts the
earlier turns of its conversation (memory), names uploaded files, and answers a question
that mentions JSON with a ```json fenced object.

A tool bot (`--tool-bot BOT_ID:TOOL_NAME[:ROUNDS]`) calls a local plugin (端插件) ROUNDS
times: the chat stops in `requires_action` with one tool call whose arguments are
{"question": ...}; each POST /v3/chat/submit_tool_outputs goes on, and the final answer
quotes every tool output. Such a chat cannot be cancelled (4104), as on the real service.

A chatflow answers like a bot, with the same events and conversations.
"""
import json
import time

from .faults import drop_before_created
from .files import image_link
from .workflows import DEBUG_URL


def answer_for(question, earlier_turns, file_names, bad_json=False):
    """The demo bot: deterministic, and the question appears verbatim. `bad_json` (the
    badjson fault) breaks a JSON answer the way models do: cut off before the closing brace."""
    if "JSON" in question:
        body = json.dumps({"问题": question, "摘要": question[:20], "长度": len(question)}, ensure_ascii=False)
        return "```json\n%s\n```" % (body[:-1] + "," if bad_json else body)
    text = "模拟回答:你问的是「%s」。" % question
    if file_names:
        text += "(收到文件:%s)" % "、".join(file_names)
    return text + "(本会话此前已有 %d 轮提问)" % earlier_turns


def tool_answer(tool_name, outputs, answer):
    """The tool bot's answer: it quotes every tool output, then answers as usual."""
    quoted = "".join("工具「%s」返回:「%s」。" % (tool_name, output) for output in outputs)
    return quoted + answer


class Chat(object):
    def __init__(self, chat_id, conversation, bot_id, question, answer, latency, fate, tool=None):
        self.id = chat_id
        self.conversation = conversation
        self.bot_id = bot_id
        self.question = question
        self.answer = answer
        self.latency = latency
        self.created = self.turn_started = time.time()  # a turn restarts when tool outputs arrive
        self.done_at = self.created + latency
        self.fate = fate  # "ok", "fail", "stuck", "quota"
        self.cancelled = False
        self.counted = False
        self.tool_name, self.tool_rounds = tool or (None, 0)
        self.tool_outputs = []
        self.workflow_id = None  # a chatflow's chat: its `done` event carries the debug URL
        self.asked = {"content": question, "content_type": "text"}  # the user message as sent

    def done_data(self):
        if self.workflow_id:
            return {"debug_url": DEBUG_URL % (self.id, self.workflow_id)}
        return '"[DONE]"'

    def waiting_for_tool(self):
        return len(self.tool_outputs) < self.tool_rounds

    def tool_call(self):
        """The tool call the chat waits for (the same until it is answered)."""
        return {"id": "call_%s_%d" % (self.id, len(self.tool_outputs)), "type": "function",
                "function": {"name": self.tool_name,
                             "arguments": json.dumps({"question": self.question}, ensure_ascii=False)}}

    def take_tool_output(self, output):
        self.tool_outputs.append(output)
        self.turn_started = time.time()
        self.done_at = self.turn_started + self.latency
        if not self.waiting_for_tool():
            self.answer = tool_answer(self.tool_name, self.tool_outputs, self.answer)

    def status(self, stuck_cap):
        if self.cancelled:
            return "canceled"
        if self.fate == "stuck":
            return "failed" if time.time() >= self.created + stuck_cap else "in_progress"
        if time.time() < self.done_at:
            return "in_progress"
        if self.waiting_for_tool():
            return "requires_action"
        return "failed" if self.fate in ("fail", "quota") else "completed"

    def usage(self):
        inp, out = len(self.question) + 10, len(self.answer)
        return {"token_count": inp + out, "input_count": inp, "output_count": out}

    def view(self, stuck_cap):
        status = self.status(stuck_cap)
        data = {"id": self.id, "conversation_id": self.conversation["id"], "bot_id": self.bot_id,
                "created_at": int(self.created), "status": status}
        if status == "completed":
            data["completed_at"] = int(self.done_at)
            data["usage"] = self.usage()
        if status == "failed":
            data["failed_at"] = int(time.time())
            code, msg = (4028, "free quota used up") if self.fate == "quota" else (5000, "internal error")
            data["last_error"] = {"code": code, "msg": msg}
        else:
            data["last_error"] = {"code": 0, "msg": ""}
        if status == "requires_action":
            data["required_action"] = {"type": "submit_tool_outputs",
                                       "submit_tool_outputs": {"tool_calls": [self.tool_call()]}}
        return data

    def message_base(self):
        return {"conversation_id": self.conversation["id"], "bot_id": self.bot_id, "chat_id": self.id,
                "role": "assistant", "content_type": "text", "created_at": int(self.done_at),
                "updated_at": int(self.done_at), "reasoning_content": ""}

    def question_message(self):
        """The user's message of this chat, as the conversation's message list shows it."""
        return dict(self.message_base(), id=self.id + "q", type="question", role="user",
                    content=self.asked["content"], content_type=self.asked["content_type"],
                    created_at=int(self.created), updated_at=int(self.created))

    def function_call_message(self, index):
        call = {"name": self.tool_name, "arguments": {"question": self.question}}
        return dict(self.message_base(), id="%sf%d" % (self.id, index), type="function_call",
                    content=json.dumps(call, ensure_ascii=False))

    def messages(self):
        """The message list of a completed chat: tool calls and their outputs, then the answer."""
        tools = []
        for index, output in enumerate(self.tool_outputs):
            tools += [self.function_call_message(index),
                      dict(self.message_base(), id="%st%d" % (self.id, index), type="tool_response", content=output)]
        return tools + self.answer_messages()

    def answer_messages(self):
        base = self.message_base()
        return [dict(base, id=self.id + "1", type="answer", content=self.answer),
                dict(base, id=self.id + "2", type="follow_up", content="还想了解「%s」的哪些方面?" % self.question[:10]),
                dict(base, id=self.id + "3", type="follow_up", content="需要我换个说法吗?"),
                dict(base, id=self.id + "4", type="verbose", content=json.dumps(
                    {"msg_type": "generate_answer_finish", "data": "", "from_module": None, "from_unit": None}))]


def new_conversation(sim):
    """A new empty conversation (call with sim.lock held)."""
    conversation = {"id": sim.new_id(), "turns": 0, "running": None, "chats": []}
    sim.conversations[conversation["id"]] = conversation
    return conversation


def question_of(messages, files):
    """(question text, uploaded file names) of the user messages, or raise ValueError."""
    question, file_names = "", []
    for message in messages:
        if not isinstance(message, dict):
            raise ValueError("invalid message")
        if message.get("role", "user") != "user":
            continue
        content = message.get("content") or ""
        if message.get("content_type") == "object_string":
            try:
                parts = json.loads(content)
            except ValueError:
                raise ValueError("object_string content must be a JSON list")
            texts = []
            for part in parts:
                if part.get("type") == "text":
                    texts.append(part.get("text") or "")
                elif part.get("file_url"):  # a file Coze fetches itself: named by the URL's last part
                    file_names.append(str(part["file_url"]).rstrip("/").split("/")[-1])
                elif part.get("file_id"):
                    if part["file_id"] not in files:
                        raise ValueError("file not found: %s" % part["file_id"])
                    file_names.append(files[part["file_id"]])
            content = "".join(texts)
        question = content
    return question, file_names


def sent_message(messages):
    """{content, content_type} of the last user message as sent, or None."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role", "user") == "user"]
    if not users:
        return None
    return {"content": users[-1].get("content") or "", "content_type": users[-1].get("content_type") or "text"}


def valid_chat_body(body):
    bot_id, user_id = body.get("bot_id"), body.get("user_id")
    messages = body.get("additional_messages") or []
    variables = body.get("custom_variables") or {}
    return (isinstance(bot_id, str) and bot_id.isdigit() and isinstance(user_id, str) and bool(user_id)
            and isinstance(messages, list) and isinstance(variables, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()))


class ChatRoutes(object):
    """Handler methods for the chat service (mixed into the HTTP handler)."""

    ROUTES = {
        ("POST", "/v3/chat"): "chat_create",
        ("ANY", "/v3/chat/retrieve"): "chat_retrieve",
        ("ANY", "/v3/chat/message/list"): "chat_messages",
        ("POST", "/v3/chat/cancel"): "chat_cancel",
        ("POST", "/v3/chat/submit_tool_outputs"): "submit_tool_outputs",
        ("POST", "/v1/conversation/create"): "conversation_create",
        ("POST", "/v1/workflows/chat"): "chatflow_create",
    }

    def chat_create(self, query, body, raw, fault):
        sim = self.sim
        if not valid_chat_body(body):
            return self.error(4000, "invalid parameter: bot_id, user_id, additional_messages or custom_variables")
        stream = bool(body.get("stream"))
        if not stream and body.get("auto_save_history") is False:
            return self.error(4007, "auto_save_history must be true when stream is false")
        if body["bot_id"] in sim.unpublished:
            return self.error(4015, "bot has not been published as an API service")
        self.start_chat(query.get("conversation_id"), body["bot_id"], body.get("additional_messages") or [],
                        stream, fault, tool=sim.tool_bots.get(body["bot_id"]))

    def chatflow_create(self, query, body, raw, fault):
        """A chatflow (对话流) answers like a bot; it always streams."""
        workflow_id, messages = str(body.get("workflow_id") or ""), body.get("additional_messages")
        if not workflow_id.isdigit() or not isinstance(messages, list) or not messages:
            return self.error(4000, "invalid parameter: workflow_id and additional_messages are required")
        if not isinstance(body.get("parameters") or {}, dict):
            return self.error(4000, "parameters must be a JSON object")
        self.start_chat(body.get("conversation_id"), str(body.get("bot_id") or ""), messages, True, fault,
                        workflow_id=workflow_id)

    def start_chat(self, conversation_id, bot_id, messages, stream, fault, tool=None, workflow_id=None):
        """Create a chat in a conversation (a new one when none is given) and answer or stream it."""
        sim = self.sim
        try:
            question, file_names = question_of(messages, sim.files)
        except ValueError as exc:
            return self.error(4000, str(exc))
        if len(question) > sim.max_prompt_chars:
            return self.error(4010, "prompt too long")
        with sim.lock:
            if conversation_id:
                conversation = sim.conversations.get(conversation_id)
                if conversation is None:
                    return self.error(4002, "conversation not found")
            else:
                conversation = new_conversation(sim)
            running = sim.chats.get(conversation["running"])
            if running and running.status(sim.stuck_cap) == "in_progress":
                return self.error(4016, "a chat is already running in this conversation")
            fate = "ok"
            if sim.quota is not None and sim.counters["chats_created"] >= sim.quota:
                fate = "quota"
            elif fault in ("fail", "stuck"):
                fate = fault
            answer = answer_for(question, conversation["turns"], file_names, fault == "badjson")
            if sim.image_answers:
                answer += "\n\n" + image_link(sim)
            chat = Chat(sim.new_id(), conversation, bot_id, question, answer, sim.latency, fate, tool)
            chat.workflow_id = workflow_id
            chat.asked = sent_message(messages) or chat.asked
            conversation["chats"].append(chat.id)
            conversation["turns"] += 1
            conversation["running"] = chat.id
            sim.chats[chat.id] = chat
            sim.counters["chats_created"] += 1
            view = chat.view(sim.stuck_cap)
        view["status"] = "in_progress"
        if fault == "cutcreate":  # the chat exists, its creator never hears of it
            return drop_before_created(self, stream)
        if not stream:
            return self.ok(view)
        self.start_stream()
        try:
            self.send_event("conversation.chat.created", dict(view, status="created"))
            self.send_event("conversation.chat.in_progress", view)
            self.stream_turn(chat, cut=(fault == "cut"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def stream_turn(self, chat, cut):
        """Stream a chat from in_progress to its end: the answer, or a stop for a tool call."""
        sim = self.sim
        self.send_event("PING", {})  # the real service keeps streams alive with these
        if chat.fate == "stuck":
            while chat.status(sim.stuck_cap) == "in_progress":
                time.sleep(0.05)
            self.close_connection = True
            return self.end_stream()
        if chat.waiting_for_tool():
            self.wait_pinging(chat.done_at, lambda: self.send_event("PING", {}))
            self.send_event("conversation.message.completed", chat.function_call_message(len(chat.tool_outputs)))
            with sim.lock:
                view = chat.view(sim.stuck_cap)
            self.send_event("conversation.chat.requires_action", view)
            self.send_event("done", chat.done_data())
            return self.end_stream()
        message = chat.answer_messages()[0]
        pieces = max(1, min(6, len(chat.answer)))
        size = -(-len(chat.answer) // pieces)
        for index in range(pieces):
            time.sleep(max(0.0, chat.turn_started + sim.latency * (index + 1) / (pieces + 1) - time.time()))
            self.send_event("conversation.message.delta",
                            dict(message, content=chat.answer[index * size:(index + 1) * size]))
            if cut and index == 0:
                self.close_connection = True
                return  # no terminating chunk: the client sees a broken stream
        time.sleep(max(0.0, chat.done_at - time.time()))
        with sim.lock:
            final = chat.view(sim.stuck_cap)
            sim.count_end(chat)
        if final["status"] == "failed":
            self.send_event("conversation.chat.failed", final)
        else:
            for done in chat.answer_messages():
                self.send_event("conversation.message.completed", done)
            self.send_event("conversation.chat.completed", final)
        self.send_event("done", chat.done_data())
        self.end_stream()

    def find_chat(self, query, body):
        """The chat named by chat_id + conversation_id (query or body), or None."""
        chat_id = query.get("chat_id") or body.get("chat_id")
        conversation_id = query.get("conversation_id") or body.get("conversation_id")
        chat = self.sim.chats.get(chat_id)
        if chat is None or chat.conversation["id"] != conversation_id:
            return None
        return chat

    def chat_retrieve(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
            if chat is None:
                return self.error(4001, "chat not found")
            self.sim.count_end(chat)
            view = chat.view(self.sim.stuck_cap)
        self.ok(view)

    def chat_messages(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
            if chat is None:
                return self.error(4001, "chat not found")
            done = chat.status(self.sim.stuck_cap) == "completed"
        self.ok(chat.messages() if done else [])

    def chat_cancel(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
            if chat is None:
                return self.error(4001, "chat not found")
            if chat.tool_rounds or chat.status(self.sim.stuck_cap) != "in_progress":
                return self.error(4104, "chat cannot be cancelled")
            chat.cancelled = True
            chat.counted = True
            self.sim.counters["chats_cancelled"] += 1
            view = chat.view(self.sim.stuck_cap)
        self.ok(view)

    def submit_tool_outputs(self, query, body, raw, fault):
        sim = self.sim
        outputs = body.get("tool_outputs")
        with sim.lock:
            chat = self.find_chat(query, body)
            if chat is None:
                return self.error(4001, "chat not found")
            if chat.status(sim.stuck_cap) != "requires_action":
                return self.error(4000, "the chat is not waiting for tool outputs")
            call_id = chat.tool_call()["id"]
            if (not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict)
                    or outputs[0].get("tool_call_id") != call_id or not isinstance(outputs[0].get("output"), str)):
                return self.error(4000, "tool_outputs must answer tool call %s with a string output" % call_id)
            chat.take_tool_output(outputs[0]["output"])
            sim.counters["tool_outputs"] += 1
            view = chat.view(sim.stuck_cap)
        if not body.get("stream"):
            return self.ok(view)
        self.start_stream()
        try:
            self.send_event("conversation.chat.in_progress", view)
            self.stream_turn(chat, cut=False)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def conversation_create(self, query, body, raw, fault):
        with self.sim.lock:
            conversation = new_conversation(self.sim)
        self.ok({"id": conversation["id"], "created_at": int(time.time()), "meta_data": {},
                 "last_section_id": self.sim.new_id()})

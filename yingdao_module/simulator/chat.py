"""Chat service: POST /v3/chat (stream and poll), retrieve, message list, cancel,
submit_tool_outputs, and conversations.

The demo bot is deterministic: its answer contains the question verbatim, counts the
earlier turns of its conversation (memory), names uploaded files, and answers a question
that mentions JSON with a ```json fenced object.
"""
import json
import time

from .service import new_id


def answer_for(question, earlier_turns, file_names):
    """The demo bot: deterministic, and the question appears verbatim."""
    if "JSON" in question:
        body = json.dumps({"问题": question, "摘要": question[:20], "长度": len(question)}, ensure_ascii=False)
        return "```json\n%s\n```" % body
    text = "模拟回答:你问的是「%s」。" % question
    if file_names:
        text += "(收到文件:%s)" % "、".join(file_names)
    return text + "(本会话此前已有 %d 轮提问)" % earlier_turns


class Chat(object):
    def __init__(self, conversation, bot_id, question, answer, latency, fate):
        self.id = new_id()
        self.conversation = conversation
        self.bot_id = bot_id
        self.question = question
        self.answer = answer
        self.created = time.time()
        self.done_at = self.created + latency
        self.fate = fate  # "ok", "fail", "stuck", "quota"
        self.cancelled = False
        self.counted = False

    def status(self, stuck_cap):
        if self.cancelled:
            return "canceled"
        if self.fate == "stuck":
            return "failed" if time.time() >= self.created + stuck_cap else "in_progress"
        if time.time() < self.done_at:
            return "in_progress"
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
        return data

    def messages(self):
        base = {"conversation_id": self.conversation["id"], "bot_id": self.bot_id, "chat_id": self.id,
                "role": "assistant", "content_type": "text", "created_at": int(self.done_at),
                "updated_at": int(self.done_at), "reasoning_content": ""}
        return [dict(base, id=self.id + "1", type="answer", content=self.answer),
                dict(base, id=self.id + "2", type="follow_up", content="还想了解「%s」的哪些方面?" % self.question[:10]),
                dict(base, id=self.id + "3", type="follow_up", content="需要我换个说法吗?"),
                dict(base, id=self.id + "4", type="verbose", content=json.dumps(
                    {"msg_type": "generate_answer_finish", "data": "", "from_module": None, "from_unit": None}))]


def new_conversation(sim):
    """A new empty conversation (call with sim.lock held)."""
    conversation = {"id": new_id(), "turns": 0, "running": None}
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
                elif part.get("file_id"):
                    if part["file_id"] not in files:
                        raise ValueError("file not found: %s" % part["file_id"])
                    file_names.append(files[part["file_id"]])
            content = "".join(texts)
        question = content
    return question, file_names


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
        try:
            question, file_names = question_of(body.get("additional_messages") or [], sim.files)
        except ValueError as exc:
            return self.error(4000, str(exc))
        if len(question) > sim.max_prompt_chars:
            return self.error(4010, "prompt too long")
        with sim.lock:
            conversation_id = query.get("conversation_id")
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
            chat = Chat(conversation, body["bot_id"], question,
                        answer_for(question, conversation["turns"], file_names), sim.latency, fate)
            conversation["turns"] += 1
            conversation["running"] = chat.id
            sim.chats[chat.id] = chat
            sim.counters["chats_created"] += 1
            view = chat.view(sim.stuck_cap)
        view["status"] = "in_progress"
        if not stream:
            return self.ok(view)
        return self.stream_chat(chat, view, cut=(fault == "cut"))

    def stream_chat(self, chat, view, cut):
        sim = self.sim
        self.start_stream()
        try:
            self.send_event("conversation.chat.created", dict(view, status="created"))
            self.send_event("conversation.chat.in_progress", view)
            if chat.fate == "stuck":
                while chat.status(sim.stuck_cap) == "in_progress":
                    time.sleep(0.05)
                self.close_connection = True
                return self.end_stream()
            message = chat.messages()[0]
            pieces = max(1, min(6, len(chat.answer)))
            size = -(-len(chat.answer) // pieces)
            for index in range(pieces):
                time.sleep(max(0.0, chat.created + sim.latency * (index + 1) / (pieces + 1) - time.time()))
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
                for done in chat.messages():
                    self.send_event("conversation.message.completed", done)
                self.send_event("conversation.chat.completed", final)
            self.send_event("done", '"[DONE]"')
            self.end_stream()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

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
            if chat.status(self.sim.stuck_cap) != "in_progress":
                return self.error(4104, "chat cannot be cancelled")
            chat.cancelled = True
            chat.counted = True
            self.sim.counters["chats_cancelled"] += 1
            view = chat.view(self.sim.stuck_cap)
        self.ok(view)

    def submit_tool_outputs(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
        if chat is None:
            return self.error(4001, "chat not found")
        if not isinstance(body.get("tool_outputs"), list):
            return self.error(4000, "tool_outputs must be a list")
        self.ok(chat.view(self.sim.stuck_cap))

    def conversation_create(self, query, body, raw, fault):
        with self.sim.lock:
            conversation = new_conversation(self.sim)
        self.ok({"id": conversation["id"], "created_at": int(time.time()), "meta_data": {}})

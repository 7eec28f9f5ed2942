"""A local Coze Open API V3 simulator: the zero-setup demo, the test bed, the fault injector.

    with Simulator(latency=0.2) as sim:          # in-process, from tests
        ask("你好", token="any", bot_id="7000000000000000001", base_url=sim.url)

    python -m yingdao_module serve --port 8080   # standalone, for trying ShadowBot flows

Standard library only. See docs/simulator.md for the answer format and every option.
"""
import argparse
import json
import random
import signal
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

FAULT_KINDS = ("http500", "http502", "http429", "reset", "malformed", "cut", "4009", "4020", "5000",
               "fail", "stuck", "slow")
CHAT_ONLY_FAULTS = ("cut", "fail", "stuck")
RATED_PATHS = ("/v3/chat", "/v1/workflow/run", "/v1/workflow/stream_run")


def now_id():
    return str(7400000000000000000 + random.randint(0, 10 ** 17))


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
        self.id = now_id()
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


class Simulator(object):
    """The fake Coze service. Use as a context manager, or start()/stop()."""

    def __init__(self, latency=0.5, token=None, qps=None, qpm=None, qpd=None, quota=None, unpublished=(),
                 max_prompt_chars=100000, faults=None, seed=0, stuck_cap=30.0, host="127.0.0.1", port=0,
                 max_body_bytes=20 * 1024 * 1024):
        self.latency = latency
        self.token = token
        self.qps, self.qpm, self.qpd, self.quota = qps, qpm, qpd, quota
        self.unpublished = set(str(b) for b in unpublished or ())
        self.max_prompt_chars = max_prompt_chars
        self.faults = self._parse_faults(faults)
        self.stuck_cap = stuck_cap
        self.max_body_bytes = max_body_bytes
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self._server = None
        self._thread = None
        self.reset()

    # -- control ------------------------------------------------------------------------------
    @staticmethod
    def _parse_faults(faults):
        if not faults:
            return {}
        if isinstance(faults, dict):
            return dict((str(k), float(v)) for k, v in faults.items())
        parsed = {}
        for item in faults:
            kind, _, rate = str(item).rpartition(":")
            parsed[kind] = float(rate)
        return parsed

    def reset(self):
        with self.lock:
            self.conversations, self.chats, self.files = {}, {}, {}
            self.window = []  # times of rated requests
            self.day_count = 0
            self.forced = []  # [kind, count, path]
            self.counters = {"requests": {}, "chats_created": 0, "chats_completed": 0, "chats_failed": 0,
                             "chats_cancelled": 0, "rate_limited": 0, "faults": {}}

    def stats(self):
        with self.lock:
            for chat in self.chats.values():
                self._count_end(chat)
            out = json.loads(json.dumps(self.counters))
            out["conversations"] = len(self.conversations)
            out["files"] = len(self.files)
            return out

    def inject(self, kind, count=1, path=None):
        """The next `count` requests (whose path starts with `path`) get fault `kind`."""
        with self.lock:
            self.forced.append([kind, count, path])

    def set(self, **settings):
        with self.lock:
            for name, value in settings.items():
                setattr(self, name, self._parse_faults(value) if name == "faults" else value)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self._server.server_address[1])

    def start(self):
        handler = type("Handler", (SimHandler,), {"sim": self})
        self._server = SimServer((self.host, self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- state helpers (call with the lock held) -----------------------------------------------
    def _count_end(self, chat):
        if chat.counted:
            return
        status = chat.status(self.stuck_cap)
        if status in ("completed", "failed"):
            chat.counted = True
            self.counters["chats_completed" if status == "completed" else "chats_failed"] += 1

    def choose_fault(self, path, chat_creation):
        for forced in self.forced:
            kind, count, prefix = forced
            if prefix and not path.startswith(prefix):
                continue
            if kind in CHAT_ONLY_FAULTS and not chat_creation:
                continue
            forced[1] -= 1
            if forced[1] <= 0:
                self.forced.remove(forced)
            return kind
        for kind, rate in self.faults.items():
            base = kind.split(":")[0]
            if base in CHAT_ONLY_FAULTS and not chat_creation:
                continue
            if self.rng.random() < rate:
                return kind
        return None

    def rate_limited(self):
        """None, or the error code for a request over qps / qpm / qpd."""
        now = time.time()
        self.window = [t for t in self.window if now - t < 60]
        if self.qpd is not None and self.day_count >= self.qpd:
            return 4008
        if self.qps is not None and sum(1 for t in self.window if now - t < 1) >= self.qps:
            return 4020
        if self.qpm is not None and len(self.window) >= self.qpm:
            return 4020
        self.window.append(now)
        self.day_count += 1
        return None


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of hundreds of clients must queue, not be reset

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return  # a client that hung up (a reset test, a killed batch) is no error of ours
        ThreadingHTTPServer.handle_error(self, request, client_address)


def envelope(data=None, code=0, msg=""):
    return {"code": code, "msg": msg, "data": data, "detail": {"logid": uuid.uuid4().hex}}


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sim = None  # set per server

    def log_message(self, *args):  # quiet: tests and the demo read stdout
        pass

    # -- plumbing -------------------------------------------------------------------------------
    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def send_json(self, payload, status=200, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-tt-logid", self.logid)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, msg, status=200):
        self.send_json(envelope(None, code, msg), status)

    def handle_request(self, method):
        self.logid = uuid.uuid4().hex
        url = urlparse(self.path)
        path, query = url.path, dict((k, v[0]) for k, v in parse_qs(url.query).items())
        sim = self.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > sim.max_body_bytes:
            self.close_connection = True
            return self.error(4000, "request body too large", 413)
        raw = self.rfile.read(length) if length else b""
        if path.startswith("/_sim/"):
            if path == "/_sim/stats":
                return self.send_json(sim.stats())
            if path == "/_sim/reset" and method == "POST":
                sim.reset()
                return self.send_json(envelope({}))
            return self.error(4200, "not found", 404)
        creation = path in RATED_PATHS
        with sim.lock:
            counts = sim.counters["requests"]
            counts[path] = counts.get(path, 0) + 1
            fault = sim.choose_fault(path, path == "/v3/chat")
            if fault:
                base = fault.split(":")[0]
                sim.counters["faults"][base] = sim.counters["faults"].get(base, 0) + 1
        if fault and fault.startswith("slow"):
            time.sleep(min(30.0, float(fault.split(":")[1]) if ":" in fault else 1.0))
            fault = None
        if fault == "reset":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault in ("http500", "http502", "http429"):
            status = int(fault[4:])
            headers = {"Retry-After": "1"} if status == 429 else None
            return self.send_json(None, status, headers, raw=("<html>%d</html>" % status).encode())
        if fault == "malformed":
            return self.send_json(None, raw=b'{"code": 0, "data": {"id": ')
        if fault in ("4009", "4020", "5000"):
            return self.error(int(fault), "simulated fault %s" % fault)
        auth = self.headers.get("Authorization", "")
        given = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not given or (sim.token is not None and given != sim.token):
            return self.error(4100, "authentication is invalid", 401)
        body = {}
        if raw and path != "/v1/files/upload":
            if "json" not in (self.headers.get("Content-Type") or ""):
                return self.error(4000, "Content-Type must be application/json")
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                return self.error(4000, "invalid JSON body")
            if not isinstance(body, dict):
                return self.error(4000, "body must be a JSON object")
        if creation:
            with sim.lock:
                limited = sim.rate_limited()
                if limited:
                    sim.counters["rate_limited"] += 1
            if limited:
                return self.error(limited, "rate limit exceeded" if limited == 4020 else "daily limit reached")
        route = ROUTES.get((method, path)) or ROUTES.get(("ANY", path))
        if route is None:
            return self.error(4200, "no such API: %s %s" % (method, path), 404)
        return route(self, query, body, raw, fault)

    # -- chat -------------------------------------------------------------------------------------
    def chat_create(self, query, body, raw, fault):
        sim = self.sim
        bot_id, user_id = body.get("bot_id"), body.get("user_id")
        messages = body.get("additional_messages") or []
        variables = body.get("custom_variables") or {}
        if not isinstance(bot_id, str) or not bot_id.isdigit() or not isinstance(user_id, str) or not user_id \
                or not isinstance(messages, list) or not isinstance(variables, dict) \
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
            return self.error(4000, "invalid parameter: bot_id, user_id, additional_messages or custom_variables")
        stream = bool(body.get("stream"))
        if not stream and body.get("auto_save_history") is False:
            return self.error(4007, "auto_save_history must be true when stream is false")
        if bot_id in sim.unpublished:
            return self.error(4015, "bot has not been published as an API service")
        question, file_names = "", []
        for message in messages:
            if not isinstance(message, dict):
                return self.error(4000, "invalid message")
            if message.get("role", "user") != "user":
                continue
            content = message.get("content") or ""
            if message.get("content_type") == "object_string":
                try:
                    parts = json.loads(content)
                except ValueError:
                    return self.error(4000, "object_string content must be a JSON list")
                texts = []
                for part in parts:
                    if part.get("type") == "text":
                        texts.append(part.get("text") or "")
                    elif part.get("file_id"):
                        if part["file_id"] not in sim.files:
                            return self.error(4000, "file not found: %s" % part["file_id"])
                        file_names.append(sim.files[part["file_id"]])
                content = "".join(texts)
            question = content
        if len(question) > sim.max_prompt_chars:
            return self.error(4010, "prompt too long")
        with sim.lock:
            conversation_id = query.get("conversation_id")
            if conversation_id:
                conversation = sim.conversations.get(conversation_id)
                if conversation is None:
                    return self.error(4002, "conversation not found")
            else:
                conversation = {"id": now_id(), "turns": 0, "running": None}
                sim.conversations[conversation["id"]] = conversation
            running = sim.chats.get(conversation["running"])
            if running and running.status(sim.stuck_cap) == "in_progress":
                return self.error(4016, "a chat is already running in this conversation")
            fate = "ok"
            if sim.quota is not None and sim.counters["chats_created"] >= sim.quota:
                fate = "quota"
            elif fault in ("fail", "stuck"):
                fate = fault
            chat = Chat(conversation, bot_id, question, answer_for(question, conversation["turns"], file_names),
                        sim.latency, fate)
            conversation["turns"] += 1
            conversation["running"] = chat.id
            sim.chats[chat.id] = chat
            sim.counters["chats_created"] += 1
            view = chat.view(sim.stuck_cap)
        view["status"] = "in_progress"
        if not stream:
            return self.send_json(envelope(view))
        return self.stream_chat(chat, view, cut=(fault == "cut"))

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-tt-logid", self.logid)
        self.end_headers()

    def send_event(self, name, data, plain_id=None):
        text = ("id: %s\nevent: %s\ndata: %s\n\n" % (plain_id, name, data)) if plain_id is not None else \
            "event:%s\ndata:%s\n\n" % (name, data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
        if plain_id is not None and not isinstance(data, str):
            text = "id: %s\nevent: %s\ndata: %s\n\n" % (plain_id, name, json.dumps(data, ensure_ascii=False))
        chunk = text.encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

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
                sim._count_end(chat)
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
            self.sim._count_end(chat)
            view = chat.view(self.sim.stuck_cap)
        self.send_json(envelope(view))

    def chat_messages(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
            if chat is None:
                return self.error(4001, "chat not found")
            done = chat.status(self.sim.stuck_cap) == "completed"
        self.send_json(envelope(chat.messages() if done else []))

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
        self.send_json(envelope(view))

    def submit_tool_outputs(self, query, body, raw, fault):
        with self.sim.lock:
            chat = self.find_chat(query, body)
        if chat is None:
            return self.error(4001, "chat not found")
        if not isinstance(body.get("tool_outputs"), list):
            return self.error(4000, "tool_outputs must be a list")
        self.send_json(envelope(chat.view(self.sim.stuck_cap)))

    def conversation_create(self, query, body, raw, fault):
        with self.sim.lock:
            conversation = {"id": now_id(), "turns": 0, "running": None}
            self.sim.conversations[conversation["id"]] = conversation
        self.send_json(envelope({"id": conversation["id"], "created_at": int(time.time()), "meta_data": {}}))

    def file_upload(self, query, body, raw, fault):
        content_type = self.headers.get("Content-Type") or ""
        if "multipart/form-data" not in content_type or "boundary=" not in content_type:
            return self.error(4000, "multipart/form-data with a file field is required")
        boundary = content_type.split("boundary=", 1)[1].strip('"').encode("latin-1")
        name = None
        for part in raw.split(b"--" + boundary):
            head = part.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
            if 'name="file"' in head and "filename=" in head:
                name = head.split('filename="', 1)[1].split('"', 1)[0]
        if not name:
            return self.error(4000, "no file field in the upload")
        file_id = now_id()
        with self.sim.lock:
            self.sim.files[file_id] = name
        self.send_json(envelope({"id": file_id, "file_name": name, "bytes": len(raw), "created_at": int(time.time())}))

    # -- workflows ----------------------------------------------------------------------------------
    def workflow_output(self, body):
        if not str(body.get("workflow_id") or "").isdigit():
            return None
        parameters = body.get("parameters") or {}
        return json.dumps({"output": parameters}, ensure_ascii=False)

    def workflow_run(self, query, body, raw, fault):
        output = self.workflow_output(body)
        if output is None:
            return self.error(4000, "workflow_id is required")
        time.sleep(self.sim.latency)
        payload = envelope(output)
        payload.update(debug_url="https://www.coze.cn/work_flow?execute_id=1", execute_id=now_id(),
                       usage={"input_count": 10, "output_count": len(output), "token_count": 10 + len(output)})
        self.send_json(payload)

    def workflow_stream(self, query, body, raw, fault):
        output = self.workflow_output(body)
        if output is None:
            return self.error(4000, "workflow_id is required")
        self.start_stream()
        time.sleep(self.sim.latency)
        self.send_event("Message", {"content": output, "node_title": "End", "node_seq_id": "0",
                                    "node_is_finish": True, "usage": {"token_count": 10}}, plain_id=0)
        self.send_event("Done", {"debug_url": "https://www.coze.cn/work_flow?execute_id=1"}, plain_id=1)
        self.end_stream()


ROUTES = {
    ("POST", "/v3/chat"): SimHandler.chat_create,
    ("ANY", "/v3/chat/retrieve"): SimHandler.chat_retrieve,
    ("ANY", "/v3/chat/message/list"): SimHandler.chat_messages,
    ("POST", "/v3/chat/cancel"): SimHandler.chat_cancel,
    ("POST", "/v3/chat/submit_tool_outputs"): SimHandler.submit_tool_outputs,
    ("POST", "/v1/conversation/create"): SimHandler.conversation_create,
    ("POST", "/v1/files/upload"): SimHandler.file_upload,
    ("POST", "/v1/workflow/run"): SimHandler.workflow_run,
    ("POST", "/v1/workflow/stream_run"): SimHandler.workflow_stream,
}


# -- command line ---------------------------------------------------------------------------------
def add_serve_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds from a chat's creation to its answer")
    parser.add_argument("--token", help="accept only this token (default: any non-empty token)")
    parser.add_argument("--qps", type=float)
    parser.add_argument("--qpm", type=float)
    parser.add_argument("--qpd", type=float)
    parser.add_argument("--quota", type=int, help="after N chats, chats fail with 4028")
    parser.add_argument("--unpublished", action="append", default=[], help="bot id answered with 4015")
    parser.add_argument("--max-prompt-chars", type=int, default=100000)
    parser.add_argument("--fault", action="append", default=[], help="KIND:RATE, e.g. http500:0.1 or slow:2:0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stuck-cap", type=float, default=30.0)


def run_serve(ns):
    sim = Simulator(latency=ns.latency, token=ns.token, qps=ns.qps, qpm=ns.qpm, qpd=ns.qpd, quota=ns.quota,
                    unpublished=ns.unpublished, max_prompt_chars=ns.max_prompt_chars, faults=ns.fault,
                    seed=ns.seed, stuck_cap=ns.stuck_cap, host=ns.host, port=ns.port).start()
    print(sim.url, flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    while not stopped.wait(0.2):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="本机扣子(Coze V3)模拟器")
    add_serve_arguments(parser)
    sys.exit(run_serve(parser.parse_args()))

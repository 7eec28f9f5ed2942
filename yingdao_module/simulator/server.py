"""The simulator's HTTP side: one handler class made of the service mixins.

A request goes through the same gates as on the real service, in order: body size,
the simulator's own /_sim/ endpoints, faults, authentication, the JSON body, rate limits,
then the route. Every response carries an `x-tt-logid` header, every JSON answer the
`{code, msg, data, detail.logid}` envelope.
"""
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .benefits import BenefitRoutes
from .chat import ChatRoutes
from .faults import play_transport_fault, slow_seconds
from .files import IMAGE_PATH, FileRoutes, demo_png
from .messages import MessageRoutes
from .oauth import TOKEN_PATH, OAuthRoutes
from .workflows import WorkflowRoutes

SERVICES = (ChatRoutes, MessageRoutes, FileRoutes, WorkflowRoutes, OAuthRoutes, BenefitRoutes)
RATED_PATHS = ("/v3/chat", "/v1/workflow/run", "/v1/workflow/stream_run", "/v1/workflows/chat")
RAW_BODY_PATHS = ("/v1/files/upload",)  # multipart, not JSON


def envelope(data=None, code=0, msg=""):
    return {"code": code, "msg": msg, "data": data, "detail": {"logid": uuid.uuid4().hex}}


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a burst of hundreds of clients must queue, not be reset

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return  # a client that hung up (a reset test, a killed batch) is no error of ours
        ThreadingHTTPServer.handle_error(self, request, client_address)


class Rejected(Exception):
    """A gate refused the request; the response has been sent."""


class SimHandler(ChatRoutes, MessageRoutes, FileRoutes, WorkflowRoutes, OAuthRoutes, BenefitRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real front ends (nginx) do: otherwise a small event written after the
    # headers waits ~40 ms for a delayed ACK, and chat.created reaches the client late
    disable_nagle_algorithm = True
    sim = None  # set per server
    routes = {}  # (method or "ANY", path) -> handler method, collected from SERVICES below;
    # a path may hold {name} segments (run_histories): their values join the query

    def log_message(self, *args):  # quiet: tests and the demo read stdout
        pass

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    # -- responses ------------------------------------------------------------------------------
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

    def ok(self, data, **extra):
        payload = envelope(data)
        payload.update(extra)
        self.send_json(payload)

    def error(self, code, msg, status=200, **extra):
        payload = envelope(None, code, msg)
        payload.update(extra)
        self.send_json(payload, status)

    def reject(self, code, msg, status=200):
        self.error(code, msg, status)
        raise Rejected()

    # -- server-sent events ----------------------------------------------------------------------
    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-tt-logid", self.logid)
        self.end_headers()

    def send_event(self, name, data, plain_id=None):
        """One event in one chunk; chat streams use `event:`/`data:` (no space), workflow
        streams `id: `/`event: `/`data: ` lines, as the real service does."""
        payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        if plain_id is None:
            text = "event:%s\ndata:%s\n\n" % (name, payload)
        else:
            text = "id: %s\nevent: %s\ndata: %s\n\n" % (plain_id, name, payload)
        chunk = text.encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def wait_pinging(self, until, ping):
        """Sleep until the time `until`, calling ping() every sim.ping_interval meanwhile
        (the real service keeps a quiet stream alive with PING events)."""
        while True:
            left = until - time.time()
            if left <= 0:
                return
            time.sleep(min(left, self.sim.ping_interval))
            if until - time.time() > 0:
                ping()

    # -- the gates ----------------------------------------------------------------------------------
    def handle_request(self, method):
        self.logid = uuid.uuid4().hex
        url = urlparse(self.path)
        path, query = url.path, dict((k, v[0]) for k, v in parse_qs(url.query).items())
        try:
            raw = self.read_body()
            if path.startswith("/_sim/"):
                return self.control(method, path)
            fault = self.play_fault(path)
            if path != TOKEN_PATH:  # the token exchange authenticates with its JWT
                self.authenticate()
            body = self.json_body(path, raw)
            if path in RATED_PATHS:
                self.check_rate()
            route, params = self.find_route(method, path)
            query.update(params)
            if route is None:
                self.reject(4200, "no such API: %s %s" % (method, path), 404)
            route(self, query, body, raw, fault)
        except Rejected:
            pass

    def find_route(self, method, path):
        """(handler method, {segment name: value}) for a request, or (None, {})."""
        route = self.routes.get((method, path)) or self.routes.get(("ANY", path))
        if route:
            return route, {}
        parts = path.split("/")
        for (verb, pattern), route in self.routes.items():
            names = pattern.split("/")
            if "{" not in pattern or verb not in (method, "ANY") or len(names) != len(parts):
                continue
            if all(name == part or (name.startswith("{") and part) for name, part in zip(names, parts)):
                return route, dict((n[1:-1], p) for n, p in zip(names, parts) if n.startswith("{"))
        return None, {}

    def read_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.sim.max_body_bytes:
            self.close_connection = True  # the body was not read: the connection cannot be reused
            self.reject(4000, "request body too large", 413)
        return self.rfile.read(length) if length else b""

    def control(self, method, path):
        if path == "/_sim/stats":
            return self.send_json(self.sim.stats())
        if path == IMAGE_PATH and method == "GET":  # what --image-answers links to (no token needed)
            return self.send_image()
        if path == "/_sim/reset" and method == "POST":
            self.sim.reset()
            return self.send_json(envelope({}))
        self.reject(4200, "not found", 404)

    def send_image(self):
        body = demo_png()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def play_fault(self, path):
        """The request's fault after transport faults were played; chat faults are returned."""
        with self.sim.lock:
            fault = self.sim.count_request(path)
        if fault and fault.startswith("slow"):
            time.sleep(slow_seconds(fault))
            return None
        if fault and play_transport_fault(self, fault):
            raise Rejected()
        return fault

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        given = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if given and self.sim.token is not None and given == self.sim.token:
            return
        if given and self.sim.oauth is not None:  # only the access tokens it issued, until they expire
            verdict = self.sim.oauth.accepts(given, time.time())
            if verdict == "ok":
                return
            if verdict == "expired":
                with self.sim.lock:
                    self.sim.counters["expired_token_requests"] += 1
        elif given and self.sim.token is None:
            return
        self.reject(4100, "authentication is invalid", 401)

    def json_body(self, path, raw):
        if not raw or path in RAW_BODY_PATHS:
            return {}
        if "json" not in (self.headers.get("Content-Type") or ""):
            self.reject(4000, "Content-Type must be application/json")
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self.reject(4000, "invalid JSON body")
        if not isinstance(body, dict):
            self.reject(4000, "body must be a JSON object")
        return body

    def check_rate(self):
        with self.sim.lock:
            limited = self.sim.rate_limited()
            if limited:
                self.sim.counters["rate_limited"] += 1
        if limited:
            self.reject(limited, "rate limit exceeded" if limited == 4020 else "daily limit reached")


for _service in SERVICES:
    SimHandler.routes.update((key, getattr(_service, name)) for key, name in _service.ROUTES.items())


def serve(sim):
    """Start serving `sim` on a background thread; returns (server, thread)."""
    handler = type("Handler", (SimHandler,), {"sim": sim})
    server = SimServer((sim.host, sim.port), handler)
    # shutdown() waits for serve_forever to notice: 10 ms instead of 100 keeps the test suite quick
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    return server, thread

"""A hostile HTTP server for tests: a thread on 127.0.0.1 that answers each request with a
scripted sequence of raw bytes and pauses, so a test can trickle, cut, hold a connection
open, send junk, redirect, echo secrets or speak TLS with its own certificate.

    with RawServer({"/v3/chat": [reply(200, SSE, body), 0.5, b"more", HOLD]}) as server:
        ...  server.url, server.requests

A route maps a path to a script (or a list of scripts, used in turn, the last one repeating).
A script is a list of steps: bytes are sent, a number is a pause in seconds, HOLD keeps the
connection open until the server stops (or `hold_limit` passes). The connection is closed
after the script. Every request is recorded (method, path, headers, body)."""
import gzip
import json
import socket
import threading
import time

HOLD = object()
SSE = "text/event-stream"
JSON = "application/json"


def reply(status=200, content_type=JSON, body=None, headers=None, chunked=False, length=True):
    """The head (and body, when given) of an HTTP/1.1 response as bytes.

    length=False sends no Content-Length (the body ends when the connection closes)."""
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect",
              308: "Permanent Redirect", 500: "Internal Server Error"}.get(status, "Status")
    lines = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: " + content_type,
             "Connection: close", "x-tt-logid: 20241210152726BFBA0E6B2B5C7C0E4E16"]
    for name, value in (headers or {}).items():
        lines.append("%s: %s" % (name, value))
    if isinstance(body, str):
        body = body.encode("utf-8")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length and body is not None:
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is None:
        return head
    return head + (chunk(body) + b"0\r\n\r\n" if chunked else body)


def chunk(data):
    """One piece of a chunked body."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    return b"%x\r\n%s\r\n" % (len(data), data)


def json_reply(data, code=0, msg="", **kwargs):
    """A Coze envelope as a complete response."""
    envelope = {"code": code, "msg": msg, "data": data, "detail": {"logid": "20241210152726BFBA0E6B2B5C7C0E4E16"}}
    return reply(200, JSON, json.dumps(envelope, ensure_ascii=False), **kwargs)


def gzipped(text):
    return gzip.compress(text.encode("utf-8"))


def sse_text(*events):
    """event:NAME / data:JSON / blank line, the way Coze frames events."""
    out = []
    for name, data in events:
        out.append("event:%s\ndata:%s\n\n" % (name, data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)))
    return "".join(out)


def trickle(data, every, pieces=1):
    """Script steps sending `data` a few bytes at a time with a pause between pieces."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    steps = []
    for i in range(0, len(data), pieces):
        steps += [data[i:i + pieces], every]
    return steps


class Request(object):
    def __init__(self, method, target, headers, body):
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.path = target.split("?", 1)[0]
        if "://" in self.path:  # absolute form: we are being used as a proxy
            self.path = "/" + self.path.split("://", 1)[1].split("/", 1)[1]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Request(%s %s)" % (self.method, self.target)


class RawServer(object):
    def __init__(self, routes, tls_context=None, hold_limit=15.0):
        self.routes = dict((path, list(scripts) if scripts and isinstance(scripts[0], list) else [scripts])
                           for path, scripts in routes.items())
        self.tls_context = tls_context
        self.hold_limit = hold_limit
        self.requests = []
        self.connections = 0
        self.sent_at = []  # time.monotonic() after each piece of bytes was sent
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(50)
        self._sock.settimeout(0.01)  # how soon the accept loop sees a stop: every test ends with one
        self.port = self._sock.getsockname()[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls_context else "http", self.port)

    def __enter__(self):
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def paths(self):
        return [r.path for r in self.requests]

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
                scripts = self.routes.get(request.path) or [[reply(404, JSON, '{"code": 404, "msg": "no route"}')]]
                script = scripts.pop(0) if len(scripts) > 1 else scripts[0]
            self._play(conn, script)
        except Exception:
            pass  # a client hanging up, a failed handshake: part of the game
        finally:
            try:
                conn.close()
            except Exception:
                pass

    def _play(self, conn, script):
        for step in script:
            if self._stop.is_set():
                return
            if step is HOLD:
                self._stop.wait(self.hold_limit)
            elif isinstance(step, (int, float)):
                self._stop.wait(step)
            else:
                conn.sendall(step.encode("utf-8") if isinstance(step, str) else step)
                self.sent_at.append(time.monotonic())

    @staticmethod
    def _read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            body += piece
        return Request(method, target, headers, body)

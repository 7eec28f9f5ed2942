"""Sending a request body within the caller's deadline, on both backends, source and dist: a large
upload to a server that reads slowly (but within the deadline) succeeds even when the thread's
kept-alive connection was opened by an earlier request with a short deadline, and is not capped
by the connect timeout; a server that stops reading fails the send at the deadline, not before.

The server here is a raw keep-alive socket server (tests/rawserver.py closes every connection
after one answer, and reads a body at once)."""
import socket
import threading
import time

import pytest

BIG = 8 << 20  # more than loopback socket buffers absorb


class SlowReader(object):
    """Answers each request on a kept-alive connection with a small JSON body; a body longer than
    64 KB is read `step` bytes every `pause` seconds, or (stall) read 1 MB of and then no more."""

    def __init__(self, step=1 << 20, pause=0.2, stall=False):
        self.step, self.pause, self.stall = step, pause, stall
        self.bodies = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # inherited by accepted sockets
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.url = "http://127.0.0.1:%d" % self._sock.getsockname()[1]
        self.connections = 0

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._sock.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        data = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    data += piece
                head, data = data.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                got = len(data)
                data = b""
                while got < length:
                    if length > 65536:
                        if self.stall and got >= 1 << 20:
                            self._stop.wait(20)
                            return
                        self._stop.wait(self.pause)
                    want = min(self.step, length - got)
                    while want > 0:
                        piece = conn.recv(min(want, 65536))
                        if not piece:
                            return
                        got, want = got + len(piece), want - len(piece)
                self.bodies.append(got)
                body = b'{"code": 0, "msg": "", "data": {"id": "1"}}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
        except OSError:
            pass
        finally:
            conn.close()


def send(backend, server, body, seconds):
    resp = backend.send("POST", server.url + "/v1/files/upload", {"Content-Type": "application/octet-stream"},
                        body, time.monotonic() + seconds)
    try:
        return resp.status, resp.read()
    finally:
        resp.close()


def test_a_slowly_read_upload_is_sent_within_its_deadline_after_a_short_request(coze, backend, monkeypatch):
    coze.patch("CONNECT_TIMEOUT", 0.5)  # a send capped by the connect timeout would fail within seconds
    http = coze.choose_backend()
    with SlowReader() as server:
        assert send(http, server, b"{}", 0.5)[0] == 200  # e.g. cancel_chat: its short deadline opened the connection
        started = time.monotonic()
        status, _ = send(http, server, b"x" * BIG, 30)
        took = time.monotonic() - started
    assert status == 200 and server.bodies == [2, BIG]
    assert took > 1.0  # the server really read slowly (longer than the first request's 0.5 s)
    assert server.connections == 1  # the kept-alive connection was reused


def test_an_upload_the_server_stops_reading_fails_at_the_deadline_not_before(coze, backend):
    coze.patch("CONNECT_TIMEOUT", 0.5)
    http = coze.choose_backend()
    with SlowReader(stall=True) as server:
        assert send(http, server, b"{}", 0.5)[0] == 200
        started = time.monotonic()
        with pytest.raises(coze.CozeError) as caught:
            send(http, server, b"x" * BIG, 2.5)
        took = time.monotonic() - started
    assert 2.3 < took < 4.0, took
    assert "超时" in str(caught.value)


def test_a_finished_threads_requests_session_is_not_kept(coze, monkeypatch):
    import gc
    http = coze.choose_backend("requests")
    if http.name != "requests":
        pytest.skip("requests is not installed")
    with SlowReader() as server:
        worker = threading.Thread(target=lambda: send(http, server, b"{}", 5))
        worker.start()
        worker.join(10)
        gc.collect()
        assert len(list(http._sessions)) == 0  # its session (and sockets) went with the thread
        assert send(http, server, b"{}", 5)[0] == 200
        assert len(list(http._sessions)) == 1
        http.close()
        assert len(list(http._sessions)) == 0


def test_transport_and_backends_take_no_unused_policy_parameters_and_read_default_retry(coze):
    import inspect
    for function in (coze.Transport.__init__, coze.choose_backend, coze.HttpBackend.__init__):
        assert not {"retry", "timeouts"} & set(inspect.signature(function).parameters), function
    transport = coze.Transport("http://127.0.0.1:9", None, max_retries=2)
    assert transport.max_retries == 2
    assert coze.Transport("http://127.0.0.1:9", None).max_retries == coze.DEFAULT_RETRY.max_retries
    coze.patch("MAX_RETRIES", 7)
    assert coze.Transport("http://127.0.0.1:9", None).max_retries == 7  # DEFAULT_RETRY read at each use
    assert repr(transport.retry) == repr(coze.DEFAULT_RETRY.with_max_retries(2))  # conftest's fast backoff

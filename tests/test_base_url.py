"""base_url without a scheme, and https:// against a plain-HTTP port: said at once, never retried."""
import socket
import threading

import pytest

from helpers import BOT_ID, TOKEN


class PlainHttpPort(object):
    """A port that answers whatever arrives (a TLS hello too) with a plain HTTP 400, as any HTTP server
    does; counts the connections."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.connections, self.running = 0, True
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(5)
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(5)
        self.listener.close()


@pytest.mark.parametrize("typed, meant", [
    ("api.coze.cn", "https://api.coze.cn"),
    ("api.coze.com/v3/chat", "https://api.coze.com"),
    ("127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("localhost:9000/", "http://localhost:9000"),
    ("[::1]:8080", "http://[::1]:8080"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),  # a scheme that is typed is kept
])
def test_a_base_url_without_a_scheme_means_https_except_on_this_machine(coze, typed, meant):
    assert coze.clean_base_url(typed) == meant


def test_a_host_and_port_of_the_simulator_just_works(coze, backend, sim):
    typed = sim.url.replace("http://", "")
    assert "模拟器你好" in coze.ask("模拟器你好", bot_id=BOT_ID, token=TOKEN, base_url=typed)


def test_https_against_a_plain_http_port_says_write_http_at_once(coze, backend):
    with PlainHttpPort() as server:
        https = server.url.replace("http://", "https://")
        with pytest.raises(coze.NetworkError) as caught:
            coze.ask("你好", bot_id=BOT_ID, token=TOKEN, base_url=https)
        host = server.url.split("://")[1]
        message = str(caught.value)
        assert "普通 http" in message and "http://%s" % host in message
        assert not caught.value.retryable and caught.value.fatal  # a batch stops instead of failing every row
        assert server.connections == 1  # not four retries

"""Connecting keeps the caller's deadline, both backends, source and dist: the name lookup, each
address in turn and the TLS handshake after the connect share one deadline (the connect timeout
used to be computed before the lookup, given whole to every address and left on the socket for the
handshake, so timeout=8 could take ~32 s). The server accepts and never completes a TLS handshake;
the lookup is slow and its first address a black hole (a listener whose accept queue is full)."""
import socket
import time

import pytest

from helpers import BOT_ID as BOT
from rawserver import RawServer

TOKEN = "pat_CONNECTdeadlineTOKEN0123456789abcdef"
SLACK = 0.35


@pytest.fixture
def black_hole():
    """An address whose connects hang: its listener's accept queue is full, so SYNs are dropped."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())
    yield listener.getsockname()
    filler.close()
    listener.close()


@pytest.mark.parametrize("first", ["black hole", "none"])
def test_lookup_addresses_and_handshake_share_the_deadline(coze, backend, black_hole, first):
    with RawServer({}) as server:  # reads a request head that never comes: the TLS hello is never answered
        addresses = ([(socket.AF_INET, black_hole)] if first == "black hole" else []) + \
            [(socket.AF_INET, ("127.0.0.1", server.port))]

        def slow_lookup(host, port):
            time.sleep(0.6)
            return addresses
        coze.patch("addresses_within", slow_lookup)
        started = time.monotonic()
        with pytest.raises(coze.CozeError) as caught:
            coze.ask("你好", bot_id=BOT, token=TOKEN, base_url="https://127.0.0.1:%d" % server.port, timeout=1)
        took = time.monotonic() - started
    assert took < 1 + SLACK, took
    assert "超时" in str(caught.value) and TOKEN not in str(caught.value)

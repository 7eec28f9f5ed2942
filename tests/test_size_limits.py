"""Untrusted sizes are bounded, both backends, source and dist, against tests/rawserver.py: a JSON
body past MAX_JSON_BODY is refused (not read whole), one SSE line or event past MAX_EVENT ends the
stream with a CozeError (a captive portal streaming with no newline used to grow memory until
MemoryError), and a gzip body inflates in pieces of at most READ_SIZE (a chunk can inflate 1000x).
A legitimate 20 MB answer still passes: tests/test_linear_text.py."""
import gzip
import json
import time

import pytest

from chat_script import BOT, TOKEN
from rawserver import HOLD, JSON, SSE, reply


def get(coze, server, path):
    return coze.choose_backend().send("GET", server.url + path, {}, None, time.monotonic() + 10)


def test_a_json_body_past_the_limit_is_refused_without_retry(coze, backend, route):
    coze.patch("MAX_JSON_BODY", 1 << 20)
    server = route({"/big": [reply(200, JSON, json.dumps({"code": 0, "data": "x" * (3 << 20)}))]})
    resp = get(coze, server, "/big")
    try:
        with pytest.raises(coze.BadResponseError) as caught:
            coze.json_object_of(resp, server.url)
    finally:
        resp.close()
    assert "超过 1 MB" in str(caught.value) and not caught.value.retryable


def test_a_stream_line_without_end_past_the_limit_ends_the_call(coze, backend, route):
    coze.patch("MAX_EVENT", 1 << 20)
    endless = [reply(200, SSE, length=False)] + [b"data:" + b"x" * (1 << 18)] + [b"x" * (1 << 18)] * 8 + [HOLD]
    server = route({"/v3/chat": [endless]})
    started = time.monotonic()
    with pytest.raises(coze.CozeError) as caught:
        coze.chat("你好", bot_id=BOT, token=TOKEN, base_url=server.url, timeout=8)
    assert "超过 1 MB" in str(caught.value), caught.value
    assert time.monotonic() - started < 4 and len([r for r in server.requests if r.path == "/v3/chat"]) == 1


def test_a_gzip_body_inflates_in_bounded_pieces(coze, backend, route):
    text = json.dumps({"code": 0, "msg": "", "data": {"text": "好" * (3 << 20)}}, ensure_ascii=False)
    server = route({"/zip": [reply(200, JSON, gzip.compress(text.encode("utf-8")), headers={"Content-Encoding": "gzip"})]})
    resp = get(coze, server, "/zip")
    try:
        pieces = list(resp.chunks())
    finally:
        resp.close()
    assert max(len(piece) for piece in pieces) <= 65536
    assert b"".join(pieces).decode("utf-8") == text

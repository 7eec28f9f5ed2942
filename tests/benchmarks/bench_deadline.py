"""How fast a hostile server is cut off, through the pasted module (dist/coze.py), with each
HTTP backend, against tests/rawserver.py:

- deadline → error: ask(timeout=T) against a stream that trickles one byte at a time, sends
  only keep-alive comments or PING events, or stays silent, a poll whose JSON trickles, and a
  response whose status line and headers trickle (no chat exists yet, so none to cancel);
  the figure is (time the CozeTimeoutError was raised) - (start + T), cancel included.
- done → return: the server sends the whole answer then keeps the connection open for 15 s;
  the figure is (time ask returned) - (time the server sent conversation.chat.completed).

    python tests/benchmarks/bench_deadline.py [--timeout 8] [--repeat 3]
"""
import argparse
import os
import json
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from helpers import load_dist_quiet  # noqa: E402
from rawserver import HOLD, RawServer, reply, SSE, json_reply, trickle  # noqa: E402
from chat_script import BOT, CHAT, FINISHED, RECOVERY, STARTED, TOKEN, trickling  # noqa: E402

KINDS = ["one byte at a time", "keep-alive comments", "PING events", "silence"]


def poll_trickle():
    body = json.dumps({"code": 0, "msg": "", "data": CHAT})
    return {"/v3/chat": [json_reply(dict(CHAT, status="created"))],
            "/v3/chat/retrieve": [[reply(200, "application/json", length=False)] + trickle(body * 10, 0.5, pieces=2)]}


def deadline_overrun(coze, routes, timeout, stream=True):
    with RawServer(dict(RECOVERY, **routes), hold_limit=timeout + 10) as server:
        started = time.monotonic()
        try:
            coze.ask("你好", bot_id=BOT, token=TOKEN, base_url=server.url, timeout=timeout, stream=stream)
        except coze.CozeTimeoutError:
            pass
        overrun = time.monotonic() - started - timeout
        return overrun, "/v3/chat/cancel" in server.paths()


def done_to_return(coze):
    with RawServer({"/v3/chat": [[reply(200, SSE, length=False), STARTED, 0.3, FINISHED, HOLD]]}) as server:
        coze.ask("你好", bot_id=BOT, token=TOKEN, base_url=server.url, timeout=60)
        returned = time.monotonic()
        return returned - server.sent_at[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    rows = []
    for backend in ("requests", "urllib"):
        os.environ["COZE_HTTP_BACKEND"] = backend
        coze = load_dist_quiet()
        cases = [(kind, {"/v3/chat": [trickling(kind)]}, True, True) for kind in KINDS]
        cases.append(("poll JSON trickle", poll_trickle(), False, True))
        cases.append(("headers trickle", {"/v3/chat": [trickle(reply(200, SSE, length=False) + b"X-Pad: " + b"." * 200,
                                                               0.3)]}, True, False))
        for kind, routes, stream, has_chat in cases:
            runs = [deadline_overrun(coze, routes, options.timeout, stream) for _ in range(options.repeat)]
            rows.append((backend, "deadline → error: " + kind, max(r[0] for r in runs),
                         all(r[1] for r in runs) if has_chat else None))
        worst = max(done_to_return(coze) for _ in range(options.repeat))
        rows.append((backend, "done → return (connection held open)", worst, None))
    print("| backend | case | worst of %d (ms) | chat cancelled |" % options.repeat)
    print("|---|---|---|---|")
    for backend, case, seconds, cancelled in rows:
        print("| %s | %s | %.1f | %s |" % (backend, case, seconds * 1000, "" if cancelled is None else
                                          ("yes" if cancelled else "NO")))


if __name__ == "__main__":
    main()

"""Load: N concurrent streamed chats against one simulator at latency 1 s (default 200),
each on its own connection, read to the `done` event. Bounded: one round, 60 s cap."""
import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from yingdao_module.simulator import Simulator  # noqa: E402


def one_chat(address, index, results):
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        body = json.dumps({"bot_id": "7000000000000000001", "user_id": "load%d" % index, "stream": True,
                           "auto_save_history": True,
                           "additional_messages": [{"role": "user", "content": "并发%d" % index,
                                                    "content_type": "text"}]})
        conn.request("POST", "/v3/chat", body, {"Authorization": "Bearer pat_load", "Content-Type": "application/json"})
        text = conn.getresponse().read().decode("utf-8")
        ok = "event:done" in text and ("并发%d" % index) in text
        results[index] = ("ok" if ok else "bad", time.perf_counter() - started)
    except Exception as exc:  # counted, not raised: the figure is the error count
        results[index] = ("error " + type(exc).__name__, time.perf_counter() - started)


def run(concurrency=200, latency=1.0):
    with Simulator(latency=latency) as sim:
        address = urlparse(sim.url)
        results = [None] * concurrency
        threads = [threading.Thread(target=one_chat, args=(address, i, results)) for i in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        wall = time.perf_counter() - started
        stats = sim.stats()
    durations = sorted(r[1] for r in results if r)
    return {"concurrency": concurrency, "latency": latency, "ok": sum(1 for r in results if r and r[0] == "ok"),
            "errors": sum(1 for r in results if not r or r[0] != "ok"), "wall_s": wall,
            "p50_s": durations[len(durations) // 2], "max_s": durations[-1],
            "chats_completed": stats["chats_completed"]}


def markdown(figures):
    return "\n".join([
        "### 模拟器并发 / Simulator under load",
        "",
        "| concurrent streamed chats | latency | completed | errors | wall time | per-chat p50 | per-chat max |",
        "|---|---|---|---|---|---|---|",
        "| %d | %.1f s | %d | %d | %.2f s | %.2f s | %.2f s |" % (
            figures["concurrency"], figures["latency"], figures["ok"], figures["errors"], figures["wall_s"],
            figures["p50_s"], figures["max_s"]),
    ])


if __name__ == "__main__":
    print(markdown(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))

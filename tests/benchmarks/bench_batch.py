"""Batch figures: sustained throughput against the qps cap (the simulator enforcing that
cap), engine overhead per row, and peak memory for 100,000 CSV rows."""
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIST = os.path.join(ROOT, "dist", "coze.py")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(HERE))

from helpers import BOT_ID as BOT, load_dist_quiet  # noqa: E402
from yingdao_module.simulator import Simulator  # noqa: E402


def load_dist():
    module = load_dist_quiet("coze_bench_batch")
    return module


class StandInSettings(object):
    """What batch() reads from its Client: the account (for the rate-limit state) and the bot."""
    token, base_url, bot_id, app = "pat_bench_stand_in", "http://127.0.0.1", BOT, None


def stand_in_client(chat):
    """A Client for batch() to create: every row goes to `chat(question)` (batch takes no test hook)."""
    class StandIn(object):
        settings = StandInSettings

        def __init__(self, before_request=None, **settings):
            self.before_request = before_request  # batch's rate limiter, as the real transport calls it

        def new_conversation(self):  # each row's conversation (unpaid), created before its chat
            return "7400000000000000000"

        def chat(self, question, **options):  # conversation_id, on_created: a stand-in has no chats to note
            if self.before_request is not None:
                self.before_request("POST", "/v3/chat")
            return chat(question)
    return StandIn


def make_csv(rows, folder=None):
    folder = folder or tempfile.mkdtemp(prefix="coze_bench_")
    path = os.path.join(folder, "rows.csv")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "问题"])
        for i in range(rows):
            writer.writerow([i, "第%d行:请为这款商品写一句二十字以内的广告语" % i])
    return path


def throughput(qps=5, rows=None, latency=0.3, concurrency=8):
    """Sustained chats per second divided by the cap: the starts after the first qps ones over
    the time they took (a first second's burst would be free, so it is left out)."""
    coze = load_dist()
    rows = rows or qps * 8
    path = make_csv(rows)
    os.environ["COZE_STATE_DIR"] = tempfile.mkdtemp(prefix="coze_bench_state_")  # a fresh account window
    with Simulator(latency=latency, qps=qps) as sim:
        client = coze.Client(token="pat_bench", bot_id=BOT, base_url=sim.url)
        starts, lock = [], threading.Lock()

        def timed_chat(question):
            with lock:
                starts.append(time.monotonic())
            return client.chat(question)
        coze.Client = stand_in_client(timed_chat)
        summary = coze.batch(path, question_column="问题", concurrency=concurrency, qps=qps)
        stats = sim.stats()
    starts.sort()
    sustained = (len(starts) - qps) / (starts[-1] - starts[qps - 1])
    return {"qps_cap": qps, "rows": rows, "done": summary["done"], "sustained_qps": sustained,
            "fraction_of_cap": sustained / qps, "rejected_4020": stats["rate_limited"]}


def throughput_after_restart(qps=5, rows=60, latency=0.3, concurrency=8):
    """Kill a command-line batch in mid-run (SIGKILL) and start it again at once: the restarted
    run reads the account's rate-limit state, so it neither bursts into 4020 nor crawls.
    Sustained rate as in throughput(), over the restarted run's starts as the simulator saw them."""
    import signal
    folder = tempfile.mkdtemp(prefix="coze_bench_restart_")
    path = make_csv(rows, folder)
    with Simulator(latency=latency, qps=qps) as sim:
        env = dict(os.environ, COZE_API_TOKEN="pat_bench_restart", COZE_BOT_ID=BOT, COZE_API_BASE=sim.url,
                   COZE_STATE_DIR=os.path.join(folder, "state"))
        command = [sys.executable, "-m", "yingdao_module", "batch", path, "--question-column", "问题",
                   "--qps", str(qps), "--concurrency", str(concurrency)]
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while sim.stats()["chats_created"] < rows // 3:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.time()
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with sim.lock:
            starts = sorted(t for t in sim.window if t > killed_at)  # accepted chat creations of the restart
        stats = sim.stats()
    sustained = (len(starts) - qps) / (starts[-1] - starts[qps - 1])
    return {"qps_cap": qps, "rows": rows, "restarted_rows": len(starts), "sustained_qps": sustained,
            "fraction_of_cap": sustained / qps, "rejected_4020": stats["rate_limited"]}


def overhead_per_row(rows=3000):
    """Engine time per row with an instant fake bot (journal fsync included)."""
    coze = load_dist()
    path = make_csv(rows)
    answer = {"answer": "好", "usage": {"token_count": 1}, "chat_id": "1"}
    started = time.perf_counter()
    coze.Client = stand_in_client(lambda question: answer)
    summary = coze.batch(path, question_column="问题", concurrency=4)
    elapsed = time.perf_counter() - started
    assert summary["done"] == rows
    return {"rows": rows, "ms_per_row": 1000 * elapsed / rows}

SIM_SCRIPT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from yingdao_module.simulator import Simulator
with Simulator(latency=float(sys.argv[2])) as sim:
    print(sim.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""

CPU_SCRIPT = r"""
import importlib.util, os, sys, time
from concurrent.futures import ThreadPoolExecutor
dist, mode, url, path, rows, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
spec = importlib.util.spec_from_file_location("coze", dist)
coze = importlib.util.module_from_spec(spec); spec.loader.exec_module(coze)
coze._set_log_sink(lambda line: None)
fsyncs, real_fsync = [], os.fsync
os.fsync = lambda fd: (fsyncs.append(fd), real_fsync(fd))[1]  # counted: the journal's disk flushes
settings = dict(token="pat_bench_cpu", bot_id="7000000000000000001", base_url=url)
questions = ["第%d行:请为这款商品写一句二十字以内的广告语" % i for i in range(rows)]
cpu, wall = time.process_time(), time.perf_counter()
if mode == "chats":
    client = coze.Client(**settings)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(lambda q: client.chat(q), questions))
    assert len(answers) == rows
else:
    summary = coze.batch(path, question_column="问题", concurrency=concurrency, **settings)
    assert summary["done"] == rows, summary
print(time.process_time() - cpu, time.perf_counter() - wall, len(fsyncs))
"""


def simulator_process(latency=0.0):
    """A simulator in its own process (its CPU is not counted, nor competes for our GIL): (process, url);
    closing the process's stdin stops it."""
    process = subprocess.Popen([sys.executable, "-c", SIM_SCRIPT, ROOT, str(latency)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def cpu_of(dist, mode, url, rows, concurrency):
    """(CPU seconds, wall seconds, fsyncs) of one fresh process doing `rows` chats: plain, or as a batch."""
    folder = tempfile.mkdtemp(prefix="coze_bench_cpu_")
    path = make_csv(rows, folder)
    env = dict(os.environ, COZE_STATE_DIR=os.path.join(folder, "state"))
    out = subprocess.check_output([sys.executable, "-c", CPU_SCRIPT, dist, mode, url, path, str(rows),
                                   str(concurrency)], env=env, text=True, timeout=600)
    cpu, wall, fsyncs = out.split()
    return float(cpu), float(wall), int(fsyncs)


def bookkeeping_cpu(dists, rows=300, rounds=5, concurrency=2):
    """CPU per row of the batch machinery: a fresh process running the batch of `rows` rows minus a
    fresh process doing the same chats with a Client on `concurrency` threads, against one
    zero-latency simulator in another process; interleaved round by round, medians.
    `dists` is {label: path of a coze.py}, so an older build can be measured side by side."""
    process, url = simulator_process()
    per_row = dict((label, []) for label in dists)
    walls = dict((label, []) for label in dists)
    fsyncs = dict((label, []) for label in dists)
    try:
        for _ in range(rounds):
            for label, dist in dists.items():
                chats_cpu, chats_wall, _ = cpu_of(dist, "chats", url, rows, concurrency)
                batch_cpu, batch_wall, batch_fsyncs = cpu_of(dist, "batch", url, rows, concurrency)
                fsyncs[label].append(batch_fsyncs / float(rows))
                per_row[label].append(1000.0 * (batch_cpu - chats_cpu) / rows)
                walls[label].append(1000.0 * (batch_wall - chats_wall) / rows)
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    return dict((label, {"rows": rows, "rounds": rounds, "concurrency": concurrency,
                         "cpu_ms_p50": statistics.median(per_row[label]), "cpu_ms_min": min(per_row[label]),
                         "cpu_ms_max": max(per_row[label]), "wall_ms_p50": statistics.median(walls[label]),
                         "fsyncs_per_row": statistics.median(fsyncs[label])})
                for label in dists)


def conversation_first(rows=40, latency=0.3, concurrency=4, calls=50):
    """What a row's own conversation (created before its chat, so a lost chat is found, not paid
    again) costs: requests per row in a real batch on the simulator, its wall time against the
    ideal rows / concurrency × latency, and the median time of one conversation create."""
    coze = load_dist()
    path = make_csv(rows)
    os.environ["COZE_STATE_DIR"] = tempfile.mkdtemp(prefix="coze_bench_state_")
    with Simulator(latency=latency) as sim:
        client = coze.Client(token="pat_bench", bot_id=BOT, base_url=sim.url)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            client.new_conversation()
            times.append(time.perf_counter() - started)
        sim.reset()
        started = time.perf_counter()
        summary = coze.batch(path, question_column="问题", concurrency=concurrency, bot_id=BOT, token="pat_bench",
                             base_url=sim.url)
        wall = time.perf_counter() - started
        stats = sim.stats()
    assert summary["done"] == rows
    requests = stats["requests"]
    return {"rows": rows, "latency": latency, "concurrency": concurrency,
            "creates_per_row": requests.get("/v1/conversation/create", 0) / rows,
            "chats_per_row": stats["chats_created"] / rows, "requests_per_row": sum(requests.values()) / rows,
            "create_ms": 1000 * sorted(times)[len(times) // 2], "wall": wall,
            "ideal": rows / concurrency * latency}


MEMORY_SCRIPT = r"""
import importlib.util, resource, sys
spec = importlib.util.spec_from_file_location("coze", sys.argv[1])
coze = importlib.util.module_from_spec(spec); spec.loader.exec_module(coze)
coze._set_log_sink(lambda line: None)
coze._SAVE_EVERY = 10 ** 6
answer = {"answer": "这是一句不长不短的广告语,大约二十个字。", "usage": {"token_count": 30}, "chat_id": "7400000000000000001"}
settings = type("Settings", (), {"token": "pat_memory", "base_url": "http://127.0.0.1", "bot_id": "1", "app": None})
coze.Client = type("StandIn", (), {"__init__": lambda self, **kw: None, "chat": lambda self, q, **options: answer,
                                   "new_conversation": lambda self: "7400000000000000000", "settings": settings})
summary = coze.batch(sys.argv[2], question_column="问题", concurrency=4)
assert summary["done"] == int(sys.argv[3]), summary
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(rows=100000):
    """Peak resident memory (MB) of a fresh process running a 100,000-row CSV batch."""
    path = make_csv(rows)
    out = subprocess.check_output([sys.executable, "-c", MEMORY_SCRIPT, os.path.join(ROOT, "dist", "coze.py"),
                                   path, str(rows)], text=True, timeout=1800)
    return {"rows": rows, "peak_mb": int(out.strip().splitlines()[-1]) / 1024.0}


def run(quick=False):
    return {"bookkeeping": bookkeeping_cpu({"ours": DIST}, rows=100 if quick else 300, rounds=3 if quick else 7),
            "throughput": throughput(qps=5, rows=25 if quick else 60),
            "restart": throughput_after_restart(qps=5, rows=30 if quick else 60),
            "overhead": overhead_per_row(500 if quick else 3000),
            "conversation": conversation_first(),
            "memory": peak_memory(20000 if quick else 100000)}


def markdown(figures):
    t, r, o, m = figures["throughput"], figures["restart"], figures["overhead"], figures["memory"]
    b = figures["bookkeeping"]["ours"]
    c = figures["conversation"]
    return "\n".join([
        "### 批处理 / Batch",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        "| sustained throughput at qps cap %d (%d rows, simulator enforcing the cap) | %.2f/s = **%.1f%%** of the cap | ≥ 97%% |"
        % (t["qps_cap"], t["rows"], t["sustained_qps"], 100 * t["fraction_of_cap"]),
        "| 4020 rejections caused by us | **%d** | 0 |" % t["rejected_4020"],
        "| right after a SIGKILL and an immediate restart (command line, %d rows, %d asked by the restart): "
        "sustained throughput | %.2f/s = **%.1f%%** of the cap | ≥ 95%% |"
        % (r["rows"], r["restarted_rows"], r["sustained_qps"], 100 * r["fraction_of_cap"]),
        "| 4020 rejections across the kill and the restart | **%d** | 0 |" % r["rejected_4020"],
        "| engine overhead per row (instant fake bot, fsync'ed journal, %d rows) | %.2f ms | — |" % (o["rows"], o["ms_per_row"]),
        "| batch bookkeeping CPU per row (batch process minus the same chats, zero-latency simulator in another "
        "process, %d rows, concurrency %d, %d rounds): p50 (min–max) | **%.2f ms** (%.2f–%.2f) | ≤ 3 ms |"
        % (b["rows"], b["concurrency"], b["rounds"], b["cpu_ms_p50"], b["cpu_ms_min"], b["cpu_ms_max"]),
        "| journal fsyncs per row (same run; a row journals its conversation, its chat id, then its answer) | %.2f | — |"
        % b["fsyncs_per_row"],
        "| a row's own conversation, created before its chat (%d rows, answer %.1f s, concurrency %d): "
        "requests per row / creates / paid chats | %.2f / %.2f / **%.2f** | 1 paid chat |"
        % (c["rows"], c["latency"], c["concurrency"], c["requests_per_row"], c["creates_per_row"], c["chats_per_row"]),
        "| … one conversation create (median, local simulator); the batch's wall time against rows ÷ concurrency × "
        "answer | %.1f ms; %.2f s against %.2f s | unpaid |" % (c["create_ms"], c["wall"], c["ideal"]),
        "| peak memory, %d-row CSV | **%.0f MB** | < 150 MB |" % (m["rows"], m["peak_mb"]),
    ])


if __name__ == "__main__":
    if sys.argv[1:2] == ["bookkeeping"]:  # bench_batch.py bookkeeping [older coze.py]: side by side
        builds = dict([("ours", DIST)] + ([("given build", sys.argv[2])] if len(sys.argv) > 2 else []))
        for label, figures in bookkeeping_cpu(builds).items():
            print("%s: %.2f ms CPU per row (p50; min %.2f, max %.2f), wall %.2f ms, %.2f fsyncs per row" % (
                label, figures["cpu_ms_p50"], figures["cpu_ms_min"], figures["cpu_ms_max"], figures["wall_ms_p50"],
                figures["fsyncs_per_row"]))
    else:
        print(markdown(run(quick="--quick" in sys.argv)))

"""Answer overhead, requests per answer, and cold import time, side by side in one run.

Overhead = the caller's wall time for one answer minus the simulator's latency (the chat
completes exactly `latency` seconds after the server creates it), so it is the time between
the server finishing and the caller holding the answer, plus the request's own trip.
Every approach asks against the same simulator, interleaved round by round, so machine
noise hits them alike.
"""
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import json
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(HERE))
DIST = os.path.join(ROOT, "dist", "coze.py")

from helpers import BOT_ID as BOT, TOKEN, load_dist_quiet  # noqa: E402
from yingdao_module.simulator import Simulator  # noqa: E402

USER = "bench_user"


def load_dist():
    module = load_dist_quiet("coze_bench")
    return module


def tutorial_ask(base_url, question):
    """The tutorial users copy: non-stream, a fixed 2 s poll up to 30 times, then the message list."""
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}

    def call(method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read().decode("utf-8"))

    created = call("POST", "/v3/chat", {"bot_id": BOT, "user_id": USER, "stream": False, "auto_save_history": True,
                                        "additional_messages": [{"role": "user", "content": question,
                                                                 "content_type": "text"}]})["data"]
    query = "?conversation_id=%s&chat_id=%s" % (created["conversation_id"], created["id"])
    for _ in range(30):
        time.sleep(2)
        if call("GET", "/v3/chat/retrieve" + query)["data"]["status"] == "completed":
            break
    messages = call("GET", "/v3/chat/message/list" + query)["data"]
    return [m["content"] for m in messages if m["type"] == "answer"][0]


def sdk_stream_answer(sdk, question):
    """The answer through cozepy's chat.stream, read as its README shows (stop at chat.completed)."""
    import cozepy
    answer = ""
    for event in sdk.chat.stream(bot_id=BOT, user_id=USER,
                                 additional_messages=[cozepy.Message.build_user_question_text(question)]):
        if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_COMPLETED and \
                event.message.type == cozepy.MessageType.ANSWER:
            answer = event.message.content
        if event.event == cozepy.ChatEventType.CONVERSATION_CHAT_COMPLETED:
            break
    return answer


def approaches(base_url):
    coze = load_dist()
    kw = dict(bot_id=BOT, token=TOKEN, base_url=base_url, user_id=USER)
    found = {
        "ours: ask, streaming": lambda q: coze.ask(q, **kw),
        "ours: ask, polling (stream=False)": lambda q: coze.ask(q, stream=False, **kw),
        "tutorial: fixed 2 s polling": lambda q: tutorial_ask(base_url, q),
    }
    try:
        import cozepy
        sdk = cozepy.Coze(auth=cozepy.TokenAuth(TOKEN), base_url=base_url)

        def sdk_poll(q):
            poll = sdk.chat.create_and_poll(bot_id=BOT, user_id=USER,
                                            additional_messages=[cozepy.Message.build_user_question_text(q)])
            return "".join(m.content for m in poll.messages if m.type == cozepy.MessageType.ANSWER)

        found["official SDK: create_and_poll"] = sdk_poll
        found["official SDK: stream"] = lambda q: sdk_stream_answer(sdk, q)
    except ImportError:
        pass
    return found


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def answer_overhead(rounds=20, latency=1.0, only=None):
    """{approach: {p50_ms, p95_ms, mean_ms, requests_per_answer}} measured interleaved;
    `only`: the approach names to measure (default all)."""
    with Simulator(latency=latency) as sim:
        funcs = approaches(sim.url)
        if only:
            funcs = dict((name, funcs[name]) for name in only if name in funcs)
        timings = dict((name, []) for name in funcs)
        requests = dict((name, 0) for name in funcs)
        for round_no in range(rounds):
            for name, func in funcs.items():
                question = "第%d轮:%s" % (round_no, name)
                before = sum(sim.stats()["requests"].values())
                started = time.perf_counter()
                answer = func(question)
                elapsed = time.perf_counter() - started
                after = sum(sim.stats()["requests"].values())
                assert question in answer, (name, answer)
                timings[name].append(max(0.0, elapsed - latency))
                requests[name] += after - before  # /_sim/stats itself is not counted
        return dict((name, {"p50_ms": 1000 * statistics.median(values),
                            "p95_ms": 1000 * percentile(values, 0.95),
                            "mean_ms": 1000 * statistics.mean(values),
                            "requests_per_answer": requests[name] / float(rounds)})
                    for name, values in timings.items())


def streaming_clients(base_url, dists):
    """{label: ask(question)}: our streaming Client on each backend (for each build in `dists`,
    {label: path of a coze.py}) and cozepy's chat.stream; one client each, kept across rounds."""
    import importlib.util
    import cozepy
    found = {}
    for label, path in dists.items():
        spec = importlib.util.spec_from_file_location("coze_stream_%s" % abs(hash(label)), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module._set_log_sink(lambda line: None)
        for backend in ("requests", "urllib"):
            client = module.Client(token=TOKEN, bot_id=BOT, base_url=base_url, backend=backend)
            found["%s %s" % (label, backend)] = lambda q, client=client: client.ask(q, user_id=USER)
    sdk = cozepy.Coze(auth=cozepy.TokenAuth(TOKEN), base_url=base_url)
    found["cozepy chat.stream"] = lambda q: sdk_stream_answer(sdk, q)
    return found


def stream_vs_sdk(rounds=30, latency=1.0, dists=None):
    """Streaming answer overhead against cozepy's chat.stream, the simulator in another process,
    interleaved round by round (the order rotating each round): {label: {p50_ms, p25_ms, p75_ms}}."""
    from bench_batch import simulator_process
    process, url = simulator_process(latency)
    try:
        asks = streaming_clients(url, dists or {"ours": DIST})
        names, timings = list(asks), dict((name, []) for name in asks)
        for name in names:
            asks[name]("warm-up")  # first connection and lazy imports are not the per-answer overhead
        for round_no in range(rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                question = "第%d轮:%s" % (round_no, name)
                started = time.perf_counter()
                answer = asks[name](question)
                timings[name].append(max(0.0, time.perf_counter() - started - latency))
                assert question in answer, (name, answer)
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    return dict((name, {"p50_ms": 1000 * statistics.median(values), "p25_ms": 1000 * percentile(values, 0.25),
                        "p75_ms": 1000 * percentile(values, 0.75), "rounds": rounds})
                for name, values in timings.items())


OURS_POLL, SDK_POLL = "ours: ask, polling (stream=False)", "official SDK: create_and_poll"
POLL_LATENCIES = (0.5, 1.0, 1.5, 2.5, 4.0, 8.0)


def polling_vs_sdk(rounds=8, latencies=POLL_LATENCIES):
    """{latency: {approach: figures}}: our polling against the SDK's create_and_poll at several
    chat lengths, interleaved, from a fresh Client (what it learns in these rounds counts)."""
    return dict((latency, answer_overhead(rounds, latency, only=(OURS_POLL, SDK_POLL))) for latency in latencies)


def cold_import(repeats=7):
    """Median seconds to import dist/coze.py and cozepy in fresh interpreters, interleaved.
    Both from cached bytecode (as on a user's second run and for any installed package);
    ours is also timed compiling from source, as on the very first run after pasting."""
    import shutil
    folder = tempfile.mkdtemp(prefix="coze_import_")
    shutil.copy(DIST, os.path.join(folder, "coze.py"))
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    timer = "import time,sys;sys.path.insert(0,%r);t=time.perf_counter();import %s;print(time.perf_counter()-t)"
    ours_code, sdk_code = timer % (folder, "coze"), timer % (folder, "cozepy")
    subprocess.check_output([sys.executable, "-c", ours_code], env=env)  # writes __pycache__
    first, ours, sdk = [], [], []
    for _ in range(repeats):
        shutil.rmtree(os.path.join(folder, "__pycache__"), ignore_errors=True)
        first.append(float(subprocess.check_output([sys.executable, "-B", "-c", ours_code], env=env, text=True)))
        subprocess.check_output([sys.executable, "-c", ours_code], env=env)
        ours.append(float(subprocess.check_output([sys.executable, "-c", ours_code], env=env, text=True)))
        try:
            sdk.append(float(subprocess.check_output([sys.executable, "-W", "ignore", "-c", sdk_code], env=env,
                                                     text=True, stderr=subprocess.DEVNULL)))
        except subprocess.CalledProcessError:
            pass
    result = {"ours_ms": 1000 * statistics.median(ours), "ours_first_ms": 1000 * statistics.median(first)}
    if sdk:
        result["sdk_ms"] = 1000 * statistics.median(sdk)
        result["ratio"] = result["sdk_ms"] / result["ours_ms"]
    return result


def run(rounds=20):
    # 1 s is the setting, and also the official SDK's best case: its fixed 1 s poll lands
    # right after a 1 s chat. 1.5 s shows the common case of a chat that does not end on a poll.
    return {"answer_overhead": answer_overhead(rounds), "answer_overhead_1_5": answer_overhead(max(5, rounds // 2), 1.5),
            "stream_vs_sdk": stream_vs_sdk(rounds * 2), "polling": polling_vs_sdk(max(6, rounds // 2)),
            "cold_import": cold_import()}


def stream_table(stream):
    """Our streaming answer on each backend against cozepy's chat.stream (figures of stream_vs_sdk)."""
    sdk = stream.get("cozepy chat.stream", {}).get("p50_ms")
    lines = ["### 流式回答开销对照官方 SDK / Streaming answer overhead vs cozepy chat.stream "
             "(latency 1 s, simulator in another process, %d interleaved rounds)" % next(iter(stream.values()))["rounds"],
             "", "| client | overhead p50 | p25–p75 | SDK p50 ÷ this p50 |", "|---|---|---|---|"]
    for name, row in stream.items():
        lines.append("| %s | %.2f ms | %.2f–%.2f ms | %s |" % (name, row["p50_ms"], row["p25_ms"], row["p75_ms"],
                                                          "%.2f×" % (sdk / max(row["p50_ms"], 0.001)) if sdk else "—"))
    return lines


def overhead_table(title, overhead):
    lines = ["### %s" % title, "", "| approach | overhead p50 | overhead p95 | requests per answer |", "|---|---|---|---|"]
    for name, row in overhead.items():
        lines.append("| %s | %.1f ms | %.1f ms | %.1f |" % (name, row["p50_ms"], row["p95_ms"], row["requests_per_answer"]))
    ours = overhead.get("ours: ask, streaming", {}).get("p50_ms")
    sdk = overhead.get("official SDK: create_and_poll", {}).get("p50_ms")
    if ours and sdk:
        lines += ["", "ours streaming vs official create_and_poll, p50: **%.0f× lower** overhead." % (sdk / max(ours, 0.001))]
    return lines


def polling_table(polling):
    lines = ["### 轮询对比官方 SDK / Polling (stream=False) vs the official SDK's create_and_poll", "",
             "Each chat length from a fresh Client, so the rounds include what it learns (the first chat of a bot "
             "is checked at the SDK's pace). Ratios: SDK ÷ ours, above 1 = ours better.", "",
             "| chat length | overhead p50 ours / SDK | overhead mean ours / SDK | requests per answer ours / SDK "
             "| p50 ratio | mean ratio | requests ratio |", "|---|---|---|---|---|---|---|"]
    for latency in sorted(polling):
        ours, sdk = polling[latency].get(OURS_POLL), polling[latency].get(SDK_POLL)
        if not ours or not sdk:
            continue
        lines.append("| %.1f s | %.0f / %.0f ms | %.0f / %.0f ms | %.2f / %.2f | %.2f× | %.2f× | %.2f× |" % (
            latency, ours["p50_ms"], sdk["p50_ms"], ours["mean_ms"], sdk["mean_ms"], ours["requests_per_answer"],
            sdk["requests_per_answer"], sdk["p50_ms"] / max(ours["p50_ms"], 0.001),
            sdk["mean_ms"] / max(ours["mean_ms"], 0.001), sdk["requests_per_answer"] / ours["requests_per_answer"]))
    return lines


def markdown(figures):
    lines = overhead_table("回答开销 / Answer overhead (simulator latency 1 s, interleaved rounds)",
                           figures["answer_overhead"])
    if "answer_overhead_1_5" in figures:
        lines += [""] + overhead_table("回答开销 / Answer overhead (latency 1.5 s: a chat that does not end on a poll)",
                                       figures["answer_overhead_1_5"])
    if "stream_vs_sdk" in figures:
        lines += [""] + stream_table(figures["stream_vs_sdk"])
    if "polling" in figures:
        lines += [""] + polling_table(figures["polling"])
    cold = figures["cold_import"]
    lines += ["", "### 冷启动导入 / Cold import (fresh interpreter, median)", "", "| module | median |", "|---|---|",
              "| dist/coze.py (cached bytecode) | %.1f ms |" % cold["ours_ms"],
              "| dist/coze.py (first run, compiling from source) | %.1f ms |" % cold["ours_first_ms"]]
    if "sdk_ms" in cold:
        lines += ["| cozepy (official SDK) | %.1f ms |" % cold["sdk_ms"], "",
                  "dist/coze.py imports **%.1f× faster** than cozepy (both from cached bytecode)." % cold["ratio"]]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["polling"]:  # only the polling comparison: bench_answer.py polling [rounds]
        print("\n".join(polling_table(polling_vs_sdk(int(sys.argv[2]) if len(sys.argv) > 2 else 8))))
    elif sys.argv[1:2] == ["stream"]:  # only the streaming comparison: bench_answer.py stream [rounds] [old coze.py]
        builds = dict([("ours", DIST)] + ([("given build", sys.argv[3])] if len(sys.argv) > 3 else []))
        print("\n".join(stream_table(stream_vs_sdk(int(sys.argv[2]) if len(sys.argv) > 2 else 40, dists=builds))))
    else:
        print(markdown(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))

"""Streaming throughput against the official SDK, side by side in one run.

The simulator answers at once (latency 0), so what is measured is the client's own cost per
streamed answer: `threads` threads each ask `per_thread` questions, ours with ask() (streaming,
its cached Client), the SDK with chat.stream on one shared Coze client, the two approaches
alternating round by round so machine noise hits them alike. Figures: answers per second.

    python tests/benchmarks/bench_stream.py [rounds]
"""
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))

from helpers import BOT_ID as BOT, TOKEN, load_dist_quiet  # noqa: E402
from yingdao_module.simulator import Simulator  # noqa: E402

USER = "bench_user"
THREADS = (1, 4, 16)


def streamers(base_url):
    """{name: ask(question) -> answer} for ours and, when installed, the SDK's chat.stream."""
    coze = load_dist_quiet("coze_stream_bench")
    found = {"ours": lambda q: coze.ask(q, bot_id=BOT, token=TOKEN, base_url=base_url, user_id=USER)}
    try:
        import cozepy
    except ImportError:
        return found
    sdk = cozepy.Coze(auth=cozepy.TokenAuth(TOKEN), base_url=base_url)

    def sdk_stream(q):
        answer = ""
        for event in sdk.chat.stream(bot_id=BOT, user_id=USER, additional_messages=[cozepy.Message.build_user_question_text(q)]):
            if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_COMPLETED and event.message.type == cozepy.MessageType.ANSWER:
                answer = event.message.content
            if event.event == cozepy.ChatEventType.CONVERSATION_CHAT_COMPLETED:
                break
        return answer
    found["official SDK"] = sdk_stream
    return found


def one_round(ask, threads, per_thread):
    """Answers per second with `threads` threads asking `per_thread` questions each."""
    failures = []

    def work(number):
        for i in range(per_thread):
            question = "线程%d第%d问" % (number, i)
            if question not in ask(question):
                failures.append(question)
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    elapsed = time.perf_counter() - started
    assert not failures, failures[:3]
    return threads * per_thread / elapsed


def throughput(rounds=3, answers=160):
    """{threads: {name: best answers/s over the rounds}}, interleaved round by round."""
    result = {}
    with Simulator(latency=0.0) as sim:
        asks = streamers(sim.url)
        for name, ask in asks.items():
            ask("预热")  # connections and caches warm before timing
        for threads in THREADS:
            per_thread = max(1, answers // threads)
            rates = dict((name, []) for name in asks)
            for _ in range(rounds):
                for name, ask in asks.items():
                    rates[name].append(one_round(ask, threads, per_thread))
            result[threads] = dict((name, max(values)) for name, values in rates.items())
    return result


def markdown(figures):
    lines = ["### 流式吞吐 / Streaming throughput (simulator latency 0, best of the interleaved rounds)", "",
             "| threads | ours | official SDK chat.stream | ours ÷ SDK |", "|---|---|---|---|"]
    for threads in sorted(figures):
        row = figures[threads]
        sdk = row.get("official SDK")
        lines.append("| %d | %.0f answers/s | %s | %s |" % (
            threads, row["ours"], "%.0f answers/s" % sdk if sdk else "—", "**%.2f×**" % (row["ours"] / sdk) if sdk else "—"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(throughput(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))

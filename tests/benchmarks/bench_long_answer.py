"""A 20 MB streamed answer: client CPU to assemble it (SSE parsing + answer assembly).

    python tests/benchmarks/bench_long_answer.py [--mb 20]

The stream is built in memory the way Coze sends it: many small `conversation.message.delta`
events, then one `conversation.message.completed` carrying the whole text (a single 20 MB
line), cut into 8 KB network chunks. The figure is process CPU time (time.process_time), so a
busy machine does not inflate it much. Text concatenated with += grows quadratically; the
parser and ChatState keep pieces in lists and join once.
"""
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from yingdao_module.client import ChatState, Client  # noqa: E402
from yingdao_module.sse import iter_sse_events, sse_json  # noqa: E402

DELTA = "扣子回答" * 64  # 256 characters, 768 bytes of UTF-8


def stream_bytes(megabytes):
    deltas = max(1, megabytes * 1024 * 1024 // len(DELTA.encode("utf-8")))
    one = "event:conversation.message.delta\ndata:%s\n\n" % json.dumps(
        {"id": "m1", "type": "answer", "content": DELTA}, ensure_ascii=False)
    head = "event:conversation.chat.created\ndata:%s\n\n" % json.dumps({"id": "c1", "conversation_id": "v1"})
    done = "event:conversation.message.completed\ndata:%s\n\n" % json.dumps(
        {"id": "m1", "type": "answer", "content": DELTA * deltas}, ensure_ascii=False)
    tail = "event:conversation.chat.completed\ndata:%s\n\n" % json.dumps(
        {"id": "c1", "conversation_id": "v1", "usage": {"token_count": 1}})
    return (head + one * deltas + done + tail).encode("utf-8"), deltas


def chunks(data, size=8192):
    for at in range(0, len(data), size):
        yield data[at:at + size]


def run(megabytes=20):
    data, deltas = stream_bytes(megabytes)
    client = Client(token="pat_benchmark_only", bot_id="7000000000000000001")
    state = ChatState()
    started = time.process_time()
    client._read_stream(((event, sse_json(text)) for event, text in iter_sse_events(chunks(data))), state)
    answer = state.answer
    cpu = time.process_time() - started
    assert len(answer) == len(DELTA) * deltas and state.status == "completed"
    return {"mb": len(data) / 1048576.0, "deltas": deltas, "answer_chars": len(answer), "cpu": cpu}


def markdown(row):
    return ("| 流式长回答 | 回答 %d 字符(%d 个 delta + 一个完整消息,整个流 %.0f MB,8 KB 一块) | 客户端 CPU %.2f 秒 |"
            " `python tests/benchmarks/bench_long_answer.py` |" % (row["answer_chars"], row["deltas"], row["mb"], row["cpu"]))


if __name__ == "__main__":
    mb = int(sys.argv[sys.argv.index("--mb") + 1]) if "--mb" in sys.argv else 20
    print(markdown(run(mb)))

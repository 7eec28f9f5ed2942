"""The fault matrix: every fault the simulator injects, alone and mixed, through `ask`
(streaming and polling) and `batch`. Used small by tests/test_fault_matrix.py (CI) and
large by tests/benchmarks/run.py, which writes the table into docs/reliability.md."""
import csv
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(HERE))

from helpers import BOT_ID as BOT, TOKEN, load_dist_quiet  # noqa: E402
from yingdao_module.simulator import Simulator  # noqa: E402

KINDS = ["http500", "http502", "http429", "reset", "malformed", "cut", "4009", "4020", "5000", "fail", "stuck"]
# what a question hit by each fault must end in: None = answered anyway
EXPECTED_ERROR = {"fail": "ServerError", "stuck": "CozeTimeoutError"}
MODES = ["ask (stream)", "ask (poll)", "batch"]
TIMEOUT = 2.0  # the deadline for one answer: bounds every stuck chat
STUCK_TIMEOUT = 1.0  # a cell whose only fault is a stuck chat has no retries to wait for: its other chats take 50 ms


def timeout_for(kind):
    return STUCK_TIMEOUT if kind == "stuck" else TIMEOUT


def load_dist():
    module = load_dist_quiet("coze_faults")
    module.DEFAULT_RETRY = module.RetryPolicy(backoff_base=0.05, backoff_cap=0.2, retry_after_cap=0.2)
    module.POLL_PACE = 0.1  # the simulator's chats take 50 ms, not seconds
    return module


def faults_for(kind, rate):
    if kind == "mixed":
        return dict((k, rate / len(KINDS)) for k in KINDS)
    return {kind: rate}


def run_asks(coze, sim, questions, stream, timeout):
    answered = right = wrong = 0
    wrong_examples = []
    for question in questions:
        try:
            answer = coze.ask(question, bot_id=BOT, token=TOKEN, base_url=sim.url, timeout=timeout, stream=stream)
            if question in answer:
                answered += 1
            else:
                wrong += 1
                wrong_examples.append("wrong answer")
        except coze.CozeError as err:
            if type(err).__name__ in EXPECTED_ERROR.values():
                right += 1
            else:
                wrong += 1
                wrong_examples.append("%s: %s" % (type(err).__name__, err))
    return answered, right, wrong, wrong_examples


def run_batch(coze, sim, questions, timeout):
    folder = tempfile.mkdtemp(prefix="coze_faults_")
    path = os.path.join(folder, "rows.csv")
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["问题"])
        for question in questions:
            writer.writerow([question])
    summary = coze.batch(path, question_column="问题", bot_id=BOT, token=TOKEN, base_url=sim.url,
                         concurrency=2, timeout=timeout)
    with open(summary["output_path"], encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    answered = sum(1 for row in rows if row.get("状态") == "成功" and row["问题"] in row.get("回答", ""))
    failed = [row for row in rows if row.get("状态") == "失败"]
    right = sum(1 for row in failed if any(word in row.get("错误", "") for word in ("5000", "超时")))
    wrong = len(rows) - answered - right
    examples = [row.get("错误", "") for row in failed if not any(w in row.get("错误", "") for w in ("5000", "超时"))]
    return answered, right, wrong, examples, summary["asked_again"]


def run_cell(coze, kind, mode, count, rate, seed=7):
    """One row of the matrix."""
    timeout = timeout_for(kind)
    with Simulator(latency=0.05, faults=faults_for(kind, rate), seed=seed, stuck_cap=timeout + 3) as sim:
        questions = ["%s-%s-问题%03d" % (kind, mode, i) for i in range(count)]
        started = time.monotonic()
        if mode == "batch":
            answered, right, wrong, examples, asked_again = run_batch(coze, sim, questions, timeout)
        else:
            answered, right, wrong, examples = run_asks(coze, sim, questions, mode == "ask (stream)", timeout)
            asked_again = 0
        stats = sim.stats()
        return {"kind": kind, "mode": mode, "questions": count, "answered": answered, "right_error": right,
                "wrong": wrong, "examples": examples[:3], "faults": sum(stats["faults"].values()),
                "chats_created": stats["chats_created"], "chats_cancelled": stats["chats_cancelled"],
                "asked_again": asked_again,
                "seconds": round(time.monotonic() - started, 1)}


def expected_ok(row):
    """A row passes when nothing ended wrong and no fault cost an extra paid chat, except the ones a batch
    counts as asked again (a chat failed on Coze's side, chat_retries)."""
    answered_or_right = row["answered"] + row["right_error"] == row["questions"] and row["wrong"] == 0
    no_extra_chats = row["chats_created"] <= row["questions"] + row.get("asked_again", 0)
    return answered_or_right and no_extra_chats


def run_matrix(count=10, rate=0.2, kinds=None, modes=None):
    coze = load_dist()
    rows = []
    for kind in (kinds or KINDS + ["mixed"]):
        for mode in (modes or MODES):
            rows.append(run_cell(coze, kind, mode, count, rate))
    return rows


def markdown(rows, count, rate):
    lines = ["| fault | path | questions | answered | ended in the right error | wrong | faults injected | chats created | extra paid chats | stuck chats cancelled |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |" % (
            row["kind"], row["mode"], row["questions"], row["answered"], row["right_error"], row["wrong"],
            row["faults"], row["chats_created"], max(0, row["chats_created"] - row["questions"]), row["chats_cancelled"]))
    return "\n".join(lines)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    table = run_matrix(n)
    print(markdown(table, n, 0.2))

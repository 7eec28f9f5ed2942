"""The journal's group commit: rows finishing together share one fsync, and still no append
returns before its own record is durable (the batch writes an answer to the table only then)."""
import json
import os
import threading
import time

from yingdao_module.journal import Journal


def durable_lines_tracker(monkeypatch, path, fail_calls=()):
    """os.fsync replaced: records the journal's lines that each fsync made durable (slowly, so
    appends pile up behind it); the fsync calls numbered in fail_calls fail as a full disk."""
    real_fsync, state = os.fsync, {"calls": 0, "durable": set()}
    lock = threading.Lock()

    def fsync(fd):
        with lock:
            state["calls"] += 1
            number = state["calls"]
        time.sleep(0.005)
        if number in fail_calls:
            raise OSError(28, "No space left on device")
        real_fsync(fd)
        with open(path, "rb") as handle:
            lines = handle.read().decode("utf-8").splitlines()
        with lock:
            state["durable"].update(lines)
    monkeypatch.setattr(os, "fsync", fsync)
    return state


def test_concurrent_appends_share_fsyncs_and_each_returns_durable(tmp_path, monkeypatch):
    path = str(tmp_path / "out.csv.journal.jsonl")
    state = durable_lines_tracker(monkeypatch, path)
    journal = Journal(path, {"input": "in.csv"})
    not_durable = []

    def worker(start):
        for number in range(start, start + 20):
            record = {"row": number, "status": "成功", "answer": "回答 %d" % number}
            journal.append(record)
            if json.dumps(record, ensure_ascii=False) not in state["durable"]:
                not_durable.append(number)
    threads = [threading.Thread(target=worker, args=(1000 * i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    assert not_durable == []
    assert len(journal.load()) == 160
    assert state["calls"] < 160 / 2  # one fsync per record would be 160 (+ the header)


def test_a_failed_fsync_fails_every_record_of_its_group_then_the_journal_works_again(tmp_path, monkeypatch):
    path = str(tmp_path / "out.csv.journal.jsonl")
    durable_lines_tracker(monkeypatch, path, fail_calls=(2,))
    journal = Journal(path, {"input": "in.csv"})
    journal.append({"row": 1, "status": "成功"})  # fsync 1: header and row 1
    outcomes = {}

    def worker(number):
        try:
            journal.append({"row": number, "status": "成功"})
            outcomes[number] = "durable"
        except OSError as err:
            outcomes[number] = err.errno
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [n for n, outcome in outcomes.items() if outcome == 28]
    assert failed and len(outcomes) == 6  # the group of fsync 2 failed, every one of its callers was told
    assert all(outcome in ("durable", 28) for outcome in outcomes.values())
    journal.append({"row": 99, "status": "成功"})  # reopened: works again
    journal.close()
    assert 99 in journal.load()

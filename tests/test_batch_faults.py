"""Batch under faults that are not the network's: a full disk, a torn or foreign journal,
two robots on the same table."""
import json
import os
import subprocess
import sys
import time

import pytest

from helpers import ROOT
from helpers import BOT_ID as BOT, TOKEN
from sheets import products, read_csv, write_csv
from yingdao_module.simulator import Simulator


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url)


def cli(*args):
    return [sys.executable, "-m", "yingdao_module", "batch"] + list(args)


def sim_env(sim):
    return dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)


def journal_rows(path):
    """Row numbers with a complete record of a chat in a journal (a row's conversation alone is not paid)."""
    rows = set()
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = json.loads(line.decode("utf-8"))
            except ValueError:
                continue
            if "row" in record and (record.get("status") or (record.get("pending") or {}).get("chat_id")):
                rows.add(record["row"])
    return rows


# ---- disk full ---------------------------------------------------------------------------------------

FSIZE_LIMITED = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError(EFBIG) instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
from yingdao_module.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_full_disk_stops_at_once_and_resume_pays_only_for_rows_never_saved(tmp_path):
    """RLIMIT_FSIZE makes every file this process writes 'full' at 4 KB: the run must stop
    paying at once, say so in Chinese, exit non-zero, and the next run (disk freed) must not
    pay again for a row whose answer reached the journal."""
    rows, concurrency = 40, 2
    source = write_csv(tmp_path / "in.csv", products(rows))
    journal = str(tmp_path / "in_coze.csv.journal.jsonl")
    with Simulator(latency=0.05) as sim:
        env = sim_env(sim)
        full = subprocess.run([sys.executable, "-c", FSIZE_LIMITED, "4096"] +
                              ["batch", source, "--question-column", "商品名", "--concurrency", str(concurrency)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert "磁盘已满" in full.stderr and "重跑同一命令" in full.stderr
        paid, saved = sim.stats()["chats_created"], journal_rows(journal)
        assert 0 < len(saved) < rows
        assert paid <= len(saved) + concurrency  # no new chat after the first failed write
        resumed = subprocess.run(cli(source, "--question-column", "商品名"), cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        # nothing paid twice: a chat whose id never reached the journal is found in the row's conversation,
        # journaled before the chat was sent
        assert sim.stats()["chats_created"] == rows
        out = read_csv(str(tmp_path / "in_coze.csv"))
        assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in out) and len(out) == rows


def test_answers_the_disk_refused_are_written_when_it_has_room_again(coze, sim, kw, tmp_path, monkeypatch,
                                                                      quiet_log):
    """The disk fills after 5 rows and has room again by the end of the run: every answer
    already paid for reaches the journal, so resuming pays for no row twice."""
    rows = 20
    source = write_csv(tmp_path / "in.csv", products(rows))
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if 6 < len(calls) <= 9:  # header + 5 rows fit, then three writes fail
            raise OSError(28, "No space left on device")
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    stopped = coze.batch(source, question_column="商品名", concurrency=2, **kw)
    assert "磁盘已满" in stopped["stopped_reason"] and "重跑同一命令" in stopped["stopped_reason"]
    paid = sim.stats()["chats_created"]
    assert paid <= 5 + 1 + 2  # the failing row, the rows in flight, then nothing new
    assert len(journal_rows(stopped["output_path"] + ".journal.jsonl")) == paid  # every paid answer was kept
    monkeypatch.setattr(os, "fsync", real_fsync)
    finished = coze.batch(source, question_column="商品名", **kw)
    assert finished["done"] == rows - paid and not finished["stopped_reason"]
    assert sim.stats()["chats_created"] == rows  # nothing paid twice


# ---- torn or foreign journal -----------------------------------------------------------------------

def test_journal_torn_inside_a_character_or_with_stray_bytes_resumes(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(8))
    first = coze.batch(source, question_column="商品名", max_rows=6, **kw)
    journal = first["output_path"] + ".journal.jsonl"
    with open(journal, "rb") as handle:
        lines = handle.read().splitlines(True)
    # a finished row's line gets stray bytes, and a crash cuts the last line (a finished row) inside a 3-byte character
    finished = [i for i, line in enumerate(lines) if b'"status"' in line]
    lines[finished[1]] = b"\x00\x00\xff\xfe" + lines[finished[1]]
    cut = lines[-1].index("商".encode("utf-8")) + 1
    with open(journal, "wb") as handle:
        handle.write(b"".join(lines[:-1]) + lines[-1][:cut])
    created = sim.stats()["chats_created"]
    again = coze.batch(source, question_column="商品名", **kw)
    assert again["done"] == 4 and again["skipped"] == 4  # 2 torn rows + 2 never asked
    # the torn rows' chats were noted when created: they are recovered, not paid again
    assert sim.stats()["chats_created"] == created + 2
    assert any("不完整" in line for line in quiet_log)
    rows = read_csv(again["output_path"])
    assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in rows)


@pytest.mark.parametrize("change,label", [
    (dict(prompt="换个说法:{商品名}"), "提问模板"),
    (dict(bot_id="7000000000000000002"), "bot_id"),
    ("other input", "输入表格"),
])
def test_a_journal_from_another_prompt_bot_or_input_is_refused_until_restart(coze, sim, kw, tmp_path, change, label,
                                                                             quiet_log):
    source = write_csv(tmp_path / "in.csv", products(4))
    output = str(tmp_path / "out.csv")
    first = coze.batch(source, prompt="介绍{商品名}", output_path=output, **kw)
    assert first["done"] == 4
    args = dict(kw, prompt="介绍{商品名}", output_path=output)
    if change == "other input":
        source = write_csv(tmp_path / "in2.csv", products(4))
    else:
        args.update(change)
    created = sim.stats()["chats_created"]
    with pytest.raises(coze.InputError) as info:
        coze.batch(source, **args)
    assert label in str(info.value) and "restart" in str(info.value) and "output_path" in str(info.value)
    assert sim.stats()["chats_created"] == created
    restarted = coze.batch(source, restart="是", **args)
    assert restarted["done"] == 4 and restarted["skipped"] == 0
    assert any(name.startswith("out.csv.journal.jsonl.") and name.endswith(".old") for name in os.listdir(str(tmp_path)))


# ---- two runs on one table -----------------------------------------------------------------------------

def start_and_wait_for_a_chat(sim, command, env):
    """A batch process that has started paying (its lock is held)."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while sim.stats()["chats_created"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def test_a_second_run_on_the_same_output_stops_at_once_naming_the_first(tmp_path):
    rows = 16
    source = write_csv(tmp_path / "in.csv", products(rows))
    with Simulator(latency=0.25) as sim:
        env = sim_env(sim)
        command = cli(source, "--question-column", "商品名", "--concurrency", "2")
        first = start_and_wait_for_a_chat(sim, command, env)
        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert first.poll() is None  # the second gave up while the first was still running
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert "另一个批处理" in second.stderr and "进程 %d" % first.pid in second.stderr and "--wait" in second.stderr
        assert first.wait(timeout=60) == 0
        assert sim.stats()["chats_created"] == rows  # not 2 × rows


def test_a_second_run_with_wait_queues_and_pays_for_nothing_the_first_did(tmp_path):
    rows = 12
    source = write_csv(tmp_path / "in.csv", products(rows))
    with Simulator(latency=0.25) as sim:
        env = sim_env(sim)
        command = cli(source, "--question-column", "商品名", "--concurrency", "2")
        first = start_and_wait_for_a_chat(sim, command, env)
        second = subprocess.run(command + ["--wait"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        assert first.wait(timeout=60) == 0
        assert second.returncode == 0, second.stderr
        assert "等它结束" in second.stderr
        summary = json.loads(second.stdout.strip().splitlines()[-1])
        assert summary["skipped"] == rows and summary["done"] == 0
        assert sim.stats()["chats_created"] == rows

"""Batch rows start with their own conversation, journaled before the chat is sent: a chat lost before
its created event (cutcreate) is found there and paid once; a run stopped between the conversation and
the chat asks once, in that conversation, on resume; a chat the stopped run did create is recovered
from there; a conversation holding another question's chat fails its row with a note, never paid twice."""
import json
import os
import shutil
import subprocess

import pytest

from helpers import BOT_ID as BOT, DIST, TOKEN, find_python
from sheets import products, read_csv, write_csv
from yingdao_module.simulator import Simulator


def journal_of(summary):
    with open(summary["output_path"] + ".journal.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_cut_before_created_in_a_batch_pays_once_per_row(coze, backend, tmp_path, quiet_log):
    rows = 6
    source = write_csv(tmp_path / "in.csv", products(rows))
    with Simulator(latency=0.05) as sim:
        sim.inject("cutcreate", count=3, path="/v3/chat")
        summary = coze.batch(source, question_column="商品名", concurrency=3, bot_id=BOT, token=TOKEN,
                             base_url=sim.url)
        stats = sim.stats()
    out = read_csv(summary["output_path"])
    assert summary["done"] == rows and all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in out)
    assert stats["faults"]["cutcreate"] == 3 and stats["chats_created"] == rows
    assert stats["requests"]["/v1/conversation/create"] == rows
    assert stats["requests"]["/v1/conversation/message/list"] == 3  # one look per lost chat
    noted = [r for r in journal_of(summary) if "pending" in r]
    assert sorted(r["row"] for r in noted if set(r["pending"]) == {"conversation_id"}) == list(range(2, rows + 2))


def stopped_before_the_chat(coze, tmp_path, sim, rows=3):
    """A run stopped (4015, fatal) after row 2's conversation was journaled and before any chat."""
    source = write_csv(tmp_path / "in.csv", products(rows))
    kw = dict(question_column="商品名", concurrency=1, bot_id=BOT, token=TOKEN, base_url=sim.url)
    sim.set(unpublished={BOT})
    stopped = coze.batch(source, **kw)
    sim.set(unpublished=set())
    pending = [r["pending"] for r in journal_of(stopped) if "pending" in r]
    assert stopped["done"] == 0 and sim.stats()["chats_created"] == 0 and len(pending) == 1
    return source, kw, pending[0]["conversation_id"]


def test_stopped_between_conversation_and_chat_asks_once_in_that_conversation(coze, tmp_path, quiet_log):
    with Simulator(latency=0.02) as sim:
        source, kw, conversation = stopped_before_the_chat(coze, tmp_path, sim)
        finished = coze.batch(source, **kw)
        stats = sim.stats()
    out = read_csv(finished["output_path"])
    assert finished["done"] == 3 and stats["chats_created"] == 3
    assert stats["requests"]["/v1/conversation/create"] == 3  # row 2 kept its conversation
    assert stats["requests"]["/v1/conversation/message/list"] == 1
    assert "此前已有 0 轮" in out[0]["回答"] and "商品000" in out[0]["回答"]


def test_a_chat_the_stopped_run_created_is_recovered_not_asked_again(coze, tmp_path, quiet_log):
    with Simulator(latency=0.02) as sim:
        source, kw, conversation = stopped_before_the_chat(coze, tmp_path, sim)
        # what a run killed after sending row 2's chat and before hearing of it leaves behind
        paid = coze.chat("商品000", conversation_id=conversation, bot_id=BOT, token=TOKEN, base_url=sim.url)
        finished = coze.batch(source, **kw)
        stats = sim.stats()
    out = read_csv(finished["output_path"])
    assert finished["done"] == 3 and stats["chats_created"] == 3  # row 2's chat was not paid again
    assert out[0]["chat_id"] == paid["chat_id"] and out[0]["回答"] == paid["answer"]


def test_a_conversation_holding_another_question_fails_its_row(coze, tmp_path, quiet_log):
    with Simulator(latency=0.02) as sim:
        source, kw, conversation = stopped_before_the_chat(coze, tmp_path, sim)
        coze.chat("别人的问题", conversation_id=conversation, bot_id=BOT, token=TOKEN, base_url=sim.url)
        finished = coze.batch(source, **kw)
        stats = sim.stats()
    out = read_csv(finished["output_path"])
    assert finished["done"] == 2 and finished["failed"] == 1 and stats["chats_created"] == 1 + 2
    assert out[0]["状态"] == "失败" and "认不出" in out[0]["错误"] and "--retry-failed" in out[0]["错误"]


def test_single_file_on_python37_pays_once_for_chats_cut_before_created(tmp_path):
    """dist/coze.py alone on Python 3.7, as a command line: a batch with two chats cut before their
    created event pays every chat once."""
    python = find_python("3.7")
    if not python:
        pytest.skip("这台机器没有 Python 3.7")
    shutil.copy(DIST, str(tmp_path / "coze.py"))
    write_csv(tmp_path / "in.csv", products(4))
    with Simulator(latency=0.05) as sim:
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("COZE_") and k != "PYTHONPATH")
        env.update(COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
        sim.inject("cutcreate", count=2, path="/v3/chat")
        out = subprocess.run([python, "coze.py", "batch", "in.csv", "--question-column", "商品名"], cwd=str(tmp_path),
                             env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
        assert out.returncode == 0, out.stderr
        stats = sim.stats()
    summary = json.loads(out.stdout)
    assert summary["done"] == 4 and stats["chats_created"] == 4 and stats["faults"]["cutcreate"] == 2
    assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in read_csv(summary["output_path"]))

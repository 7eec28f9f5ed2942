"""The resume command runs as printed: a batch against the simulator is interrupted, the
command it printed is run through a shell, and the run continues on the same server with the
same options (no row asked twice); hostile file names and prompts run nothing. The journal
binds the server, so the offline demo never writes into a real run. The line at the start of
a resumed run counts earlier successes and failures apart."""
import json
import os
import subprocess
import sys

import pytest

from helpers import BOT_ID as BOT, ROOT, TOKEN, interrupt_batch
from sheets import products, read_csv, write_csv
from yingdao_module.simulator import Simulator

POSIX_PREFIX = "终端(bash / zsh):"


def cli_env(tmp_path, **extra):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("COZE_"))
    env.update(COZE_STATE_DIR=str(tmp_path / "state"), PATH=os.path.dirname(sys.executable) + os.pathsep + env["PATH"])
    env.update(extra)
    return env


def printed_command(text):
    lines = [line[len(POSIX_PREFIX):] for line in text.splitlines() if line.startswith(POSIX_PREFIX)]
    assert lines, text
    return lines[-1]


@pytest.mark.skipif(sys.platform.startswith("win"), reason="runs the POSIX command through bash")
def test_the_printed_command_resumes_the_same_run_on_the_same_server(tmp_path):
    rows = 24
    folder = tmp_path / "报表 $(touch PWNED) 'q'"
    folder.mkdir()
    source = write_csv(folder / "商品 `touch PWNED` %PATH%.csv", products(rows))
    prompt = '为"{商品名}"写广告 $(touch PWNED); echo PWNED > x | `id` %PATH% it\'s'
    with Simulator(latency=0.3) as sim:
        # bot, server and options are typed only here: the printed command must carry them
        command = [sys.executable, "-m", "yingdao_module", "batch", source, "--prompt", prompt, "--bot-id", BOT,
                   "--base-url", sim.url, "--concurrency", "3", "--qps", "40", "--answer-column", "广告"]
        env = cli_env(tmp_path, COZE_API_TOKEN=TOKEN)
        returncode, out, err = interrupt_batch(command, env, sim)
        assert returncode == 130 and "Traceback" not in err, err
        interrupted_at = sim.stats()["chats_created"]
        assert interrupted_at < rows
        line = printed_command(err)
        assert TOKEN not in err and "COZE_API_TOKEN" in err
        for word in ("--bot-id", sim.url, "--concurrency 3", "--qps 40", "--answer-column"):
            assert word in line, (word, line)
        resumed = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        assert sim.stats()["chats_created"] == rows  # every row asked exactly once over both runs
        assert "续跑" in resumed.stderr and "已在之前完成" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["done"] + summary["earlier_done"] == rows and summary["resume_command"] == ""
    answers = read_csv(summary["output_path"])
    assert [r["状态"] for r in answers] == ["成功"] * rows
    assert '为"商品000"写广告 $(touch PWNED)' in answers[0]["广告"]  # the prompt arrived as typed
    assert not any(path.name == "PWNED" for path in tmp_path.rglob("*")) and not os.path.exists(os.path.join(ROOT, "PWNED"))


def test_a_run_on_another_server_is_refused_before_anything_is_written(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(4))
    summary = coze.batch(source, question_column="商品名", bot_id=BOT, token=TOKEN, base_url=sim.url, max_rows=2)
    journal = summary["output_path"] + ".journal.jsonl"
    before = [open(path, "rb").read() for path in (journal, summary["output_path"])]
    with pytest.raises(coze.InputError) as caught:
        coze.batch(source, question_column="商品名", bot_id=BOT, token=TOKEN, base_url="https://api.coze.cn")
    message = str(caught.value)
    assert "服务器" in message and "https://api.coze.cn" in message and "restart" in message
    assert [open(path, "rb").read() for path in (journal, summary["output_path"])] == before
    assert sim.stats()["chats_created"] == 2


def test_the_offline_demo_never_writes_into_a_real_run(tmp_path):
    source = write_csv(tmp_path / "in.csv", products(3))
    with Simulator(latency=0.01) as sim:
        real = subprocess.run([sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名",
                               "--bot-id", BOT, "--base-url", sim.url, "--max-rows", "1"],
                              cwd=ROOT, env=cli_env(tmp_path, COZE_API_TOKEN=TOKEN), capture_output=True, text=True,
                              timeout=60)
        assert real.returncode == 0, real.stderr
    output = json.loads(real.stdout)["output_path"]
    before = [open(path, "rb").read() for path in (output, output + ".journal.jsonl")]
    demo = subprocess.run([sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名"],
                          cwd=ROOT, env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert demo.returncode != 0 and "Traceback" not in demo.stderr
    assert "离线演示" in demo.stderr and "服务器" in demo.stderr and "COZE_API_TOKEN" in demo.stderr, demo.stderr
    assert [open(path, "rb").read() for path in (output, output + ".journal.jsonl")] == before


def test_the_resumed_run_counts_earlier_successes_and_failures_apart(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(5))
    kw = dict(question_column="商品名", bot_id=BOT, token=TOKEN, base_url=sim.url)
    summary = coze.batch(source, **kw)
    journal = summary["output_path"] + ".journal.jsonl"
    with open(journal, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if '"row"' in line]
    with open(journal, "a", encoding="utf-8") as handle:  # rows 3 and 4 failed in that run
        for record in records:
            if record["row"] in (3, 4) and record.get("status"):
                handle.write(json.dumps(dict(record, status="失败", error="模拟失败", answer=""), ensure_ascii=False) + "\n")
    del quiet_log[:]
    again = coze.batch(source, **kw)
    assert again["earlier_done"] == 3 and again["earlier_failed"] == 2 and again["done"] == 0
    assert any("3 行已在之前完成" in line for line in quiet_log), quiet_log
    assert any("2 行之前失败" in line and "--retry-failed" in line for line in quiet_log), quiet_log
    assert "--retry-failed" in again["resume_command"] and TOKEN not in again["resume_command"]
    assert sim.stats()["chats_created"] == 5

"""dist/coze.py as a command line: copied alone into an empty folder and run with Python 3.7 and
the current Python against the simulator; errors name flags, workflow --json fails as JSON."""
import csv
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from helpers import BOT_ID, DIST, find_python

PYTHONS = [pytest.param(sys.executable, id="current"), pytest.param("3.7", id="py3.7")]


def interpreter(python):
    found = python if os.path.isabs(python) else find_python(python)
    if not found:
        pytest.skip("这台机器没有 Python %s" % python)
    return found


def run_single_file(folder, python, *args, sim=None, timeout=120):
    """python coze.py ARGS in `folder`, which holds nothing but a copy of dist/coze.py."""
    shutil.copy(DIST, str(folder / "coze.py"))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("COZE_") and k != "PYTHONPATH")
    if sim is not None:
        env.update(COZE_API_TOKEN="pat_any", COZE_BOT_ID=BOT_ID, COZE_API_BASE=sim.url)
    return subprocess.run([python, "coze.py"] + list(args), cwd=str(folder), env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)


@pytest.mark.parametrize("python", PYTHONS)
def test_single_file_asks_from_an_empty_folder(tmp_path, sim, python):
    out = run_single_file(tmp_path, interpreter(python), "ask", "单文件你好", sim=sim)
    assert out.returncode == 0, out.stderr
    assert "单文件你好" in out.stdout and "离线演示" not in out.stderr
    assert sim.stats()["chats_created"] == 1


@pytest.mark.parametrize("python", PYTHONS)
def test_single_file_runs_a_batch_from_an_empty_folder(tmp_path, sim, python):
    with open(str(tmp_path / "商品.csv"), "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["商品名"], ["杯子"], ["雨伞"]])
    out = run_single_file(tmp_path, interpreter(python), "batch", "商品.csv", "--prompt", "为{商品名}写广告", sim=sim)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["done"] == 2 and summary["failed"] == 0 and not summary.get("demo")
    with open(summary["output_path"], encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert "为杯子写广告" in rows[1][1] and "为雨伞写广告" in rows[2][1]


def test_single_file_without_a_token_says_how_in_chinese(tmp_path):
    out = run_single_file(tmp_path, interpreter(sys.executable), "ask", "你好")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "没有配置扣子令牌" in out.stderr and "--token" in out.stderr and "python -m yingdao_module" in out.stderr


def test_single_file_help_names_itself(tmp_path):
    out = run_single_file(tmp_path, interpreter(sys.executable), "batch", "-h")
    assert out.returncode == 0 and "用法:python coze.py batch" in out.stdout and "--prompt" in out.stdout


def test_workflow_errors_name_flags_and_json_fails_as_json(tmp_path):
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.02, question_workflows=["7401"], async_workflows=False) as sim:
        out = run_single_file(tmp_path, interpreter(sys.executable), "workflow", "7401", "--json", sim=sim)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        failure = json.loads(out.stdout)  # like ask --json: the error as JSON on stdout
        assert "--answer" in failure["error"] and "answers" not in failure["error"]
        out = run_single_file(tmp_path, interpreter(sys.executable), "workflow", "7402", "--async", sim=sim)
        assert out.returncode == 1 and "6003" in out.stderr
        assert "--async" in out.stderr and "is_async" not in out.stderr
        out = run_single_file(tmp_path, interpreter(sys.executable), "batch", "x.csv", "--prompt", "{a}", "--output",
                              str(tmp_path / "没有这个文件夹" / "out.csv"), sim=sim)
        assert sim.stats()["chats_created"] == 0
    assert out.returncode == 1 and "--output" in out.stderr and "output_path" not in out.stderr


def test_single_file_prints_a_resume_command_for_itself(tmp_path, sim):
    with open(str(tmp_path / "商品.csv"), "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["商品名"], ["杯子"], ["雨伞"]])
    sim.inject("fail", count=1, path="/v3/chat")
    out = run_single_file(tmp_path, interpreter(sys.executable), "batch", "商品.csv", "--question-column", "商品名",
                          "--concurrency", "1", "--chat-retries", "0", sim=sim)
    summary = json.loads(out.stdout)
    assert summary["failed"] == 1 and summary["asked_again"] == 0
    command = summary["resume_command"]
    script = shlex.quote(os.path.realpath(str(tmp_path / "coze.py")))
    assert ("python %s batch " % script) in command and "yingdao_module" not in command, command
    assert "--chat-retries 0" in command and "--retry-failed" in command
    line = next(text.split(":", 1)[1] for text in command.splitlines() if (":python %s batch" % script) in text)
    elsewhere = tmp_path / "别的文件夹"  # the printed command names the script by its full path: it runs from anywhere
    elsewhere.mkdir()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("COZE_") and k != "PYTHONPATH")
    env.update(COZE_API_TOKEN="pat_any", COZE_API_BASE=sim.url)
    again = subprocess.run(["bash", "-c", line.replace("python ", sys.executable + " ", 1)], cwd=str(elsewhere),
                           env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["done"] == 1 and sim.stats()["chats_created"] == 3  # only the failed row again

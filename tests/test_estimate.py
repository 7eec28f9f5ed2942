"""estimate=True / --estimate: a few sample rows spread over the table are asked (journaled, so
the real run never pays for them again), and the projection for the rest is printed, returned
and written to the report."""
import json
import os
import subprocess

import pytest

from helpers import BOT_ID as BOT, DIST, TOKEN, find_python
from sheets import products, read_csv, write_csv


def test_samples_are_spread_paid_once_and_projected(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(30))
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, question_column="商品名")
    summary = coze.batch(source, estimate=True, qps=2, **kw)
    assert sim.stats()["chats_created"] == 3
    figures = summary["estimate"]
    rows = read_csv(summary["output_path"])
    answered = [r["商品名"] for r in rows if r["状态"] == "成功"]
    assert answered == ["商品000", "商品015", "商品029"] or answered == ["商品000", "商品014", "商品029"]
    per_row = summary["tokens"] / 3.0
    assert figures["rows_left"] == 27 and figures["chats"] == 27
    assert abs(figures["tokens"] - per_row * 27) <= 1
    assert 27 / 2.0 <= figures["seconds"] <= 27 / 1.9  # at qps 2 (the limiter's margin), not at the simulator's speed
    assert "--estimate" not in summary["resume_command"] and summary["resume_command"]
    assert any("估算" in line and "27 次对话" in line for line in quiet_log)
    with open(summary["report_path"], encoding="utf-8") as handle:
        assert "估算" in handle.read()
    real = coze.batch(source, qps=50, **kw)
    assert real["chats"] == 27 and real["earlier_done"] == 3 and sim.stats()["chats_created"] == 30


def test_estimate_and_review_together_are_refused_before_any_call(coze, sim, tmp_path):
    with pytest.raises(coze.InputError, match="estimate"):
        coze.batch(write_csv(tmp_path / "in.csv", products(3)), bot_id=BOT, token=TOKEN, base_url=sim.url,
                   question_column="商品名", estimate=True, review=True)
    assert sim.stats()["chats_created"] == 0


def test_the_single_file_estimates_on_python_37(sim, tmp_path):
    python = find_python("3.7")
    if python is None:
        pytest.skip("no Python 3.7 here")
    source = write_csv(tmp_path / "in.csv", products(12))
    env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
    done = subprocess.run([python, DIST, "batch", source, "--question-column", "商品名", "--estimate", "4"],
                          env=env, capture_output=True, timeout=120)
    err = done.stderr.decode("utf-8")
    assert done.returncode == 0 and "Traceback" not in err, err
    summary = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    assert summary["estimate"]["samples"] == 4 and summary["estimate"]["rows_left"] == 8
    assert sim.stats()["chats_created"] == 4 and "正式运行" in err

"""Batch against the simulator: row↔answer mapping under concurrency, encodings, errors
before any call, resume, retry-failed, fatal stop, locked output, JSON columns, dedupe,
shards and merge, Ctrl-C (the SIGKILL test is in test_batch_writeback.py)."""
import json
import os
import subprocess
import sys

import pytest

from helpers import BOT_ID as BOT, ROOT, TOKEN, interrupt_batch, load_dist_quiet
from sheets import products, read_csv, write_csv
from yingdao_module.simulator import Simulator


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url)


def test_answers_land_in_their_own_rows_under_concurrency(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(40))
    summary = coze.batch(source, prompt="为{商品名}(价格{价格})写广告", concurrency=6, **kw)
    rows = read_csv(summary["output_path"])
    assert [r["商品名"] for r in rows] == ["商品%03d" % i for i in range(40)]
    for row in rows:
        assert "为%s(价格%s)写广告" % (row["商品名"], row["价格"]) in row["回答"] and row["状态"] == "成功"
        assert int(row["tokens"]) > 0 and row["chat_id"]
    assert summary["done"] == 40 and summary["failed"] == 0 and summary["tokens"] > 0
    assert sim.stats()["chats_created"] == 40
    assert summary["output_path"].endswith("in_coze.csv")
    assert any(line.startswith("进度") for line in quiet_log) and any("批处理结束" in line for line in quiet_log)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_csv_encodings_are_detected(coze, sim, kw, tmp_path, encoding, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["问题"], ["甲乙丙丁的价格是多少"], ["繁體字與標點:「」"]], encoding)
    summary = coze.batch(source, **kw)
    rows = read_csv(summary["output_path"], "gb18030" if encoding == "gbk" else "utf-8-sig")  # the input's encoding
    assert "甲乙丙丁的价格是多少" in rows[0]["回答"] and "繁體字與標點:「」" in rows[1]["回答"]


def test_xlsx_in_and_out(coze, sim, kw, tmp_path, quiet_log):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["编号", "问题"])
    book.active.append([1, "表格问题一"])
    book.active.append([2, "表格问题二"])
    source = str(tmp_path / "in.xlsx")
    book.save(source)
    summary = coze.batch(source, question_column="问题", **kw)
    out = openpyxl.load_workbook(summary["output_path"]).active
    values = [[c.value for c in row] for row in out.iter_rows()]
    assert values[0][:4] == ["编号", "问题", "回答", "状态"]
    assert "表格问题二" in values[2][2] and values[2][0] in (2, "2")
    assert os.path.getsize(source) > 0 and summary["output_path"] != source


@pytest.mark.parametrize("call,phrase", [
    (dict(prompt="为{商品}写广告"), "商品名、价格"),
    (dict(question_column="标题"), "没有「标题」这一列"),
    (dict(prompt="没有占位符"), "{列名}"),
    (dict(shard="0/3"), "1/3"),
    (dict(shard="4/3"), "1/3"),
    (dict(concurrency="abc"), "concurrency"),
    (dict(qps=-1), "qps"),
    (dict(output_path="no_such_folder/out.csv"), "输出文件夹不存在"),
])
def test_mistakes_stop_before_any_call(coze, sim, kw, tmp_path, call, phrase):
    source = write_csv(tmp_path / "in.csv", products(3))
    args = dict(kw) if "question_column" in call else dict(kw, prompt="为{商品名}写广告")
    args.update(call)
    with pytest.raises(coze.InputError) as info:
        coze.batch(source, **args)
    assert phrase in str(info.value)
    assert sum(sim.stats()["requests"].values()) == 0
    assert sorted(os.listdir(str(tmp_path))) == ["in.csv"]  # nothing partial written


def test_empty_and_duplicate_headers_are_refused(coze, sim, kw, tmp_path):
    with pytest.raises(coze.InputError, match="空的"):
        coze.batch(write_csv(tmp_path / "empty.csv", []), **kw)
    with pytest.raises(coze.InputError, match="重复的列名"):
        coze.batch(write_csv(tmp_path / "dup.csv", [["问题", "问题"], ["a", "b"]]), **kw)
    with pytest.raises(coze.InputError, match="找不到表格文件"):
        coze.batch(str(tmp_path / "nope.csv"), **kw)


def test_resume_skips_finished_rows_and_retry_failed_retries(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(6))
    sim.inject("fail", count=2, path="/v3/chat")
    first = coze.batch(source, question_column="商品名", concurrency=1, chat_retries=0, **kw)  # failures stay
    assert (first["done"], first["failed"]) == (4, 2)
    created = sim.stats()["chats_created"]
    again = coze.batch(source, question_column="商品名", **kw)
    assert again["skipped"] == 6 and again["done"] == 0 and sim.stats()["chats_created"] == created  # nothing re-paid
    retried = coze.batch(source, question_column="商品名", retry_failed=True, **kw)
    assert retried["done"] == 2 and sim.stats()["chats_created"] == created + 2
    rows = read_csv(retried["output_path"])
    assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in rows)


def test_fatal_error_stops_saves_and_resumes(coze, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(12))
    with Simulator(latency=0.02, quota=5) as sim:
        kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url)
        stopped = coze.batch(source, question_column="商品名", concurrency=1, **kw)
        assert "额度" in stopped["stopped_reason"] and "重跑" in stopped["stopped_reason"]
        assert stopped["done"] == 5
        created = sim.stats()["chats_created"]
        assert created == 6  # the 6th chat told us the quota was gone; no 7th was started
        rows = read_csv(stopped["output_path"])
        assert len(rows) == 12 and sum(r["状态"] == "成功" for r in rows) == 5  # everything paid for is saved
        sim.set(quota=None)
        finished = coze.batch(source, question_column="商品名", concurrency=3, **kw)
        assert finished["done"] == 7 and finished["skipped"] == 5 and not finished["stopped_reason"]
        assert sim.stats()["chats_created"] == created + 7


def test_bad_token_stops_at_once(coze, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(20))
    with Simulator(latency=0.02, token="pat_right") as sim:
        summary = coze.batch(source, question_column="商品名", bot_id=BOT, token="pat_wrong", base_url=sim.url,
                             concurrency=2)
        assert "令牌无效" in summary["stopped_reason"] and summary["done"] == 0
        assert sim.stats()["requests"].get("/v3/chat", 0) <= 2  # the row's conversation is refused first


def test_locked_output_moves_to_a_new_name(coze, sim, kw, tmp_path, monkeypatch, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(3))
    locked = str(tmp_path / "in_coze.csv")
    real_replace = os.replace

    def replace(src, dst):
        if dst == locked:
            raise PermissionError("open in Excel")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    summary = coze.batch(source, question_column="商品名", **kw)
    assert summary["output_path"] == str(tmp_path / "in_coze_1.csv")
    assert len(read_csv(summary["output_path"])) == 3
    assert any("被占用" in line for line in quiet_log)


def test_json_columns_and_dedupe(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["问题"], ["请给 JSON:苹果"], ["请给 JSON:香蕉"], ["请给 JSON:苹果"]])
    summary = coze.batch(source, json_columns=True, dedupe=True, **kw)
    rows = read_csv(summary["output_path"])
    assert rows[0]["问题"] == "请给 JSON:苹果" and json.loads(rows[0]["长度"]) == len("请给 JSON:苹果")
    assert rows[1]["摘要"] and rows[2]["回答"] == rows[0]["回答"] and rows[2]["状态"] == "成功"
    assert sim.stats()["chats_created"] == 2  # the repeated question was asked once


def test_max_rows_and_max_tokens(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(10))
    dry = coze.batch(source, question_column="商品名", max_rows=3, output_path=str(tmp_path / "dry.csv"), **kw)
    assert dry["total"] == 3 and dry["done"] == 3
    capped = coze.batch(source, question_column="商品名", max_tokens=1, concurrency=1,
                        output_path=str(tmp_path / "cap.csv"), **kw)
    assert capped["done"] == 1 and "max_tokens" in capped["stopped_reason"]


def test_shards_and_merge(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(10))
    outputs = [coze.batch(source, question_column="商品名", shard="%d/3" % k, **kw)["output_path"] for k in (1, 2, 3)]
    assert [len(read_csv(path)) for path in outputs] == [4, 3, 3]
    assert os.path.basename(outputs[1]) == "in_coze.shard2of3.csv"
    merged = coze.merge(outputs)
    rows = read_csv(merged)
    assert [r["商品名"] for r in rows] == ["商品%03d" % i for i in range(10)]
    assert all(r["商品名"] in r["回答"] for r in rows)
    assert sim.stats()["chats_created"] == 10


def test_qps_keeps_under_the_cap(coze, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(9))
    with Simulator(latency=0.02, qps=3) as sim:
        summary = coze.batch(source, question_column="商品名", concurrency=4, qps=3, bot_id=BOT, token=TOKEN,
                             base_url=sim.url)
        assert summary["done"] == 9 and sim.stats()["rate_limited"] == 0


def test_batch_runs_from_dist_inside_a_code_flow_shape(tmp_path, sim):
    """What a ShadowBot 调用模块 call looks like: every value typed as text."""
    coze = load_dist_quiet("coze_batch_dist")
    source = write_csv(tmp_path / "in.csv", products(4))
    summary = coze.batch(source, prompt="介绍{商品名}", concurrency="2", qps="5", max_rows="", retry_failed="否",
                         json_columns="false", dedupe="", timeout="60", bot_id=BOT, token=TOKEN, base_url=sim.url)
    assert summary["done"] == 4 and summary["stopped_reason"] == ""


def test_merge_takes_summaries_and_text_and_warns_about_missing_or_unfinished_shards(coze, sim, kw, tmp_path,
                                                                                      quiet_log):
    source = write_csv(tmp_path / "in.csv", products(9))
    summaries = [coze.batch(source, question_column="商品名", shard="%d/3" % k, **kw) for k in (1, 2, 3)]
    as_text = [json.dumps(summaries[0], ensure_ascii=False), str(summaries[1]), summaries[2]]  # as 调用模块 passes them
    rows = read_csv(coze.merge(as_text))
    assert [r["商品名"] for r in rows] == ["商品%03d" % i for i in range(9)]
    assert not any("合并提醒" in line for line in quiet_log)
    # a missing shard: merged anyway, and said
    merged = coze.merge(json.dumps([summaries[0], summaries[2]], ensure_ascii=False))
    assert len(read_csv(merged)) == 6 and any("缺少分片 2/3" in line for line in quiet_log)
    # an unfinished shard (rows without a status) and a summary that stopped early
    stopped = coze.batch(source, question_column="商品名", shard="2/3", max_tokens=1, concurrency=1,
                         output_path=str(tmp_path / "other.shard2of3.csv"), **kw)
    path, problems = coze.merge_shards([summaries[0]["output_path"], stopped["output_path"], summaries[2]])
    assert any("other.shard2of3.csv 还有 2 行没有处理" in p for p in problems)
    path, problems = coze.merge_shards([summaries[0], stopped, summaries[2]])
    assert any("没有跑完" in p and "max_tokens" in p for p in problems)
    with pytest.raises(coze.InputError, match="传了两次"):
        coze.merge([summaries[0], summaries[0]])


def test_merge_cli_exits_non_zero_when_a_shard_is_missing(sim, tmp_path):
    source = write_csv(tmp_path / "in.csv", products(6))
    env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
    printed = []
    for k in (1, 3):
        done = subprocess.run([sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名",
                               "--shard", "%d/3" % k], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout.strip().splitlines()[-1])  # the summary JSON batch prints
    out = subprocess.run([sys.executable, "-m", "yingdao_module", "merge"] + printed, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "缺少分片 2/3" in out.stderr and "Traceback" not in out.stderr
    assert len(read_csv(out.stdout.strip())) == 4


def test_every_batch_parameter_has_a_chinese_command_line_option():
    import inspect
    import re as regex
    from yingdao_module import batch
    from yingdao_module.cli import build_parser
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in ("batch", "merge"):
        for action in commands[name]._actions:
            if action.dest != "help":
                assert action.help and regex.search(r"[\u4e00-\u9fff]", action.help), (name, action.dest)
    dests = {action.dest for action in commands["batch"]._actions}
    keywords = [p for p in inspect.signature(batch).parameters if not p.startswith("_")]
    assert set(keywords) <= dests


def test_stop_and_progress_lines_are_said_once(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(6))
    summary = coze.batch(source, question_column="商品名", max_tokens=1, concurrency=1, **kw)
    assert "max_tokens" in summary["stopped_reason"]
    assert len(quiet_log) == len(set(quiet_log)), quiet_log
    assert sum(summary["stopped_reason"] in line for line in quiet_log) == 1


def test_ctrl_c_says_what_is_saved_and_how_to_resume(tmp_path):
    rows = 30
    source = write_csv(tmp_path / "in.csv", products(rows))
    with Simulator(latency=0.4) as sim:
        env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
        command = [sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名",
                   "--concurrency", "2"]
        returncode, out, err = interrupt_batch(command, env, sim)
        assert returncode == 130 and "Traceback" not in err, err
        assert "已保存" in err and "重跑同一命令" in err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == len(set(lines)), err
        interrupted_at = sim.stats()["chats_created"]
        assert interrupted_at < rows  # Ctrl-C stopped new rows from starting
        resume = command[:-1] + ["8"]  # the same run, resumed with more workers
        final = subprocess.run(resume, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert sim.stats()["chats_created"] == rows  # rows in flight at Ctrl-C were kept, not paid again


def test_double_braces_in_a_prompt_are_literal_braces(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(2))
    summary = coze.batch(source, prompt='只回 JSON:{{"名称": "{商品名}", "价格": {价格}}}', **kw)
    rows = read_csv(summary["output_path"])
    asked = json.loads(rows[1]["回答"].strip("`").replace("json\n", "", 1))["问题"]  # the simulator echoes it
    assert asked == '只回 JSON:{"名称": "商品001", "价格": 1}'
    with pytest.raises(coze.InputError, match="{{ 和 }}"):  # single braces around JSON: the fix is named
        coze.batch(source, prompt='{商品名}只回 JSON:{"分数": 1}', **kw)


def _csv_turning_gbk(path, header, first):
    """About 110 KB of rows in UTF-8, then rows in GBK: one file, two encodings."""
    with open(str(path), "wb") as handle:
        handle.write((header + "\n").encode("utf-8"))
        for i in range(3000):
            handle.write(("%s%04d\n" % (first, i)).encode("utf-8"))
        handle.write("甲乙丙丁的价格\n".encode("gbk"))
    return str(path)


def test_csv_that_turns_gbk_after_100kb_stops_before_paying_and_names_the_line(coze, sim, kw, tmp_path):
    source = _csv_turning_gbk(tmp_path / "in.csv", "问题", "这一行是 UTF-8 的中文问题,编号")
    assert os.path.getsize(source) > 100 * 1024
    with pytest.raises(coze.InputError, match="第 3002 行不是 UTF-8"):
        coze.batch(source, **kw)
    assert sum(sim.stats()["requests"].values()) == 0


def test_ascii_csv_that_turns_gbk_after_100kb_reads_right(coze, sim, kw, tmp_path, quiet_log):
    source = _csv_turning_gbk(tmp_path / "in.csv", "question", "plain ascii question number ")
    summary = coze.batch(source, max_rows=1, **kw)  # every row is read for the output; only one is asked
    rows = read_csv(summary["output_path"], "gb18030")  # written back in the input's encoding
    assert rows[-1]["question"] == "甲乙丙丁的价格" and len(rows) == 3001

"""Batch v2: answers written back into a copy of the user's own workbook, blank rows free,
checked JSON fields with one repair question, the HTML report, and chats noted at
chat.created so a killed run never pays for them again."""
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from html.parser import HTMLParser

import pytest

from helpers import ROOT
from helpers import BOT_ID as BOT, TOKEN
from sheets import cells_of, products, read_csv, rich_workbook, write_csv
from yingdao_module.simulator import Simulator

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url)


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


class Text(HTMLParser):
    def __init__(self, path):
        HTMLParser.__init__(self)
        self.parts = []
        with open(path, encoding="utf-8") as handle:
            self.feed(handle.read())

    def handle_data(self, data):
        self.parts.append(data)

    @property
    def text(self):
        return "".join(self.parts)


# ---- write-back into the workbook ----------------------------------------------------------

def test_answers_go_into_a_copy_of_the_workbook(coze, sim, kw, tmp_path, quiet_log):
    source = rich_workbook(tmp_path / "商品.xlsx")
    before = digest(source)
    summary = coze.batch(source, prompt="介绍{商品名},价格{价格},上架{上架日期},折扣{折扣}", concurrency=3, **kw)
    assert summary["output_path"] == str(tmp_path / "商品_coze.xlsx") and summary["done"] == 6
    assert digest(source) == before  # the input is byte-identical afterwards
    assert any("使用工作表「商品」" in line for line in quiet_log)

    sheet_part = "xl/worksheets/sheet2.xml"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(summary["output_path"]) as out:
        assert [i.filename for i in out.infolist()] == [i.filename for i in old.infolist()]
        for info in old.infolist():
            assert out.getinfo(info.filename).compress_type == info.compress_type
            if info.filename != sheet_part:  # other sheets, chart, drawing, styles, workbook: byte for byte
                assert out.read(info.filename) == old.read(info.filename), info.filename
        original, copied = cells_of(old.read(sheet_part)), cells_of(out.read(sheet_part))
    assert all(copied[ref] == cell for ref, cell in original.items())

    book = openpyxl.load_workbook(summary["output_path"])
    assert book.sheetnames == ["说明", "商品"] and book["说明"]["A1"].value == "这一页不处理"
    result = book["商品"]
    header = [c.value for c in result[1]]
    assert header == ["商品名", "价格", "上架日期", "小计", "折扣", "回答", "状态", "错误", "tokens", "chat_id", "行号"]
    for row in range(2, 7):
        i = row - 1
        answer = result.cell(row, 6).value
        assert "介绍商品%d,价格%s,上架2026-11-%d" % (i, coze_number(10.5 * i), 20 + i) in answer
        assert result.cell(row, 7).value == "成功" and result.cell(row, 11).value == str(row)
        assert result.cell(row, 2).value == 10.5 * i  # numbers stay numbers, dates stay dates
    assert "折扣15%" in result["F2"].value
    assert result["C2"].value.year == 2026 and result["D2"].value == "=B2*2"
    assert [str(r) for r in result.merged_cells.ranges] == ["A8:B8"] and result["A8"].value == "合计"
    assert "介绍合计" in result["F8"].value  # the merged row is a row like any other
    assert result.column_dimensions["A"].width == 25 and result.column_dimensions["F"].width == 60
    assert result["A1"].font.b and result["B2"].fill.fgColor.rgb.endswith("FFFF00")
    with zipfile.ZipFile(summary["output_path"]) as out:
        assert "xl/charts/chart1.xml" in out.namelist()


def test_shards_of_a_workbook_merge_into_one_copy(coze, sim, kw, tmp_path, quiet_log):
    source = rich_workbook(tmp_path / "商品.xlsx")
    outputs = [coze.batch(source, question_column="商品名", shard="%d/2" % k, **kw)["output_path"] for k in (1, 2)]
    merged = coze.merge(outputs)
    assert merged == str(tmp_path / "商品_coze.xlsx")
    result = openpyxl.load_workbook(merged)["商品"]
    for row in range(2, 9):
        if row == 7:
            continue  # the empty row stays empty
        name = result.cell(row, 1).value
        assert name in result.cell(row, 6).value and result.cell(row, 7).value == "成功"
        assert result.cell(row, 11).value == str(row)
    assert result["F7"].value is None and result["B2"].value == 10.5
    with zipfile.ZipFile(merged) as out, zipfile.ZipFile(source) as old:
        assert out.read("xl/charts/chart1.xml") == old.read("xl/charts/chart1.xml")
    assert sim.stats()["chats_created"] == 6 and not any("合并提醒" in line for line in quiet_log)


def coze_number(value):
    return str(int(value)) if value == int(value) else str(value)


def test_sheet_option_and_formula_without_cached_value(coze, sim, kw, tmp_path, quiet_log):
    source = rich_workbook(tmp_path / "商品.xlsx")
    book = openpyxl.load_workbook(source)
    book["说明"]["A1"] = "问题"
    book["说明"]["A2"] = "说明页的问题"
    book.save(source)
    summary = coze.batch(source, sheet="说明", question_column="问题", **kw)
    result = openpyxl.load_workbook(summary["output_path"])
    assert "说明页的问题" in result["说明"]["B2"].value and result["商品"].max_column == 5
    assert any("使用工作表「说明」" in line for line in quiet_log)
    chats = sim.stats()["chats_created"]
    with pytest.raises(coze.InputError, match="「小计」列是公式.*第 2 行起.*保存一次再运行"):  # used: stop, nothing paid
        coze.batch(source, prompt="{商品名}的小计是{小计}", output_path=str(tmp_path / "小计.xlsx"), **kw)
    assert sim.stats()["chats_created"] == chats
    coze.batch(source, prompt="介绍{商品名}", output_path=str(tmp_path / "介绍.xlsx"), **kw)  # unused: a warning
    warning = [line for line in quiet_log if "没有算好的值" in line]
    assert warning and "「小计」列是公式" in warning[0] and sim.stats()["chats_created"] == chats + 6


def test_csv_output_keeps_the_input_encoding(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["问题"], ["甲乙丙"]], encoding="gbk")
    summary = coze.batch(source, **kw)
    assert summary["output_path"].endswith(".csv")
    with open(summary["output_path"], "rb") as handle:
        raw = handle.read()
    assert "甲乙丙".encode("gbk") in raw


# ---- blank rows -----------------------------------------------------------------------------

def test_blank_rows_are_free(coze, sim, kw, tmp_path, quiet_log):
    rows = [["商品名", "卖点", "备注"], ["保温杯", "保温", ""], ["", "", "待补"], ["帆布包", "", ""],
            ["  ", "", "空格也算空"]]
    source = write_csv(tmp_path / "in.csv", rows)
    summary = coze.batch(source, prompt="为{商品名}写广告,卖点:{卖点}", **kw)
    assert sim.stats()["chats_created"] == 2  # rows 3 and 5 cost nothing
    assert (summary["done"], summary["blank"], summary["skipped"]) == (2, 2, 2)
    out = read_csv(summary["output_path"])
    assert [r["状态"] for r in out] == ["成功", "跳过", "成功", "跳过"]
    assert "商品名、卖点" in out[1]["错误"] and out[1]["回答"] == "" and out[1]["备注"] == "待补"
    assert any("跳过 2 行(其中模板列空白 2 行)" in line for line in quiet_log)
    asked = coze.batch(source, prompt="为{商品名}写广告,卖点:{卖点}", ask_blank=True,
                       output_path=str(tmp_path / "all.csv"), **kw)
    assert asked["done"] == 4 and asked["blank"] == 0 and sim.stats()["chats_created"] == 6


# ---- JSON fields ------------------------------------------------------------------------------

def test_json_fields_repair_once_in_the_same_conversation(coze, sim, kw, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["商品名"], ["保温杯"], ["帆布包"], ["水壶"]])
    sim.inject("badjson", count=1, path="/v3/chat")  # the first answer is broken, its repair is fine
    summary = coze.batch(source, prompt="用 JSON 介绍{商品名}", json_fields="摘要,长度", concurrency=1, **kw)
    out = read_csv(summary["output_path"])
    assert [r["状态"] for r in out] == ["成功"] * 3 and summary["done"] == 3
    assert list(out[0])[:4] == ["商品名", "回答", "摘要", "长度"]
    assert "上次回答不是合法的 JSON,只输出包含 摘要、长度 的 JSON 对象" in out[0]["回答"]  # the repair's answer
    assert "本会话此前" not in out[0]["回答"] and out[0]["摘要"] and out[1]["摘要"] == "用 JSON 介绍帆布包"
    stats = sim.stats()
    assert stats["chats_created"] == 4 and stats["conversations"] == 3  # the repair asked in the same conversation

    sim.inject("badjson", count=2, path="/v3/chat")  # answer and repair both broken
    failed = coze.batch(source, prompt="用 JSON 介绍{商品名}", json_fields=["摘要", "长度"], concurrency=1,
                        output_path=str(tmp_path / "bad.csv"), **kw)
    out = read_csv(failed["output_path"])
    assert out[0]["状态"] == "失败" and out[0]["错误"] == "回答不是合法的 JSON(追问一次后仍然不是):不是 JSON 对象"
    assert [r["状态"] for r in out[1:]] == ["成功", "成功"] and failed["failed"] == 1
    missing = coze.batch(source, prompt="用 JSON 介绍{商品名}", json_fields="摘要,价格", concurrency=1,
                         output_path=str(tmp_path / "missing.csv"), **kw)
    assert missing["failed"] == 3 and "缺少键 价格" in read_csv(missing["output_path"])[0]["错误"]


def test_json_fields_under_random_badjson(coze, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["商品名"]] + [["商品%02d" % i] for i in range(20)])
    with Simulator(latency=0.02, faults={"badjson": 0.3}, seed=7) as sim:
        summary = coze.batch(source, prompt="用 JSON 介绍{商品名}", json_fields="摘要,长度", concurrency=3,
                             bot_id=BOT, token=TOKEN, base_url=sim.url)
        broken = sim.stats()["faults"].get("badjson", 0)
        assert sim.stats()["chats_created"] == 20 + broken - summary["failed"]  # one repair per broken first answer
    out = read_csv(summary["output_path"])
    assert broken >= 3 and summary["done"] + summary["failed"] == 20
    for row in out:
        if row["状态"] == "成功":
            assert row["摘要"] and row["长度"].isdigit()
        else:
            assert "追问一次后仍然不是" in row["错误"] and not row["摘要"]


def test_json_field_names_must_be_new(coze, sim, kw, tmp_path):
    source = write_csv(tmp_path / "in.csv", products(2))
    with pytest.raises(coze.InputError, match="价格"):
        coze.batch(source, question_column="商品名", json_fields="价格", **kw)
    assert sim.stats()["chats_created"] == 0


# ---- report -----------------------------------------------------------------------------------

def test_report_beside_the_output(coze, sim, kw, tmp_path, quiet_log):
    rows = [["商品名", "备注"]] + [["商品%d" % i, ""] for i in range(8)] + [["", "待补"]]
    source = write_csv(tmp_path / "in.csv", rows)
    sim.inject("fail", count=2, path="/v3/chat")
    summary = coze.batch(source, question_column="商品名", concurrency=1, chat_retries=0, **kw)
    report = str(tmp_path / "in_coze_报告.html")
    assert summary["report_path"] == report and os.path.exists(report)
    text = Text(report).text
    assert "批处理报告:in.csv" in text
    assert "%d成功" % summary["done"] in text and "2失败" in text and "1跳过" in text and "0未完成" in text
    assert "对话失败" in text and "--retry-failed" in text and "这些列是空的:商品名" in text
    assert "本次发起的对话(计费次数)%d" % sim.stats()["chats_created"] in text
    custom = str(tmp_path / "报告" / "r.html")
    os.makedirs(os.path.dirname(custom))
    coze.batch(source, question_column="商品名", report_path=custom, **kw)
    assert "0未完成" in Text(custom).text


# ---- kill safety ------------------------------------------------------------------------------

def test_chat_created_is_reported_and_recover_gets_the_paid_answer(coze, backend, tmp_path):
    with Simulator(latency=0.6) as sim:
        client = coze.Client(token=TOKEN, bot_id=BOT, base_url=sim.url)
        created = []
        result = client.chat("一个问题", on_created=lambda chat, conversation: created.append(
            (chat, conversation, sim.stats()["chats_completed"])))
        assert created == [(result["chat_id"], result["conversation_id"], 0)]  # before the answer existed
        again = client.recover(result["chat_id"], result["conversation_id"])
        assert again["answer"] == result["answer"] and again["usage"] == result["usage"]
        assert sim.stats()["chats_created"] == 1  # recovering paid nothing


def test_recover_waits_for_a_chat_in_progress(coze, backend):
    with Simulator(latency=0.8) as sim:
        client = coze.Client(token=TOKEN, bot_id=BOT, base_url=sim.url)
        noted = []

        class Killed(Exception):
            pass

        def kill(chat_id, conversation_id):
            noted.append((chat_id, conversation_id))
            raise Killed()  # the process dies right after the chat id is on disk
        with pytest.raises(Killed):
            client.chat("被杀的那一行", on_created=kill)
        result = client.recover(*noted[0])
        assert "被杀的那一行" in result["answer"] and sim.stats()["chats_created"] == 1


def test_three_sigkills_pay_no_chat_twice(tmp_path):
    """A 120-row run at 0.8 s per answer is killed 3 times at random moments, then finished:
    every row is answered once, and chats in flight at a kill are recovered, not asked again: even one
    killed before its id was journaled is found in the row's conversation (journaled before the chat)."""
    rows = 120
    source = write_csv(tmp_path / "in.csv", products(rows))
    rng = random.Random(20261125)
    with Simulator(latency=0.8) as sim:
        env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
        command = [sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名",
                   "--concurrency", "4"]
        kills = 0
        for _ in range(3):
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.5, 4.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=10)
        finish = command[:-1] + ["12"]  # the same run, finished with more workers
        final = subprocess.run(finish, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert final.returncode == 0, final.stderr
        out = read_csv(str(tmp_path / "in_coze.csv"))
        assert [r["商品名"] for r in out] == ["商品%03d" % i for i in range(rows)]
        assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in out)
        assert kills == 3
        assert sim.stats()["chats_created"] - rows == 0, "extra chats: %d" % (sim.stats()["chats_created"] - rows)

"""Text tables as Excel and WPS save them (「Unicode 文本」: UTF-16 with BOM, tab-separated; a
`sep=;` first line; tab- or semicolon-separated files sniffed from the header line), read and
written back in the same layout; and cells we write that Excel would run as formulas made
inert (OWASP: a leading '), while the user's own cells stay as they were. Batch end to end
against the simulator, on source and dist (and dist on Python 3.7)."""
import codecs
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers import BOT_ID as BOT, DIST, TOKEN, find_python
from yingdao_module.simulator import Simulator, chat as simulated_chat

ROWS = [["商品名", "卖点"], ["保温杯", "保温 12 小时, 不漏水"], ["雨伞", "\"超轻\"折叠"]]
FORMULAS = ["=1+1", "+1+2", "-2+3", "@SUM(A1)", "=HYPERLINK(\"http://x\",\"点我\")"]
HARMLESS = ["-5", "+3.5", "普通文字", "a=b"]


@pytest.fixture
def sim():
    with Simulator(latency=0.01) as server:
        yield server


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url, concurrency=2)


@pytest.fixture
def echo_bot(monkeypatch):
    """The simulated bot answers with the question itself; a question 'JSON|x' gets the JSON
    {"公式": x, "=键": x}: so answers and JSON fields can start with '='."""
    def answer(question, *args, **kwargs):
        if question.startswith("JSON|"):
            value = question[5:]
            return json.dumps({"公式": value, "=键": value}, ensure_ascii=False)
        return question
    monkeypatch.setattr(simulated_chat, "answer_for", answer)


def write_text(path, text, encoding):
    with open(str(path), "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return str(path)


def table_text(rows, delimiter):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue()


def read_table(path, encoding, delimiter, skip=0):
    with open(path, encoding=encoding, newline="") as handle:
        for _ in range(skip):
            handle.readline()
        return list(csv.reader(handle, delimiter=delimiter))


def check_answers(rows):
    header = rows[0]
    assert header[:2] == ["商品名", "卖点"] and header[2] == "回答" and header[-1] == "行号"
    body = rows[1:]
    assert [row[:2] for row in body] == ROWS[1:]  # cells with commas and quotes survive
    assert all("%s" % row[0] in row[2] and row[3] == "成功" for row in body)


@pytest.mark.parametrize("ext", [".txt", ".csv"])
def test_unicode_text_is_read_and_written_back_as_utf16_tabs(coze, sim, kw, tmp_path, quiet_log, ext):
    source = write_text(tmp_path / ("商品" + ext), table_text(ROWS, "\t"), "utf-16")
    summary = coze.batch(source, prompt="介绍{商品名}:{卖点}", **kw)
    assert summary["output_path"] == str(tmp_path / ("商品_coze" + ext)) and summary["done"] == 2
    with open(summary["output_path"], "rb") as handle:
        assert handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    check_answers(read_table(summary["output_path"], "utf-16", "\t"))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_sep_line_is_honoured_and_kept(coze, sim, kw, tmp_path, quiet_log, encoding):
    source = write_text(tmp_path / "商品.csv", "sep=;\r\n" + table_text(ROWS, ";"), encoding)
    summary = coze.batch(source, prompt="介绍{商品名}:{卖点}", **kw)
    with open(summary["output_path"], encoding=encoding, newline="") as handle:
        assert handle.readline() == "sep=;\r\n"
    check_answers(read_table(summary["output_path"], encoding, ";", skip=1))
    assert sim.stats()["chats_created"] == 2  # the sep= line is no row


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_tables_are_sniffed_from_the_header(coze, sim, kw, tmp_path, quiet_log, delimiter):
    source = write_text(tmp_path / "商品.csv", table_text(ROWS, delimiter), "utf-8-sig")
    summary = coze.batch(source, prompt="介绍{商品名}:{卖点}", **kw)
    check_answers(read_table(summary["output_path"], "utf-8-sig", delimiter))
    with open(summary["output_path"], encoding="utf-8-sig", newline="") as handle:
        assert not handle.readline().startswith("sep=")  # no hint line where the input had none


def test_broken_utf16_is_refused_before_any_chat(coze, sim, kw, tmp_path):
    path = tmp_path / "坏.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "商品名\n保温杯\n".encode("utf-16-le") + b"\x00\xd8\x41")  # lone surrogate
    with pytest.raises(coze.InputError, match="UTF-16"):
        coze.batch(str(path), prompt="{商品名}", **kw)
    assert sim.stats()["requests"] == {}


@pytest.mark.parametrize("body", ["商品名,卖点\n保温杯,\"超轻\n" + "雨伞,好\n" * 30000,  # a stray quote
                                  "商品名,卖点\n保温杯," + "长" * 140000 + "\n"],  # a cell over 128 KB
                         ids=["stray-quote", "long-cell"])
def test_broken_csv_is_refused_with_its_line_before_any_chat(coze, sim, kw, tmp_path, body):
    path = tmp_path / "坏.csv"
    write_text(path, body, "utf-8")
    with pytest.raises(coze.InputError, match="第 \\d+ 行读不通.*另存为"):
        coze.batch(str(path), prompt="{商品名}", **kw)
    assert sim.stats()["requests"] == {}


def test_broken_csv_on_the_command_line_has_no_traceback(tmp_path):
    from helpers import run_cli
    path = tmp_path / "坏.csv"
    write_text(path, "商品名\n\"" + "长" * 140000 + "\n", "utf-8")
    out = run_cli("batch", str(path), "--prompt", "为{商品名}写广告")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "错误:" in out.stderr and "坏.csv" in out.stderr and "另存为" in out.stderr, out.stderr


# ---- formulas in cells we write -----------------------------------------------------------------

def formula_table(tmp_path, name="公式.csv"):
    rows = [["问题", "备注"]] + [[value, value] for value in FORMULAS + HARMLESS]
    return write_text(tmp_path / name, table_text(rows, ","), "utf-8-sig"), rows


def test_answers_that_look_like_formulas_are_inert_in_csv(coze, sim, kw, tmp_path, quiet_log, echo_bot):
    source, rows = formula_table(tmp_path)
    summary = coze.batch(source, question_column="问题", **kw)
    out = read_table(summary["output_path"], "utf-8-sig", ",")
    assert [row[:2] for row in out] == rows  # the user's own cells stay as they were in their file
    answers = dict((row[0], row[2]) for row in out[1:])
    assert all(answers[value] == "'" + value for value in FORMULAS)
    assert all(answers[value] == value for value in HARMLESS)  # plain numbers and text untouched


def test_json_fields_and_keys_that_look_like_formulas_are_inert(coze, sim, kw, tmp_path, quiet_log, echo_bot):
    source = write_text(tmp_path / "j.csv", table_text([["值"], ["=1+1"], ["@cmd"]], ","), "utf-8-sig")
    summary = coze.batch(source, prompt="JSON|{值}", json_columns=True, **kw)
    out = read_table(summary["output_path"], "utf-8-sig", ",")
    header = out[0]
    assert "公式" in header and "'=键" in header and "=键" not in header
    spread = [dict(zip(header, row)) for row in out[1:]]
    assert [row["公式"] for row in spread] == ["'=1+1", "'@cmd"] and [row["'=键"] for row in spread] == ["'=1+1", "'@cmd"]
    assert [row["值"] for row in spread] == ["=1+1", "@cmd"]


def test_inert_cell_covers_tab_and_carriage_return(coze):
    assert coze.inert_cell("\t=1+1") == "'\t=1+1" and coze.inert_cell("\r=1") == "'\r=1"
    assert coze.inert_cell("'=1+1") == "'=1+1"  # already inert: never doubled (merge writes shards again)
    assert coze.inert_cell(5) == 5 and coze.inert_cell("-10%") == "-10%" and coze.inert_cell("") == ""


def test_merged_csv_shards_stay_inert(coze, sim, kw, tmp_path, quiet_log, echo_bot):
    source, rows = formula_table(tmp_path)
    shards = [coze.batch(source, question_column="问题", shard="%d/2" % k, **kw) for k in (1, 2)]
    merged = coze.merge(shards)
    out = read_table(merged, "utf-8-sig", ",")
    assert [row[:2] for row in out] == rows
    answers = dict((row[0], row[2]) for row in out[1:])
    assert all(answers[value] == "'" + value for value in FORMULAS) and answers["-5"] == "-5"


def test_xlsx_answers_stay_text_cells(coze, sim, kw, tmp_path, quiet_log, echo_bot):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    workbook.active.append(["问题"])
    for row, value in enumerate(FORMULAS, start=2):
        cell = workbook.active.cell(row=row, column=1, value=value)
        cell.data_type = "s"  # the user's question is text that looks like a formula
    workbook.save(str(tmp_path / "公式.xlsx"))
    summary = coze.batch(str(tmp_path / "公式.xlsx"), question_column="问题", **kw)
    shards = [coze.batch(str(tmp_path / "公式.xlsx"), question_column="问题", shard="%d/2" % k,
                         output_path=str(tmp_path / ("分片.shard%dof2.xlsx" % k)), **kw) for k in (1, 2)]
    merged = coze.merge(shards)
    for path in (summary["output_path"], merged):
        with zipfile.ZipFile(path) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
        cells = openpyxl.load_workbook(path).active
        answers = [cells.cell(row=r, column=2) for r in range(2, 2 + len(FORMULAS))]
        assert [cell.value for cell in answers] == FORMULAS and all(cell.data_type == "s" for cell in answers)
        assert sheet.count('t="inlineStr"') >= len(FORMULAS) and "<f>" not in sheet and "<f " not in sheet
    if shutil.which("soffice"):
        converted = soffice_to_csv(summary["output_path"], tmp_path / "lo")
        assert [row[1] for row in converted[1:]] == FORMULAS  # LibreOffice shows the text, computes nothing


def soffice_to_csv(path, folder, infilter=None):
    """The first sheet of `path` as LibreOffice reads it, through a headless CSV export (UTF-8)."""
    os.makedirs(str(folder), exist_ok=True)
    command = ["soffice", "--headless", "-env:UserInstallation=file://%s" % os.path.join(str(folder), "profile"),
               "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(folder), path]
    if infilter:
        command[2:2] = ["--infilter=%s" % infilter]
    done = subprocess.run(command, capture_output=True, timeout=120)
    target = os.path.join(str(folder), os.path.splitext(os.path.basename(path))[0] + ".csv")
    assert done.returncode == 0 and os.path.exists(target), done.stderr.decode("utf-8", "replace")
    return read_table(target, "utf-8-sig", ",")


def test_written_unicode_text_opens_in_libreoffice(coze, sim, kw, tmp_path, quiet_log):
    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed")
    source = write_text(tmp_path / "商品.txt", table_text(ROWS, "\t"), "utf-16")
    summary = coze.batch(source, prompt="介绍{商品名}:{卖点}", **kw)
    check_answers(soffice_to_csv(summary["output_path"], tmp_path / "lo", infilter="Text - txt - csv (StarCalc):9,34,65535"))


PY37 = '''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("coze", sys.argv[1])
coze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coze)
coze._set_log_sink(lambda line: None)
outputs = [coze.batch(path, prompt="介绍{商品名}:{卖点}", bot_id=sys.argv[2], token=sys.argv[3], base_url=sys.argv[4])
           ["output_path"] for path in sys.argv[5:]]
print(json.dumps(outputs))
'''


def test_dist_on_python37_keeps_each_layout(sim, tmp_path):
    python = find_python("3.7")
    if not python:
        pytest.skip("no Python 3.7 on this machine")
    inputs = [write_text(tmp_path / "a.txt", table_text(ROWS, "\t"), "utf-16"),
              write_text(tmp_path / "b.csv", "sep=;\r\n" + table_text(ROWS, ";"), "gb18030"),
              write_text(tmp_path / "c.csv", table_text(ROWS, "\t"), "utf-8-sig")]
    done = subprocess.run([python, "-c", PY37, DIST, BOT, TOKEN, sim.url] + inputs, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    first, second, third = json.loads(done.stdout.decode("utf-8"))
    check_answers(read_table(first, "utf-16", "\t"))
    check_answers(read_table(second, "gb18030", ";", skip=1))
    check_answers(read_table(third, "utf-8-sig", "\t"))


def test_text_tables_written_as_xlsx_keep_formula_text_as_text(coze, sim, kw, tmp_path, quiet_log, echo_bot):
    """A CSV input with an .xlsx output (and CSV shards merged into an .xlsx) is written by openpyxl,
    which would store "=1+1" as a live formula."""
    openpyxl = pytest.importorskip("openpyxl")
    source, rows = formula_table(tmp_path)
    summary = coze.batch(source, question_column="问题", output_path=str(tmp_path / "out.xlsx"), **kw)
    shards = [coze.batch(source, question_column="问题", shard="%d/2" % k, **kw) for k in (1, 2)]
    merged = coze.merge(shards, output_path=str(tmp_path / "merged.xlsx"))
    for path in (summary["output_path"], merged):
        with zipfile.ZipFile(path) as book:
            assert not any("<f>" in book.read(name).decode("utf-8") for name in book.namelist()
                           if name.startswith("xl/worksheets/"))
        cells = openpyxl.load_workbook(path).active
        assert [cells.cell(row=r, column=1).value for r in range(2, 2 + len(FORMULAS))] == FORMULAS
        assert all(cells.cell(row=r, column=c).data_type == "s" for r in range(2, 2 + len(FORMULAS)) for c in (1, 2, 3))
    answers = openpyxl.load_workbook(summary["output_path"]).active
    assert [answers.cell(row=r, column=3).value for r in range(2, 2 + len(FORMULAS))] == FORMULAS  # no ' in xlsx

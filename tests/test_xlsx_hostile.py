"""Hostile workbooks (issue 18): a zip bomb, a row past Excel's grid, a jump of millions of rows,
DTDs and entities, and every kind of malformed package end in one Chinese InputError that
names the file, what is wrong and what to do, quickly, with no chat paid for."""
import os
import subprocess
import sys
import time
import zipfile

import pytest

from helpers import ROOT
from sheets import SHEET, excel_like_workbook

openpyxl = pytest.importorskip("openpyxl")
SHEET_PART = "xl/worksheets/sheet1.xml"
HEADER = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
          '<sheetData>')
FOOTER = "</sheetData></worksheet>"


def rebuilt(path, tmp_path, name, replace=None, drop=(), compress=zipfile.ZIP_DEFLATED):
    """The Excel-like workbook with some parts replaced ({part: bytes or text}) or dropped."""
    source = excel_like_workbook(tmp_path / ("base_" + name))
    target = str(tmp_path / name)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compress) as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = (replace or {}).get(info.filename, old.read(info.filename))
            new.writestr(info.filename, data.encode("utf-8") if isinstance(data, str) else data)
    return target


def sheet_of(rows_xml):
    return HEADER + rows_xml + FOOTER


def refused(coze, path, *patterns):
    started = time.monotonic()
    with pytest.raises(coze.InputError) as caught:
        list(coze.XlsxSheet(path).rows())
    message = str(caught.value)
    assert path in message and "Excel 或 WPS 打开" in message, message
    for pattern in patterns:
        assert pattern in message, message
    return time.monotonic() - started


def test_a_zip_bomb_is_refused_before_it_is_inflated(coze, tmp_path):
    bomb = str(tmp_path / "bomb.xlsx")
    base = excel_like_workbook(tmp_path / "base.xlsx")
    with zipfile.ZipFile(base) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename != SHEET_PART:
                new.writestr(info.filename, old.read(info.filename))
        with new.open(SHEET_PART, "w") as part:  # 64 MB of one repeated row, ~70 KB compressed
            part.write(HEADER.encode())
            row = b'<row><c t="inlineStr"><is><t>aaaaaaaaaaaaaaaa</t></is></c></row>' * 1024
            for _ in range(64 * 1024 * 1024 // len(row)):
                part.write(row)
            part.write(FOOTER.encode())
    assert os.path.getsize(bomb) < 1 << 20
    refused(coze, bomb, "压缩炸弹", SHEET_PART)


def test_rows_past_excel_and_jumps_of_millions(coze, tmp_path):
    far = rebuilt(None, tmp_path, "far.xlsx", {SHEET_PART: sheet_of('<row r="2000000000"><c><v>1</v></c></row>')})
    refused(coze, far, "第 2000000000 行", "1048576")
    jump = rebuilt(None, tmp_path, "jump.xlsx", {SHEET_PART: sheet_of(
        '<row r="1"><c t="inlineStr"><is><t>问题</t></is></c></row>'
        '<row r="1048576"><c t="inlineStr"><is><t>最后一行</t></is></c></row>')})
    assert list(coze.XlsxSheet(jump).rows()) == [(1, ["问题"]), (1048576, ["最后一行"])]  # no blank rows between
    backwards = rebuilt(None, tmp_path, "back.xlsx", {SHEET_PART: sheet_of('<row r="5"/><row r="3"/>')})
    refused(coze, backwards, "顺序错乱")
    word = rebuilt(None, tmp_path, "word.xlsx", {SHEET_PART: sheet_of('<row r="一"/>')})
    refused(coze, word, "不是数字")


@pytest.mark.parametrize("ref", ["1A", "A0", "XFE1", "A1048577", "$A$1", "A1:B2", "ＡＢ1"])
def test_a_cell_reference_that_is_not_one(coze, tmp_path, ref):
    path = rebuilt(None, tmp_path, "ref.xlsx", {SHEET_PART: sheet_of('<row r="1"><c r="%s"><v>1</v></c></row>' % ref)})
    refused(coze, path, "不是有效的引用")


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i else "&lol;") * 10) for i in range(10))
          + ']>')


@pytest.mark.parametrize("part", [SHEET_PART, "xl/sharedStrings.xml", "xl/workbook.xml", "xl/styles.xml",
                                  "_rels/.rels", "xl/_rels/workbook.xml.rels"])
@pytest.mark.parametrize("doctype", ["laughs", "external", "parameter"])
def test_any_dtd_or_entity_in_any_part_is_refused(coze, tmp_path, part, doctype):
    with zipfile.ZipFile(excel_like_workbook(tmp_path / "base.xlsx")) as book:
        text = book.read(part).decode("utf-8")
    body = text.split("?>", 1)[1] if text.startswith("<?xml") else text
    root = body.lstrip().split()[0].lstrip("<").rstrip(">")
    if doctype == "laughs":
        head = LAUGHS.replace("lolz", root)
        body = body.replace("商品名", "&lol9;").replace('r:id="rId1"', 'r:id="&lol9;"')
    elif doctype == "external":
        head = '<?xml version="1.0"?><!DOCTYPE %s SYSTEM "file:///etc/passwd">' % root
    else:
        head = '<?xml version="1.0"?><!DOCTYPE %s [<!ENTITY %% p SYSTEM "http://127.0.0.1:9/x.dtd"> %%p;]>' % root
    path = rebuilt(None, tmp_path, "dtd.xlsx", {part: head + body})
    assert refused(coze, path, "DTD 或实体声明", part) < 2


def test_an_undeclared_entity_is_malformed_xml_not_expanded(coze, tmp_path):
    path = rebuilt(None, tmp_path, "entity.xlsx", {SHEET_PART: SHEET.replace("#N/A", "&xxe;")})
    refused(coze, path, "不是合法的 XML", SHEET_PART)


def test_malformed_packages(coze, tmp_path):
    broken_xml = rebuilt(None, tmp_path, "xml.xlsx", {SHEET_PART: SHEET[:len(SHEET) // 2]})
    refused(coze, broken_xml, "不是合法的 XML", SHEET_PART)
    missing = rebuilt(None, tmp_path, "missing.xlsx", drop=(SHEET_PART,))
    refused(coze, missing, "缺少部件 %s" % SHEET_PART)
    no_strings = rebuilt(None, tmp_path, "nostrings.xlsx", drop=("xl/sharedStrings.xml",))
    refused(coze, no_strings, "缺少部件 xl/sharedStrings.xml")
    strings = rebuilt(None, tmp_path, "index.xlsx", {SHEET_PART: sheet_of('<row r="1"><c t="s"><v>99</v></c></row>')})
    refused(coze, strings, "不存在的共享文字")

    rels = "xl/_rels/workbook.xml.rels"
    with zipfile.ZipFile(excel_like_workbook(tmp_path / "base.xlsx")) as book:
        text = book.read(rels).decode("utf-8")
    for name, target in (("up.xlsx", "../../../etc/passwd"), ("abs.xlsx", "/../etc/passwd"),
                         ("url.xlsx", "http://127.0.0.1:9/sheet.xml"), ("unc.xlsx", "\\\\server\\share\\a.xml")):
        path = rebuilt(None, tmp_path, name, {rels: text.replace('Target="worksheets/sheet1.xml"', 'Target="%s"' % target)})
        refused(coze, path, "工作簿外面")


def test_corrupt_deflate_data(coze, tmp_path):
    path = excel_like_workbook(tmp_path / "corrupt.xlsx")
    with zipfile.ZipFile(path) as book:
        info = book.getinfo(SHEET_PART)
    data = bytearray(open(path, "rb").read())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for at in range(start + 10, start + info.compress_size - 10, 7):
        data[at] ^= 0x5A
    open(path, "wb").write(bytes(data))
    refused(coze, path, "压缩数据已损坏")


@pytest.mark.parametrize("content, says", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "旧版 .xls"),   # an OLE file: .xls or an encrypted workbook
    ("商品名,价格\n杯子,9\n".encode("gbk"), "不是有效的 .xlsx"),        # a CSV renamed .xlsx
    (b"PK\x03\x04 cut short", "不是有效的 .xlsx"),
    (b"", "不是有效的 .xlsx"),
])
def test_not_a_workbook(coze, tmp_path, content, says):
    path = tmp_path / "假的.xlsx"
    path.write_bytes(content)
    with pytest.raises(coze.InputError, match=says) as caught:
        coze.XlsxSheet(str(path))
    assert str(path) in str(caught.value) and "另存为」.xlsx" in str(caught.value)


def test_truncated_workbook(coze, tmp_path):
    path = excel_like_workbook(tmp_path / "cut.xlsx")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    with pytest.raises(coze.InputError, match="不是有效的 .xlsx"):
        coze.XlsxSheet(path)


def test_the_writer_is_bound_by_the_same_limits(coze, tmp_path):
    """A bomb in a part the reader never opens (a picture, docProps) is refused by the copy."""
    path = excel_like_workbook(tmp_path / "other.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as book:
        with book.open("xl/media/image1.bin", "w") as part:
            for _ in range(64):
                part.write(b"\0" * (1 << 20))
    sheet = coze.XlsxSheet(path)
    assert dict(sheet.rows())[1] == ["商品名", "日期", "长度", "标题"]
    with pytest.raises(coze.InputError, match="压缩炸弹"):
        coze.splice_copy(sheet, str(tmp_path / "out.xlsx"), {1: {4: "回答"}})


def test_batch_refuses_a_hostile_workbook_before_any_chat(coze, sim, tmp_path, quiet_log):
    path = rebuilt(None, tmp_path, "laughs.xlsx", {SHEET_PART: LAUGHS.replace("lolz", "x:worksheet") +
                                                   SHEET.split("?>", 1)[1]})
    with pytest.raises(coze.InputError, match="DTD 或实体声明"):
        coze.batch(path, question_column="商品名", bot_id="7000000000000000001", token="pat_" + "x" * 40,
                   base_url=sim.url)
    assert sim.stats()["chats_created"] == 0


def test_the_command_line_prints_one_chinese_line_not_a_traceback(tmp_path):
    path = rebuilt(None, tmp_path, "far.xlsx", {SHEET_PART: sheet_of('<row r="2000000000"/>')})
    result = subprocess.run([sys.executable, "-m", "yingdao_module", "batch", path, "--question-column", "问题",
                             "--token", "pat_" + "x" * 40, "--bot-id", "7000000000000000001"],
                            cwd=ROOT, capture_output=True, timeout=60)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode != 0 and "Traceback" not in err and "超过了 Excel 的最大行数" in err, err


DIST_ON_OLD_PYTHON = r"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("coze", sys.argv[1])
coze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coze)
print(dict(coze._XlsxSheet(sys.argv[2]).rows())[2])
coze._splice_copy(coze._XlsxSheet(sys.argv[2]), sys.argv[2] + ".out.xlsx", {2: {4: "回答"}})
print(dict(coze._XlsxSheet(sys.argv[2] + ".out.xlsx").rows())[2][4])
for hostile in sys.argv[3:]:
    try:
        list(coze._XlsxSheet(hostile).rows())
    except coze.InputError as err:
        print("拒绝", str(err).split(":", 1)[1][:40])
"""


@pytest.mark.parametrize("version", ["3.7", "3.8"])
def test_dist_on_old_pythons_reads_writes_and_refuses_the_same(tmp_path, version):
    from helpers import DIST, find_python
    python = find_python(version)
    if not python:
        pytest.skip("no Python %s on this machine" % version)
    good = excel_like_workbook(tmp_path / "good.xlsx")
    laughs = rebuilt(None, tmp_path, "laughs.xlsx", {SHEET_PART: LAUGHS.replace("lolz", "x:worksheet")
                                                     + SHEET.split("?>", 1)[1]})
    far = rebuilt(None, tmp_path, "far.xlsx", {SHEET_PART: sheet_of('<row r="2000000000"/>')})
    out = subprocess.run([python, "-c", DIST_ON_OLD_PYTHON, DIST, good, laughs, far], capture_output=True,
                         timeout=120, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    lines = out.stdout.decode("utf-8").splitlines()
    assert out.returncode == 0 and lines[0] == str(["保温杯", "2026-11-25", "6", "保温杯!"])
    assert lines[1] == "回答" and "DTD 或实体声明" in lines[2] and "超过了 Excel 的最大行数" in lines[3], lines


def test_a_huge_tag_duplicate_parts_and_too_many_strings(coze, tmp_path, monkeypatch):
    coze.patch("XLSX_RUN_LIMIT", 1 << 16)  # 16 MB in use: a smaller limit keeps the test quick
    huge = rebuilt(None, tmp_path, "attr.xlsx", {SHEET_PART: HEADER + '<row r="1" x="' + "a" * (1 << 18) + '"/>' + FOOTER})
    refused(coze, huge, "超过 65536 字节的标签或文字")  # expat would hold the whole tag in memory
    assert dict(coze.XlsxSheet(excel_like_workbook(tmp_path / "fine.xlsx")).rows())[1][0] == "商品名"
    twice = excel_like_workbook(tmp_path / "twice.xlsx")
    with zipfile.ZipFile(twice, "a") as book:
        with pytest.warns(UserWarning):
            book.writestr(SHEET_PART, sheet_of('<row r="1"><c t="inlineStr"><is><t>另一份</t></is></c></row>'))
    with pytest.raises(coze.InputError, match="同名的部件"):
        coze.XlsxSheet(twice)
    coze.patch("XLSX_MAX_STRINGS", 3)
    refused(coze, excel_like_workbook(tmp_path / "strings.xlsx"), "共享文字超过 3 条")


def test_a_broken_part_only_the_copy_reads_is_refused_before_any_chat(coze, sim, tmp_path):
    path = excel_like_workbook(tmp_path / "picture.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/media/image1.png", os.urandom(1 << 16))
    with zipfile.ZipFile(path) as book:
        info = book.getinfo("xl/media/image1.png")
    data = bytearray(open(path, "rb").read())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 100] ^= 0xFF  # the picture's bytes no longer match its CRC
    open(path, "wb").write(bytes(data))
    assert dict(coze.XlsxSheet(path).rows())[1][0] == "商品名"  # the sheet itself reads fine
    with pytest.raises(coze.InputError, match="xl/media/image1.png 的压缩数据已损坏"):
        coze.batch(path, question_column="商品名", bot_id="7000000000000000001", token="pat_" + "x" * 40,
                   base_url=sim.url)
    assert sim.stats()["chats_created"] == 0


def test_a_part_that_lies_about_its_size_inflates_no_further(coze, tmp_path):
    """A bomb that declares a small size (so the limits let it through) stops at that size: CRC error."""
    import struct
    path = rebuilt(None, tmp_path, "liar.xlsx", {SHEET_PART: HEADER + " " * (20 << 20) + FOOTER})
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as book:
        info = book.getinfo(SHEET_PART)
    struct.pack_into("<I", data, info.header_offset + 22, 1000)  # the local header's size
    central = data.find(b"PK\x01\x02")
    while struct.unpack_from("<I", data, central + 42)[0] != info.header_offset:
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 1000)  # and the central directory's
    open(path, "wb").write(bytes(data))
    with zipfile.ZipFile(path) as book:
        assert book.getinfo(SHEET_PART).file_size == 1000
    refused(coze, path, "压缩数据已损坏")


def test_a_dtd_in_a_part_that_is_only_copied_is_refused_before_any_chat(coze, sim, tmp_path):
    path = excel_like_workbook(tmp_path / "chart.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/charts/chart1.xml", LAUGHS + "<chartSpace>&lol9;</chartSpace>")
    assert dict(coze.XlsxSheet(path).rows())[1][0] == "商品名"  # the sheet never reads the chart
    with pytest.raises(coze.InputError, match="xl/charts/chart1.xml 里有 DTD 或实体声明"):
        coze.batch(path, question_column="商品名", output_path=str(tmp_path / "out.csv"), bot_id="7000000000000000001",
                   token="pat_" + "x" * 40, base_url=sim.url)
    assert sim.stats()["chats_created"] == 0

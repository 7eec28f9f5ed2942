"""xlsx at the XML level: reading values as the user sees them, and a copy of the workbook
where only new cells are added (every other part byte for byte, original cells untouched)."""
import datetime
import hashlib
import zipfile

import pytest

openpyxl = pytest.importorskip("openpyxl")

from sheets import cells_of, excel_like_workbook, rich_workbook


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_reads_the_active_sheet_as_the_user_sees_it(coze, tmp_path):
    sheet = coze.XlsxSheet(rich_workbook(tmp_path / "rich.xlsx"))
    assert sheet.name == "商品" and sheet.names == ["说明", "商品"]
    rows = dict(sheet.rows())
    assert rows[1] == ["商品名", "价格", "上架日期", "小计", "折扣"]
    assert rows[2] == ["商品1", "10.5", "2026-11-21", "", "15%"]
    assert rows[3][:3] == ["商品2", "21", "2026-11-22"]
    assert 7 not in rows and rows[8] == ["合计"]  # a missing row is skipped, the numbering kept
    assert sheet.uncached == {3: 2}  # openpyxl writes formulas without a cached value: column D, from row 2
    assert list(coze.XlsxSheet(str(tmp_path / "rich.xlsx"), "说明").rows()) == [(1, ["这一页不处理"])]


def test_reads_what_excel_writes(coze, tmp_path):
    sheet = coze.XlsxSheet(excel_like_workbook(tmp_path / "excel.xlsx"))
    rows = dict(sheet.rows())
    assert rows[1] == ["商品名", "日期", "长度", "标题"]
    assert rows[2] == ["保温杯", "2026-11-25", "6", "保温杯!"]  # rich text without the phonetic guide
    assert rows[3] == [" 帆布包 ", "2026-11-25 18:00", "8", "TRUE"]
    assert 4 not in rows and rows[5] == []  # row 4 is not in the file, row 5 is an empty <row/>
    assert rows[6] == ["手写A", "30%", "0.3", "#N/A"]  # Excel's _xHHHH_ escape decoded
    assert sheet.uncached == {}


def test_unknown_sheet_and_broken_file_are_refused_in_chinese(coze, tmp_path):
    path = rich_workbook(tmp_path / "rich.xlsx")
    with pytest.raises(coze.InputError, match="没有工作表「价格表」,有的是:说明、商品"):
        coze.XlsxSheet(path, "价格表")
    broken = tmp_path / "old.xlsx"
    broken.write_bytes(b"\xd0\xcf\x11\xe0 an OLE file, as .xls or a password-protected workbook")
    with pytest.raises(coze.InputError, match="另存为」.xlsx"):
        coze.XlsxSheet(str(broken))


def test_copy_adds_only_new_cells_and_keeps_everything_else(coze, tmp_path):
    source = rich_workbook(tmp_path / "rich.xlsx")
    before = digest(source)
    sheet = coze.XlsxSheet(source)
    column = sheet.free_column()
    assert column == 5
    target = str(tmp_path / "out.xlsx")
    new = {1: {column: "回答", column + 1: "状态"}, 3: {column: "第二行的<回答>&", column + 1: "成功"},
           7: {column: "空行也能写"}, 12: {column: "表格之外的行"}}
    coze.splice_copy(sheet, target, new, {column: 60})
    assert digest(source) == before  # the input is never modified

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target) as out:
        assert [i.filename for i in out.infolist()] == [i.filename for i in old.infolist()]
        for info in old.infolist():
            assert out.getinfo(info.filename).compress_type == info.compress_type
            if info.filename != sheet.part:
                assert out.read(info.filename) == old.read(info.filename), info.filename
        original, copied = cells_of(old.read(sheet.part)), cells_of(out.read(sheet.part))
    assert all(copied[ref] == cell for ref, cell in original.items())  # original cells untouched
    assert set(copied) - set(original) == {"F1", "G1", "F3", "G3", "F7", "F12"}

    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["说明", "商品"] and book.active.title == "商品"
    result = book["商品"]
    assert [result.cell(1, c).value for c in range(1, 8)] == ["商品名", "价格", "上架日期", "小计", "折扣", "回答", "状态"]
    assert result["F3"].value == "第二行的<回答>&" and result["G3"].value == "成功" and result["F2"].value is None
    assert result["F7"].value == "空行也能写" and result["F12"].value == "表格之外的行"
    assert result["B2"].value == 10.5 and result["C2"].value == datetime.datetime(2026, 11, 21)
    assert result["D2"].value == "=B2*2" and result["B2"].fill.fgColor.rgb.endswith("FFFF00") and result["A1"].font.b
    assert [str(r) for r in result.merged_cells.ranges] == ["A8:B8"]
    assert result.column_dimensions["A"].width == 25 and result.column_dimensions["F"].width == 60
    assert result.dimensions == "A1:G12"
    with zipfile.ZipFile(target) as out:
        assert "xl/charts/chart1.xml" in out.namelist()


def test_copy_of_what_excel_writes(coze, tmp_path):
    source = excel_like_workbook(tmp_path / "excel.xlsx")
    sheet = coze.XlsxSheet(source)
    column = sheet.free_column()
    assert column == 4  # E2 is a formatted blank: not in the way
    target = str(tmp_path / "out.xlsx")
    coze.splice_copy(sheet, target, {1: {4: "回答"}, 2: {4: "答二", 5: "成功"}, 4: {4: "答四"}, 5: {4: "答五"},
                              6: {4: "\x01控制字符_x0041_" + "长" * 40000}}, {4: 60, 5: 12})
    with zipfile.ZipFile(target) as out:
        text = out.read(sheet.part).decode("utf-8")
    assert 'mc:Ignorable="x14ac"' in text and 'xmlns:x14ac=' in text  # declarations Excel needs are kept
    assert '<x:c r="E2" s="2" t="inlineStr">' in text  # the formatted blank keeps its style
    assert '<x:row r="2" spans="1:6">' in text and '<x:row r="4">' in text
    assert '<x:col min="5" max="5" width="60" customWidth="1"/><x:col min="6" max="6" width="12" ' \
           'customWidth="1"/><x:col min="8" max="9"' in text
    assert '<x:dimension ref="A1:F6"/>' in text
    book = openpyxl.load_workbook(target)
    result = book.active
    assert result["E1"].value == "回答" and result["E2"].value == "答二" and result["F2"].value == "成功"
    assert result["E4"].value == "答四" and result["E5"].value == "答五" and result.row_dimensions[5].height == 30
    assert result["C2"].value == "=LEN(A2)*2" and result["A2"].value == "保温杯"
    again = dict(coze.XlsxSheet(target).rows())
    assert again[2] == ["保温杯", "2026-11-25", "6", "保温杯!", "答二", "成功"]
    long_text = again[6][4]  # control character dropped, a literal _x0041_ kept literal, cut to Excel's limit
    assert len(long_text) == 32767 and long_text.startswith("控制字符_x0041_长") and long_text.endswith("完整内容在 .journal.jsonl)")


def test_vertical_merges_show_their_value_in_every_row(coze, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["类别", "商品名"])
    for name in ("保温杯", "水壶", "帆布包"):
        sheet.append([None, name])
    sheet["A2"] = "杯壶"
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B5:C5")
    sheet["B5"] = "横向合并只算一格"
    path = str(tmp_path / "merged.xlsx")
    book.save(path)
    rows = dict(coze.XlsxSheet(path).rows())
    assert [rows[n][:2] for n in (2, 3, 4)] == [["杯壶", "保温杯"], ["杯壶", "水壶"], ["", "帆布包"]]
    assert rows[5] == ["", "横向合并只算一格"]

"""Input tables and workbooks for the batch and xlsx tests: CSV files, a product list, a rich
workbook (what openpyxl itself would lose on save), one shaped like Excel's own files and the cells of a sheet's XML."""
import csv
import datetime
import zipfile
from xml.etree import ElementTree

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def write_csv(path, rows, encoding="utf-8"):
    with open(str(path), "w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return str(path)


def read_csv(path, encoding="utf-8-sig"):
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def products(n):
    return [["商品名", "价格"]] + [["商品%03d" % i, str(i)] for i in range(n)]


def rich_workbook(path):
    """Two sheets (the second active), merged cells, numbers, dates, a percentage, formulas,
    styles, a column width and a chart: what openpyxl itself would lose on save."""
    import openpyxl
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font, PatternFill
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active["A1"] = "这一页不处理"
    sheet = book.create_sheet("商品")
    sheet.append(["商品名", "价格", "上架日期", "小计", "折扣"])
    for i in range(1, 6):
        sheet.append(["商品%d" % i, 10.5 * i, datetime.date(2026, 11, 20 + i), "=B%d*2" % (i + 1), 0.15])
    sheet["E2"].number_format = "0%"
    sheet.merge_cells("A8:B8")
    sheet["A8"] = "合计"
    sheet["A1"].font = Font(bold=True)
    sheet["B2"].fill = PatternFill("solid", fgColor="FFFF00")
    sheet.column_dimensions["A"].width = 25
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=6), titles_from_data=True)
    sheet.add_chart(chart, "H2")
    book.active = 1
    book.save(str(path))
    return str(path)


SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="%s" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" \
xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" mc:Ignorable="x14ac">\
<x:dimension ref="A1:D6"/><x:sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/>\
<x:cols><x:col min="1" max="1" width="20" customWidth="1"/><x:col min="8" max="9" width="5" customWidth="1"/></x:cols>\
<x:sheetData>\
<x:row r="1" spans="1:4" x14ac:dyDescent="0.25"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s"><x:v>1</x:v></x:c>\
<x:c r="C1" t="s"><x:v>2</x:v></x:c><x:c r="D1" t="s"><x:v>3</x:v></x:c></x:row>\
<x:row r="2" spans="1:4"><x:c r="A2" t="s"><x:v>4</x:v></x:c><x:c r="B2" s="1"><x:v>46351</x:v></x:c>\
<x:c r="C2"><x:f t="shared" ref="C2:C3" si="0">LEN(A2)*2</x:f><x:v>6</x:v></x:c>\
<x:c r="D2" t="str"><x:f>A2&amp;"!"</x:f><x:v>保温杯!</x:v></x:c><x:c r="E2" s="2"/></x:row>\
<x:row r="3" spans="1:4"><x:c r="A3" t="s"><x:v>5</x:v></x:c><x:c r="B3" s="1"><x:v>46351.75</x:v></x:c>\
<x:c r="C3"><x:f t="shared" si="0"/><x:v>8</x:v></x:c><x:c r="D3" t="b"><x:v>1</x:v></x:c></x:row>\
<x:row r="5" spans="1:4" ht="30" customHeight="1"/>\
<x:row r="6"><x:c r="A6" t="inlineStr"><x:is><x:t>手写_x0041_</x:t></x:is></x:c><x:c r="B6" s="3"><x:v>0.3</x:v></x:c>\
<x:c r="C6"><x:v>0.30000000000000004</x:v></x:c><x:c r="D6" t="e"><x:v>#N/A</x:v></x:c></x:row>\
</x:sheetData><x:pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>\
</x:worksheet>""" % MAIN

STRINGS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="%s" count="6" uniqueCount="6"><si><t>商品名</t></si><si><t>日期</t></si><si><t>长度</t></si>\
<si><t>标题</t></si><si><r><rPr><b/></rPr><t>保温</t></r><r><t>杯</t></r><rPh sb="0" eb="1"><t>ホ</t></rPh></si>\
<si><t xml:space="preserve"> 帆布包 </t></si></sst>""" % MAIN

STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="%s"><numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>\
</numFmts><fonts count="1"><font><sz val="11"/></font></fonts>\
<fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border><left/><right/><top/>\
<bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="176" applyNumberFormat="1"/><xf numFmtId="0" fillId="0"/>\
<xf numFmtId="9" applyNumberFormat="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>""" % MAIN

WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="%s" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
<bookViews><workbookView activeTab="0"/></bookViews><sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets>\
</workbook>""" % MAIN


def excel_like_workbook(path):
    """What Excel writes and openpyxl never does: shared strings (rich text, phonetic guides),
    cached formula values, a shared formula, a prefixed namespace with mc:Ignorable, spans,
    a self-closing row, a missing row, a styled empty cell, column ranges."""
    parts = [
        ("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
         'content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" '
         'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workbook.xml" '
         'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
         'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
         'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
         'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" '
         'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
        ("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
         'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
         'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
         '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
         'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="/xl/sharedStrings.xml"/>'
         '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
         'Target="styles.xml"/></Relationships>'),
        ("xl/worksheets/sheet1.xml", SHEET),
        ("xl/sharedStrings.xml", STRINGS),
        ("xl/styles.xml", STYLES),
    ]
    with zipfile.ZipFile(str(path), "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in parts:
            book.writestr(name, text.encode("utf-8"))
    return str(path)


def cells_of(xml_bytes):
    """{ref: serialized cell} of a sheet's XML."""
    root = ElementTree.fromstring(xml_bytes)
    return dict((c.get("r"), ElementTree.tostring(c)) for c in root.iter("{%s}c" % MAIN))

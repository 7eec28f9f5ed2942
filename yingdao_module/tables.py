"""Spreadsheets: read CSV (UTF-8, UTF-8 with BOM or GBK, detected) and xlsx (openpyxl when
importable); write them atomically (a temporary file, then a rename), falling back to a
new name when the output is open in Excel."""
import codecs
import csv
import os

from .errors import InputError
from .log import log

OPENPYXL_MISSING = ("读取 .xlsx 需要 openpyxl:在影刀应用的「Python 包管理」里安装 openpyxl,"
                    "或在命令行运行 pip install openpyxl;也可以把表格另存为 CSV")


def sniff_encoding(path):
    """'utf-8-sig' for UTF-8 with or without BOM, 'gb18030' for GBK (Excel's CSV on Chinese Windows)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 3:  # the sample ended inside a character
            return "utf-8-sig"
        return "gb18030"


def _openpyxl():
    try:
        import openpyxl
    except ImportError:
        raise InputError(OPENPYXL_MISSING)
    return openpyxl


def read_rows(path, sheet=None):
    """Yield rows (lists of text); the first is the header."""
    if not os.path.isfile(path):
        raise InputError("找不到表格文件:%s" % path)
    if path.lower().endswith((".xlsx", ".xlsm")):
        workbook = _openpyxl().load_workbook(path, read_only=True, data_only=True)
        try:
            if sheet and sheet not in workbook.sheetnames:
                raise InputError("表格里没有工作表「%s」,有的是:%s" % (sheet, "、".join(workbook.sheetnames)))
            for row in (workbook[sheet] if sheet else workbook.worksheets[0]).iter_rows(values_only=True):
                yield ["" if cell is None else (str(int(cell)) if isinstance(cell, float) and cell.is_integer()
                                                 else str(cell)) for cell in row]
        finally:
            workbook.close()
    elif path.lower().endswith((".csv", ".txt")):
        with open(path, encoding=sniff_encoding(path), newline="") as handle:
            for row in csv.reader(handle):
                yield row
    else:
        raise InputError("只支持 .xlsx 和 .csv 表格:%s" % path)


def read_header(path, sheet=None):
    """The cleaned header row; empty tables and repeated column names are refused."""
    rows = read_rows(path, sheet)
    header = next(rows, None)
    if hasattr(rows, "close"):
        rows.close()
    header = [name.strip() for name in (header or [])]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise InputError("表格是空的(第一行应该是列名):%s" % path)
    seen = set()
    for name in header:
        if name and name in seen:
            raise InputError("表格里有重复的列名「%s」:请改成不同的名字,否则不知道用哪一列" % name)
        seen.add(name)
    return header


def write_rows(path, header, rows):
    """Write atomically; if `path` is locked (open in Excel) use `<name>_1.<ext>` and so on.
    Returns the path written."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, ext = os.path.splitext(os.path.basename(path))
    temporary = os.path.join(folder, ".%s.tmp%s" % (stem, ext))
    if ext.lower() in (".xlsx", ".xlsm"):
        workbook = _openpyxl().Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        workbook.save(temporary)
    else:
        with open(temporary, "w", encoding="utf-8-sig", newline="") as handle:  # BOM: Excel opens it right
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    for attempt in range(50):
        target = path if attempt == 0 else os.path.join(folder, "%s_%d%s" % (stem, attempt, ext))
        try:
            os.replace(temporary, target)
            if attempt:
                log("输出文件 %s 被占用(可能在 Excel 里开着),改写到 %s" % (os.path.basename(path), target))
            return target
        except PermissionError:
            continue
    raise InputError("输出文件被占用,也无法写到其他名字:请关闭 Excel 里的 %s" % path)

"""Spreadsheets: read CSV (UTF-8, UTF-8 with BOM or GBK, detected) and xlsx (xlsx.py, standard
library only); write them atomically (a temporary file, then a rename), falling back to a
new name when the output is open in Excel. An xlsx batch output is a copy of the input
workbook with the new cells added (write_xlsx_copy)."""
import codecs
import os
import re

from .errors import InputError
from .log import log
from .xlsx import XlsxSheet

OPENPYXL_MISSING = ("把分片合并成 .xlsx 需要 openpyxl:在影刀应用的「Python 包管理」里安装 openpyxl,"
                    "或在命令行运行 pip install openpyxl;也可以把表格另存为 CSV")


MIXED_ENCODING = ("CSV 文件第 %d 行不是 UTF-8 编码,而前面的行是 UTF-8:一个文件里混用了两种编码,读下去会出现乱码。"
                  "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
UNKNOWN_ENCODING = ("CSV 文件第 %d 行既不是 UTF-8 也不是 GBK 编码,读不懂。"
                    "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
CHUNK = 1 << 20
_sniffed = {}  # (path, size, mtime) -> encoding: the table is read again at every save


UTF8_WIDE = re.compile(b"[\xe0-\xef][\x80-\xbf]{2}")  # a 3-byte UTF-8 character: CJK text


def _first_bad_byte(path, encoding):
    """(line of the first byte that does not decode or None, how many (up to 2) 3-byte UTF-8
    characters come before it); reads in chunks, so a big file costs no memory."""
    lines, pending, wide = 1, b"", 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            data, bad = pending + chunk, None
            try:
                data.decode(encoding)
                pending = b""
            except UnicodeDecodeError as err:
                if chunk and err.end == len(data) and len(data) - err.start < 4:
                    pending, data = data[err.start:], data[:err.start]  # a character cut by the chunk end
                else:
                    bad, data = err.start, data[:err.start]
            found = UTF8_WIDE.search(data) if wide < 2 else None
            while found and wide < 2:
                wide += 1
                found = UTF8_WIDE.search(data, found.end())
            lines += data.count(b"\n")
            if bad is not None:
                return lines, wide
            if not chunk:
                return None, wide


def sniff_encoding(path):
    """'utf-8-sig' for UTF-8 (with or without BOM), 'gb18030' for GBK (Excel's CSV on Chinese
    Windows), decided on the whole file; a file that changes encoding half-way is refused
    with the line, before anything is paid for."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime)
    if key not in _sniffed:
        line, wide = _first_bad_byte(path, "utf-8")
        encoding = "utf-8-sig"
        if line:
            with open(path, "rb") as handle:
                bom = handle.read(3) == codecs.BOM_UTF8
            # CJK text before the bad byte that is valid UTF-8 means the file started as UTF-8
            # (GBK text rarely forms even one 3-byte UTF-8 character by chance, never two in a row of text)
            if bom or wide >= 2:
                raise InputError(MIXED_ENCODING % line)
            line, _ = _first_bad_byte(path, "gb18030")
            if line:
                raise InputError(UNKNOWN_ENCODING % line)
            encoding = "gb18030"
        _sniffed[key] = encoding
    return _sniffed[key]


def _openpyxl():
    try:
        import openpyxl
    except ImportError:
        raise InputError(OPENPYXL_MISSING)
    return openpyxl


def read_rows(path, sheet=None):
    """Yield rows (lists of text); the first is the header."""
    import csv  # on first use: importing the module stays fast
    if not os.path.isfile(path):
        raise InputError("找不到表格文件:%s" % path)
    if path.lower().endswith((".xlsx", ".xlsm")):
        for row in XlsxSheet(path, sheet).rows():
            yield row
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


def write_rows(path, header, rows, encoding="utf-8-sig"):
    """Write atomically; if `path` is locked (open in Excel) use `<name>_1.<ext>` and so on.
    A CSV is written in `encoding` (the input's: GBK stays GBK). Returns the path written."""
    import csv  # on first use: importing the module stays fast
    def write(temporary):
        if temporary.lower().endswith((".xlsx", ".xlsm")):
            workbook = _openpyxl().Workbook(write_only=True)
            sheet = workbook.create_sheet()
            sheet.append(header)
            for row in rows:
                sheet.append(row)
            workbook.save(temporary)
        else:
            with open(temporary, "w", encoding=encoding, newline="") as handle:  # utf-8-sig's BOM: Excel opens it right
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(rows)
    return _publish(path, write)


def write_xlsx_copy(path, sheet, cells, widths=None):
    """Write a copy of `sheet`'s workbook with `cells` ({row: {column: text}}) added, atomically
    (see XlsxSheet.write_copy); returns the path written."""
    return _publish(path, lambda temporary: sheet.write_copy(temporary, cells, widths))


def _publish(path, write):
    """`write(temporary)` beside `path`, then rename it to `path`, or to `<name>_1.<ext>` ... when
    `path` is locked; a half-written file (full disk) never stays behind."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, ext = os.path.splitext(os.path.basename(path))
    temporary = os.path.join(folder, ".%s.tmp%s" % (stem, ext))
    try:
        write(temporary)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
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

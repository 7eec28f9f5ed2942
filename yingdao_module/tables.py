"""Spreadsheets: read text tables (UTF-8, UTF-8 with BOM, GBK, or UTF-16 with BOM as Excel's
「Unicode 文本」 saves it; comma, tab or semicolon separated; an Excel `sep=;` first line) and
xlsx (xlsx_read.py, standard library only); write them atomically (a temporary file, then a rename),
falling back to a new name when the output is open in Excel. A text table is written back in
its input's encoding, delimiter and `sep=` line, and the cells we add are made inert (a leading
' on text Excel would run as a formula). An xlsx batch output is a copy of the input workbook
with the new cells added (write_xlsx_copy)."""
import codecs
import collections
import csv
import os
import re

from .errors import InputError
from .log import log
from .xlsx_read import XlsxSheet
from .xlsx_write import splice_copy

OPENPYXL_MISSING = ("把分片合并成 .xlsx 需要 openpyxl:在影刀应用的「Python 包管理」里安装 openpyxl,"
                    "或在命令行运行 pip install openpyxl;也可以把表格另存为 CSV")


MIXED_ENCODING = ("CSV 文件第 %d 行不是 UTF-8 编码,而前面的行是 UTF-8:一个文件里混用了两种编码,读下去会出现乱码。"
                  "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
UNKNOWN_ENCODING = ("CSV 文件第 %d 行既不是 UTF-8 也不是 GBK 编码,读不懂。"
                    "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
BROKEN_CSV = ("表格文件 %s 第 %d 行读不通(%s):常见原因是单元格里有落单的引号,或一个单元格太长。"
              "请用 Excel 或 WPS 打开它,重新「另存为」后再运行(还没有发出任何请求,没有花钱)")
UNREADABLE_UTF16 = ("表格文件 %s 开头是 UTF-16(「Unicode 文本」)的标记,但内容读不通:%s。"
                    "请用 Excel 或 WPS 打开它,重新「另存为」后再运行(还没有发出任何请求,没有花钱)")
CHUNK = 1 << 20
HEADER_SCAN = 10  # rows searched for the header (a title or notes above it are common)
_sniffed = {}  # (path, size, mtime) -> encoding: the table is read again at every save

# How a text table is laid out: its encoding, its delimiter, and whether it starts with Excel's
# `sep=X` hint line (kept when the table is written back)
TextFormat = collections.namedtuple("TextFormat", "encoding delimiter sep_line")
CSV_UTF8 = TextFormat("utf-8-sig", ",", False)
DELIMITERS = (",", "\t", ";")  # in order of preference when the header splits equally
SEP_LINE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)
# OWASP's CSV injection advice: a cell starting with one of these may run as a formula in Excel/WPS
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset(FORMULA_START)
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")  # -5, +3.2, -10%: numbers, not formulas


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
    """'utf-16' for a file starting with a UTF-16 BOM (Excel's 「Unicode 文本」), 'utf-8-sig'
    for UTF-8 (with or without BOM), 'gb18030' for GBK (Excel's CSV on Chinese Windows), decided
    on the whole file; a file that changes encoding half-way is refused with the line, before
    anything is paid for."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime)
    if key not in _sniffed:
        with open(path, "rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                _sniffed[key] = "utf-16"
                return "utf-16"
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
    """Yield (row number, cells as text) for every row of the table; an xlsx jump in row
    numbers is skipped, not filled."""
    if not os.path.isfile(path):
        raise InputError("找不到表格文件:%s" % path)
    if path.lower().endswith((".xlsx", ".xlsm")):
        for numbered in XlsxSheet(path, sheet).rows():
            yield numbered
    elif path.lower().endswith((".csv", ".txt")):
        for numbered in enumerate(read_text_table(path), start=1):
            yield numbered
    else:
        raise InputError("只支持 .xlsx 和 .csv 表格:%s" % path)


def _clean_header(cells):
    header = [name.strip() for name in cells]
    while header and not header[-1]:
        header.pop()
    return header


def read_header(path, sheet=None, wanted=(), header_row=None, guesses=()):
    """(row number, cleaned header, found, top rows): row `header_row` when given; else the first
    of the top HEADER_SCAN rows holding every name in `wanted` (or, with nothing wanted, one
    of `guesses`); else the first non-blank row with found False, so the caller can show the
    top rows (header_preview) and name --header-row. Empty tables and repeated names are refused."""
    top, chosen, rows = [], None, read_rows(path, sheet)
    try:
        for number, cells in rows:
            if header_row:
                if number == header_row:
                    chosen = (number, _clean_header(cells))
                if number >= header_row:
                    break
                continue
            if number > HEADER_SCAN:
                break
            header = _clean_header(cells)
            top.append((number, header))
            if (wanted and all(name in header for name in wanted)) or (
                    not wanted and guesses and any(name in header for name in guesses)):
                chosen = (number, header)
                break
    finally:
        rows.close()
    found = chosen is not None
    if header_row and not (found and chosen[1]):
        raise InputError("表格 %s 里第 %d 行是空的或不存在:header_row(--header-row)应该是列名所在的行" % (path, header_row))
    chosen = chosen or next(((n, h) for n, h in top if h), (None, []))
    number, header = chosen
    if not header:
        raise InputError("表格是空的(前 %d 行里没有列名):%s" % (HEADER_SCAN, path))
    seen = set()
    for name in header:
        if name and name in seen:
            raise InputError("表格里有重复的列名「%s」(第 %d 行):请改成不同的名字,否则不知道用哪一列" % (name, number))
        seen.add(name)
    return number, header, found or bool(header_row) or not wanted, top


def header_preview(top):
    """What the top rows hold, and how to name the header row: for a header that was not found."""
    lines = ["第 %d 行:%s" % (number, "、".join(name[:20] for name in header if name)[:80] or "(空)")
             for number, header in top[:6]]
    return ("。表格前几行是:%s。如果列名不在第一行,请用 --header-row N(batch() 的参数 header_row=N)"
            "指定列名所在的行" % ";".join(lines))


def write_rows(path, header, rows, encoding="utf-8-sig", inert_from=None):
    """Write atomically; if `path` is locked (open in Excel) use `<name>_1.<ext>` and so on.
    A text table is written in `encoding`, an encoding name or the input's TextFormat (GBK stays
    GBK, 「Unicode 文本」 stays UTF-16 and tab-separated, a `sep=` line stays); its cells from
    column `inert_from` on (the ones we add) are made inert (inert_cell). Returns the path written."""
    def write(temporary):
        if temporary.lower().endswith((".xlsx", ".xlsm")):
            workbook = _openpyxl().Workbook(write_only=True)
            sheet = workbook.create_sheet()
            sheet.append(text_cells(sheet, header))
            for row in rows:
                sheet.append(text_cells(sheet, row))
            workbook.save(temporary)
        else:
            write_text_table(temporary, header, rows, encoding, inert_from)
    return _publish(path, write)


def sniff_format(path):
    """The TextFormat of a text table: its encoding (sniff_encoding), an Excel `sep=X` first line,
    else the delimiter that splits the header line into the most columns (comma on a tie)."""
    encoding = sniff_encoding(path)
    with open(path, encoding=encoding, newline="") as handle:
        try:
            first = handle.readline(1 << 16)
        except UnicodeDecodeError as err:
            raise InputError(UNREADABLE_UTF16 % (path, err))
        hint = SEP_LINE.match(first.rstrip("\r\n"))
        if hint:
            return TextFormat(encoding, hint.group(1), True)
    widths = [(len(next(csv.reader([first], delimiter=d), [])), -i, d) for i, d in enumerate(DELIMITERS)]
    return TextFormat(encoding, max(widths)[2], False)


def read_text_table(path):
    """Rows (lists of text) of a CSV / text table, in its own encoding and delimiter; an Excel
    `sep=` line is not a row."""
    found = sniff_format(path)
    with open(path, encoding=found.encoding, newline="") as handle:
        if found.sep_line:
            handle.readline()
        reader = csv.reader(handle, delimiter=found.delimiter)
        try:
            for row in reader:
                yield row
        except UnicodeDecodeError as err:  # UTF-16 is not scanned ahead like UTF-8 and GBK
            raise InputError(UNREADABLE_UTF16 % (path, err))
        except csv.Error as err:  # a stray quote runs a cell on past the field size limit
            raise InputError(BROKEN_CSV % (path, reader.line_num, err))


def write_text_table(path, header, rows, layout, inert_from=None):
    """Write `header` and `rows` as a text table in `layout` (a TextFormat or an encoding name);
    cells from column `inert_from` on are made inert."""
    if not isinstance(layout, TextFormat):
        layout = CSV_UTF8._replace(encoding=layout)
    def inert(row):
        if inert_from is None:
            return row
        row = list(row)
        for at in range(inert_from, len(row)):
            if isinstance(row[at], str) and row[at][:1] in FORMULA_FIRST:  # cheap test first: 100k rows
                row[at] = inert_cell(row[at])
        return row
    with open(path, "w", encoding=layout.encoding, newline="") as handle:  # utf-8-sig's BOM: Excel opens it right
        if layout.sep_line:
            handle.write("sep=%s\r\n" % layout.delimiter)
        writer = csv.writer(handle, delimiter=layout.delimiter)
        writer.writerow(inert(header))
        for row in rows:
            writer.writerow(inert(row))


def inert_cell(value):
    """Text Excel or WPS would run as a formula (starting with = + - @ tab or CR), with a leading '
    as OWASP advises for CSV, so it shows as the text it is; plain numbers (-5, +3.2) stay."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def text_cells(sheet, row):
    """`row` for openpyxl, with text starting with = kept as text: openpyxl would store it as a
    live formula (an answer "=1+1", or a CSV cell, is text, as it is in the xlsx copies)."""
    from openpyxl.cell import WriteOnlyCell
    cells = []
    for value in row:
        if isinstance(value, str) and value.startswith("="):
            value = WriteOnlyCell(sheet, value=value)
            value.data_type = "s"
        cells.append(value)
    return cells


def write_xlsx_copy(path, sheet, cells, widths=None):
    """Write a copy of `sheet`'s workbook with `cells` ({row: {column: text}}) added, atomically
    (see xlsx_write.splice_copy); returns the path written."""
    return _publish(path, lambda temporary: splice_copy(sheet, temporary, cells, widths))


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

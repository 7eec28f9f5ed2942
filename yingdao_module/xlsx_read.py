"""Read one worksheet of an .xlsx file as a stream, as the user sees it, with the standard library.

`XlsxSheet(path, sheet).rows()` yields (row number, texts) for every row that is in the file:
a jump in row numbers is skipped, never filled with blank rows; a row past Excel's 1,048,576,
a row number that goes backwards or a cell reference that is not one is refused. The active
sheet (the one Excel opens on) is read unless a name is given. Formulas give their cached
value; numbers come as plain text ("12.5", "3", percentages as "15%"), cells formatted as
dates as ISO text ("2026-11-25", "2026-11-25 14:30", "14:30" for a time alone), booleans as
TRUE / FALSE. A vertically merged cell's value is shown in every row it covers, as on
screen. Formulas without a cached value (a file written by a program, never opened in
Excel) are noted in `uncached` ({column: first row}) so the caller can stop or warn.
The package limits (size, ratio, DTD, relationships) are in xlsx_package.py.
"""
import datetime
import functools
import re

from .errors import InputError
from .xlsx_package import (attribute, check_package, open_package, part_chunks, part_path, relationships,
                           xlsx_refusal, xml_events)

XLSX_MAX_ROW = 1048576
XLSX_MAX_COLUMN = 16384
XLSX_MAX_MERGES = 1000000
XLSX_MAX_STRINGS = 4000000       # shared strings held in memory while a sheet is read ...
XLSX_MAX_STRING_CHARS = 1 << 26  # ... and their characters (a 400,000-row sheet of unique texts fits)
XLSX_MAX_STYLES = 1000000        # cell formats (Excel allows 64,000)
_XLSX_REF = re.compile(r"^([A-Za-z]{1,3})([0-9]{1,7})$")
_XLSX_MERGE = re.compile(rb'<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref\s*=\s*["\']([A-Za-z]{1,3}[0-9]{1,7}'
                         rb'(?::[A-Za-z]{1,3}[0-9]{1,7})?)["\']')
_XLSX_COLUMNS = {}  # 'AB' -> 28 (1-based), every cell has one: worth remembering
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XLSX_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_XLSX_PERCENT_FORMATS = (9, 10)


def column_letter(index):
    """0 -> 'A', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def split_ref(ref):
    """'AB12' -> (27, 12): column 0-based, row 1-based; (None, None) when it is not a reference
    inside Excel's grid."""
    match = _XLSX_REF.match(ref or "")
    if not match:
        return None, None
    letters = match.group(1)
    column = _XLSX_COLUMNS.get(letters)
    if column is None:
        column = 0
        for char in letters.upper():
            column = column * 26 + ord(char) - 64
        if column <= XLSX_MAX_COLUMN and letters.isupper():
            _XLSX_COLUMNS[letters] = column  # at most 16,384 entries: a bounded cache
    row = int(match.group(2))
    if column > XLSX_MAX_COLUMN or not 1 <= row <= XLSX_MAX_ROW:
        return None, None
    return column - 1, row


def _xlsx_format_kind(code):
    """'date', 'percent' or 'number' for a custom number format code."""
    bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code or "")  # quoted text, escapes, [colours] / [locales]
    if re.search(r"[dmyhsDMYHS]", bare.split(";")[0]) or re.match(r"\[(h|hh|m|mm|s|ss)\]", code or "", re.I):
        return "date"
    return "percent" if "%" in bare else "number"


def _xlsx_number(value):
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return "%.15g" % value  # Excel's precision: 0.1 + 0.2 shows as 0.3


class XlsxNumber(str):
    """A number cell: its text as shown, and `value` (int or float) for those that need the number
    (a workflow parameter from a number cell is a JSON number)."""
    __slots__ = ("value",)


def _xlsx_typed_number(value):
    shown = XlsxNumber(_xlsx_number(value))
    shown.value = int(value) if value.is_integer() and abs(value) < 1e15 else value
    return shown


def _xlsx_date(value, date1904):
    """An Excel serial date as ISO text: date, date and time, or time alone."""
    epoch = datetime.datetime(1904, 1, 1) if date1904 else datetime.datetime(1899, 12, 30)
    if not date1904 and value < 61:
        epoch += datetime.timedelta(days=1)  # Excel's 1900-02-29 that never was
    try:
        moment = epoch + datetime.timedelta(seconds=round(value * 86400))
    except (OverflowError, ValueError):
        return _xlsx_number(value)
    clock = moment.strftime("%H:%M:%S" if moment.second else "%H:%M")
    if 0 <= value < 1:
        return clock
    day = "%04d-%02d-%02d" % (moment.year, moment.month, moment.day)
    return day if value == int(value) else day + " " + clock


def _xlsx_int(text, default=0):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _xlsx_strings(events, refuse):
    """The shared strings: <t> runs of each <si>, without phonetic guides, _xHHHH_ decoded."""
    strings, parts, phonetic, chars = [], [], False, 0
    for is_start, tag, value in events:
        if tag == "rPh":
            phonetic = is_start
        elif not is_start and tag == "t" and not phonetic:
            parts.append(value)
        elif not is_start and tag == "si":
            strings.append(_XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(parts)))
            parts, chars = [], chars + len(strings[-1])
            if len(strings) > XLSX_MAX_STRINGS or chars > XLSX_MAX_STRING_CHARS:
                raise refuse("共享文字超过 %d 条或 %d 个字符,太大了;请另存为 CSV 再运行" % (XLSX_MAX_STRINGS, XLSX_MAX_STRING_CHARS))
    return strings


def _xlsx_formats(events, refuse):
    """How each cell style shows a number: 'date', 'percent' or 'number'."""
    custom, formats, in_xfs = {}, [], False
    for is_start, tag, attrs in events:
        if tag == "cellXfs":
            in_xfs = is_start
        elif is_start and tag == "numFmt":
            custom[_xlsx_int(attrs.get("numFmtId"))] = attrs.get("formatCode") or ""
        elif is_start and tag == "xf" and in_xfs:
            if len(formats) >= XLSX_MAX_STYLES:
                raise refuse("单元格格式超过 %d 种" % XLSX_MAX_STYLES)
            number_format = _xlsx_int(attrs.get("numFmtId"))
            if number_format in custom:
                formats.append(_xlsx_format_kind(custom[number_format]))
            elif number_format in _XLSX_DATE_FORMATS:
                formats.append("date")
            else:
                formats.append("percent" if number_format in _XLSX_PERCENT_FORMATS else "number")
    return formats


class XlsxSheet(object):
    """One worksheet of an .xlsx file: its name, its zip part, and its rows as a stream."""

    def __init__(self, path, sheet=None):
        self.path = path
        with open_package(path) as book:
            self._locate(book, sheet)
        self.uncached = {}  # column index -> first row whose formula has no cached value
        self._merges = None

    def _locate(self, book, wanted):
        root_rels = relationships(book, self.path, "")
        root = next((part_path(self.path, "", target, mode) for kind, target, mode in root_rels.values()
                     if kind == "officeDocument"), "xl/workbook.xml")
        rels = relationships(book, self.path, root)
        base = root.rsplit("/", 1)[0] if "/" in root else ""
        sheets, active, self.date1904 = [], 0, False
        for is_start, tag, attrs in xml_events(book, self.path, root):
            if is_start and tag == "workbookView" and not active:
                active = _xlsx_int(attrs.get("activeTab"))
            elif is_start and tag == "workbookPr":
                self.date1904 = attrs.get("date1904") in ("1", "true")
            elif is_start and tag == "sheet":
                kind, target, mode = rels.get(attribute(attrs, "id"), ("", "", None))
                sheets.append((attrs.get("name") or "", kind, target, mode))
        worksheets = [(name, target, mode) for name, kind, target, mode in sheets if kind == "worksheet"]
        self.names = [name for name, _, _ in worksheets]
        if not worksheets:
            raise InputError("表格里没有工作表:%s" % self.path)
        if wanted:
            found = [(target, mode) for name, target, mode in worksheets if name == wanted]
            if not found:
                raise InputError("表格里没有工作表「%s」,有的是:%s" % (wanted, "、".join(self.names)))
            self.name, (target, mode) = wanted, found[0]
        else:
            name, kind, target, mode = sheets[active] if 0 <= active < len(sheets) else sheets[0]
            if kind != "worksheet":
                name, target, mode = worksheets[0]
            self.name = name
        self.part = part_path(self.path, base, target, mode)
        others = dict((kind, part_path(self.path, base, target, mode)) for kind, target, mode in rels.values()
                      if kind in ("sharedStrings", "styles"))
        for part in [self.part] + list(others.values()):
            if part not in book.NameToInfo:
                raise xlsx_refusal(self.path, "缺少部件 %s(工作簿里的关系指向一个不存在的部件)" % part)
        self._strings_part, self._styles_part = others.get("sharedStrings"), others.get("styles")

    def verify(self):
        """Every part of the workbook checked once (see check_package): before any chat, not when
        the paid answers are written into the copy."""
        with open_package(self.path) as book:
            check_package(book, self.path)

    def _lookups(self, book):
        refuse = functools.partial(xlsx_refusal, self.path)
        strings = _xlsx_strings(xml_events(book, self.path, self._strings_part), refuse) if self._strings_part else []
        formats = _xlsx_formats(xml_events(book, self.path, self._styles_part), refuse) if self._styles_part else []
        return strings, formats

    def merges(self):
        """[(first column, first row, last column, last row)] of the merged ranges, found by
        scanning the part's bytes (they come after the rows, so a parse would need two passes)."""
        if self._merges is None:
            found, tail = set(), b""
            with open_package(self.path) as book:
                for chunk in part_chunks(book, self.path, self.part):
                    data = tail + chunk
                    found.update(m.group(1) for m in _XLSX_MERGE.finditer(data))
                    if len(found) > XLSX_MAX_MERGES:
                        raise xlsx_refusal(self.path, "合并单元格超过 %d 处" % XLSX_MAX_MERGES)
                    tail = data[-512:]
            merges = []
            for ref in sorted(found):
                start, _, end = ref.decode("ascii").partition(":")
                (c1, r1), (c2, r2) = split_ref(start), split_ref(end or start)
                if c1 is not None and c2 is not None:
                    merges.append((min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)))
            self._merges = merges
        return self._merges

    def rows(self, after=0):
        """Yield (row number, texts) for every row in the file below row `after`."""
        vertical = dict(((c1, r1), r2) for c1, r1, c2, r2 in self.merges() if r2 > r1)
        carried = {}  # column -> (last row of the merge, value)
        with open_package(self.path) as book:
            strings, formats = self._lookups(book)
            reader = _XlsxRowReader(self, strings, formats, after)
            for number, cells in reader.read(xml_events(book, self.path, self.part)):
                for column in range(len(cells) if vertical else 0):
                    if (column, number) in vertical:
                        carried[column] = (vertical[(column, number)], cells[column])
                yield number, self._carry(cells, number, carried)

    @staticmethod
    def _carry(cells, number, carried):
        for column, (last, value) in list(carried.items()):
            if number > last:
                del carried[column]
            elif not (column < len(cells) and cells[column]):
                cells.extend([""] * (column + 1 - len(cells)))
                cells[column] = value
        while cells and not cells[-1]:
            cells.pop()  # formatted blanks at the end of a row
        return cells

    def free_column(self, at_least=0, header_row=1):
        """The first column right of every cell that holds something and of every merged range
        that reaches the header row or below: new cells there are never hidden under a merge."""
        used = at_least
        for c1, r1, c2, r2 in self.merges():
            if r2 >= header_row:
                used = max(used, c2 + 1)
        with open_package(self.path) as book:
            column, filled = -1, False
            for is_start, tag, value in xml_events(book, self.path, self.part):
                if tag == "row" and is_start:
                    column = -1
                elif tag == "c" and is_start:
                    found, _ = split_ref(value.get("r"))
                    column, filled = column + 1 if found is None else found, False
                elif tag in ("v", "f", "is") and is_start:
                    filled = True
                elif tag == "c" and filled:
                    used = max(used, column + 1)
        return used


class _XlsxRowReader(object):
    """Turns the events of a sheet part into (row number, texts), checking numbers as it goes."""

    def __init__(self, sheet, strings, formats, after):
        self.sheet, self.strings, self.formats, self.after = sheet, strings, formats, after

    def refuse(self, problem):
        return xlsx_refusal(self.sheet.path, "工作表「%s」%s" % (self.sheet.name, problem))

    def read(self, events):
        number, cells, column, cell, phonetic = 0, None, -1, None, False
        for is_start, tag, value in events:
            if is_start:
                if tag == "c" and cells is not None:
                    column = self.column_of(value.get("r"), column, number)
                    # type, style, value, formula, texts
                    cell = [value.get("t") or "n", value.get("s"), None, False, []]
                elif tag == "row":
                    number = self.row_number(value.get("r"), number)
                    cells, column, cell = ([] if number > self.after else None), -1, None
                elif tag == "rPh":
                    phonetic = True
            elif cell is not None:
                if tag == "v":
                    cell[2] = value
                elif tag == "c":
                    text = self.text(cell, column, number)
                    if text:
                        cells.extend([""] * (column + 1 - len(cells)))
                        cells[column] = text
                    cell = None
                elif tag == "f":
                    cell[3] = True
                elif tag == "rPh":
                    phonetic = False
                elif tag == "t" and not phonetic:
                    cell[4].append(value)
            elif tag == "row" and cells is not None:
                yield number, cells
                cells = None

    def row_number(self, text, previous):
        if text is None:
            number = previous + 1
        elif not text.strip().isdigit():
            raise self.refuse("的行号「%s」不是数字" % text[:20])
        else:
            number = int(text)
        if number > XLSX_MAX_ROW:
            raise self.refuse("有第 %d 行,超过了 Excel 的最大行数 %d" % (number, XLSX_MAX_ROW))
        if number <= previous:
            raise self.refuse("的行号顺序错乱(第 %d 行出现在第 %d 行之后)" % (number, previous))
        return number

    def column_of(self, ref, previous, number):
        if ref is None:
            column = previous + 1
        else:
            column, _ = split_ref(ref)
            if column is None:
                raise self.refuse("第 %d 行的单元格引用「%s」不是有效的引用" % (number, ref[:20]))
        if column >= XLSX_MAX_COLUMN:
            raise self.refuse("第 %d 行的单元格超出了 Excel 的最大列数 %d" % (number, XLSX_MAX_COLUMN))
        return column

    def text(self, cell, column, number):
        kind, style, value, formula, texts = cell
        if kind == "inlineStr":
            return _XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(texts))
        if value is None or (value == "" and kind != "str"):
            if formula and column not in self.sheet.uncached:
                self.sheet.uncached[column] = number
            return ""
        if kind == "s":
            index = _xlsx_int(value, -1)
            if not 0 <= index < len(self.strings):
                raise self.refuse("第 %d 行引用了不存在的共享文字 %s" % (number, value[:20]))
            return self.strings[index]
        if kind == "b":
            return "TRUE" if value.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return value
        try:
            number_value = float(value)
        except ValueError:
            return value
        style = _xlsx_int(style)
        shown = self.formats[style] if 0 <= style < len(self.formats) else "number"
        if shown == "date":
            return _xlsx_date(number_value, self.sheet.date1904)
        if shown == "percent":
            return _xlsx_number(round(number_value * 100, 10)) + "%"
        return _xlsx_typed_number(number_value)

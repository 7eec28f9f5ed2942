"""xlsx workbooks with the standard library: read a sheet as the user sees it, and write a
copy of the workbook where only new cells are added.

Reading (`XlsxSheet(path, sheet).rows()`): the active sheet (the one Excel opens on) unless
a name is given; formulas give their cached value; numbers come as plain text ("12.5",
"3", percentages as "15%"), cells formatted as dates as ISO text ("2026-11-25",
"2026-11-25 14:30", "14:30" for a time alone), booleans as TRUE / FALSE. A vertically merged
cell's value is shown in every row it covers, as on screen. Formulas without a cached value
(a file written by a program, never opened in Excel) are noted in `uncached` so the caller
can warn.

Writing (`write_copy`): every zip part is copied unchanged, in the same order with the same
compression, except the processed sheet, where new inline-string cells are spliced into
the XML text; the existing cells, styles, merged cells, formulas, column widths, charts,
images and validations are left exactly as they were. Spliced rather than re-serialized:
ElementTree would rename namespace prefixes and drop declarations that `mc:Ignorable`
needs, which Excel reports as a damaged file.
"""
import datetime
import io
import posixpath
import re
import zipfile
from xml.etree import ElementTree

from .errors import InputError

XLSX_CELL_LIMIT = 32767  # characters Excel keeps in one cell
XLSX_ANSWER_WIDTH = 60   # column width given to a new answer column with no width of its own
_XLSX_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
_XLSX_ROW = re.compile(r"<(?P<p>(?:[\w.-]+:)?)row\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)row>)", re.S)
_XLSX_CELL = re.compile(r"<(?P<p>(?:[\w.-]+:)?)c\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)c>)", re.S)
_XLSX_ATTR = re.compile(r'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_XLSX_ILLEGAL = re.compile(u"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XLSX_ESCAPE_LOOKALIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XLSX_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_XLSX_PERCENT_FORMATS = (9, 10)
_XLSX_BROKEN = "不是有效的 .xlsx 文件(可能是旧的 .xls、设了打开密码或文件已损坏):%s。请在 Excel 里另存为 .xlsx 或 CSV"


def column_letter(index):
    """0 -> 'A', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xlsx_split_ref(ref):
    """'AB12' -> (27, 12); column 0-based, row 1-based."""
    match = _XLSX_REF.match(ref or "")
    if not match:
        return None, None
    column = 0
    for char in match.group(1):
        column = column * 26 + ord(char) - 64
    return column - 1, int(match.group(2))


def _xlsx_local(tag):
    return tag.rsplit("}", 1)[-1]


def _xlsx_attrs(text):
    return dict((m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _XLSX_ATTR.finditer(text))


def _xlsx_text_of(element):
    """The text of a shared or inline string: its <t> runs, without phonetic guides (<rPh>),
    with Excel's _xHHHH_ escapes decoded."""
    parts = []
    for child in element:
        name = _xlsx_local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _xlsx_local(t.tag) == "t")
    return _XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(parts))


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


def _xlsx_escape(text):
    text = _XLSX_ILLEGAL.sub("", text)
    if len(text) > XLSX_CELL_LIMIT:
        note = "…(超过 Excel 单元格上限,已截断;完整内容在 .journal.jsonl)"
        text = text[:XLSX_CELL_LIMIT - len(note)] + note
    text = _XLSX_ESCAPE_LOOKALIKE.sub(r"_x005F_\1", text)  # Excel would decode a literal _x0041_ as "A"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_apply(text, edits):
    """`text` with (start, end, replacement) edits applied; they do not overlap, and
    insertions at one place keep the order they were listed in (the sort is stable)."""
    out, position = [], 0
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0]):
        out.append(text[position:start])
        out.append(replacement)
        position = max(position, end)
    out.append(text[position:])
    return "".join(out)


class XlsxSheet(object):
    """One worksheet of an .xlsx file: its name, its zip part, and how to read and copy it."""

    def __init__(self, path, sheet=None):
        self.path = path
        try:
            with zipfile.ZipFile(path) as book:
                self._open(book, sheet)
        except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, UnicodeDecodeError) as err:
            raise InputError(_XLSX_BROKEN % (path,)) from err
        self.uncached = {}  # column index -> first row whose formula has no cached value

    def _open(self, book, wanted):
        root = self._part_path("", self._rels(book, "_rels/.rels").get("officeDocument", "xl/workbook.xml"))
        workbook = ElementTree.fromstring(book.read(root))
        rels = self._rels(book, posixpath.join(posixpath.dirname(root), "_rels", posixpath.basename(root) + ".rels"),
                          by_id=True)
        base = posixpath.dirname(root)
        sheets, active = [], 0
        self.date1904 = False
        for element in workbook.iter():
            name = _xlsx_local(element.tag)
            if name == "workbookView":
                active = int(element.get("activeTab") or 0)
                break
        for element in workbook.iter():
            name = _xlsx_local(element.tag)
            if name == "workbookPr":
                self.date1904 = element.get("date1904") in ("1", "true")
            elif name == "sheet":
                rel_id = next((v for k, v in element.attrib.items() if _xlsx_local(k) == "id"), None)
                kind, target = rels.get(rel_id, ("", ""))
                sheets.append((element.get("name"), kind, self._part_path(base, target)))
        worksheets = [(name, part) for name, kind, part in sheets if kind.endswith("/worksheet")]
        self.names = [name for name, _ in worksheets]
        if not worksheets:
            raise InputError("表格里没有工作表:%s" % self.path)
        if wanted:
            found = [part for name, part in worksheets if name == wanted]
            if not found:
                raise InputError("表格里没有工作表「%s」,有的是:%s" % (wanted, "、".join(self.names)))
            self.name, self.part = wanted, found[0]
        else:
            name, kind, part = sheets[active] if active < len(sheets) else sheets[0]
            self.name, self.part = (name, part) if kind.endswith("/worksheet") else worksheets[0]
        others = dict((kind.rsplit("/", 1)[-1], self._part_path(base, target)) for kind, target in rels.values())
        self._strings_part = others.get("sharedStrings")
        self._styles_part = others.get("styles")

    @staticmethod
    def _part_path(base, target):
        return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))

    @staticmethod
    def _rels(book, part, by_id=False):
        """{type tail: target} (or {id: (type, target)}) of a relationships part."""
        try:
            root = ElementTree.fromstring(book.read(part))
        except KeyError:
            return {}
        found = {}
        for rel in root:
            kind, target = rel.get("Type") or "", rel.get("Target") or ""
            if by_id:
                found[rel.get("Id")] = (kind, target)
            else:
                found[kind.rsplit("/", 1)[-1]] = target
        return found

    # -- reading ----------------------------------------------------------------------------
    def _lookups(self, book):
        strings, formats = [], []
        if self._strings_part and self._strings_part in book.namelist():
            for _, element in ElementTree.iterparse(io.BytesIO(book.read(self._strings_part))):
                if _xlsx_local(element.tag) == "si":
                    strings.append(_xlsx_text_of(element))
                    element.clear()
        if self._styles_part and self._styles_part in book.namelist():
            styles = ElementTree.fromstring(book.read(self._styles_part))
            custom = {}
            for element in styles.iter():
                if _xlsx_local(element.tag) == "numFmt":
                    custom[int(element.get("numFmtId") or 0)] = element.get("formatCode") or ""
            for section in styles:
                if _xlsx_local(section.tag) == "cellXfs":
                    for xf in section:
                        number_format = int(xf.get("numFmtId") or 0)
                        if number_format in custom:
                            formats.append(_xlsx_format_kind(custom[number_format]))
                        elif number_format in _XLSX_DATE_FORMATS:
                            formats.append("date")
                        else:
                            formats.append("percent" if number_format in _XLSX_PERCENT_FORMATS else "number")
        return strings, formats

    def rows(self):
        """Yield every row from row 1 on as a list of texts (missing rows and cells are empty)."""
        with zipfile.ZipFile(self.path) as book:
            strings, formats = self._lookups(book)
            data = book.read(self.part)
        merged = self._vertical_merges(data)
        carried = {}  # column -> (last row of the merge, value)
        expected = 1
        for _, element in ElementTree.iterparse(io.BytesIO(data)):
            if _xlsx_local(element.tag) != "row":
                continue
            number = int(element.get("r") or expected)
            while expected < number:
                yield self._carry([], expected, carried)
                expected += 1
            cells, column = [], -1
            for cell in element:
                if _xlsx_local(cell.tag) != "c":
                    continue
                found, _ = _xlsx_split_ref(cell.get("r"))
                column = column + 1 if found is None else found
                text = self._cell_text(cell, strings, formats, column, number)
                cells.extend([""] * (column + 1 - len(cells)))
                cells[column] = text
                if (column, number) in merged:
                    carried[column] = (merged[(column, number)], text)
            element.clear()
            yield self._carry(cells, number, carried)
            expected = number + 1

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

    @staticmethod
    def _vertical_merges(data):
        """{(column, first row): last row} of merged ranges that span rows."""
        merged = {}
        for ref in re.findall(rb'<(?:[\w.-]+:)?mergeCell\s+ref="([A-Z]+\d+:[A-Z]+\d+)"', data):
            start, end = ref.decode("ascii").split(":")
            column, first = _xlsx_split_ref(start)
            _, last = _xlsx_split_ref(end)
            if column is not None and last and last > first:
                merged[(column, first)] = last
        return merged

    def _cell_text(self, cell, strings, formats, column, number):
        kind = cell.get("t") or "n"
        value, formula, inline = None, False, None
        for child in cell:
            name = _xlsx_local(child.tag)
            if name == "v":
                value = child.text or ""
            elif name == "f":
                formula = True
            elif name == "is":
                inline = _xlsx_text_of(child)
        if kind == "inlineStr":
            return inline or ""
        if value is None or (value == "" and kind != "str"):
            if formula and column not in self.uncached:
                self.uncached[column] = number
            return ""
        if kind == "s":
            index = int(value)
            return strings[index] if 0 <= index < len(strings) else ""
        if kind == "b":
            return "TRUE" if value.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return value
        try:
            number_value = float(value)
        except ValueError:
            return value
        style = int(cell.get("s") or 0)
        shown = formats[style] if style < len(formats) else "number"
        if shown == "date":
            return _xlsx_date(number_value, self.date1904)
        if shown == "percent":
            return _xlsx_number(round(number_value * 100, 10)) + "%"
        return _xlsx_number(number_value)

    # -- writing ----------------------------------------------------------------------------
    def free_column(self, at_least=0):
        """The first column right of every cell that holds something (new cells go there)."""
        with zipfile.ZipFile(self.path) as book:
            text = book.read(self.part).decode("utf-8")
        used = at_least
        for row in _XLSX_ROW.finditer(text):
            column = -1
            for cell in _XLSX_CELL.finditer(row.group("body") or ""):
                found, _ = _xlsx_split_ref(_xlsx_attrs(cell.group("attrs")).get("r"))
                column = column + 1 if found is None else found
                if cell.group("body") and re.search(r"<(?:[\w.-]+:)?(v|f|is)\b", cell.group("body")):
                    used = max(used, column + 1)
        return used

    def write_copy(self, target, cells, widths=None):
        """Write a copy of the workbook to `target` with `cells` ({row: {column: text}}) added to
        this sheet as text; `widths` ({column: width}) sets widths of columns that have none."""
        with zipfile.ZipFile(self.path) as source, zipfile.ZipFile(target, "w") as out:
            out.comment = source.comment
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == self.part:
                    data = self._spliced(data.decode("utf-8"), cells, widths or {}).encode("utf-8")
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                copy.create_system, copy.comment, copy.extra = info.create_system, info.comment, info.extra
                out.writestr(copy, data)

    def _spliced(self, text, cells, widths):
        edits = []  # (start, end, replacement), applied back to front
        opening = re.search(r"<(?P<p>(?:[\w.-]+:)?)sheetData\b[^>]*?(?P<empty>/?)>", text)
        if not opening:
            raise InputError(_XLSX_BROKEN % (self.path,))
        prefix = opening.group("p")
        pending = sorted(number for number in cells if cells[number])
        max_row = max(pending) if pending else 0
        max_column = max([c for number in pending for c in cells[number]] or [0])
        if opening.group("empty"):
            rows = "".join(self._new_row(prefix, n, cells[n]) for n in pending)
            edits.append((opening.start(), opening.end(), "<%ssheetData>%s</%ssheetData>" % (prefix, rows, prefix)))
        else:
            end = text.index("</%ssheetData>" % prefix, opening.end())
            expected = 1
            for row in _XLSX_ROW.finditer(text, opening.end(), end):
                attrs = _xlsx_attrs(row.group("attrs"))
                number = int(attrs.get("r") or expected)
                expected = number + 1
                before = []
                while pending and pending[0] < number:
                    before.append(self._new_row(prefix, pending[0], cells[pending.pop(0)]))
                if before:
                    edits.append((row.start(), row.start(), "".join(before)))
                if pending and pending[0] == number:
                    edits.append((row.start(), row.end(), self._grown_row(row, number, cells[pending.pop(0)])))
            edits.append((end, end, "".join(self._new_row(prefix, n, cells[n]) for n in pending)))
        dimension = re.search(r'<(?:[\w.-]+:)?dimension\b[^>]*?\bref="([^"]*)"', text)
        if dimension and (max_row or max_column):
            edits.append((dimension.start(1), dimension.end(1), self._grown_ref(dimension.group(1), max_row, max_column)))
        edits.extend(self._width_edits(text, opening, prefix, widths))
        return _xlsx_apply(text, edits)

    @staticmethod
    def _new_cell(prefix, column, number, text, style=None):
        return '<%sc r="%s%d"%s t="inlineStr"><%sis><%st xml:space="preserve">%s</%st></%sis></%sc>' % (
            prefix, column_letter(column), number, ' s="%s"' % style if style else "", prefix, prefix,
            _xlsx_escape(text), prefix, prefix, prefix)

    def _new_row(self, prefix, number, row_cells):
        body = "".join(self._new_cell(prefix, c, number, row_cells[c]) for c in sorted(row_cells) if row_cells[c])
        return '<%srow r="%d">%s</%srow>' % (prefix, number, body, prefix) if body else ""

    def _grown_row(self, row, number, row_cells):
        """The row's XML with the new cells in column order; an empty cell already at a new
        cell's place (a formatted blank) is replaced, keeping its style."""
        prefix, body = row.group("p"), row.group("body") or ""
        existing, column = [], -1
        for cell in _XLSX_CELL.finditer(body):
            attrs = _xlsx_attrs(cell.group("attrs"))
            found, _ = _xlsx_split_ref(attrs.get("r"))
            column = column + 1 if found is None else found
            existing.append((column, cell.start(), cell.end(), attrs.get("s")))
        edits = []
        for new in sorted(c for c in row_cells if row_cells[c]):
            same = [e for e in existing if e[0] == new]
            if same:
                edits.append((same[0][1], same[0][2], self._new_cell(prefix, new, number, row_cells[new], same[0][3])))
            else:
                at = next((e[1] for e in existing if e[0] > new), len(body))
                edits.append((at, at, self._new_cell(prefix, new, number, row_cells[new])))
        body = _xlsx_apply(body, edits)
        attrs_text = row.group("attrs")
        spans = re.search(r'\bspans="(\d+):(\d+)"', attrs_text)
        if spans:
            widest = max([int(spans.group(2))] + [c + 1 for c in row_cells if row_cells[c]])
            attrs_text = attrs_text[:spans.start()] + 'spans="%s:%d"' % (spans.group(1), widest) + attrs_text[spans.end():]
        return "<%srow%s>%s</%srow>" % (prefix, attrs_text.rstrip(), body, prefix)

    @staticmethod
    def _grown_ref(ref, max_row, max_column):
        corners = [_xlsx_split_ref(part) for part in ref.split(":")]
        if any(c is None for c, _ in corners):
            return ref
        first_column, first_row = corners[0]
        last_column, last_row = corners[-1]
        return "%s%d:%s%d" % (column_letter(first_column), first_row, column_letter(max(last_column, max_column)),
                              max(last_row, max_row))

    @staticmethod
    def _width_edits(text, opening, prefix, widths):
        """Give new columns a width unless a <col> range already covers them."""
        cols = re.search(r"<(?:[\w.-]+:)?cols>(.*?)</(?:[\w.-]+:)?cols>", text[:opening.start()], re.S)
        ranges = []
        if cols:
            for col in re.finditer(r"<(?:[\w.-]+:)?col\b([^>]*?)/?>", cols.group(1)):
                attrs = _xlsx_attrs(col.group(1))
                ranges.append((int(attrs.get("min") or 0), int(attrs.get("max") or 0), cols.start(1) + col.start()))
        added = [(column + 1, width) for column, width in sorted(widths.items())
                 if not any(low <= column + 1 <= high for low, high, _ in ranges)]
        if not added:
            return []
        new = ['<%scol min="%d" max="%d" width="%s" customWidth="1"/>' % (prefix, c, c, w) for c, w in added]
        if not cols:
            return [(opening.start(), opening.start(), "<%scols>%s</%scols>" % (prefix, "".join(new), prefix))]
        edits = []
        for (column, _), element in zip(added, new):
            at = next((start for low, _, start in ranges if low > column), cols.end(1))
            edits.append((at, at, element))
        return edits

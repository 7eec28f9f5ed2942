"""Write a copy of an .xlsx workbook where only new cells are added (the splice writer).

Every zip part is copied as a stream, in the same order with the same compression, except
the processed sheet, where new inline-string cells are spliced into the XML text, also as a
stream (the head up to <sheetData>, then one <row> at a time): the existing cells, styles,
merged cells, formulas, column widths, charts, images and validations are left exactly as
they were, and no part is ever held whole in memory. Spliced rather than re-serialized:
ElementTree would rename namespace prefixes and drop declarations that `mc:Ignorable`
needs, which Excel reports as a damaged file. Parts are read through xlsx_package, so the
writer is bound by the same size and ratio limits as the reader.
"""
import codecs
import collections
import re
import zipfile

from .xlsx_package import open_package, part_chunks, xlsx_refusal
from .xlsx_read import column_letter, split_ref

XLSX_CELL_LIMIT = 32767  # characters Excel keeps in one cell
_XLSX_ROW = re.compile(r"<(?P<p>(?:[\w.-]+:)?)row\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)row>)", re.S)
_XLSX_CELL = re.compile(r"<(?P<p>(?:[\w.-]+:)?)c\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)c>)", re.S)
# the row's last cell, when it has a reference
_XLSX_LAST_CELL = re.compile(r'<(?:[\w.-]+:)?c\b[^>]*?\br="([A-Z]{1,3}[0-9]+)"')
_XLSX_ATTR = re.compile(r'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_XLSX_SHEETDATA = re.compile(r"<(?P<p>(?:[\w.-]+:)?)sheetData\b[^>]*?(?P<empty>/?)>")
_XLSX_ILLEGAL = re.compile(u"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XLSX_ESCAPE_LOOKALIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def _xlsx_attrs(text):
    return dict((m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _XLSX_ATTR.finditer(text))


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


def splice_copy(sheet, target, cells, widths=None):
    """Write a copy of `sheet`'s workbook to `target` with `cells` ({row: {column: text}}) added
    to the sheet as text; `widths` ({column: width}) sets widths of columns that have none."""
    with open_package(sheet.path) as source, zipfile.ZipFile(target, "w") as out:
        out.comment = source.comment
        for info in source.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
            copy.create_system, copy.comment, copy.extra = info.create_system, info.comment, info.extra
            with out.open(copy, "w", force_zip64=info.file_size > (1 << 30)) as stream:
                if info.filename == sheet.part:
                    _splice_into(stream, sheet.path, part_chunks(source, sheet.path, info.filename), cells, widths)
                elif not info.is_dir():
                    for chunk in part_chunks(source, sheet.path, info.filename):
                        stream.write(chunk)


def _splice_into(stream, path, chunks, cells, widths):
    try:
        for text in _XlsxSplice(path, cells, widths or {}).run(chunks):
            stream.write(text.encode("utf-8"))
    except UnicodeDecodeError:
        raise xlsx_refusal(path, "工作表部件不是 UTF-8 编码")


class _XlsxSplice(object):
    """The sheet part's text, streamed, with the new cells spliced in row by row."""

    def __init__(self, path, cells, widths):
        self.path, self.cells, self.widths = path, cells, widths
        self.pending = collections.deque(sorted(number for number in cells if cells[number]))

    def run(self, chunks):
        decoder = codecs.getincrementaldecoder("utf-8")()
        texts = (decoder.decode(chunk) for chunk in chunks)
        buffer, opening = "", None
        for text in texts:  # the head: everything up to and including <sheetData>
            buffer += text
            opening = _XLSX_SHEETDATA.search(buffer)
            if opening:
                break
        if not opening:
            raise xlsx_refusal(self.path, "工作表部件里没有 <sheetData>")
        prefix = opening.group("p")
        yield self.head(buffer[:opening.start()], prefix)
        if opening.group("empty"):
            yield "<%ssheetData>%s</%ssheetData>" % (prefix, self.new_rows(prefix, None), prefix)
            yield buffer[opening.end():]
        else:
            yield opening.group(0)
            for piece in self.rows(buffer[opening.end():], texts, prefix):
                yield piece
        for text in texts:
            yield text
        yield decoder.decode(b"", True)

    def rows(self, buffer, texts, prefix):
        """Yield the rows with new cells spliced in, then the rest of the buffer after </sheetData>."""
        closing, position, expected = "</%ssheetData>" % prefix, 0, 1
        while True:
            row = _XLSX_ROW.search(buffer, position)
            end = buffer.find(closing, position, row.start() if row else len(buffer))  # never past the next row
            if row and end < 0:
                number = _xlsx_attrs(row.group("attrs")).get("r") or str(expected)
                if not number.isdigit():
                    raise xlsx_refusal(self.path, "工作表的行号「%s」不是数字" % number[:20])
                number = int(number)
                expected = number + 1
                yield buffer[position:row.start()] + self.new_rows(prefix, number)
                if self.pending and self.pending[0] == number:
                    yield self.grown_row(row, number, self.cells[self.pending.popleft()])
                else:
                    yield row.group(0)
                position = row.end()
            elif end >= 0:
                yield buffer[position:end] + self.new_rows(prefix, None) + buffer[end:]
                return
            else:
                more = next(texts, None)
                if more is None:
                    raise xlsx_refusal(self.path, "工作表部件在 <sheetData> 里中断了")
                buffer, position = buffer[position:] + more, 0

    def new_rows(self, prefix, before):
        """New rows for the pending numbers below `before` (all of them when None)."""
        rows = []
        while self.pending and (before is None or self.pending[0] < before):
            number = self.pending.popleft()
            body = "".join(_new_cell(prefix, c, number, self.cells[number][c])
                           for c in sorted(self.cells[number]) if self.cells[number][c])
            rows.append('<%srow r="%d">%s</%srow>' % (prefix, number, body, prefix) if body else "")
        return "".join(rows)

    def head(self, text, prefix):
        """The part before <sheetData>: the dimension grown, widths for new columns."""
        rows = [n for n in self.cells if self.cells[n]]
        max_row = max(rows) if rows else 0
        max_column = max([c for n in rows for c in self.cells[n]] or [0])
        edits = []
        dimension = re.search(r'<(?:[\w.-]+:)?dimension\b[^>]*?\bref="([^"]*)"', text)
        if dimension and (max_row or max_column):
            edits.append((dimension.start(1), dimension.end(1), _grown_ref(dimension.group(1), max_row, max_column)))
        edits.extend(_width_edits(text, prefix, self.widths))
        return _xlsx_apply(text, edits)

    @staticmethod
    def grown_row(row, number, row_cells):
        """The row's XML with the new cells in column order; an empty cell already at a new
        cell's place (a formatted blank) is replaced, keeping its style."""
        prefix, body = row.group("p"), row.group("body") or ""
        at = body.rfind("<%sc " % prefix)
        last = _XLSX_LAST_CELL.match(body, at) if at >= 0 else None
        last_column = split_ref(last.group(1))[0] if last else None
        existing, column = [], -1
        if last_column is not None and last_column < min(row_cells):  # the usual case: every new cell goes last
            existing.append((last_column, len(body), len(body), None))
        for cell in [] if existing else _XLSX_CELL.finditer(body):
            attrs = _xlsx_attrs(cell.group("attrs"))
            found, _ = split_ref(attrs.get("r"))
            column = column + 1 if found is None else found
            existing.append((column, cell.start(), cell.end(), attrs.get("s")))
        edits = []
        for new in sorted(c for c in row_cells if row_cells[c]):
            same = [e for e in existing if e[0] == new]
            if same:
                edits.append((same[0][1], same[0][2], _new_cell(prefix, new, number, row_cells[new], same[0][3])))
            else:
                at = next((e[1] for e in existing if e[0] > new), len(body))
                edits.append((at, at, _new_cell(prefix, new, number, row_cells[new])))
        body = _xlsx_apply(body, edits)
        attrs_text = row.group("attrs")
        spans = re.search(r'\bspans="(\d+):(\d+)"', attrs_text)
        if spans:
            widest = max([int(spans.group(2))] + [c + 1 for c in row_cells if row_cells[c]])
            wider = 'spans="%s:%d"' % (spans.group(1), widest)
            attrs_text = attrs_text[:spans.start()] + wider + attrs_text[spans.end():]
        return "<%srow%s>%s</%srow>" % (prefix, attrs_text.rstrip().rstrip("/"), body, prefix)


def _new_cell(prefix, column, number, text, style=None):
    return '<%sc r="%s%d"%s t="inlineStr"><%sis><%st xml:space="preserve">%s</%st></%sis></%sc>' % (
        prefix, column_letter(column), number, ' s="%s"' % style if style else "", prefix, prefix,
        _xlsx_escape(text), prefix, prefix, prefix)


def _grown_ref(ref, max_row, max_column):
    corners = [split_ref(part) for part in ref.split(":")]
    if any(c is None for c, _ in corners):
        return ref
    first_column, first_row = corners[0]
    last_column, last_row = corners[-1]
    return "%s%d:%s%d" % (column_letter(first_column), first_row, column_letter(max(last_column, max_column)),
                          max(last_row, max_row))


def _width_edits(head, prefix, widths):
    """Give new columns a width unless a <col> range already covers them."""
    cols = re.search(r"<(?:[\w.-]+:)?cols>(.*?)</(?:[\w.-]+:)?cols>", head, re.S)
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
        return [(len(head), len(head), "<%scols>%s</%scols>" % (prefix, "".join(new), prefix))]
    edits = []
    for (column, _), element in zip(added, new):
        at = next((start for low, _, start in ranges if low > column), cols.end(1))
        edits.append((at, at, element))
    return edits

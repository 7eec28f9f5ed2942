"""Batch planning: which rows of the input table are asked now, and with what question.

A row is a `Row` (number in the sheet, cells, question, key, the chat a killed run noted).
Finished rows (same question key in the journal), blank rows and empty questions are not
asked; everything wrong with the table (missing columns, formulas without values) is refused
here, before any call is paid for.
"""
import collections
import hashlib
import json
import os
import re

from .errors import InputError
from .log import log
from .tables import header_preview, read_header, read_rows
from .xlsx_read import column_letter

STATUS_OK, STATUS_FAILED, STATUS_SKIPPED = "成功", "失败", "跳过"
EXTRA_COLUMNS = ("状态", "错误", "tokens", "chat_id", "行号")
TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")  # {{ and }} are literal braces, {name} a column
LITERAL_BRACES = {"{{": "{", "}}": "}"}
QUESTION_GUESSES = ("问题", "question", "提问")  # the question column when neither prompt nor question_column names one

# one row to ask: pending is the chat (or run) a killed run noted for the same question, or None
Row = collections.namedtuple("Row", "number cells question key pending")


# ---- questions ----------------------------------------------------------------------------------

def question_maker(header, prompt, question_column):
    """A function row -> question, checked against the columns before any call."""
    listing = "、".join(name for name in header if name)
    if prompt and question_column:
        raise InputError("prompt(提问模板)和 question_column(问题列)只能填一个")
    if prompt:
        names = [m.group(1) for m in TEMPLATE_PART.finditer(prompt) if m.group(1) is not None]
        missing = [name for name in names if name not in header]
        if missing:
            hint = "" if not re.search(r'[":,]', "".join(missing)) else \
                "。要在模板里写字面的大括号(例如让智能体回 JSON),请写成 {{ 和 }}"
            raise InputError("提问模板里的 {%s} 在表格里没有这一列。表格的列有:%s%s" % ("}、{".join(missing), listing, hint))
        if not names:
            raise InputError("提问模板里没有 {列名}:例如「为{商品名}写一句广告语」。表格的列有:%s" % listing)
        positions = dict((name, header.index(name)) for name in names)
        return _asking(lambda row: TEMPLATE_PART.sub(
            lambda m: LITERAL_BRACES.get(m.group(0)) or _cell(row, positions[m.group(1)]), prompt), positions)
    if not question_column:
        guesses = [name for name in header if name in QUESTION_GUESSES] or \
                  ([header[0]] if len([n for n in header if n]) == 1 else [])
        if not guesses:
            raise InputError("请用 prompt 写提问模板(例如「为{商品名}写一句广告语」),或用 question_column 指定问题所在的列。"
                             "表格的列有:%s" % listing)
        question_column = guesses[0]
    if question_column not in header:
        raise InputError("表格里没有「%s」这一列。表格的列有:%s" % (question_column, listing))
    position = header.index(question_column)
    return _asking(lambda row: _cell(row, position), {question_column: position})


def parameter_maker(header, parameters, reserved):
    """A function row -> the workflow's parameters as JSON text (sorted keys: the row's question key).
    Every column is a parameter of its name (a number cell a JSON number); `parameters` renames
    ({"city": "{城市}"}: the cell, typed, and 城市 is not sent by its own name), puts columns into
    text ("{城市}的天气") or adds constants. `reserved` columns (answers, files) are not parameters."""
    listing = "、".join(name for name in header if name)
    whole, templated, used = {}, {}, set()
    for name, value in parameters.items():
        if not isinstance(value, str):
            continue
        names = [m.group(1) for m in TEMPLATE_PART.finditer(value) if m.group(1) is not None]
        missing = [column for column in names if column not in header]
        if missing:
            raise InputError("parameters 里 %s 的 {%s} 在表格里没有这一列。表格的列有:%s" % (name, "}、{".join(missing), listing))
        used.update(names)
        match = TEMPLATE_PART.fullmatch(value.strip())
        if match and match.group(1) is not None:
            whole[name] = header.index(match.group(1))
        elif names:
            templated[name] = value
    by_name = dict((name, at) for at, name in enumerate(header)
                   if name and name not in used and name not in reserved and name not in parameters)
    positions = dict((column, header.index(column)) for column in used)
    positions.update(by_name)

    def make(row):
        def fill(found):
            return LITERAL_BRACES.get(found.group(0)) or _cell(row, positions[found.group(1)])
        values = dict((name, value) for name, value in parameters.items()
                      if name not in whole and name not in templated)
        values.update((name, _typed(row, at)) for name, at in list(by_name.items()) + list(whole.items()))
        values.update((name, TEMPLATE_PART.sub(fill, text)) for name, text in templated.items())
        return json.dumps(values, ensure_ascii=False, sort_keys=True)
    if not positions:
        raise InputError("表格里没有可以当作工作流参数的列(列名就是参数名)。表格的列有:%s" % listing)
    return _asking(make, positions)


def _typed(row, position):
    """A cell as a parameter value: a number cell of a workbook is a number, anything else its text."""
    value = _cell(row, position)
    return getattr(value, "value", value)


def _asking(make_question, positions):
    """make_question, knowing the template's columns ({name: position}) so blank rows are found."""
    make_question.columns = positions
    return make_question


def _cell(row, position):
    return row[position] if position < len(row) and row[position] is not None else ""


def question_key(question, files=""):
    """The key that ties a journal record to its question (and files): the same row with another
    question is asked again."""
    return hashlib.sha1((question + ("\n" + files if files else "")).encode("utf-8")).hexdigest()[:16]


def checked_table(options):
    """(header, row -> question) of the input table; every mistake in it is refused here, before any call."""
    template = options.prompt or "".join(v for v in options.parameters.values() if isinstance(v, str))
    wanted = [m.group(1) for m in TEMPLATE_PART.finditer(template) if m.group(1) is not None]
    wanted += [name for name in (options.question_column, options.answers_column, options.files_column) if name]
    number, header, found, top = read_header(options.input_path, options.sheet, wanted, options.header_row,
                                             QUESTION_GUESSES)
    try:
        for name in (options.answers_column, options.files_column):
            if name and name not in header:
                raise InputError("表格里没有「%s」这一列。表格的列有:%s" % (name, "、".join(n for n in header if n)))
        make_question = parameter_maker(header, options.parameters, (options.answers_column, options.files_column)) \
            if options.workflow_id else question_maker(header, options.prompt, options.question_column)
    except InputError as err:
        raise InputError(str(err) + ("" if found else header_preview(top)))
    options.table_header_row = number
    if options.answer_column in header:
        raise InputError("表格里已经有「%s」列:请用 answer_column 换一个回答列名" % options.answer_column)
    taken = [name for name in options.json_fields if name in header or name in EXTRA_COLUMNS
             or name == options.answer_column]
    if taken:
        raise InputError("json_fields 的键「%s」和表格里已有的列或结果列重名:请换个键名" % "、".join(taken))
    return header, make_question


# ---- the plan -------------------------------------------------------------------------------------

class Planner(object):
    """The input table of one run: its data rows (this shard's), and which of them to ask now."""

    def __init__(self, options, header, make_question, sheet):
        self.options, self.header, self.make_question, self.sheet = options, header, make_question, sheet
        self.scope = []  # row numbers this run covers (max_rows and shard applied)
        self.earlier = {"ok": 0, "failed": 0}  # rows finished by earlier runs and not asked again

    def rows(self):
        """(row number in the sheet, cells) for this shard's data rows (below the header row)."""
        header_row = self.options.table_header_row
        rows = self.sheet.rows(after=header_row) if self.sheet is not None else \
            read_rows(self.options.input_path, self.options.sheet)
        index = 0
        for number, cells in rows:
            if number <= header_row or not any(str(c).strip() for c in cells):
                continue
            index += 1
            shard = self.options.shard
            if shard and (index - 1) % shard[1] != shard[0] - 1:
                continue
            yield number, cells

    def plan(self, done):
        """(rows to ask now, skipped, blank, taken); finished rows, and rows whose template columns
        are all blank, are skipped (blank and empty ones are recorded in `done` as skipped)."""
        todo, skipped, blank, taken = [], 0, 0, 0
        columns = self.make_question.columns
        for number, cells in self.rows():
            if self.options.max_rows is not None and taken >= self.options.max_rows:
                break
            taken += 1
            self.scope.append(number)
            question = self.make_question(cells)
            key = question_key(question, self.column_text(cells, self.options.files_column))
            earlier = done.get(number) or {}
            if not self.options.ask_blank and not any(_cell(cells, at).strip() for at in columns.values()):
                done[number] = {"row": number, "key": key, "status": STATUS_SKIPPED,
                                "error": "这些列是空的:%s(没有提问,不花钱)" % "、".join(columns)}
                skipped += 1
                blank += 1
            elif not question.strip():
                done[number] = {"row": number, "key": key, "status": STATUS_SKIPPED, "error": "问题为空"}
                skipped += 1
            elif earlier.get("key") == key and earlier.get("status") and (
                    earlier["status"] in (STATUS_OK, STATUS_SKIPPED) or not self.options.retry_failed):
                skipped += 1  # answered (or failed and not retried) in an earlier run: not paid again
                self.earlier["failed" if earlier["status"] == STATUS_FAILED else "ok"] += 1
            else:
                noted = earlier.get("pending") if earlier.get("key") == key else None
                todo.append(Row(number, cells, question, key, noted))
        return todo, skipped, blank, taken

    def column_text(self, cells, name):
        """The text of a named column in a row ("" without that column)."""
        return str(_cell(cells, self.header.index(name))).strip() if name else ""

    def rows_above_header(self):
        """The rows above the header (a title, notes), as they are, blank ones included: a CSV output keeps them."""
        header_row, expected = self.options.table_header_row, 1
        rows = self.sheet.rows() if self.sheet is not None else read_rows(self.options.input_path, self.options.sheet)
        for number, cells in rows:
            if number >= header_row:
                break
            for _ in range(expected, number):
                yield []
            expected = number + 1
            yield list(cells)
        rows.close()

    def check_formulas(self):
        """Formulas without a stored value read as blank: in a column the questions use that would
        ask wrong questions (stop here, before any chat); elsewhere it is only a warning."""
        uncached = self.sheet.uncached
        used = [(name, uncached[at]) for name, at in self.make_question.columns.items() if at in uncached]
        if used:
            raise InputError(
                "「%s」列是公式,但文件里没有存算好的值(第 %d 行起;表格多半是程序生成的,没在 Excel 里打开保存过),"
                "提问会用到它,读出来却是空白。请用 Excel 或 WPS 打开 %s 保存一次再运行,或把这一列复制后「选择性粘贴 → 数值」"
                "(还没有发出任何请求,没有花钱)" % ("、".join(name for name, _ in used), used[0][1],
                                              os.path.basename(self.options.input_path)))
        others = [self.header[at] or column_letter(at) for at in sorted(uncached) if at < len(self.header)]
        if others:
            log("注意:「%s」列是公式,但文件里没有算好的值,输出里这些格是空白(提问没有用到它们)" % "、".join(others))


def without_duplicates(todo):
    """(rows to ask, [(copy row, number of the row it copies)]): one question is asked once."""
    first_of, unique, copies = {}, [], []
    for row in todo:
        if row.key in first_of:
            copies.append((row, first_of[row.key]))
            continue
        first_of[row.key] = row.number
        unique.append(row)
    return unique, copies

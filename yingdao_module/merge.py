"""Merge: join the outputs of a sharded batch (shard="K/N" on N robots) into one table in the
original row order, and say when a shard is missing or unfinished.

It takes file paths, or what batch() returned: its summary dict, or that dict as text (a
ShadowBot variable typed into 调用模块 arrives as text, JSON or Python-style quotes).
Shards of an .xlsx input are copies of the same workbook, each with its own rows answered:
their merge is the first copy with every other copy's new cells added.
"""
import ast
import itertools
import json
import os
import re

from .batch_options import refuse_same_file
from .errors import InputError
from .journal import journal_header
from .log import log
from .tables import HEADER_SCAN, inert_cell, read_rows, sniff_format, write_rows, write_xlsx_copy
from .xlsx_read import XlsxSheet

SHARD_IN_NAME = re.compile(r"\.shard(\d+)of(\d+)")
MERGE_INPUT_HELP = "merge 需要各分片的输出文件路径,或 batch 返回的汇总(字典或它的文本),或它们的列表"


def _literal(text):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)  # str() of a dict or list: single quotes
    except (ValueError, SyntaxError):
        raise InputError("%s;这段文本看不懂:%s" % (MERGE_INPUT_HELP, text[:80]))


def shard_sources(items):
    """[(path, summary or None)] from paths, batch summaries, or their text."""
    if isinstance(items, (str, dict)):
        items = [items]
    sources = []
    for item in items or []:
        if isinstance(item, str) and item.strip()[:1] in ("[", "{"):
            value = _literal(item.strip())
            sources.extend(shard_sources(value if isinstance(value, list) else [value]))
        elif isinstance(item, str) and item.strip():
            sources.append((item.strip().strip('"'), None))
        elif isinstance(item, dict) and item.get("output_path"):
            sources.append((str(item["output_path"]), item))
        else:
            raise InputError("%s;这一项不是:%r" % (MERGE_INPUT_HELP, item))
    if not sources:
        raise InputError(MERGE_INPUT_HELP)
    return sources


def _shard_of(path, summary):
    """(K, N) from the summary's shard, the output's journal (its first line names the shard) or the
    file name, or None: a renamed output still knows its shard."""
    text = str((summary or {}).get("shard") or journal_header(path).get("shard") or "")
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", text)
    match = match or SHARD_IN_NAME.search(os.path.basename(path))
    return (int(match.group(1)), int(match.group(2))) if match else None


def merge_shards(items, output_path=None):
    """(path written, [problems in Chinese]) — see merge()."""
    sources = shard_sources(items)
    header, rows, problems, shards, owner, from_workbook = None, [], [], {}, {}, set()
    for path, summary in sources:
        sheet = _answered_sheet(path) if path.lower().endswith((".xlsx", ".xlsm")) else None
        table = (cells for _, cells in (sheet.rows() if sheet else read_rows(path)))
        names = _numbered_header(table)
        if "行号" not in names:
            raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)
        header = header or names
        if names != header:
            raise InputError("%s 的列和其他分片不一样,不能合并" % path)
        number_at, status_at = names.index("行号"), names.index("状态") if "状态" in names else None
        unfinished = 0
        for row in table:
            if not row:
                continue
            number = row[number_at] if number_at < len(row) else ""
            if not number:
                continue  # a row of another shard, or a blank one, in a workbook copy
            if number in owner:
                raise InputError("第 %s 行同时出现在 %s 和 %s 里:同一个分片传了两次?" % (number, owner[number], path))
            owner[number] = path
            if sheet:
                from_workbook.add(number)
            if status_at is not None and (status_at >= len(row) or not row[status_at]):
                unfinished += 1
            rows.append(row)
        name = os.path.basename(path)
        if summary and summary.get("stopped_reason"):
            problems.append("%s 没有跑完:%s" % (name, summary["stopped_reason"]))
        elif unfinished:
            problems.append("%s 还有 %d 行没有处理(状态为空):在那台机器人上重跑同一命令即可续跑" % (name, unfinished))
        shard = _shard_of(path, summary)
        if shard:
            shards.setdefault(shard[1], set()).add(shard[0])
    for total, present in sorted(shards.items()):
        missing = [str(k) for k in range(1, total + 1) if k not in present]
        if missing:
            problems.append("缺少分片 %s(共 %d 份):等那几台机器人跑完,再把它们的输出一起交给 merge"
                            % ("、".join("%s/%d" % (k, total) for k in missing), total))
    if len(shards) > 1:
        problems.append("这些文件来自不同的分法(共 %s 份):只合并同一次分表的输出" % "、".join(str(n) for n in sorted(shards)))
    rows.sort(key=lambda row: int(row[number_at] or 0))
    output_path = safe_output(output_path, [path for path, _ in sources], finished_rows(rows, number_at, status_at),
                              problems)
    if all(path.lower().endswith((".xlsx", ".xlsm")) for path, _ in sources):
        return _merged_copy(sources[0][0], rows, output_path), problems
    # a text shard's cells were made inert when batch wrote it; a workbook's were not (nor can its
    # own columns be told from ours there), so every cell of its rows is made inert in a text table
    rows = [[inert_cell(cell) for cell in row] if row[number_at] in from_workbook else row for row in rows]
    first = sources[0][0]
    layout = "utf-8-sig" if first.lower().endswith((".xlsx", ".xlsm")) else sniff_format(first)
    return write_rows(output_path, header, rows, layout), problems


def _numbered_header(table):
    """The header of a batch output (the first of the top rows with 行号; title rows above it are
    skipped), or [] when there is none; `table` is left just after it."""
    for cells in itertools.islice(table, HEADER_SCAN):
        if "行号" in cells:
            return cells
    return []


def finished_rows(rows, number_at, status_at):
    """Row numbers with a status (answered, failed or skipped) in rows of a batch output."""
    return set(row[number_at] for row in rows if number_at < len(row) and row[number_at]
               and (status_at is None or (status_at < len(row) and row[status_at])))


def safe_output(output_path, source_paths, finished, problems):
    """Where to write the merge so that nothing is lost: never over a shard, never over a table that has
    finished rows this merge lacks (an earlier complete merge). Given by the user: refused; the default
    name: written beside it, and said in problems."""
    first = source_paths[0]
    chosen = output_path is not None
    if not chosen:
        output_path = SHARD_IN_NAME.sub("", first)
        if output_path == first:
            output_path = "%s_merged%s" % os.path.splitext(first)
    for path in source_paths:  # never write the merge over one of its shards, however spelled
        refuse_same_file(output_path, "output_path", [(path, "分片输出")])
    reason = what_would_be_lost(output_path, finished)
    if reason and chosen:
        raise InputError("%s:没有覆盖它。要更新它,把所有分片的输出一起交给 merge;要另存,用 output_path 换一个文件名" % reason)
    stem, ext = os.path.splitext(output_path)
    for number in range(1, 100):
        if not reason:
            return output_path
        output_path = "%s_部分合并%s%s" % (stem, number if number > 1 else "", ext)
        earlier, reason = reason, what_would_be_lost(output_path, finished)
        if not reason:
            problems.append("%s:没有覆盖它,这次的合并写在 %s" % (earlier, os.path.basename(output_path)))
    raise InputError("找不到可以写合并结果的文件名(%s 等都已存在):请用 output_path 指定一个" % os.path.basename(output_path))


def what_would_be_lost(output_path, finished):
    """Why writing output_path would lose something ("" when it would not): it holds finished rows that
    `finished` lacks, or it is not a batch output at all."""
    name = os.path.basename(output_path)
    if not os.path.exists(output_path):
        return ""
    try:
        sheet = _answered_sheet(output_path) if output_path.lower().endswith((".xlsx", ".xlsm")) else None
        table = (cells for _, cells in (sheet.rows() if sheet else read_rows(output_path)))
        names = _numbered_header(table)
        existing = finished_rows(list(table), names.index("行号"), names.index("状态") if "状态" in names else None)
    except (InputError, ValueError, OSError):
        return "%s 已经存在,而且不是 merge 的输出" % name
    lost = sorted(existing - finished, key=int)
    if not lost:
        return ""
    return "%s 是更完整的合并结果(%d 行已处理,这次合并只有 %d 行,少了第 %s 行)" % (
        name, len(existing), len(finished), _row_list(lost))


def _row_list(numbers, limit=8):
    return "、".join(numbers[:limit]) + (" 等 %d 行" % len(numbers) if len(numbers) > limit else "")


def _answered_sheet(path):
    """The sheet of a workbook copy that batch wrote its columns into (its header has 行号)."""
    for name in XlsxSheet(path).names:
        sheet = XlsxSheet(path, name)
        if _numbered_header(cells for _, cells in sheet.rows()):
            return sheet
    raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)


def _merged_copy(first, rows, output_path):
    """The first shard's workbook with the other shards' answers added where it has none."""
    sheet = _answered_sheet(first)
    mine = dict(sheet.rows())
    number_at = _numbered_header(iter(mine.values())).index("行号")
    cells = {}
    for row in rows:
        number = int(row[number_at])
        base = mine.get(number, [])
        added = dict((column, value) for column, value in enumerate(row)
                     if value and (column >= len(base) or not base[column]))
        if added:
            cells[number] = added
    return write_xlsx_copy(output_path, sheet, cells)


def merge(paths, output_path=None):
    """合并多台机器人分表(shard="K/N")的输出:按原表格的行号排好,写成一个表格,返回它的路径。

    paths        各分片的输出文件路径列表,或 batch 返回的汇总(字典,或它的文本),或它们的列表
    output_path  合并后的文件,默认去掉文件名里的 .shardKofN;那里已有更完整的合并结果时不覆盖
                 (默认名时另存为 <名字>_部分合并,指定的文件名则报错)
    缺少某一份、或某一份没跑完时,照样合并已有的行,并在日志里说明缺什么(输出改了名也认得出是第几份:
    看它旁边的断点日志)。
    """
    path, problems = merge_shards(paths, output_path)
    for problem in problems:
        log("合并提醒:%s" % problem)
    return path

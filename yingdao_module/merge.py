"""Merge: join the outputs of a sharded batch (shard="K/N" on N robots) into one table in the
original row order, and say when a shard is missing or unfinished.

It takes file paths, or what batch() returned: its summary dict, or that dict as text (a
ShadowBot variable typed into 调用模块 arrives as text, JSON or Python-style quotes).
Shards of an .xlsx input are copies of the same workbook, each with its own rows answered:
their merge is the first copy with every other copy's new cells added.
"""
import json
import os
import re

from .errors import InputError
from .log import log
from .tables import read_rows, write_rows, write_xlsx_copy
from .xlsx import XlsxSheet

SHARD_IN_NAME = re.compile(r"\.shard(\d+)of(\d+)")
MERGE_INPUT_HELP = "merge 需要各分片的输出文件路径,或 batch 返回的汇总(字典或它的文本),或它们的列表"


def _literal(text):
    import ast  # on first use: importing the module stays fast
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
    """(K, N) from the summary's shard or the file name, or None."""
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", str((summary or {}).get("shard") or ""))
    match = match or SHARD_IN_NAME.search(os.path.basename(path))
    return (int(match.group(1)), int(match.group(2))) if match else None


def merge_shards(items, output_path=None):
    """(path written, [problems in Chinese]) — see merge()."""
    sources = shard_sources(items)
    header, rows, problems, shards, owner = None, [], [], {}, {}
    for path, summary in sources:
        sheet = _answered_sheet(path) if path.lower().endswith((".xlsx", ".xlsm")) else None
        table = sheet.rows() if sheet else read_rows(path)
        names = next(table, None) or []
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
    first = sources[0][0]
    if output_path is None:
        output_path = SHARD_IN_NAME.sub("", first)
        if output_path == first:
            stem, ext = os.path.splitext(first)
            output_path = stem + "_merged" + ext
    if all(path.lower().endswith((".xlsx", ".xlsm")) for path, _ in sources):
        return _merged_copy(sources[0][0], rows, output_path), problems
    return write_rows(output_path, header, rows), problems


def _answered_sheet(path):
    """The sheet of a workbook copy that batch wrote its columns into (its header has 行号)."""
    for name in XlsxSheet(path).names:
        sheet = XlsxSheet(path, name)
        if "行号" in next(sheet.rows(), []):
            return sheet
    raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)


def _merged_copy(first, rows, output_path):
    """The first shard's workbook with the other shards' answers added where it has none."""
    sheet = _answered_sheet(first)
    mine = dict(enumerate(sheet.rows(), start=1))
    number_at = mine[1].index("行号")
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
    output_path  合并后的文件,默认去掉文件名里的 .shardKofN
    缺少某一份、或某一份没跑完时,照样合并已有的行,并在日志里说明缺什么。
    """
    path, problems = merge_shards(paths, output_path)
    for problem in problems:
        log("合并提醒:%s" % problem)
    return path

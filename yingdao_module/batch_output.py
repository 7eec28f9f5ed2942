"""Batch output: the answers written back (into a copy of the input workbook, or a text table
in the input's layout), the HTML report and the summary batch() returns.

Everything here is written from the run's records ({row number: record}), so the output can be
rewritten at any time (every SAVE_EVERY seconds and at the end) without losing anything.
"""
import itertools
import json
import os
import time

from .answer_cache import status_text
from .batch_ask import spread_json
from .review import REVIEW_COLUMN
from .batch_plan import EXTRA_COLUMNS, STATUS_FAILED, STATUS_OK, STATUS_SKIPPED
from .log import log
from .report import write_report
from .tables import sniff_format, write_rows, write_xlsx_copy

MESSAGES_COLUMN, FILES_COLUMN = "消息", "文件"  # a workflow's Message node texts; the files download saved
ANSWER_WIDTH = 60       # width of the answer column added to an xlsx copy
DEMO_SAYS = "离线演示:这些回答来自本机的扣子模拟器,不是真实智能体的回答"


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class BatchOutput(object):
    """The output table of one run; `output_path` is where it was last written."""

    def __init__(self, options, header, planner, sheet):
        self.options, self.header, self.planner, self.sheet = options, header, planner, sheet
        self.output_path = options.output_path
        self.first_new_column = None  # where the new columns go in an xlsx copy (found on first save)
        self.verdicts = {}  # {row number: 审核 verdict} read from the earlier output, kept on every rewrite
        self.reviewed = False  # the output has a 审核 column (see review_column)

    def review_column(self, verdicts):
        """Keep the earlier output's verdicts (None: it had no 审核 column); the column is written
        when the output had one or review is asked for, never twice (an input with its own)."""
        self.verdicts = verdicts or {}
        self.reviewed = (verdicts is not None or self.options.review) and REVIEW_COLUMN not in self.header

    def json_keys(self, done):
        """The JSON keys that get a column each: json_fields, or with json_columns every key answers had."""
        keys = list(self.options.json_fields)
        if (self.options.json_columns or self.options.workflow_id) and not keys:  # a workflow's End fields: always
            for record in done.values():
                for key in (spread_json(record.get("answer")) or {}):
                    if key not in keys and key not in self.header and key not in self.more_columns():
                        keys.append(key)
        return keys

    def more_columns(self):
        """Columns after the JSON fields: a workflow's Message texts, the downloaded files."""
        wanted = ((MESSAGES_COLUMN, self.options.workflow_id), (FILES_COLUMN, self.options.download))
        return [name for name, used in wanted if used] + [self.options.answer_column]

    def output_rows(self, done, json_keys):
        more = self.more_columns()[:-1]
        for number, cells in self.planner.rows():
            record = done.get(number) or {}
            cells = list(cells) + [""] * (len(self.header) - len(cells))
            spread = spread_json(record.get("answer")) if json_keys or self.options.workflow_id else None
            answer = "" if self.options.workflow_id and spread is not None else record.get("answer", "")
            row = cells[:len(self.header)] + [answer]  # a workflow's JSON object goes into its field columns only
            if json_keys:
                row += [_text((spread or {}).get(key, "")) for key in json_keys]
            row += [record.get("messages" if name == MESSAGES_COLUMN else "files", "") for name in more]
            row += [status_text(record), record.get("error", ""), record.get("tokens", ""),
                    record.get("chat_id", ""), number]
            row += [self.verdicts.get(number, "")] if self.reviewed else []  # last: the user's column
            yield row

    def save(self, done):
        """Write the table from the records; OSError or ValueError when the disk refuses."""
        json_keys = self.json_keys(done)
        added = [self.options.answer_column] + json_keys + self.more_columns()[:-1] + list(EXTRA_COLUMNS)
        added += [REVIEW_COLUMN] if self.reviewed else []
        if self.sheet is not None and self.output_path.lower().endswith((".xlsx", ".xlsm")):
            self.output_path = self.save_into_copy(done, added, json_keys)
        else:
            layout = "utf-8-sig" if self.sheet is not None else sniff_format(self.options.input_path)
            lines = itertools.chain(self.planner.rows_above_header(), [list(self.header) + added],
                                    self.output_rows(done, json_keys))
            # the input's cells as they were
            self.output_path = write_rows(self.output_path, next(lines), lines, layout, inert_from=len(self.header))

    def save_into_copy(self, done, added, json_keys):
        """The input workbook, copied, with the new columns right of everything on the sheet
        (and of any merged range in the header row), their names in the header row."""
        header_row = self.options.table_header_row
        if self.first_new_column is None:
            self.first_new_column = self.sheet.free_column(len(self.header), header_row)
        first = self.first_new_column
        cells = {header_row: dict((first + i, name) for i, name in enumerate(added))}
        for row in self.output_rows(done, json_keys):
            number = row[len(self.header) + added.index("行号")]
            cells[number] = dict((first + i, str(value)) for i, value in enumerate(row[len(self.header):])
                                  if value not in ("", None))
        return write_xlsx_copy(self.output_path, self.sheet, cells, {first: ANSWER_WIDTH})

    def report(self, run):
        """Write the HTML report of a run (never lets a report problem stop the batch)."""
        records = [run.done.get(number) or {} for number in run.planner.scope]
        status = [record.get("status") for record in records]
        facts = dict(
            title=os.path.basename(self.options.input_path), input=self.options.input_path, output=self.output_path,
            sheet=self.sheet.name if self.sheet else "", started=run.started_at,
            elapsed=time.monotonic() - run.started, generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            ok=status.count(STATUS_OK), failed=status.count(STATUS_FAILED), skipped=status.count(STATUS_SKIPPED),
            pending=sum(1 for value in status if not value), planned=run.planned,
            finished=run.counts["ok"] + run.counts["failed"],
            tokens=sum(r.get("tokens") or 0 for r in records if r.get("status") == STATUS_OK),
            all_tokens=sum(r.get("tokens") or 0 for r in records), chats=run.asker.chats,
            timeline=list(run.timeline), stopped_reason=run.stopped_reason, resume=run.resume_command(),
            asked_again=run.asker.asked_again, demo=DEMO_SAYS if run.demo else "",
            failures=[r for r in records if r.get("status") == STATUS_FAILED],
            skips=[r for r in records if r.get("status") == STATUS_SKIPPED],
            sections=list(getattr(run, "report_sections", [])))
        try:
            write_report(self.options.report_path, facts)
        except OSError as err:
            log("报告没有写成(%s):%s;批处理本身不受影响" % (type(err).__name__, self.options.report_path))


def summarize(run, taken, skipped, blank, started):
    """The summary batch() returns, logged: paid chats counted, asked-again ones too; a demo says so."""
    summary = {"total": taken, "done": run.counts["ok"], "skipped": skipped, "failed": run.counts["failed"],
               "tokens": run.counts["tokens"], "elapsed": round(time.monotonic() - started, 2),
               "output_path": run.output_path, "shard": run.options.shard_text,
               "stopped_reason": run.stopped_reason, "blank": blank, "report_path": run.options.report_path,
               "earlier_done": run.planner.earlier["ok"], "earlier_failed": run.planner.earlier["failed"],
               "resume_command": run.resume_command() if run.unfinished() else "",
               "chats": run.asker.chats, "asked_again": run.asker.asked_again,
               "cached": getattr(run.asker, "cached", 0)}
    if run.demo:
        summary["demo"] = DEMO_SAYS
    again = ",其中 %(asked_again)d 次是重问扣子那边失败的对话" if summary["asked_again"] else ""
    again += ",%(cached)d 行来自答案缓存(没有付费)" if summary["cached"] else ""
    text = (("【离线演示】" if run.demo else "") + ("批处理提前停止(原因见上)" if run.stopped_reason else "批处理结束")
            + ":成功 %(done)d 行,失败 %(failed)d 行,跳过 %(skipped)d 行(其中模板列空白 %(blank)d 行),"
            + ("运行工作流 %(chats)d 次" if run.options.workflow_id else "发起对话 %(chats)d 次") + again
            + ",用 %(tokens)d tokens,%(elapsed).1f 秒;输出 %(output_path)s;报告 %(report_path)s")
    log(text % summary)
    if summary["resume_command"]:
        log(summary["resume_command"])
    if run.demo:
        log(DEMO_SAYS)
    return summary

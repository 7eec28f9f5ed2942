"""Batch: push every row of a spreadsheet through a bot, fast, resumable, nothing lost.

    batch("商品.xlsx", prompt="为{商品名}写一句广告语", qps=2)

Every finished row goes to the journal (fsynced) before anything else; the output table is
rewritten from the journal every 30 s and at the end. Running the same call again skips
finished rows. Fatal errors (token, bot, quota, daily limit) stop the run at once, save
everything and say how to continue. shard="K/N" lets N robots split one workbook; merge.py
joins their outputs in the original row order.
"""
import collections
import errno
import hashlib
import itertools
import json
import os
import re
import threading
import time

from .client import Client
from .config import DEFAULT_TIMEOUT
from .batch_options import BatchOptions
from .errors import CozeError, InputError
from .journal import DEMO_SERVER, Journal
from .log import log
from .ratelimit import RateLimiter
from .report import write_report
from .resume import DEMO_TOKEN, resume_text
from .tables import header_preview, read_header, read_rows, sniff_format, write_rows, write_xlsx_copy
from .xlsx_read import XlsxSheet, column_letter

STATUS_OK, STATUS_FAILED, STATUS_SKIPPED = "成功", "失败", "跳过"
EXTRA_COLUMNS = ("状态", "错误", "tokens", "chat_id", "行号")
SAVE_EVERY = 30.0       # seconds between rewrites of the output table
PROGRESS_EVERY = 10.0   # seconds between progress lines (or every 5 %)
TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")  # {{ and }} are literal braces, {name} a column
LITERAL_BRACES = {"{{": "{", "}}": "}"}
JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
JSON_REPAIR = "上次回答不是合法的 JSON,只输出包含 %s 的 JSON 对象"
ANSWER_WIDTH = 60       # width of the answer column added to an xlsx copy
QUESTION_GUESSES = ("问题", "question", "提问")  # the question column when neither prompt nor question_column names one
DEMO_SAYS = "离线演示:这些回答来自本机的扣子模拟器,不是真实智能体的回答"


class BatchStopped(Exception):
    """The run stops (fatal error, qpd, max_tokens) before this row could ask: it stays unfinished."""


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


def _asking(make_question, positions):
    """make_question, knowing the template's columns ({name: position}) so blank rows are found."""
    make_question.columns = positions
    return make_question


def _cell(row, position):
    return row[position] if position < len(row) and row[position] is not None else ""


def spread_json(answer):
    """The dict inside an answer (plain or in a ```json fence), or None."""
    fenced = JSON_FENCE.match(answer or "")
    try:
        value = json.loads(fenced.group(1) if fenced else answer)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# ---- the run ------------------------------------------------------------------------------

class BatchRun(object):
    """One run over one input: the plan, the journal, the workers, the output."""

    def __init__(self, options, header, make_question, client, stop, bot_id=""):
        self.options, self.header, self.make_question = options, header, make_question
        self.client, self.stop = client, stop  # its chat waits for the rate limiter and refuses to start once stop is set
        self.output_path = options.output_path
        xlsx = options.input_path.lower().endswith((".xlsx", ".xlsm"))
        self.sheet = XlsxSheet(options.input_path, options.sheet) if xlsx else None
        if self.sheet is not None:
            self.sheet.verify()  # every part, before any chat: a broken one would stop the copy after paying
        self.first_new_column = None  # where the new columns go in an xlsx copy (found on first save)
        self.scope, self.timeline, self.chats = [], [], 0
        self.started, self.started_at, self.planned = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S"), 0
        settings = getattr(client, "settings", None)  # tests may stand in for Client
        self.bot_id, self.base_url = bot_id or "", getattr(settings, "base_url", "") or ""
        self.app = getattr(settings, "app", None) or (None, None, None)
        self.demo = getattr(settings, "token", None) == DEMO_TOKEN
        self.journal = Journal(options.journal_path, {
            "input": options.input_path, "prompt": options.prompt or "", "question_column": options.question_column or "",
            "sheet": options.sheet or "", "bot_id": bot_id or "", "shard": options.shard_text,
            "server": DEMO_SERVER if self.demo else self.base_url})
        self.earlier = {"ok": 0, "failed": 0}  # rows finished by earlier runs and not asked again
        self.done = {}
        self.unsaved = []  # answers paid for that the disk refused: kept here, written again at the end
        self.stopped_reason = ""
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "failed": 0, "tokens": 0, "asked_again": 0}
        self.total = 0

    # -- planning ---------------------------------------------------------------------------
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

    def plan(self):
        """The rows to ask now, as (row number, question, key, chat noted by a killed run or None);
        finished rows, and rows whose template columns are all blank, are skipped."""
        todo, skipped, blank, taken = [], 0, 0, 0
        columns = self.make_question.columns
        for number, cells in self.rows():
            if self.options.max_rows is not None and taken >= self.options.max_rows:
                break
            taken += 1
            self.scope.append(number)
            question = self.make_question(cells)
            key = hashlib.sha1(question.encode("utf-8")).hexdigest()[:16]
            earlier = self.done.get(number) or {}
            if not self.options.ask_blank and not any(_cell(cells, at).strip() for at in columns.values()):
                self.done[number] = {"row": number, "key": key, "status": STATUS_SKIPPED,
                                     "error": "这些列是空的:%s(没有提问,不花钱)" % "、".join(columns)}
                skipped += 1
                blank += 1
            elif not question.strip():
                self.done[number] = {"row": number, "key": key, "status": STATUS_SKIPPED, "error": "问题为空"}
                skipped += 1
            elif earlier.get("key") == key and earlier.get("status") and (
                    earlier["status"] in (STATUS_OK, STATUS_SKIPPED) or not self.options.retry_failed):
                skipped += 1  # answered (or failed and not retried) in an earlier run: not paid again
                self.earlier["failed" if earlier["status"] == STATUS_FAILED else "ok"] += 1
            else:
                todo.append((number, question, key, earlier.get("pending") if earlier.get("key") == key else None))
        return todo, skipped, blank, taken

    # -- asking -------------------------------------------------------------------------------
    def ask_row(self, number, question, key, pending=None):
        if self.stop.is_set():
            return None
        record = {"row": number, "key": key}
        network_tries = asked_again = 0
        while True:
            try:
                result, tokens, problem = self.converse(number, key, question, pending)
                record.update(status=STATUS_FAILED if problem else STATUS_OK, answer=result["answer"],
                              error=problem, tokens=tokens, chat_id=result["chat_id"] or "")
                break
            except BatchStopped:
                return None  # asked nothing new; a chat already noted is recovered by the next run
            except CozeError as err:
                pending = None
                record.update(status=STATUS_FAILED, answer="", error=err.message, tokens=0,
                              chat_id=err.chat_id or "")
                if err.fatal:
                    self.halt(err.message if "重跑" in err.message else "%s。处理好后重跑同一命令即可从断点继续" % err.message)
                    return None  # a fatal answer is not the row's fault: leave it for the next run
                if err.failed_chat:
                    if asked_again < self.options.chat_retries and not self.stop.is_set():
                        asked_again += 1
                        self.ask_again(number, err, asked_again)
                        continue
                    record["error"] = still_failed(err.message, asked_again)
                    break
                network_tries += 1
                if not err.retryable or network_tries == 2 or self.stop.wait(2.0):
                    break
        self.finish(record)
        return record

    def ask_again(self, number, err, attempt):
        """Say (truthfully: it happens now) that a chat failed on Coze's side is asked again, paid again."""
        with self.lock:
            self.counts["asked_again"] += 1
        log("第 %d 行的对话在扣子那边失败(%s):自动重问(第 %d/%d 次,多付一次对话)"
            % (number, err.message, attempt, self.options.chat_retries))

    def converse(self, number, key, question, pending):
        """(result, tokens, problem) of one row: the answer of a chat a killed run already paid for,
        or of a new chat; with json_fields, one repair question in the same conversation."""
        result = self.recover(pending) if pending else None
        repaired = bool(result and pending.get("repair"))
        earlier_tokens = pending.get("tokens", 0) if repaired else 0
        if result is None:
            result = self.new_chat(number, key, question)
        tokens = earlier_tokens + result["usage"]["token_count"]
        problem = self.json_problem(result["answer"])
        if problem and not repaired:
            result = self.new_chat(number, key, JSON_REPAIR % "、".join(self.options.json_fields),
                                   result["conversation_id"], tokens)
            tokens += result["usage"]["token_count"]
            problem = self.json_problem(result["answer"])
        return result, tokens, "回答不是合法的 JSON(追问一次后仍然不是):%s" % problem if problem else ""

    def new_chat(self, number, key, question, conversation_id=None, tokens_before=None):
        """Ask, paid (the client waits for the rate limits), noting the chat id in the journal the
        moment the chat exists."""
        if self.stop.is_set():
            raise BatchStopped()

        def noted(chat_id, conversation):
            with self.lock:
                self.chats += 1
            pending = {"chat_id": chat_id, "conversation_id": conversation}
            if tokens_before is not None:
                pending.update(repair=True, tokens=tokens_before)
            try:
                self.journal.append({"row": number, "key": key, "pending": pending})
            except (OSError, ValueError) as err:  # the answer itself is still kept (finish)
                self.halt(cannot_write(self.journal.path, err))
        return self.client.chat(question, conversation_id=conversation_id, on_created=noted, tools=self.options.tools)

    def recover(self, pending):
        """The result of a chat a killed run paid for, or None when it cannot be had (ask again)."""
        try:
            return self.client.recover(pending["chat_id"], pending["conversation_id"], tools=self.options.tools)
        except CozeError as err:
            if err.fatal and not err.chat_id:  # the account's problem (token, quota now): stop
                raise
            # the old chat failed, or cannot be found any more: this row is asked again
            log("中断前的对话 %s 没有找回(%s),重新提问" % (pending["chat_id"], err.message))
            return None

    def json_problem(self, answer):
        """What is wrong with an answer that must be a JSON object with json_fields, or ""."""
        fields = self.options.json_fields
        if not fields:
            return ""
        value = spread_json(answer)
        if value is None:
            return "不是 JSON 对象"
        missing = [name for name in fields if name not in value]
        return "缺少键 %s" % "、".join(missing) if missing else ""

    def finish(self, record):
        try:
            self.journal.append(record)  # first: the answer is safe on disk before the table is written
        except (OSError, ValueError) as err:
            with self.lock:
                self.unsaved.append(record)
            self.halt(cannot_write(self.journal.path, err))
        with self.lock:
            self.done[record["row"]] = record
            self.counts["ok" if record["status"] == STATUS_OK else "failed"] += 1
            self.counts["tokens"] += record.get("tokens") or 0
            max_tokens = self.options.max_tokens
            if max_tokens is not None and self.counts["tokens"] >= max_tokens and not self.stop.is_set():
                self.halt("已用 %d tokens,达到 max_tokens 上限 %d" % (self.counts["tokens"], max_tokens))

    def halt(self, reason):
        if not self.stop.is_set():
            self.stopped_reason = reason
            self.stop.set()
            log("批处理停止:%s" % reason)

    # -- output -------------------------------------------------------------------------------
    def output_rows(self, json_keys):
        for number, cells in self.rows():
            record = self.done.get(number) or {}
            cells = list(cells) + [""] * (len(self.header) - len(cells))
            row = cells[:len(self.header)] + [record.get("answer", "")]
            if json_keys:
                spread = spread_json(record.get("answer")) or {}
                row += [_text(spread.get(key, "")) for key in json_keys]
            row += [record.get("status", ""), record.get("error", ""), record.get("tokens", ""),
                    record.get("chat_id", ""), number]
            yield row

    def save(self):
        json_keys = list(self.options.json_fields)
        if self.options.json_columns and not json_keys:
            for record in self.done.values():
                for key in (spread_json(record.get("answer")) or {}):
                    if key not in json_keys and key not in self.header:
                        json_keys.append(key)
        added = [self.options.answer_column] + json_keys + list(EXTRA_COLUMNS)
        try:
            if self.sheet is not None and self.output_path.lower().endswith((".xlsx", ".xlsm")):
                self.output_path = self.save_into_copy(added, json_keys)
            else:
                layout = "utf-8-sig" if self.sheet is not None else sniff_format(self.options.input_path)
                lines = itertools.chain(self.rows_above_header(), [list(self.header) + added], self.output_rows(json_keys))
                self.output_path = write_rows(self.output_path, next(lines), lines, layout,  # the input's cells as they were
                                              inert_from=len(self.header))
        except (OSError, ValueError) as err:  # the answers stay in the journal (or in memory) for now
            self.halt(cannot_write(self.output_path, err))
        self.report()

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

    def save_into_copy(self, added, json_keys):
        """The input workbook, copied, with the new columns right of everything on the sheet
        (and of any merged range in the header row), their names in the header row."""
        header_row = self.options.table_header_row
        if self.first_new_column is None:
            self.first_new_column = self.sheet.free_column(len(self.header), header_row)
        first = self.first_new_column
        cells = {header_row: dict((first + i, name) for i, name in enumerate(added))}
        for row in self.output_rows(json_keys):
            cells[row[-1]] = dict((first + i, str(value)) for i, value in enumerate(row[len(self.header):])
                                  if value not in ("", None))
        return write_xlsx_copy(self.output_path, self.sheet, cells, {first: ANSWER_WIDTH})

    def report(self):
        """Write the HTML report (never lets a report problem stop the batch)."""
        records = [self.done.get(number) or {} for number in self.scope]
        status = [record.get("status") for record in records]
        elapsed = time.monotonic() - self.started
        facts = dict(
            title=os.path.basename(self.options.input_path), input=self.options.input_path, output=self.output_path,
            sheet=self.sheet.name if self.sheet else "", started=self.started_at, elapsed=elapsed,
            generated=time.strftime("%Y-%m-%d %H:%M:%S"), ok=status.count(STATUS_OK),
            failed=status.count(STATUS_FAILED), skipped=status.count(STATUS_SKIPPED),
            pending=sum(1 for value in status if not value), planned=self.planned,
            finished=self.counts["ok"] + self.counts["failed"],
            tokens=sum(r.get("tokens") or 0 for r in records if r.get("status") == STATUS_OK),
            all_tokens=sum(r.get("tokens") or 0 for r in records), chats=self.chats,
            timeline=list(self.timeline), stopped_reason=self.stopped_reason, resume=self.resume_command(),
            asked_again=self.counts["asked_again"], demo=DEMO_SAYS if self.demo else "",
            failures=[r for r in records if r.get("status") == STATUS_FAILED],
            skips=[r for r in records if r.get("status") == STATUS_SKIPPED])
        try:
            write_report(self.options.report_path, facts)
        except OSError as err:
            log("报告没有写成(%s):%s;批处理本身不受影响" % (type(err).__name__, self.options.report_path))

    def resume_command(self):
        """How to continue this run: the command for this platform's shells (no secrets), and
        in ShadowBot: run the same flow again."""
        failed = any(self.done.get(n, {}).get("status") == STATUS_FAILED for n in self.scope)
        return resume_text(self.options, self.bot_id, self.base_url, self.app[0], self.app[1], self.demo, failed)

    def unfinished(self):
        """Rows of this run without an answer: not asked yet, or failed."""
        return sum(1 for n in self.scope if self.done.get(n, {}).get("status") in (None, STATUS_FAILED))

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

    # -- the whole run ------------------------------------------------------------------------------
    def run(self, dedupe_label="与第 %d 行问题相同,沿用其回答"):
        try:
            self.journal.take_run_lock(self.options.wait)
        except KeyboardInterrupt:
            log("已中断:还没有开始提问,没有花钱")
            raise
        try:
            self.done = self.journal.load(self.options.restart)
            return self.run_locked(dedupe_label)
        finally:
            self.journal.release_run_lock()

    def run_locked(self, dedupe_label):
        started = self.started = time.monotonic()
        todo, skipped, blank, taken = self.plan()
        self.total = taken
        if self.earlier["ok"]:
            log("续跑:%d 行已在之前完成,跳过(不会重复计费)" % self.earlier["ok"])
        if self.earlier["failed"]:
            log("续跑:%d 行之前失败,这次不重试(要重试请加 retry_failed=True,命令行 --retry-failed)" % self.earlier["failed"])
        if blank:
            log("%d 行的模板列(%s)全是空的:没有提问,状态记为「跳过」" % (blank, "、".join(self.make_question.columns)))
        first_of = {}
        if self.options.dedupe:
            unique = []
            for item in todo:
                if item[2] in first_of:
                    continue
                first_of[item[2]] = item[0]
                unique.append(item)
            copies = [item[:3] for item in todo if first_of.get(item[2]) != item[0]]
            todo = unique
        else:
            copies = []
        self.planned = len(todo)
        if self.sheet is not None:
            log("使用工作表「%s」(工作簿里有:%s)" % (self.sheet.name, "、".join(self.sheet.names)))
            self.check_formulas()
        log("批处理开始:共 %d 行,本次要问 %d 行,并发 %d" % (taken, len(todo), self.options.concurrency))
        try:
            self.ask_all(todo, started)
            for number, question, key in copies:
                original = self.done.get(first_of[key])
                if original and original.get("status") == STATUS_OK:
                    self.finish(dict(original, row=number, key=key, tokens=0,
                                     error=dedupe_label % first_of[key]))
        except KeyboardInterrupt:
            self.close()
            log("已中断:已完成的 %d 行都已保存在 %s。重跑同一命令即可从断点继续,已完成的行不会重复付费"
                % (sum(1 for r in self.done.values() if r.get("status")), self.output_path))
            log(self.resume_command())
            raise
        self.close()
        return self.summarize(taken, skipped, blank, started)

    def summarize(self, taken, skipped, blank, started):
        """The summary batch() returns, logged: paid chats counted, asked-again ones too; a demo says so."""
        summary = {"total": taken, "done": self.counts["ok"], "skipped": skipped, "failed": self.counts["failed"],
                   "tokens": self.counts["tokens"], "elapsed": round(time.monotonic() - started, 2),
                   "output_path": self.output_path, "shard": self.options.shard_text,
                   "stopped_reason": self.stopped_reason, "blank": blank, "report_path": self.options.report_path,
                   "earlier_done": self.earlier["ok"], "earlier_failed": self.earlier["failed"],
                   "resume_command": self.resume_command() if self.unfinished() else "",
                   "chats": self.chats, "asked_again": self.counts["asked_again"]}
        if self.demo:
            summary["demo"] = DEMO_SAYS
        again = ",其中 %(asked_again)d 次是重问扣子那边失败的对话" if summary["asked_again"] else ""
        text = (("【离线演示】" if self.demo else "") + ("批处理提前停止(原因见上)" if self.stopped_reason else "批处理结束")
                + ":成功 %(done)d 行,失败 %(failed)d 行,跳过 %(skipped)d 行(其中模板列空白 %(blank)d 行),"
                "发起对话 %(chats)d 次" + again + ",用 %(tokens)d tokens,%(elapsed).1f 秒;输出 %(output_path)s;"
                "报告 %(report_path)s")
        log(text % summary)
        if summary["resume_command"]:
            log(summary["resume_command"])
        if self.demo:
            log(DEMO_SAYS)
        return summary

    def close(self):
        """Write what the disk refused earlier (it may have room again), then the table."""
        unsaved, self.unsaved = self.unsaved, []
        for record in unsaved:
            try:
                self.journal.append(record)
            except (OSError, ValueError):
                self.unsaved.append(record)
        self.journal.close()
        if self.unsaved:
            log("仍有 %d 个已付费的回答写不进磁盘(第 %s 行),程序结束后会丢失,下次运行会重新提问这几行" % (
                len(self.unsaved), "、".join(str(r["row"]) for r in self.unsaved)))
        self.save()

    def ask_all(self, todo, started):
        """Keep `concurrency` rows in flight (a bounded window, so 100,000 rows cost no memory),
        saving the table every SAVE_EVERY seconds and logging progress."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait  # on first use: fast import
        window = set()
        last_save = last_progress = time.monotonic()
        next_share, reported = 0.05, 0
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            items = iter(todo)
            try:
                while True:
                    while len(window) < self.options.concurrency * 2 and not self.stop.is_set():
                        item = next(items, None)
                        if item is None:
                            break
                        window.add(pool.submit(self.ask_row, *item))
                    if not window:
                        break
                    # any finished row frees its place at once (waiting for the oldest one could
                    # leave workers idle while it waits for the rate limiter); at least a 1 s tick
                    finished_rows = wait(window, timeout=1.0, return_when=FIRST_COMPLETED)[0]
                    for future in finished_rows:
                        window.discard(future)
                        if future.exception() is not None:  # a bug in one row must not lose the whole run
                            log("有一行处理出错:%s" % type(future.exception()).__name__)
                    now = time.monotonic()
                    if now - last_save >= SAVE_EVERY:
                        self.save()
                        last_save = now
                    finished = self.counts["ok"] + self.counts["failed"]
                    if finished != (self.timeline[-1][1] if self.timeline else 0):
                        self.timeline.append((round(now - started, 2), finished, self.counts["failed"]))
                    due = now - last_progress >= PROGRESS_EVERY or (todo and finished >= next_share * len(todo))
                    if due and finished != reported:  # a line only when something new happened
                        self.progress(started, len(todo))
                        last_progress, reported = now, finished
                        while todo and finished >= next_share * len(todo):
                            next_share += 0.05
            except KeyboardInterrupt:
                for future in window:
                    future.cancel()  # rows not started are not paid for; started ones finish and are kept
                self.halt("收到 Ctrl-C:不再开始新的行,等进行中的行结束后保存")
                raise

    def progress(self, started, planned):
        with self.lock:
            finished = self.counts["ok"] + self.counts["failed"]
            elapsed = max(0.001, time.monotonic() - started)
            rate = finished / elapsed
            eta = (planned - finished) / rate if rate else 0
            log("进度 %d/%d:成功 %d,失败 %d,%.2f 行/秒,预计还需 %d 秒,已用 %d tokens" % (
                finished, planned, self.counts["ok"], self.counts["failed"], rate, eta, self.counts["tokens"]))


def cannot_write(path, err):
    """The stop reason for a file that cannot be written, in Chinese, with the way out."""
    why = "磁盘已满(或超过了文件大小上限)" if getattr(err, "errno", None) in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)) \
        else "没有写权限或文件被占用" if getattr(err, "errno", None) in (errno.EACCES, errno.EPERM) else "写入失败"
    return ("写不进文件 %s:%s(%s)。已停止,不再发新的请求;已拿到的回答先留在内存里,结束前再写一次。"
            "请腾出磁盘空间(或换一个能写的 output_path)后重跑同一命令,从断点继续,已写入的行不会重复付费"
            % (os.path.basename(path), why, getattr(err, "strerror", None) or type(err).__name__))


def still_failed(message, asked_again):
    """A failed chat's text once no retry is left: how often it was asked, and how to ask the failed rows again."""
    tried = "已重问 %d 次仍失败" % asked_again if asked_again else "没有重问(chat_retries 为 0)"
    return ("%s(%s)。之后重跑失败的行:同一命令加 --retry-failed(影刀里 retry_failed 填 是),已成功的行不会重复付费"
            % (message, tried))


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def checked_table(options):
    """(header, row -> question) of the input table; every mistake in it is refused here, before any call."""
    wanted = [m.group(1) for m in TEMPLATE_PART.finditer(options.prompt or "") if m.group(1) is not None]
    wanted += [options.question_column] if options.question_column else []
    number, header, found, top = read_header(options.input_path, options.sheet, wanted, options.header_row,
                                             QUESTION_GUESSES)
    try:
        make_question = question_maker(header, options.prompt, options.question_column)
    except InputError as err:
        raise InputError(str(err) + ("" if found else header_preview(top)))
    options.table_header_row = number
    if number > 1:
        log("列名在第 %d 行(上面 %d 行原样保留);不对的话用 --header-row N 指定" % (number, number - 1))
    if options.answer_column in header:
        raise InputError("表格里已经有「%s」列:请用 answer_column 换一个回答列名" % options.answer_column)
    taken = [name for name in options.json_fields if name in header or name in EXTRA_COLUMNS
             or name == options.answer_column]
    if taken:
        raise InputError("json_fields 的键「%s」和表格里已有的列或结果列重名:请换个键名" % "、".join(taken))
    return header, make_question


def batch(input_path, prompt=None, question_column=None, output_path=None, sheet=None, answer_column="回答",
          bot_id=None, token=None, base_url=None, concurrency=2, qps=None, qpm=None, qpd=None, max_rows=None,
          max_tokens=None, retry_failed=False, shard=None, json_columns=False, dedupe=False, timeout=DEFAULT_TIMEOUT,
          restart=False, wait=False, app_id=None, key_id=None, private_key=None,
          json_fields=None, ask_blank=False, report_path=None, tools=None, header_row=None, chat_retries=2):
    """表格批处理:表格每一行问智能体一次,回答写进新表格;再次运行同一调用会从断点继续,不重复付费。

    input_path       输入表格 .xlsx、.csv 或 .txt(原表格不会被修改;.xlsx 的输出是原工作簿的副本加上新列)
    prompt           提问模板,{列名} 换成这一行的值,例如「为{商品名}写一句广告语」;{{ 和 }} 是字面的大括号
    question_column  不用模板时,直接拿这一列当问题(和 prompt 二选一)
    output_path      输出表格,默认 <名字>_coze.<扩展名>
    sheet            工作表名,默认 Excel 打开时显示的那个
    answer_column    回答列的列名,默认「回答」
    bot_id           智能体 ID,不填用全局变量 coze_bot_id
    token            个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url         API 地址,不填用 https://api.coze.cn
    app_id           服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask();跑几千行、跨夜的批处理建议用它
    key_id           服务类应用公钥的指纹(公钥 ID)
    private_key      私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    concurrency      同时进行的对话数,默认 2
    qps              每秒最多发起多少次对话(可填小数)
    qpm              每分钟最多发起多少次对话
    qpd              每天最多发起多少次对话(按账号计,重启后也记得;到了就停,明天续跑)
    max_rows         只做前 N 行(试跑)
    max_tokens       累计 token 到这个数就停止(花费上限)
    retry_failed     续跑时也重试之前失败的行
    shard            K/N:N 台机器人分一张表,本机做第 K 份
    json_columns     回答是 JSON 时一键一列
    dedupe           相同的问题只问一次
    timeout          每行最多等多少秒,默认 180
    restart          日志属于另一个提示词 / 智能体 / 表格时,把旧日志改名存档后重新开始
    wait             另一个批处理正在写同一个输出时,等它结束再继续(默认立即停止并说明)
    json_fields      回答必须是含这些键的 JSON 对象(例如 "标题,卖点"),每个键一列;不合格时同一会话追问一次
    ask_blank        模板用到的列全空的行也提问(默认跳过,不花钱)
    report_path      报告网页,默认 <输出名>_报告.html
    tools            智能体的本地工具(端插件),同 ask()
    header_row       列名在第几行;默认在前 10 行里找含有模板各列(或问题列)的那一行,上面的标题行原样保留
    chat_retries     扣子那边失败的对话(例如错误码 5000)在本次运行里再问几次,默认 2,0 = 不再问;每次重问多付一次对话

    返回汇总字典:total, done, skipped(其中 blank 行是模板列空白), failed, tokens, elapsed, output_path,
    report_path, stopped_reason(空 = 正常结束), earlier_done / earlier_failed(之前已成功 / 已失败的行),
    resume_command(继续这次运行的命令,全部完成时为空)。
    """
    options = BatchOptions(**locals())  # every parameter as typed: locals() holds exactly them here
    header, make_question = checked_table(options)
    stop = threading.Event()
    limiter = RateLimiter(options.qps, options.qpm, options.qpd)
    # checks token and bot before any call; tests and benchmarks stand in for Client here
    client = Client(token=options.token, bot_id=options.bot_id, base_url=options.base_url, timeout=options.timeout,
                    app_id=options.app_id, key_id=options.key_id, private_key=options.private_key,
                    before_request=limiter.hook(stop))  # every POST /v3/chat waits for the limiter, retries included
    limiter.share_with_account(client.settings)
    return BatchRun(options, header, make_question, client, stop, client.settings.bot_id).run()

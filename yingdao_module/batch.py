"""Batch: push every row of a spreadsheet through a bot, fast, resumable, nothing lost.

    batch("商品.xlsx", prompt="为{商品名}写一句广告语", qps=2)

Every finished row goes to the journal (fsynced) before anything else; the output table is
rewritten from the journal every 30 s and at the end. Running the same call again skips
finished rows. Fatal errors (token, bot, quota, daily limit) stop the run at once, save
everything and say how to continue. shard="K/N" lets N robots split one workbook; merge()
joins their outputs in the original row order.
"""
import collections
import hashlib
import json
import os
import re
import threading
import time

from .client import Client
from .config import clean_bool, clean_timeout
from .errors import CozeError, InputError
from .journal import Journal
from .log import log
from .ratelimit import RateLimiter
from .tables import read_header, read_rows, write_rows

STATUS_OK, STATUS_FAILED, STATUS_SKIPPED = "成功", "失败", "跳过"
EXTRA_COLUMNS = ("状态", "错误", "tokens", "chat_id", "行号")
SAVE_EVERY = 30.0       # seconds between rewrites of the output table
PROGRESS_EVERY = 10.0   # seconds between progress lines (or every 5 %)
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


# ---- parameters (they arrive as text from ShadowBot's 调用模块) ---------------------------

def _count(value, name, minimum=1, allow_float=False):
    if value is None or value == "":
        return None
    try:
        number = float(value) if allow_float else int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError("%s 应该是%s,现在是 %r" % (name, "数字" if allow_float else "整数", value))
    if number < minimum or (allow_float and number <= 0):
        raise InputError("%s 应该大于 0,现在是 %r" % (name, value))
    return number


def parse_shard(shard):
    """'K/N' -> (K, N), 1-based; None when not sharding."""
    if shard is None or shard == "":
        return None
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", str(shard))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise InputError("shard 应该写成「第几份/共几份」,例如 1/3、2/3、3/3(从 1 开始,不能超过总份数),现在是 %r" % (shard,))
    return int(match.group(1)), int(match.group(2))


def question_maker(header, prompt, question_column):
    """A function row -> question, checked against the columns before any call."""
    listing = "、".join(name for name in header if name)
    if prompt and question_column:
        raise InputError("prompt(提问模板)和 question_column(问题列)只能填一个")
    if prompt:
        missing = [name for name in PLACEHOLDER.findall(prompt) if name not in header]
        if missing:
            raise InputError("提问模板里的 {%s} 在表格里没有这一列。表格的列有:%s" % ("}、{".join(missing), listing))
        if not PLACEHOLDER.search(prompt):
            raise InputError("提问模板里没有 {列名}:例如「为{商品名}写一句广告语」。表格的列有:%s" % listing)
        positions = dict((name, header.index(name)) for name in PLACEHOLDER.findall(prompt))
        return lambda row: PLACEHOLDER.sub(lambda m: _cell(row, positions[m.group(1)]), prompt)
    if not question_column:
        guesses = [name for name in header if name in ("问题", "question", "提问")] or \
                  ([header[0]] if len([n for n in header if n]) == 1 else [])
        if not guesses:
            raise InputError("请用 prompt 写提问模板(例如「为{商品名}写一句广告语」),或用 question_column 指定问题所在的列。"
                             "表格的列有:%s" % listing)
        question_column = guesses[0]
    if question_column not in header:
        raise InputError("表格里没有「%s」这一列。表格的列有:%s" % (question_column, listing))
    position = header.index(question_column)
    return lambda row: _cell(row, position)


def _cell(row, position):
    return row[position] if position < len(row) and row[position] is not None else ""


def default_output(input_path, shard):
    stem, ext = os.path.splitext(input_path)
    suffix = ".shard%dof%d" % shard if shard else ""
    return "%s_coze%s%s" % (stem, suffix, ext if ext.lower() in (".xlsx", ".csv") else ".csv")


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

    def __init__(self, input_path, sheet, make_question, header, output_path, answer_column, chat, limiter,
                 concurrency, shard, max_rows, max_tokens, retry_failed, json_columns, dedupe, journal_header):
        self.input_path, self.sheet, self.header, self.output_path = input_path, sheet, header, output_path
        self.make_question, self.answer_column, self.chat, self.limiter = make_question, answer_column, chat, limiter
        self.concurrency, self.shard, self.max_rows, self.max_tokens = concurrency, shard, max_rows, max_tokens
        self.retry_failed, self.json_columns, self.dedupe = retry_failed, json_columns, dedupe
        self.journal = Journal(output_path + ".journal.jsonl", journal_header)
        self.done = self.journal.load()
        self.stop = threading.Event()
        self.stopped_reason = ""
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "failed": 0, "tokens": 0}
        self.total = 0

    # -- planning ---------------------------------------------------------------------------
    def rows(self):
        """(row number in the sheet, cells) for this shard's data rows."""
        rows = read_rows(self.input_path, self.sheet)
        next(rows, None)
        index = 0
        for number, cells in enumerate(rows, start=2):
            if not any(str(c).strip() for c in cells):
                continue
            index += 1
            if self.shard and (index - 1) % self.shard[1] != self.shard[0] - 1:
                continue
            yield number, cells

    def plan(self):
        """The rows to ask now, as (row number, question, key); finished rows are skipped."""
        todo, skipped, taken = [], 0, 0
        for number, cells in self.rows():
            if self.max_rows is not None and taken >= self.max_rows:
                break
            taken += 1
            question = self.make_question(cells)
            key = hashlib.sha1(question.encode("utf-8")).hexdigest()[:16]
            earlier = self.done.get(number)
            if not question.strip():
                self.done[number] = {"row": number, "key": key, "status": STATUS_SKIPPED, "error": "问题为空"}
                skipped += 1
            elif earlier and earlier.get("key") == key and (
                    earlier["status"] in (STATUS_OK, STATUS_SKIPPED) or not self.retry_failed):
                skipped += 1  # answered (or failed and not retried) in an earlier run: not paid again
            else:
                todo.append((number, question, key))
        return todo, skipped, taken

    # -- asking -------------------------------------------------------------------------------
    def ask_row(self, number, question, key):
        if self.stop.is_set() or not self.limiter.acquire(self.stop):
            if not self.stop.is_set():
                self.halt("已达到每日调用上限 qpd,明天重跑同一命令即可续跑")
            return None
        record = {"row": number, "key": key}
        for attempt in (1, 2):
            try:
                result = self.chat(question)
                record.update(status=STATUS_OK, answer=result["answer"], error="",
                              tokens=result["usage"]["token_count"], chat_id=result["chat_id"] or "")
                break
            except CozeError as err:
                record.update(status=STATUS_FAILED, answer="", error=err.message, tokens=0,
                              chat_id=err.chat_id or "")
                if err.fatal:
                    self.halt("%s。处理好后重跑同一命令即可从断点继续" % err.message)
                    return None  # a fatal answer is not the row's fault: leave it for the next run
                if not err.retryable or attempt == 2 or self.stop.wait(2.0):
                    break
        self.finish(record)
        return record

    def finish(self, record):
        self.journal.append(record)  # first: the answer is safe on disk before anything else
        with self.lock:
            self.done[record["row"]] = record
            self.counts["ok" if record["status"] == STATUS_OK else "failed"] += 1
            self.counts["tokens"] += record.get("tokens") or 0
            if self.max_tokens is not None and self.counts["tokens"] >= self.max_tokens and not self.stop.is_set():
                self.halt("已用 %d tokens,达到 max_tokens 上限 %d" % (self.counts["tokens"], self.max_tokens))

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
        json_keys = []
        if self.json_columns:
            for record in self.done.values():
                for key in (spread_json(record.get("answer")) or {}):
                    if key not in json_keys and key not in self.header:
                        json_keys.append(key)
        header = list(self.header) + [self.answer_column] + json_keys + list(EXTRA_COLUMNS)
        self.output_path = write_rows(self.output_path, header, self.output_rows(json_keys))

    # -- the whole run ------------------------------------------------------------------------------
    def run(self, dedupe_label="与第 %d 行问题相同,沿用其回答"):
        started = time.monotonic()
        todo, skipped, taken = self.plan()
        self.total = taken
        if skipped:
            log("续跑:%d 行已在之前完成,跳过(不会重复计费)" % skipped)
        first_of = {}
        if self.dedupe:
            unique = []
            for number, question, key in todo:
                if key in first_of:
                    continue
                first_of[key] = number
                unique.append((number, question, key))
            copies = [(n, q, k) for n, q, k in todo if first_of.get(k) != n]
            todo = unique
        else:
            copies = []
        log("批处理开始:共 %d 行,本次要问 %d 行,并发 %d" % (taken, len(todo), self.concurrency))
        self.ask_all(todo, started)
        for number, question, key in copies:
            original = self.done.get(first_of[key])
            if original and original.get("status") == STATUS_OK:
                self.finish(dict(original, row=number, key=key, tokens=0,
                                 error=dedupe_label % first_of[key]))
        self.journal.close()
        self.save()
        summary = {"total": taken, "done": self.counts["ok"], "skipped": skipped, "failed": self.counts["failed"],
                   "tokens": self.counts["tokens"], "elapsed": round(time.monotonic() - started, 2),
                   "output_path": self.output_path, "stopped_reason": self.stopped_reason}
        log("批处理结束:成功 %(done)d 行,失败 %(failed)d 行,跳过 %(skipped)d 行,用 %(tokens)d tokens,"
            "%(elapsed).1f 秒;输出 %(output_path)s" % summary + (";%s" % self.stopped_reason if self.stopped_reason else ""))
        return summary

    def ask_all(self, todo, started):
        """Keep `concurrency` rows in flight (a bounded window, so 100,000 rows cost no memory),
        saving the table every SAVE_EVERY seconds and logging progress."""
        from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout  # on first use: fast import
        window = collections.deque()
        last_save = last_progress = time.monotonic()
        next_share, finished = 0.05, 0
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            items = iter(todo)
            while True:
                while len(window) < self.concurrency * 2 and not self.stop.is_set():
                    item = next(items, None)
                    if item is None:
                        break
                    window.append(pool.submit(self.ask_row, *item))
                if not window:
                    break
                try:
                    window[0].result(timeout=1.0)
                    window.popleft()
                    finished += 1
                except FutureTimeout:
                    pass  # a 1 s tick: time to save or report progress
                except Exception as exc:  # a bug in one row must not lose the whole run
                    log("有一行处理出错:%s" % type(exc).__name__)
                    window.popleft()
                    finished += 1
                now = time.monotonic()
                if now - last_save >= SAVE_EVERY:
                    self.save()
                    last_save = now
                if now - last_progress >= PROGRESS_EVERY or (todo and finished / float(len(todo)) >= next_share):
                    self.progress(started, len(todo))
                    last_progress = now
                    while todo and finished / float(len(todo)) >= next_share:
                        next_share += 0.05

    def progress(self, started, planned):
        with self.lock:
            finished = self.counts["ok"] + self.counts["failed"]
            elapsed = max(0.001, time.monotonic() - started)
            rate = finished / elapsed
            eta = (planned - finished) / rate if rate else 0
            log("进度 %d/%d:成功 %d,失败 %d,%.2f 行/秒,预计还需 %d 秒,已用 %d tokens" % (
                finished, planned, self.counts["ok"], self.counts["failed"], rate, eta, self.counts["tokens"]))


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def batch(input_path, prompt=None, question_column=None, output_path=None, sheet=None, answer_column="回答",
          bot_id=None, token=None, base_url=None, concurrency=2, qps=None, qpm=None, qpd=None, max_rows=None,
          max_tokens=None, retry_failed=False, shard=None, json_columns=False, dedupe=False, timeout=180, _chat=None):
    """Ask the bot once per row of a CSV / xlsx table; returns a summary dict
    (total, done, skipped, failed, tokens, elapsed, output_path, stopped_reason)."""
    input_path = os.path.abspath(str(input_path or "").strip().strip('"'))
    concurrency = _count(concurrency, "concurrency") or 2
    limits = [_count(qps, "qps", allow_float=True), _count(qpm, "qpm", allow_float=True), _count(qpd, "qpd")]
    max_rows, max_tokens = _count(max_rows, "max_rows"), _count(max_tokens, "max_tokens")
    shard = parse_shard(shard)
    timeout = clean_timeout(timeout)
    header = read_header(input_path, sheet or None)
    make_question = question_maker(header, prompt or None, question_column or None)
    answer_column = answer_column or "回答"
    if answer_column in header:
        raise InputError("表格里已经有「%s」列:请用 answer_column 换一个回答列名" % answer_column)
    if _chat is None:  # checks token and bot before any call
        client = Client(token=token, bot_id=bot_id, base_url=base_url, timeout=timeout)
        _chat = client.chat
    output_path = os.path.abspath(output_path) if output_path else default_output(input_path, shard)
    if output_path == input_path:
        raise InputError("输出文件不能和输入文件相同:输入表格不会被修改,请换一个 output_path")
    run = BatchRun(input_path, sheet or None, make_question, header, output_path, answer_column, _chat, RateLimiter(*limits),
                   concurrency, shard, max_rows, max_tokens, clean_bool(retry_failed, "retry_failed", False),
                   clean_bool(json_columns, "json_columns", False), clean_bool(dedupe, "dedupe", False),
                   {"input": input_path, "prompt": prompt or "", "question_column": question_column or ""})
    return run.run()


def merge(paths, output_path=None):
    """Join shard outputs (each with a 行号 column) into one table in the original row order."""
    if not paths:
        raise InputError("merge 需要至少一个分片输出文件")
    header, rows = None, []
    for path in paths:
        table = read_rows(path)
        names = next(table, None) or []
        if "行号" not in names:
            raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)
        header = header or names
        if names != header:
            raise InputError("%s 的列和其他分片不一样,不能合并" % path)
        position = names.index("行号")
        rows.extend(row for row in table if row)
    rows.sort(key=lambda row: int(row[position] or 0))
    if output_path is None:
        output_path = re.sub(r"\.shard\d+of\d+", "", paths[0])
        if output_path == paths[0]:
            stem, ext = os.path.splitext(paths[0])
            output_path = stem + "_merged" + ext
    return write_rows(output_path, header, rows)


# ---- command line ---------------------------------------------------------------------------

def add_batch_arguments(parser):
    parser.add_argument("input", help="输入表格 .xlsx 或 .csv")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--prompt", help="提问模板,用 {列名} 引用列,例如 \"为{商品名}写一句广告语\"")
    how.add_argument("--question-column", help="直接用这一列作为问题")
    parser.add_argument("--output", help="输出文件(默认 <名字>_coze.<扩展名>)")
    parser.add_argument("--sheet", help="工作表名(默认第一个)")
    parser.add_argument("--answer-column", default="回答")
    for name in ("--concurrency", "--max-rows", "--max-tokens", "--qpd"):
        parser.add_argument(name, type=int)
    for name in ("--qps", "--qpm", "--timeout"):
        parser.add_argument(name, type=float)
    for name in ("--retry-failed", "--json-columns", "--dedupe"):
        parser.add_argument(name, action="store_true")
    parser.add_argument("--shard", help="K/N:N 台机器人分表时,本机做第 K 份")
    parser.add_argument("--bot-id")
    parser.add_argument("--token")
    parser.add_argument("--base-url")


def run_batch_cli(ns):
    summary = batch(ns.input, prompt=ns.prompt, question_column=ns.question_column, output_path=ns.output,
                    sheet=ns.sheet, answer_column=ns.answer_column, bot_id=ns.bot_id, token=ns.token,
                    base_url=ns.base_url, concurrency=ns.concurrency or 2, qps=ns.qps, qpm=ns.qpm, qpd=ns.qpd,
                    max_rows=ns.max_rows, max_tokens=ns.max_tokens, retry_failed=ns.retry_failed, shard=ns.shard,
                    json_columns=ns.json_columns, dedupe=ns.dedupe, timeout=ns.timeout or 180)
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["stopped_reason"] else 0


def add_merge_arguments(parser):
    parser.add_argument("outputs", nargs="+", help="各分片的输出文件")
    parser.add_argument("--output", help="合并后的文件")


def run_merge_cli(ns):
    print(merge(ns.outputs, ns.output))
    return 0

"""Batch: push every row of a spreadsheet through a bot, fast, resumable, nothing lost.

    batch("商品.xlsx", prompt="为{商品名}写一句广告语", qps=2)

Every finished row goes to the journal (fsynced) before anything else; the output table is
rewritten from the journal every 30 s and at the end. Running the same call again skips
finished rows. Fatal errors (token, bot, quota, daily limit) stop the run at once, save
everything and say how to continue. shard="K/N" lets N robots split one workbook; merge.py
joins their outputs in the original row order.

This file holds batch() and the run loop; which rows are asked is batch_plan.py, how one row
is asked batch_ask.py, what is written batch_output.py.
"""
import threading
import time
import urllib.parse

from .account_limits import apply_limits
from .client import Client
from .config import DEFAULT_TIMEOUT
from .answer_cache import with_cache
from .batch_ask import Asker, RowExtras, cannot_write
from .batch_options import BatchOptions
from .batch_output import BatchOutput, summarize
from .batch_workflow import WorkflowAsker
from .downloads import Downloader
from .batch_plan import STATUS_FAILED, STATUS_OK, Planner, checked_table, without_duplicates
from .estimate import run_estimate
from .review import read_verdicts, run_review
from .journal import DEMO_SERVER, Journal
from .log import log
from .ratelimit import RateLimiter
from .resume import DEMO_TOKEN, resume_text
from .row_files import RowFiles, account_key
from .xlsx_read import XlsxSheet

def api_host(client):
    """The host of the API (downloads from it are allowed even on an office network)."""
    settings = getattr(client, "settings", None)
    return urllib.parse.urlsplit(getattr(settings, "base_url", "") or "").hostname or ""


SAVE_EVERY = 30.0       # seconds between rewrites of the output table
PROGRESS_EVERY = 10.0   # seconds between progress lines (or every 5 %)


class BatchRun(object):
    """One run over one input: the records, the counts, the stop, and the loop that keeps
    `concurrency` rows in flight."""

    def __init__(self, options, header, make_question, client, stop, bot_id=""):
        self.options, self.header = options, header
        self.stop = stop  # the client's chat waits for the rate limiter and refuses to start once stop is set
        xlsx = options.input_path.lower().endswith((".xlsx", ".xlsm"))
        self.sheet = XlsxSheet(options.input_path, options.sheet) if xlsx else None
        if self.sheet is not None:
            self.sheet.verify()  # every part, before any chat: a broken one would stop the copy after paying
        self.timeline = []
        self.started, self.started_at, self.planned = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S"), 0
        settings = getattr(client, "settings", None)  # tests may stand in for Client
        self.bot_id, self.base_url = bot_id or "", getattr(settings, "base_url", "") or ""
        self.app = getattr(settings, "app", None) or (None, None, None)
        self.demo = getattr(settings, "token", None) == DEMO_TOKEN
        self.journal = Journal(options.journal_path, {
            "input": options.input_path, "prompt": options.prompt or "",
            "question_column": options.question_column or "", "sheet": options.sheet or "",
            "bot_id": "" if options.workflow_id else bot_id or "", "shard": options.shard_text,
            "workflow_id": options.workflow_id or "",
            "server": DEMO_SERVER if self.demo else self.base_url})
        self.planner = Planner(options, header, make_question, self.sheet)
        self.asker = with_cache(self.asker_for(client, stop), options, settings, bot_id)
        self.output = BatchOutput(options, header, self.planner, self.sheet)
        self.done = {}
        self.unsaved = []  # answers paid for that the disk refused: kept here, written again at the end
        self.stopped_reason = ""
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "failed": 0, "tokens": 0}

    def asker_for(self, client, stop):
        """A workflow per row, or a bot per row; with the row's files and the answers' downloads."""
        options, header = self.options, self.header
        extras = RowExtras(
            RowFiles(options, client, account_key(client.settings)) if options.files_column else None,
            header.index(options.files_column) if options.files_column else None,
            Downloader(options.downloads_folder, trusted=[api_host(client)]) if options.download else None)
        if options.workflow_id:
            return WorkflowAsker(options, client, self.journal, stop, self.finish, self.halt, extras,
                                 header.index(options.answers_column) if options.answers_column else None)
        return Asker(options, client, self.journal, stop, self.finish, self.halt, extras)

    @property
    def output_path(self):
        return self.output.output_path

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

    def save(self):
        """Rewrite the output table and the report from the records."""
        try:
            self.output.save(self.done)
        except (OSError, ValueError) as err:  # the answers stay in the journal (or in memory) for now
            self.halt(cannot_write(self.output_path, err))
        self.output.report(self)

    def resume_command(self):
        """How to continue this run: the command for this platform's shells (no secrets), and
        in ShadowBot: run the same flow again."""
        failed = any(self.done.get(n, {}).get("status") == STATUS_FAILED for n in self.planner.scope)
        return resume_text(self.options, self.bot_id, self.base_url, self.app[0], self.app[1], self.demo, failed)

    def unfinished(self):
        """Rows of this run without an answer: not asked yet, or failed."""
        return sum(1 for n in self.planner.scope if self.done.get(n, {}).get("status") in (None, STATUS_FAILED))

    # -- the whole run ------------------------------------------------------------------------------
    def run(self, dedupe_label="与第 %d 行问题相同,沿用其回答"):
        try:
            self.journal.take_run_lock(self.options.wait)
        except KeyboardInterrupt:
            log("已中断:还没有开始提问,没有花钱")
            raise
        try:
            self.done = self.journal.load(self.options.restart)
            xlsx_output = self.sheet is not None and self.output_path.lower().endswith((".xlsx", ".xlsm"))
            self.output.review_column(read_verdicts(self.output_path, self.sheet.name if xlsx_output else None))
            return self.run_locked(dedupe_label)
        finally:
            self.journal.release_run_lock()

    def run_locked(self, dedupe_label):
        started = self.started = time.monotonic()
        todo, skipped, blank, taken = self.planner.plan(self.done)
        earlier = self.planner.earlier
        if earlier["ok"]:
            log("续跑:%d 行已在之前完成,跳过(不会重复计费)" % earlier["ok"])
        if earlier["failed"]:
            log("续跑:%d 行之前失败,这次不重试(要重试请加 retry_failed=True,命令行 --retry-failed)" % earlier["failed"])
        if blank:
            log("%d 行的模板列(%s)全是空的:没有提问,状态记为「跳过」" % (blank, "、".join(self.planner.make_question.columns)))
        todo, copies = without_duplicates(todo) if self.options.dedupe else (todo, [])
        self.planned = len(todo)
        if self.sheet is not None:
            log("使用工作表「%s」(工作簿里有:%s)" % (self.sheet.name, "、".join(self.sheet.names)))
            self.planner.check_formulas()
        if self.options.estimate:
            return run_estimate(self, todo, taken, skipped, blank, started)
        if self.options.review:
            return run_review(self, todo, taken, skipped, blank, started, summarize)
        log("批处理开始:共 %d 行,本次要问 %d 行,并发 %d" % (taken, len(todo), self.options.concurrency))
        try:
            self.ask_all(todo, started)
            for row, first in copies:
                original = self.done.get(first)
                if original and original.get("status") == STATUS_OK:
                    self.finish(dict(original, row=row.number, key=row.key, tokens=0, error=dedupe_label % first))
        except KeyboardInterrupt:
            self.close()
            log("已中断:已完成的 %d 行都已保存在 %s。重跑同一命令即可从断点继续,已完成的行不会重复付费"
                % (sum(1 for r in self.done.values() if r.get("status")), self.output_path))
            log(self.resume_command())
            raise
        self.close()
        return summarize(self, taken, skipped, blank, started)

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
                        window.add(pool.submit(self.asker.ask_row, item))
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
                        log_progress(self, started, len(todo))
                        last_progress, reported = now, finished
                        while todo and finished >= next_share * len(todo):
                            next_share += 0.05
            except KeyboardInterrupt:
                for future in window:
                    future.cancel()  # rows not started are not paid for; started ones finish and are kept
                self.halt("收到 Ctrl-C:不再开始新的行,等进行中的行结束后保存")
                raise



def log_progress(run, started, planned):
    """One progress line of a run: rows finished, speed, time left, tokens."""
    with run.lock:
        finished = run.counts["ok"] + run.counts["failed"]
        elapsed = max(0.001, time.monotonic() - started)
        rate = finished / elapsed
        eta = (planned - finished) / rate if rate else 0
        log("进度 %d/%d:成功 %d,失败 %d,%.2f 行/秒,预计还需 %d 秒,已用 %d tokens" % (
            finished, planned, run.counts["ok"], run.counts["failed"], rate, eta, run.counts["tokens"]))


def signature_defaults(function):
    """((name, default), ...) of a function's parameters that have defaults, in order."""
    code = function.__code__
    names, defaults = code.co_varnames[:code.co_argcount], function.__defaults__ or ()
    return tuple(zip(names[len(names) - len(defaults):], defaults))


def batch_defaults():
    """batch()'s keyword parameters and their defaults: its signature (what ShadowBot's 调用模块
    shows) is the one list of batch options; BatchOptions, the resume command and the command line
    are handed this instead of keeping a copy."""
    return signature_defaults(batch)


def batch(input_path, prompt=None, question_column=None, output_path=None, sheet=None, answer_column="回答",
          bot_id=None, token=None, base_url=None, concurrency=2, qps=None, qpm=None, qpd=None, max_rows=None,
          max_tokens=None, retry_failed=False, shard=None, json_columns=False, dedupe=False, timeout=DEFAULT_TIMEOUT,
          restart=False, wait=False, app_id=None, key_id=None, private_key=None,
          json_fields=None, ask_blank=False, report_path=None, tools=None, header_row=None, chat_retries=2,
          workflow_id=None, parameters=None, answers_column=None, files_column=None, download=False,
          estimate=False, cache=False, cache_days=None, review=False):
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
    qps              每秒最多发起多少次对话(可填小数);"auto" = 读取账号的限额(读不到时按免费版 20 并说明);
                     填了 shard 时 qps / qpm / qpd 是整个账号的上限,每台机器人自动取一份(留 10% 余量)
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
    workflow_id      每行运行这个工作流(代替智能体):参数来自同名的列,结束节点输出的 JSON 字段一列一个;已开始的运行绝不重跑
    parameters       工作流参数的改名与常量(JSON),例如 {"city": "{城市}", "lang": "zh"}
    answers_column   工作流问答节点的回答所在的列(JSON 列表或一段文字)
    files_column     每行要带上的文件所在的列:本地路径或 http(s) 网址,多个用 ; 或换行分开;图片按图片发送
    download         把回答(或工作流输出)里的图片和文件下载到 <输出名>_文件 文件夹,路径写进「文件」列
    estimate         只估算:均匀挑几行试问(是 = 3 行,或填行数),给出整张表的 token、对话次数和按限速要多久;
                     试问的行记进日志,正式运行不会再付费
    cache            答案缓存:同一账号、同一智能体、同样的问题以前问过(任何表格、任何运行),直接用那次的回答,不花钱;
                     状态写「成功(缓存)」;失败的不缓存
    cache_days       缓存多少天内的回答算数(默认一直算)
    review           按审核重问:在输出表格的「审核」列写「驳回:意见」的行,在原来的会话里带着意见再问一次;
                     写「通过」或空着的行不再问

    返回汇总字典:total, done, skipped(其中 blank 行是模板列空白), failed, tokens, elapsed, output_path,
    report_path, stopped_reason(空 = 正常结束), earlier_done / earlier_failed(之前已成功 / 已失败的行),
    resume_command(继续这次运行的命令,全部完成时为空)。
    """
    options = BatchOptions(defaults=batch_defaults(), **locals())  # locals() holds exactly the parameters here
    header, make_question = checked_table(options)
    if options.table_header_row > 1:  # said here, not in checked_table: the command line checks the table first too
        log("列名在第 %d 行(上面 %d 行原样保留);不对的话用 --header-row N 指定"
            % (options.table_header_row, options.table_header_row - 1))
    stop = threading.Event()
    limiter = RateLimiter()  # its caps are set below, once the client can read the account's
    # checks token and bot before any call; tests and benchmarks stand in for Client here
    client = Client(token=options.token, bot_id=None if options.workflow_id else options.bot_id,
                    base_url=options.base_url, timeout=options.timeout,
                    app_id=options.app_id, key_id=options.key_id, private_key=options.private_key,
                    before_request=limiter.hook(stop))  # every POST /v3/chat waits for the limiter, retries included
    kind = "workflow" if options.workflow_id else "chat"  # workflow runs have caps of their own
    apply_limits(limiter, getattr(client, "transport", None), options.qps, options.qpm, options.qpd, options.shard,
                 kind)
    limiter.share_with_account(client.settings, options.shard_text, "workflow" if options.workflow_id else "")
    run = BatchRun(options, header, make_question, client, stop, client.settings.bot_id)
    run.limiter = limiter  # the estimate reads its rate; run.report_sections: [(title, text)] for the report
    return run.run()

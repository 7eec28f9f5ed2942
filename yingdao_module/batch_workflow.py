"""Batch rows through a workflow: one run per row, never two.

A workflow may send mail or write a database, so a run that may have started is never started
again. Before the request that starts a run leaves (after the rate limiter let it go), the row
is marked in the journal as "sending"; the run's execute_id goes into the journal the moment it
is known. A resume fetches a run with a known execute_id from run_histories; a row marked
"sending" without an id is not run again but reported (look it up in Coze, then --retry-failed).

Rows run asynchronously (is_async: the execute_id comes back at once); rows with answers for
question nodes (answers_column), and every row once the account refuses async runs (6003),
stream, and their execute_id is noted from the first event that names it.
"""
import json
import threading
import time

from .batch_ask import Asker, BatchStopped
from .batch_plan import STATUS_FAILED, STATUS_OK
from .errors import APIError, CozeError, CozeTimeoutError, NetworkError
from .log import log
from .row_files import RowFileError
from .workflow import Answers, WorkflowRun, history_output, open_run, poll_history, resume_request, stream_into

WORKFLOW_STARTS = ("/v1/workflow/run", "/v1/workflow/stream_run")
MAYBE_STARTED = ("上次运行在发出工作流请求后中断,没有拿到 execute_id:工作流可能已经运行。为避免重复执行(例如重复发邮件、"
                 "重复写表)没有重跑。请到扣子工作流的运行日志里确认;确认没有运行后,同一命令加 --retry-failed 重跑这一行")


class NotedRun(WorkflowRun):
    """A WorkflowRun that reports its execute_id the moment an event names it."""

    def __init__(self, noted):
        WorkflowRun.__init__(self)
        self.noted = noted

    def take_ids(self, data):
        known = self.execute_id
        WorkflowRun.take_ids(self, data)
        if self.execute_id and self.execute_id != known:
            self.noted(self.execute_id)


class WorkflowAsker(object):
    """Runs a row's workflow; `finish(record)` keeps a finished row, `halt(reason)` stops the run.
    `chats` counts the runs this process started."""

    def __init__(self, options, client, journal, stop, finish, halt, extras, answers_at=None):
        self.options, self.client, self.journal, self.stop = options, client, journal, stop
        self.finish, self.halt, self.extras, self.answers_at = finish, halt, extras, answers_at
        self.transport = client.transport
        self.chats = self.asked_again = 0
        self.async_refused = False
        self.lock = threading.Lock()
        self.current = threading.local()  # the row this thread is about to start
        limited = self.transport.before_request

        def before_request(method, path):
            if limited is not None:
                limited(method, path)  # waits for the workflow rate limits
            if method == "POST" and path in WORKFLOW_STARTS:
                self.sending()
        self.transport.before_request = before_request

    note = Asker.note  # journal what the row has in flight; the run halts when it cannot be written

    def sending(self):
        """The request that may start this thread's row's run leaves now: mark the row first."""
        row = getattr(self.current, "row", None)
        if row is not None and not self.current.marked:
            self.current.marked = True
            with self.lock:
                self.chats += 1
            self.note(row, {"sending": True})

    def ask_row(self, row):
        if self.stop.is_set():
            return None
        record = {"row": row.number, "key": row.key, "chat_id": ""}
        pending = row.pending or {}
        try:
            if pending.get("execute_id"):
                result = self.fetch(pending["execute_id"])
            elif pending.get("sending"):
                raise CozeError(MAYBE_STARTED)
            else:
                result = self.start(row)
            output = result["output"]
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            record.update(status=STATUS_OK, answer=text,
                          messages="\n".join(result.get("messages") or []), error="",
                          tokens=result["usage"]["token_count"], chat_id=result.get("execute_id") or "")
            self.extras.fetch(record, [record["answer"], record["messages"]])
        except BatchStopped:
            return None
        except CozeError as err:
            known = getattr(self.current, "execute_id", None) or pending.get("execute_id")
            if err.fatal:
                self.halt(err.message if "重跑" in err.message else "%s。处理好后重跑同一命令即可从断点继续" % err.message)
                return None  # the row stays unfinished; a known run is fetched by the next run
            record.update(status=STATUS_FAILED, answer="", tokens=0, error=err.message, chat_id=known or "")
            if known and isinstance(err, (CozeTimeoutError, NetworkError)):
                record["pending"] = {"execute_id": known}  # maybe still running: --retry-failed fetches it
        finally:
            self.current.row = self.current.execute_id = None
        self.finish(record)
        return record

    def fetch(self, execute_id):
        """The result of a run started earlier, from run_histories."""
        log("续跑:工作流运行 %s 在中断前已开始,查询它的结果,不会重跑" % execute_id)
        deadline = time.monotonic() + self.options.timeout
        run = WorkflowRun()
        run.execute_id = execute_id
        return self.history_result(run, deadline, time.monotonic())

    def history_result(self, run, deadline, started):
        record = poll_history(self.transport, self.options.workflow_id, run, deadline)
        run.output_text = history_output(record.get("output") or "")
        run.usage = record.get("usage") or {}
        return run.result(started)

    def start(self, row):
        """Run the row's workflow once: async, or streamed (questions; async refused)."""
        if self.stop.is_set():
            raise BatchStopped()
        started = time.monotonic()
        deadline = started + self.options.timeout
        parameters = json.loads(row.question)
        cell = self.extras.cell(row)
        if cell and self.extras.row_files is not None:
            try:
                parameters[self.options.files_column] = self.extras.row_files.parameter_value(cell, row.number)
            except OSError as err:  # deleted since the check, a full disk for .uploads.jsonl: this row fails
                raise RowFileError("第 %d 行的文件没有上传成功(%s),没有运行工作流"
                                   % (row.number, getattr(err, "strerror", None) or type(err).__name__))
        self.current.row, self.current.marked, self.current.execute_id = row, False, None

        def noted(execute_id):
            self.current.execute_id = execute_id
            self.note(row, {"execute_id": execute_id})
        run = NotedRun(noted)
        body = {"workflow_id": self.options.workflow_id, "parameters": parameters}
        if not self.options.answers_column and not self.async_refused:
            try:
                envelope = open_run(self.transport, "/v1/workflow/run", dict(body, is_async=True), deadline,
                                    stream=False)
            except APIError as err:
                if err.code != 6003:
                    raise
                self.refuse_async()
            else:
                run.logid = envelope.get("logid")
                run.take_ids(envelope)
                if not run.execute_id:
                    raise APIError("扣子没有返回异步运行的 execute_id,无法查询结果", logid=run.logid)
                return self.history_result(run, deadline, started)
        return self.stream(row, body, run, deadline, started)

    def stream(self, row, body, run, deadline, started):
        at = self.answers_at
        answers = Answers(row.cells[at] if at is not None and at < len(row.cells) else None)
        path, request = "/v1/workflow/stream_run", body
        while True:
            stream_into(self.transport, path, request, run, deadline)
            if run.interrupt is None:
                return run.result(started)
            request = resume_request(body["workflow_id"], run, answers)
            path = "/v1/workflow/stream_resume"

    def refuse_async(self):
        with self.lock:
            first, self.async_refused = not self.async_refused, True
        if first:
            log("这个扣子账号不支持异步运行工作流(6003):改为流式运行,execute_id 一出现就记进断点日志,仍然不会重跑")

"""Workflows: run a Coze workflow and get its End node's output.

A streamed run (the default) keeps the Message nodes' texts apart from the End node's
output. A question node (问答) stops the run with an Interrupt; it is resumed with the
next of `answers` (stream_resume, at most 3 times per run). `is_async` starts the run in the
background and polls run_histories until it ends. A workflow may send mail or write a
database, so a run that may have started is never re-run: a stream cut after the run
started is recovered from run_histories when its execute id is known, otherwise
WorkflowInterrupted says so and gives the ids to look it up.
"""
import json
import re
import time

from .config import DEFAULT_TIMEOUT, clean_bool, clean_bot_id, clean_json_dict, clean_timeout, clean_workflow_id
from .errors import (APIError, BadResponseError, CozeError, CozeTimeoutError, InputError, NetworkError,
                     RateLimitError, ServerError, WorkflowInterrupted, error_for_code)
from .log import log
from .transport import backoff_delay

STREAM_RUN_LIMIT = 600    # a synchronous (streamed) run is stopped after 10 minutes
MAX_RESUMES = 3           # the service resumes one run at most this often
HISTORY_FIRST = 1.0       # first run_histories check of an async run (seconds) ...
HISTORY_GROWTH = 1.5      # ... each later one waits this much longer ...
HISTORY_MAX = 15.0        # ... up to this
INTERRUPT_KINDS = {1: "端插件(本地插件)", 2: "问答", 5: "输入", 7: "OAuth 授权"}


def parse_workflow_output(text):
    """A JSON object/array string becomes a dict/list; anything else stays text."""
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (dict, list)) else text


def history_output(text):
    """The End output inside a run_histories record; it may be wrapped as {"Output": "<End output>"}."""
    value = parse_workflow_output(text)
    if isinstance(value, dict) and list(value) == ["Output"] and isinstance(value["Output"], str):
        return value["Output"]
    return text


class Answers(object):
    """The answers for a workflow's questions: a list (used in order), a callable
    f(question) -> str, or (from ShadowBot) JSON list text; plain text is one answer."""

    def __init__(self, answers):
        self._ask = None
        self._left = []
        if answers is None or (isinstance(answers, str) and not answers.strip()):
            return
        if callable(answers):
            self._ask = answers
            return
        if isinstance(answers, str):
            try:
                parsed = json.loads(answers)
            except ValueError:
                parsed = answers
            answers = parsed if isinstance(parsed, list) else [answers]
        if not isinstance(answers, (list, tuple)):
            raise InputError("answers 应该是回答的列表(按提问顺序),例如 [\"杭州\", \"明天\"],"
                             "或一个函数 f(问题) -> 回答,现在是 %s" % type(answers).__name__)
        self._left = [a if isinstance(a, str) else json.dumps(a, ensure_ascii=False) for a in answers]

    def next_for(self, question, node_title):
        """The answer to `question`, or None when there is none left."""
        if self._ask is None:
            return self._left.pop(0) if self._left else None
        try:
            answer = self._ask(question)
        except Exception as exc:
            raise CozeError("回答工作流问题的函数出错(节点「%s」问「%s」):%s: %s"
                            % (node_title, question, type(exc).__name__, exc))
        return None if answer is None else str(answer)


class WorkflowRun(object):
    """What one run has told us. Message-node text and the End node's output arrive as
    separate messages and are kept apart: `texts` holds one text per node message (its
    pieces joined), `output_text` the End output. The recorded real streams name no node
    type and give the End node an empty title: the last node message before Done is it."""

    def __init__(self):
        self.texts = []          # [(node title, text)] of the nodes that are not the End node
        self.output_text = None
        self._open = None        # [node key, title, pieces, is_end] of the message being streamed
        self._last = None
        self.interrupt = None    # the open Interrupt: {"event_id", "type", "node_title", "question"}
        self.questions = []      # [{"node_title", "question", "answer"}] answered so far
        self.execute_id = None
        self.debug_url = None
        self.logid = None
        self.usage = {}
        self.done = False
        self.started = False     # an event arrived: the run exists on the server

    # -- feeding --------------------------------------------------------------------------
    def take_event(self, event, data, base_url):
        if event in ("Message", "Error", "Interrupt") and not isinstance(data, dict):
            raise BadResponseError("扣子返回的工作流事件 %s 格式不对(不是 JSON 对象):请稍后重试" % event,
                                   logid=self.logid)
        data = data if isinstance(data, dict) else {}
        self.started = True
        self.take_ids(data)
        if event == "Message":
            self.take_message(data)
        elif event == "Interrupt":
            self._close_message()
            interrupt = data.get("interrupt_data") or {}
            title = data.get("node_title") or ""
            asked = [pair for pair in self.texts if pair[0] == title]
            if asked:  # the question is not one of the run's Message texts
                self.texts.remove(asked[-1])
            self.interrupt = {"event_id": interrupt.get("event_id"), "type": interrupt.get("type"),
                              "node_title": title, "question": asked[-1][1] if asked else ""}
        elif event == "Error":
            err = error_for_code(data.get("error_code") or data.get("code") or 5000,
                                 data.get("error_message") or data.get("msg") or "", self.logid, base_url)
            err = type(err)("工作流运行出错:" + err.message + self.ids_text(), err.code, err.logid)
            err.retryable = False  # the run happened; running it again is the caller's choice
            raise err.without_retry_promise()
        elif event == "Done":
            self.finish()

    def take_ids(self, data):
        ext = data.get("ext") if isinstance(data.get("ext"), dict) else {}
        self.execute_id = data.get("execute_id") or ext.get("execute_id") or self.execute_id
        if data.get("debug_url"):
            self.debug_url = data["debug_url"]
            found = re.search(r"execute_id=(\d+)", self.debug_url)
            self.execute_id = self.execute_id or (found.group(1) if found else None)

    def take_message(self, data):
        key = data.get("node_id") or data.get("node_title") or ""
        node_type = data.get("node_type")
        is_end = node_type == "End" if node_type else None
        if self._open is None or self._open[0] != key:
            self._close_message()
            self._open = [key, data.get("node_title") or "", [], is_end]
        self._open[2].append(data.get("content") or "")
        for name, count in (data.get("usage") or {}).items():
            if isinstance(count, int):
                self.usage[name] = self.usage.get(name, 0) + count
        if data.get("node_is_finish", True):
            self._close_message()

    def _close_message(self):
        if self._open is None:
            return
        key, title, pieces, is_end = self._open
        self._open = None
        if is_end:
            self.output_text = "".join(pieces)
        else:
            self._last = (title, "".join(pieces), is_end is None)
            self.texts.append(self._last[:2])

    def finish(self):
        """At Done: without node types, the last node message is the End output."""
        self._close_message()
        self.done = True
        if self.output_text is None and self._last and self._last[2] and self._last[:2] in self.texts:
            self.texts.remove(self._last[:2])
            self.output_text = self._last[1]

    # -- results --------------------------------------------------------------------------
    def ids_text(self):
        ids = [("execute_id", self.execute_id), ("debug_url", self.debug_url)]
        shown = ", ".join("%s %s" % pair for pair in ids if pair[1])
        return "[%s]" % shown if shown else ""

    def result(self, started):
        usage = self.usage
        return {"output": parse_workflow_output(self.output_text if self.output_text is not None else ""),
                "messages": [text for _, text in self.texts],
                "questions": list(self.questions),
                "execute_id": self.execute_id, "debug_url": self.debug_url,
                "usage": {"token_count": int(usage.get("token_count") or 0),
                          "input_count": int(usage.get("input_count") or 0),
                          "output_count": int(usage.get("output_count") or 0)},
                "logid": self.logid, "elapsed": round(time.monotonic() - started, 3)}


def run_workflow_on(transport, workflow_id, parameters=None, bot_id=None, timeout=DEFAULT_TIMEOUT, stream=True,
                    answers=None, is_async=None, app_id=None):
    """Run a workflow through `transport`; returns the dict of run_workflow_full()."""
    body = {"workflow_id": clean_workflow_id(workflow_id), "parameters": clean_json_dict(parameters, "parameters")}
    bot_id = clean_bot_id(bot_id, required=False)
    if bot_id:
        body["bot_id"] = bot_id
    if app_id not in (None, ""):
        body["app_id"] = str(app_id).strip()
    timeout = clean_timeout(timeout)
    answers = Answers(answers)
    stream = clean_bool(stream, "stream", True)
    auto_async = is_async is None or is_async == ""
    is_async = timeout > STREAM_RUN_LIMIT if auto_async else clean_bool(is_async, "is_async", False)
    started = time.monotonic()
    deadline = started + timeout
    run = WorkflowRun()
    if is_async:
        try:
            return run_async(transport, body, run, deadline, started)
        except APIError as err:
            if not (auto_async and err.code == 6003):
                raise
            log("这个扣子账号不支持异步运行工作流(6003),改用流式运行(最长约 10 分钟)")
    if not stream:
        return run_sync(transport, body, run, deadline, started)
    path, request = "/v1/workflow/stream_run", body
    while True:
        stream_into(transport, path, request, run, deadline)
        if run.interrupt is None:
            return run.result(started)
        request = resume_request(body["workflow_id"], run, answers)
        path = "/v1/workflow/stream_resume"


def resume_request(workflow_id, run, answers):
    """The stream_resume body answering the open Interrupt, or a Chinese error saying why not."""
    interrupt, run.interrupt = run.interrupt, None
    node, question, kind = interrupt["node_title"], interrupt["question"], interrupt["type"]
    if kind != 2:
        raise APIError("工作流停在节点「%s」等待「%s」(中断类型 %s),本模块只能自动回答问答节点(类型 2):"
                       "请在扣子里改掉这个节点,或改用智能体调用%s"
                       % (node, INTERRUPT_KINDS.get(kind, "未知类型"), kind, run.ids_text()), logid=run.logid)
    if len(run.questions) >= MAX_RESUMES:
        raise APIError("工作流的问答节点「%s」已经问了 %d 次(扣子最多续跑 %d 次),这次又问「%s」:请检查回答是否符合问题要求%s"
                       % (node, len(run.questions), MAX_RESUMES, question, run.ids_text()), logid=run.logid)
    answer = answers.next_for(question, node)
    if answer is None:
        raise APIError("工作流的问答节点「%s」在提问「%s」,但没有可用的回答:请用 answers 参数按提问顺序传入回答,"
                       "例如 answers=[\"杭州\"](影刀「调用模块」里填 JSON 列表 [\"杭州\"]),或传一个函数 f(问题) -> 回答%s"
                       % (node, question, run.ids_text()), logid=run.logid)
    run.questions.append({"node_title": node, "question": question, "answer": answer})
    log("工作流问答节点「%s」问「%s」,回答「%s」" % (node, question, answer))
    return {"workflow_id": workflow_id, "event_id": interrupt["event_id"], "interrupt_type": kind,
            "resume_data": answer}


def open_run(transport, path, request, deadline, stream):
    """POST a request that starts (or resumes) a run. Retried only when the service refused it
    as busy or the connection failed before any answer; an answered run is never sent twice."""
    attempt = 0
    while True:
        if time.monotonic() >= deadline:
            raise CozeTimeoutError("运行工作流超时(超过 timeout 设定的秒数),工作流没有开始运行")
        try:
            if stream:
                return transport.open_stream("POST", path, body=request, deadline=deadline, what="工作流的流式回复")
            return transport.call("POST", path, body=request, deadline=deadline, retry=False)
        except ServerError as err:  # the run may have happened: not sent again, so nothing promises a retry
            raise err.without_retry_promise()
        except (RateLimitError, NetworkError) as err:
            if not err.retryable:  # a certificate the machine does not trust, ...
                raise
            if isinstance(err, NetworkError) and not stream:
                raise WorkflowInterrupted("运行工作流的请求发出后连接中断(%s),工作流可能已经运行:为避免重复执行"
                                          "(例如重复发邮件、重复写表)没有自动重跑。请到扣子工作流的运行日志里确认;"
                                          "运行较久的工作流请用流式(stream=True,默认)或 is_async=True"
                                          % err.message, logid=err.logid)
            if attempt >= transport.max_retries:
                raise
            delay = backoff_delay(attempt, err.retry_after)
            if time.monotonic() + delay >= deadline:
                raise
            attempt += 1
            log("运行工作流失败:%s;%.1f 秒后第 %d 次重试" % (err.message, delay, attempt))
            time.sleep(delay)


def stream_into(transport, path, request, run, deadline):
    """Open a run's stream and feed its events to `run` until Done or an Interrupt."""
    events = open_run(transport, path, request, deadline, stream=True)
    run.logid = events.logid or run.logid
    try:
        for event, data in events:
            run.take_event(event, data, transport.base_url)
            if run.done or run.interrupt:
                return
            if time.monotonic() >= deadline:
                raise CozeTimeoutError("等待工作流结果超时(超过 timeout 设定的秒数);工作流可能仍在扣子上运行%s"
                                       % run.ids_text(), logid=run.logid)
    except NetworkError as err:
        return recover(transport, request.get("workflow_id"), run, deadline, err.message)
    finally:
        events.close()
    return recover(transport, request.get("workflow_id"), run, deadline, "流在结束前关闭")


def recover(transport, workflow_id, run, deadline, why):
    """A stream of a started run broke: get the result from run_histories when the execute id
    is known, else raise WorkflowInterrupted (never re-run)."""
    if run.execute_id:
        log("工作流的流式回复中途断开(%s),用 execute_id %s 查询运行结果,不会重跑" % (why, run.execute_id))
        record = poll_history(transport, workflow_id, run, deadline)
        run.output_text = history_output(record.get("output") or "")
        run.done = True
        return
    raise WorkflowInterrupted("工作流已经开始运行,但流式回复中途断开(%s):为避免重复执行(例如重复发邮件、重复写表)"
                              "没有自动重跑。它可能已经运行完成,请到扣子工作流的运行日志里按 logid 查看结果%s"
                              % (why, run.ids_text()), logid=run.logid)


def run_sync(transport, body, run, deadline, started):
    """A non-stream run (dropped by the gateway after about 90 s: prefer streaming for long runs)."""
    envelope = open_run(transport, "/v1/workflow/run", body, deadline, stream=False)
    run.logid = envelope.get("logid")
    run.take_ids(envelope)
    run.output_text = envelope.get("data") or ""
    run.usage = envelope.get("usage") or {}
    return run.result(started)


def run_async(transport, body, run, deadline, started):
    """Start the run in the background (is_async), then poll run_histories until it ends."""
    envelope = open_run(transport, "/v1/workflow/run", dict(body, is_async=True), deadline, stream=False)
    run.logid = envelope.get("logid")
    run.take_ids(envelope)
    if not run.execute_id:
        raise APIError("扣子没有返回异步运行的 execute_id,无法查询结果", logid=run.logid)
    log("工作流已在扣子上异步运行,execute_id %s;定时查询结果" % run.execute_id)
    record = poll_history(transport, body["workflow_id"], run, deadline)
    run.output_text = history_output(record.get("output") or "")
    run.usage = record.get("usage") or {}
    return run.result(started)


def poll_history(transport, workflow_id, run, deadline):
    """GET run_histories with growing intervals until the run succeeds (returns its record),
    fails (raises with its error message) or the deadline passes."""
    import random  # on first use: importing the module stays fast
    path = "/v1/workflows/%s/run_histories/%s" % (workflow_id, run.execute_id)
    interval = HISTORY_FIRST
    while True:
        try:
            envelope = transport.call("GET", path, deadline=deadline, what="查询工作流运行结果")
        except CozeError as err:
            if not err.retryable:
                raise
            envelope = {}  # retries were used up; keep polling until the deadline
        records = envelope.get("data") or []
        record = records[0] if isinstance(records, list) and records else {}
        run.debug_url = record.get("debug_url") or run.debug_url
        status = record.get("execute_status")
        if status == "Success":
            return record
        if status == "Fail":
            raise APIError("工作流运行失败:%s(错误码 %s)%s" % (record.get("error_message") or "扣子没有给出原因",
                                                       record.get("error_code"), run.ids_text()), logid=run.logid)
        delay = interval * random.uniform(0.8, 1.0)
        if time.monotonic() + delay >= deadline:
            raise CozeTimeoutError("等待工作流结果超时(超过 timeout 设定的秒数);工作流可能仍在扣子上运行,"
                                   "之后可用 execute_id 查询%s" % run.ids_text(), logid=run.logid)
        time.sleep(delay)
        interval = min(HISTORY_MAX, interval * HISTORY_GROWTH)

"""Workflows: run a Coze workflow with parameters and get its output.

A workflow's output arrives as a JSON string; it is returned as a dict when it is JSON,
as text otherwise. Streaming (the default) avoids the gateway's time limit on long runs.
"""
import json
import time

from .config import DEFAULT_TIMEOUT, clean_bool, clean_bot_id, clean_json_dict, clean_timeout, clean_workflow_id
from .errors import APIError, BadResponseError, NetworkError, error_for_code
from .transport import with_retries


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


def run_workflow_on(transport, workflow_id, parameters=None, bot_id=None, timeout=DEFAULT_TIMEOUT, stream=True):
    """Run a workflow through `transport`; see api.run_workflow for the parameters."""
    body = {"workflow_id": clean_workflow_id(workflow_id), "parameters": clean_json_dict(parameters, "parameters")}
    bot_id = clean_bot_id(bot_id, required=False)
    if bot_id:
        body["bot_id"] = bot_id
    deadline = time.monotonic() + clean_timeout(timeout)
    if not clean_bool(stream, "stream", True):
        envelope = transport.call("POST", "/v1/workflow/run", body=body, deadline=deadline, what="运行工作流")
        return parse_workflow_output(envelope.get("data"))

    def run_streaming():
        with transport.open_stream("POST", "/v1/workflow/stream_run", body=body, deadline=deadline,
                                   what="工作流的流式回复") as events:
            return read_workflow_stream(events, transport.base_url)

    return parse_workflow_output(with_retries(run_streaming, "运行工作流", deadline, transport.max_retries))


class WorkflowRun(object):
    """What one workflow run's stream has told us. Message-node text and the End node's
    output arrive as separate messages and are kept apart: `texts` holds one text per node
    message (its pieces joined), `output_text` the End output. Streams that name no node
    type: the last node message before Done is the End output."""

    def __init__(self):
        self.texts = []          # [(node title, text)] of the nodes that are not the End node
        self.output_text = None
        self._open = None        # [node key, title, pieces, is_end] of the message being streamed
        self._last = None
        self.interrupt = None    # {"event_id", "type", "node_title", "question"}
        self.execute_id = None
        self.debug_url = None
        self.usage = {}
        self.done = False

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
        if self.output_text is None and self._last and self._last[2]:
            self.texts.remove(self._last[:2])
            self.output_text = self._last[1]


def read_workflow_stream(events, base_url, run=None):
    """Feed the stream's events to a WorkflowRun until `Done`; `Error`/`Interrupt` raise."""
    run = run or WorkflowRun()
    for event, data in events:
        if event in ("Message", "Error", "Interrupt") and not isinstance(data, dict):
            raise BadResponseError("扣子返回的工作流事件 %s 格式不对(不是 JSON 对象):请稍后重试" % event,
                                   logid=events.logid)
        data = data if isinstance(data, dict) else {}
        if event == "Message":
            run.take_message(data)
        elif event == "Error":
            err = error_for_code(data.get("error_code") or data.get("code") or 5000,
                                 data.get("error_message") or data.get("msg") or "", events.logid, base_url)
            err.retryable = False  # the run happened; running it again is the caller's choice
            raise err
        elif event == "Interrupt":
            raise APIError("工作流在等待用户回答(问答节点),本模块不支持中途交互:请把问答节点改为由参数传入",
                           logid=events.logid)
        elif event == "Done":
            run.finish()
            return run.output_text or ""
    raise NetworkError("工作流的流式回复中途断开:会自动重试", logid=events.logid)

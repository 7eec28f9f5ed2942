"""Workflow service: /v1/workflow/run (sync and is_async), /v1/workflow/stream_run,
/v1/workflow/stream_resume and GET /v1/workflows/{workflow_id}/run_histories/{execute_id}.

The demo workflows, chosen by id (options.py):
- any id: a Message node streams "正在处理,请稍候。" in two pieces, then the End node's
  output {"output": parameters} arrives as its own message (empty node title), then Done.
  The shapes follow the SDK's recorded real streams (Message text and End output apart).
- a question workflow (`--question-workflow ID[:N]`): a 问答 node asks N questions in turn,
  each as a Message holding the question and an Interrupt (type 2) whose event id
  /v1/workflow/stream_resume takes back with the answer. A blank answer is asked again; a run
  is resumed at most 3 times. The End output is {"output": "<answers> 的查询结果"}.
- with --image-answers, every End output has a field "图片" linking to the simulator's picture.
- a slow workflow (`--slow-workflow ID:SECONDS`): the run takes that long. A non-stream run
  longer than sim.sync_limit (90 s, like the real gateway) is dropped without an answer;
  is_async returns the execute id at once.

Every run is an Execution kept under its execute id, whatever its mode, so run_histories
sees it, also after the client's stream was cut (the run goes on on the server). Quiet
streams carry PING events every sim.ping_interval.
"""
import json
import time

from .faults import play_transport_fault
from .files import image_url

DEBUG_URL = "https://www.coze.cn/work_flow?execute_id=%s&space_id=7400000000000000000&workflow_id=%s"
QUESTIONS = ("请问要查询哪个城市?", "请问要查询哪一天?", "请问要查询什么内容?")
MESSAGE_PIECES = ("正在处理", ",请稍候。")
MAX_RESUMES = 3
SYNC, STREAM, ASYNC = 0, 1, 2  # run_mode in run_histories
FAIL_CODE, FAIL_MESSAGE = 5000, "node execution failed (simulated)"


class Execution(object):
    """One run of a workflow, from start to Success or Fail."""

    def __init__(self, execution_id, workflow_id, parameters, duration, run_mode, fate, questions, image=None):
        self.id = execution_id
        self.workflow_id = workflow_id
        self.parameters = parameters
        self.duration = duration
        self.run_mode = run_mode
        self.fate = fate  # "ok" or "fail"
        self.questions = questions
        self.image = image  # with --image-answers: the End output links to the simulator's picture
        self.answers = []
        self.resumes = 0
        self.created = time.time()
        self.done_at = None if questions else self.created + duration  # None: waiting for an answer

    @property
    def debug_url(self):
        return DEBUG_URL % (self.id, self.workflow_id)

    def question(self):
        """The question the run waits for, or None."""
        return QUESTIONS[len(self.answers)] if len(self.answers) < self.questions else None

    def answer(self, text):
        """Take an answer; a blank one leaves the question open (it is asked again)."""
        self.resumes += 1
        if text.strip():
            self.answers.append(text.strip())
        if self.question() is None:
            self.done_at = time.time() + self.duration

    def output(self):
        """The End node's output: a JSON string."""
        value = ("%s 的查询结果" % " ".join(self.answers)) if self.questions else self.parameters
        return json.dumps(dict({"output": value}, **({"图片": self.image} if self.image else {})), ensure_ascii=False)

    def status(self):
        if self.done_at is None or time.time() < self.done_at:
            return "Running"
        return "Fail" if self.fate == "fail" else "Success"

    def usage(self):
        out = len(self.output())
        return {"input_count": 10, "output_count": out, "token_count": 10 + out}

    def history(self, logid):
        """The run_histories record. Its `output` wraps the End output in {"Output": ...}, as
        the real service was reported to do (unverified; clients should accept both)."""
        status = self.status()
        return {"execute_id": self.id, "execute_status": status, "bot_id": "0", "connector_id": "1024",
                "connector_uid": "simulator", "run_mode": self.run_mode, "logid": logid,
                "create_time": int(self.created), "update_time": int(time.time()),
                "output": json.dumps({"Output": self.output()}, ensure_ascii=False) if status == "Success" else "",
                "error_code": FAIL_CODE if status == "Fail" else 0,
                "error_message": FAIL_MESSAGE if status == "Fail" else "",
                "debug_url": self.debug_url, "usage": self.usage() if status == "Success" else None,
                "is_output_trimmed": False}


class WorkflowStream(object):
    """The events of one workflow stream: `id: N` / `event: NAME` / `data: JSON`."""

    def __init__(self, handler):
        self.handler = handler
        self.next_id = 0
        handler.start_stream()

    def send(self, name, data):
        self.handler.send_event(name, data, plain_id=self.next_id)
        self.next_id += 1

    def ping(self):
        self.send("PING", {})

    def message(self, node, content, seq, finished):
        """A Message event shaped like the recorded real streams: a node's pieces share its title;
        the End node's output comes as its own message with an empty title."""
        data = {"content": content, "node_is_finish": finished, "node_seq_id": str(seq), "node_title": node}
        if node == "问答":
            data["content_type"] = "text"
        if node == "":
            data.update(cost="0.00", token=0, usage={"token_count": 10, "input_count": 5, "output_count": 5})
        self.send("Message", data)


class WorkflowRoutes(object):
    ROUTES = {
        ("POST", "/v1/workflow/run"): "workflow_run",
        ("POST", "/v1/workflow/stream_run"): "workflow_stream",
        ("POST", "/v1/workflow/stream_resume"): "workflow_resume",
        ("GET", "/v1/workflows/{workflow_id}/run_histories/{execute_id}"): "workflow_history",
    }

    def start_execution(self, body, run_mode, fault):
        """A new Execution for a run request, or None after answering a bad one."""
        workflow_id = str(body.get("workflow_id") or "")
        if not workflow_id.isdigit():
            self.error(4000, "workflow_id is required")
            return None
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            self.error(4000, "parameters must be a JSON object")
            return None
        sim = self.sim
        questions = sim.question_workflows.get(workflow_id, 0)
        if questions and run_mode != STREAM:
            self.error(4000, "this workflow has a question node: run it with stream_run and stream_resume")
            return None
        duration = sim.slow_workflows.get(workflow_id, sim.latency)
        fate = "fail" if fault == "fail" else "ok"
        execution = Execution(sim.new_id(), workflow_id, parameters, duration, run_mode, fate, questions,
                              image_url(sim) if sim.image_answers else None)
        with sim.lock:
            sim.executions[execution.id] = execution
            sim.counters["workflow_runs"] += 1
        return execution

    def workflow_run(self, query, body, raw, fault):
        is_async = body.get("is_async") is True
        if is_async and not self.sim.async_workflows:
            return self.error(6003, "async execution is not available for this account edition")
        execution = self.start_execution(body, ASYNC if is_async else SYNC, fault)
        if execution is None:
            return
        extra = {"debug_url": execution.debug_url, "execute_id": execution.id}
        if is_async:
            return self.ok("", **extra)
        if execution.duration > self.sim.sync_limit:
            time.sleep(self.sim.sync_limit)
            play_transport_fault(self, "reset")  # the gateway gives up; the run goes on
            return
        time.sleep(execution.duration)
        if execution.fate == "fail":
            return self.error(FAIL_CODE, FAIL_MESSAGE, **extra)
        self.ok(execution.output(), usage=execution.usage(), **extra)

    def workflow_stream(self, query, body, raw, fault):
        execution = self.start_execution(body, STREAM, fault)
        if execution is not None:
            self.continue_run(execution, cut=(fault == "cut"))

    def workflow_resume(self, query, body, raw, fault):
        sim = self.sim
        event_id = str(body.get("event_id") or "")
        with sim.lock:
            execution = sim.interrupts.get(event_id)
            if execution is None or execution.workflow_id != str(body.get("workflow_id") or ""):
                return self.error(4000, "invalid event_id: no open interrupt of this workflow has it")
            if body.get("interrupt_type") != 2:
                return self.error(4000, "interrupt_type must be the one of the Interrupt event (2)")
            if not isinstance(body.get("resume_data"), str):
                return self.error(4000, "resume_data must be a string")
            if execution.resumes >= MAX_RESUMES:
                return self.error(4000, "a workflow run can be resumed at most %d times" % MAX_RESUMES)
            del sim.interrupts[event_id]
            execution.answer(body["resume_data"])
            if fault == "fail":
                execution.fate = "fail"
        self.continue_run(execution, cut=(fault == "cut"))

    def continue_run(self, execution, cut):
        """Stream the run from where it stands: to the next question, or to its end."""
        sim = self.sim
        stream = WorkflowStream(self)
        try:
            if not execution.answers and execution.resumes == 0:  # a fresh run starts with its Message node
                stream.message("消息", MESSAGE_PIECES[0], 0, False)
                stream.ping()
                if cut:
                    return self.cut_stream()
                time.sleep(min(execution.duration, sim.latency) / 2)
                stream.message("消息", MESSAGE_PIECES[1], 1, True)
            elif cut:
                stream.ping()
                return self.cut_stream()
            question = execution.question()
            if question is not None:
                event_id = "%s/%s" % (sim.new_id(), sim.new_id())
                with sim.lock:
                    sim.interrupts[event_id] = execution
                stream.message("问答", question, 0, True)
                stream.send("Interrupt", {"interrupt_data": {"event_id": event_id, "type": 2, "data": ""},
                                          "node_title": "问答"})
                return self.end_stream()
            self.wait_pinging(execution.done_at, stream.ping)
            if execution.fate == "fail":
                stream.send("Error", {"error_code": FAIL_CODE, "error_message": FAIL_MESSAGE})
                return self.end_stream()
            stream.message("", execution.output(), 0, True)
            stream.send("Done", {"debug_url": execution.debug_url})
            self.end_stream()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def cut_stream(self):
        """Hang up mid-stream (no terminating chunk); the run itself goes on."""
        self.close_connection = True

    def workflow_history(self, query, body, raw, fault):
        with self.sim.lock:
            execution = self.sim.executions.get(query.get("execute_id"))
            if execution is None or execution.workflow_id != query.get("workflow_id"):
                return self.error(4200, "execute_id not found for this workflow")
            record = execution.history(self.logid)
        self.ok([record])

"""Workflow service: POST /v1/workflow/run and /v1/workflow/stream_run.

The demo workflow echoes its parameters as the End node's output: {"output": parameters}.
"""
import json
import time

from .service import new_id

DEBUG_URL = "https://www.coze.cn/work_flow?execute_id=%s"


def workflow_output(body):
    """The End node's output (a JSON string), or None when workflow_id is missing."""
    if not str(body.get("workflow_id") or "").isdigit():
        return None
    return json.dumps({"output": body.get("parameters") or {}}, ensure_ascii=False)


class WorkflowRoutes(object):
    ROUTES = {
        ("POST", "/v1/workflow/run"): "workflow_run",
        ("POST", "/v1/workflow/stream_run"): "workflow_stream",
    }

    def workflow_run(self, query, body, raw, fault):
        output = workflow_output(body)
        if output is None:
            return self.error(4000, "workflow_id is required")
        time.sleep(self.sim.latency)
        execute_id = new_id()
        self.ok(output, debug_url=DEBUG_URL % execute_id, execute_id=execute_id,
                usage={"input_count": 10, "output_count": len(output), "token_count": 10 + len(output)})

    def workflow_stream(self, query, body, raw, fault):
        output = workflow_output(body)
        if output is None:
            return self.error(4000, "workflow_id is required")
        self.start_stream()
        time.sleep(self.sim.latency)
        self.send_event("Message", {"content": output, "node_title": "End", "node_seq_id": "0",
                                    "node_is_finish": True, "usage": {"token_count": 10}}, plain_id=0)
        self.send_event("Done", {"debug_url": DEBUG_URL % new_id()}, plain_id=1)
        self.end_stream()

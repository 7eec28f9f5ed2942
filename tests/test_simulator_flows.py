"""The simulator's workflow and local-tool services, driven by the official SDK (cozepy) and
by raw HTTP: interrupts and resumes, async runs and run_histories, the sync limit, tool bots
with submit_tool_outputs, chatflows, cut workflow streams, PING events, `serve` flags."""
import argparse
import http.client
import json
import time

import pytest

from simcalls import call, chat_body, events_of
from yingdao_module.simulator import Simulator, add_serve_arguments
from yingdao_module.simulator.cli import simulator_from

cozepy = pytest.importorskip("cozepy")

ASKING, SLOW, PLAIN = "7411", "7412", "7413"
TOOL_BOT, TOOL = "7000000000000000009", "查询库存"


def sdk(sim):
    return cozepy.Coze(auth=cozepy.TokenAuth("pat_sdk"), base_url=sim.url)


def wait_for(check, limit=10.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition never held")


@pytest.fixture
def sim():
    with Simulator(latency=0.1, question_workflows=[ASKING, "7414:3"], slow_workflows={SLOW: 0.8},
                   tool_bots=[TOOL_BOT + ":" + TOOL, "7000000000000000010:" + TOOL + ":2"],
                   ping_interval=0.1) as server:
        yield server


def test_sdk_stream_interrupt_then_resume(sim):
    coze = sdk(sim)
    events = list(coze.workflows.runs.stream(workflow_id=ASKING, parameters={}))
    messages = [e.message for e in events if e.event == cozepy.WorkflowEventType.MESSAGE]
    interrupt = [e.interrupt for e in events if e.event == cozepy.WorkflowEventType.INTERRUPT][0]
    assert messages[-1].content == "请问要查询哪个城市?" and messages[-1].node_title == "问答"
    assert interrupt.interrupt_data.type == 2 and interrupt.node_title == "问答"
    resumed = list(coze.workflows.runs.resume(workflow_id=ASKING, event_id=interrupt.interrupt_data.event_id,
                                              resume_data="杭州", interrupt_type=2))
    outputs = [e.message for e in resumed if e.event == cozepy.WorkflowEventType.MESSAGE]
    assert [m.node_title for m in outputs] == [""]  # the End node, as in the recorded real streams
    assert json.loads(outputs[0].content) == {"output": "杭州 的查询结果"}


def test_questions_in_turn_blank_asked_again_at_most_three_resumes_wrong_event_id(sim):
    def interrupt_of(events):
        found = [data for name, data in events if name == "Interrupt"]
        return found[0]["interrupt_data"]["event_id"] if found else None

    def resume(event_id, answer, workflow_id="7414"):
        return events_of(sim, {"workflow_id": workflow_id, "event_id": event_id, "interrupt_type": 2,
                               "resume_data": answer}, "/v1/workflow/stream_resume")

    first = events_of(sim, {"workflow_id": "7414", "parameters": {}}, "/v1/workflow/stream_run")
    event_id = interrupt_of(first)
    second = resume(event_id, "杭州")
    assert [d["content"] for n, d in second if n == "Message"] == ["请问要查询哪一天?"]
    again = resume(interrupt_of(second), "   ")  # a blank answer: the same question again
    assert [d["content"] for n, d in again if n == "Message"] == ["请问要查询哪一天?"]
    third = resume(interrupt_of(again), "明天")
    assert [d["content"] for n, d in third if n == "Message"] == ["请问要查询什么内容?"]
    payload = call(sim, "POST", "/v1/workflow/stream_resume", {
        "workflow_id": "7414", "event_id": interrupt_of(third), "interrupt_type": 2, "resume_data": "天气"})[2]
    assert payload["code"] == 4000 and "at most 3" in payload["msg"]  # the 4th resume of this run
    reused = call(sim, "POST", "/v1/workflow/stream_resume", {
        "workflow_id": "7414", "event_id": event_id, "interrupt_type": 2, "resume_data": "杭州"})[2]
    assert reused["code"] == 4000 and "event_id" in reused["msg"]
    bogus = call(sim, "POST", "/v1/workflow/stream_resume", {
        "workflow_id": "7414", "event_id": "1/2", "interrupt_type": 2, "resume_data": "x"})[2]
    assert bogus["code"] == 4000


def test_sdk_async_run_then_run_histories_running_then_success(sim):
    coze = sdk(sim)
    started = time.time()
    run = coze.workflows.runs.create(workflow_id=SLOW, parameters={"城市": "杭州"}, is_async=True)
    assert run.execute_id and time.time() - started < 0.6
    history = coze.workflows.runs.run_histories.retrieve(workflow_id=SLOW, execute_id=run.execute_id)
    assert history.execute_status == cozepy.WorkflowExecuteStatus.RUNNING
    assert history.run_mode == cozepy.WorkflowRunMode.ASYNCHRONOUS

    def finished():
        record = coze.workflows.runs.run_histories.retrieve(workflow_id=SLOW, execute_id=run.execute_id)
        return record if record.execute_status != cozepy.WorkflowExecuteStatus.RUNNING else None
    done = wait_for(finished)
    assert done.execute_status == cozepy.WorkflowExecuteStatus.SUCCESS
    assert json.loads(json.loads(done.output)["Output"]) == {"output": {"城市": "杭州"}}
    sim.inject("fail", path="/v1/workflow/run")
    failing = coze.workflows.runs.create(workflow_id=SLOW, parameters={}, is_async=True)
    failed = wait_for(lambda: (lambda r: r if r.execute_status != "Running" else None)(
        coze.workflows.runs.run_histories.retrieve(workflow_id=SLOW, execute_id=failing.execute_id)))
    assert failed.execute_status == cozepy.WorkflowExecuteStatus.FAIL and failed.error_message
    with pytest.raises(cozepy.CozeAPIError):
        coze.workflows.runs.run_histories.retrieve(workflow_id=PLAIN, execute_id=run.execute_id)


def test_async_unavailable_is_6003_and_long_sync_run_is_dropped_but_runs_on():
    with Simulator(latency=0.05, slow_workflows={SLOW: 0.6}, sync_limit=0.2, async_workflows=False) as sim:
        refused = call(sim, "POST", "/v1/workflow/run", {"workflow_id": SLOW, "is_async": True})[2]
        assert refused["code"] == 6003
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            call(sim, "POST", "/v1/workflow/run", {"workflow_id": SLOW, "parameters": {}})
        execution = list(sim.executions.values())[-1]
        path = "/v1/workflows/%s/run_histories/%s" % (SLOW, execution.id)
        assert call(sim, "GET", path)[2]["data"][0]["execute_status"] == "Running"
        time.sleep(0.6)
        record = call(sim, "GET", path)[2]["data"][0]
        assert record["execute_status"] == "Success" and record["run_mode"] == 0


def test_workflow_stream_keeps_message_text_and_end_output_apart_and_pings(sim):
    events = list(sdk(sim).workflows.runs.stream(workflow_id=SLOW, parameters={"a": 1}))
    messages = [e.message for e in events if e.event == cozepy.WorkflowEventType.MESSAGE]
    assert "".join(m.content for m in messages if m.node_title == "消息") == "正在处理,请稍候。"
    assert [m.content for m in messages if m.node_title == ""] == ['{"output": {"a": 1}}']
    pings = [e for e in events if e.event == cozepy.WorkflowEventType.UNKNOWN and e.unknown["event"] == "PING"]
    assert len(pings) >= 3  # 0.8 s run, a PING every 0.1 s while it waits
    chat_names = [name for name, _ in events_of(sim, chat_body("有 PING 吗", stream=True))]
    assert "PING" in chat_names


def test_cut_workflow_stream_run_finishes_and_shows_in_run_histories(sim):
    sim.inject("cut", path="/v1/workflow/stream_run")
    names = [name for name, _ in events_of(sim, {"workflow_id": PLAIN, "parameters": {"k": "v"}},
                                           "/v1/workflow/stream_run")]
    assert names[0] == "Message" and "Done" not in names
    execution = list(sim.executions.values())[-1]
    record = wait_for(lambda: (lambda r: r if r.execute_status == "Success" else None)(
        sdk(sim).workflows.runs.run_histories.retrieve(workflow_id=PLAIN, execute_id=execution.id)))
    assert json.loads(json.loads(record.output)["Output"]) == {"output": {"k": "v"}}
    assert sim.stats()["faults"] == {"cut": 1}


def test_sdk_tool_bot_stream_requires_action_then_submit_stream(sim):
    coze = sdk(sim)
    question = [cozepy.Message.build_user_question_text("螺丝还有多少?")]
    events = list(coze.chat.stream(bot_id=TOOL_BOT, user_id="u", additional_messages=question))
    action = [e.chat for e in events if e.event == cozepy.ChatEventType.CONVERSATION_CHAT_REQUIRES_ACTION][0]
    assert action.status == cozepy.ChatStatus.REQUIRES_ACTION
    call_ = action.required_action.submit_tool_outputs.tool_calls[0]
    assert call_.type == "function" and call_.function.name == TOOL
    assert json.loads(call_.function.arguments) == {"question": "螺丝还有多少?"}
    cancel = call(sim, "POST", "/v3/chat/cancel", {"conversation_id": action.conversation_id, "chat_id": action.id})
    assert cancel[2]["code"] == 4104
    answer, completed = "", None
    for event in coze.chat.submit_tool_outputs(
            conversation_id=action.conversation_id, chat_id=action.id, stream=True,
            tool_outputs=[cozepy.ToolOutput(tool_call_id=call_.id, output="库存 42 个")]):
        if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_DELTA:
            answer += event.message.content
        if event.event == cozepy.ChatEventType.CONVERSATION_CHAT_COMPLETED:
            completed = event.chat
    assert completed.status == cozepy.ChatStatus.COMPLETED and "库存 42 个" in answer and "螺丝还有多少?" in answer


def test_sdk_tool_bot_polled_two_rounds_then_messages(sim):
    coze = sdk(sim)
    chat = coze.chat.create(bot_id="7000000000000000010", user_id="u",
                            additional_messages=[cozepy.Message.build_user_question_text("查两次")])
    outputs = []
    for round_ in range(2):
        waiting = wait_for(lambda: (lambda c: c if c.status != cozepy.ChatStatus.IN_PROGRESS else None)(
            coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)))
        assert waiting.status == cozepy.ChatStatus.REQUIRES_ACTION
        tool_call = waiting.required_action.submit_tool_outputs.tool_calls[0]
        outputs.append("第 %d 次结果" % (round_ + 1))
        wrong = call(sim, "POST", "/v3/chat/submit_tool_outputs?conversation_id=%s&chat_id=%s" % (
            chat.conversation_id, chat.id), {"tool_outputs": [{"tool_call_id": "nope", "output": "x"}]})[2]
        assert wrong["code"] == 4000
        after = coze.chat.submit_tool_outputs(conversation_id=chat.conversation_id, chat_id=chat.id, stream=False,
                                              tool_outputs=[cozepy.ToolOutput(tool_call_id=tool_call.id,
                                                                              output=outputs[-1])])
        assert after.status == cozepy.ChatStatus.IN_PROGRESS
    done = wait_for(lambda: (lambda c: c if c.status == cozepy.ChatStatus.COMPLETED else None)(
        coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)))
    messages = coze.chat.messages.list(conversation_id=done.conversation_id, chat_id=done.id)
    types = [m.type for m in messages]
    assert types[:4] == ["function_call", "tool_response", "function_call", "tool_response"]
    answer = [m.content for m in messages if m.type == cozepy.MessageType.ANSWER][0]
    assert all(output in answer for output in outputs)
    assert sim.stats()["tool_outputs"] == 2


def test_sdk_chatflow_streams_like_a_bot_with_conversation_memory(sim):
    coze = sdk(sim)
    conversation = coze.conversations.create().id
    answers = []
    for question in ("第一问", "第二问"):
        text, completed = "", False
        for event in coze.workflows.chat.stream(workflow_id="7415", conversation_id=conversation,
                                                additional_messages=[cozepy.Message.build_user_question_text(question)]):
            if event.event == cozepy.ChatEventType.CONVERSATION_MESSAGE_DELTA:
                text += event.message.content
            completed = completed or event.event == cozepy.ChatEventType.CONVERSATION_CHAT_COMPLETED
        assert completed and event.event != cozepy.ChatEventType.CONVERSATION_CHAT_FAILED
        answers.append(text)
    assert "第一问" in answers[0] and "0 轮" in answers[0] and "第二问" in answers[1] and "1 轮" in answers[1]
    done = events_of(sim, {"workflow_id": "7415", "additional_messages": [{"role": "user", "content": "嗨"}]},
                     "/v1/workflows/chat")[-1]
    assert done[0] == "done" and "execute_id=" in done[1]["debug_url"]  # as the recorded chatflow streams end
    bad = call(sim, "POST", "/v1/workflows/chat", {"workflow_id": "abc", "additional_messages": []})[2]
    assert bad["code"] == 4000


def test_serve_flags_build_the_same_simulator():
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    ns = parser.parse_args(["--question-workflow", "7411", "--question-workflow", "7414:2", "--slow-workflow",
                            "7412:120", "--tool-bot", TOOL_BOT + ":" + TOOL, "--no-async", "--sync-limit", "5"])
    sim = simulator_from(ns)
    assert sim.question_workflows == {"7411": 1, "7414": 2} and sim.slow_workflows == {"7412": 120.0}
    assert sim.tool_bots == {TOOL_BOT: (TOOL, 1)} and sim.async_workflows is False and sim.sync_limit == 5
    for bad, phrase in ((["--slow-workflow", "7412"], "运行秒数"), (["--tool-bot", "abc:x"], "一串数字"),
                        (["--question-workflow", "7411:9"], "1 到 3")):
        with pytest.raises(ValueError, match=phrase):
            simulator_from(parser.parse_args(bad))

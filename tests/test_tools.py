"""Local tools (端插件) served by Python handlers or ShadowBot sub-flows, and chatflows (对话流),
through ask/chat against the simulator (source and dist, requests and urllib)."""
import json
import sys
import types

import pytest

from yingdao_module.simulator import Simulator

TOKEN = "pat_toolsTESTtoken123"
TOOL_BOT, TWO_ROUNDS, ENDLESS, TOOL = "7000000000000000009", "7000000000000000010", "7000000000000000011", "查询库存"
CHATFLOW = "7415"


@pytest.fixture
def sim():
    with Simulator(latency=0.05, tool_bots={TOOL_BOT: TOOL, TWO_ROUNDS: (TOOL, 2), ENDLESS: (TOOL, 50)}) as server:
        yield server


@pytest.fixture
def shadowbot_subflows(monkeypatch):
    """A stand-in for ShadowBot's xbot_visual: records process.run calls, returns an object
    whose attributes are the outputs (as the real one does)."""
    calls = []

    def run(process, package, inputs, outputs):
        calls.append({"process": process, "package": package, "inputs": inputs, "outputs": outputs})
        return types.SimpleNamespace(output="子流程「%s」查到 %s 有 7 个" % (process, inputs.get("question")))

    module = types.ModuleType("xbot_visual")
    module.process = types.SimpleNamespace(run=run)
    monkeypatch.setitem(sys.modules, "xbot_visual", module)
    return calls


@pytest.mark.parametrize("stream", [True, False])
def test_python_handler_answers_the_tool_call(coze, backend, sim, quiet_log, stream):
    seen = []

    def stock(question):
        seen.append(question)
        return "库存 42 个"
    result = coze.chat("螺丝还有多少?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, stream=stream,
                       tools={TOOL: stock})
    assert "库存 42 个" in result["answer"] and "螺丝还有多少?" in result["answer"]
    assert seen == ["螺丝还有多少?"]
    assert result["tool_calls"] == [{"name": TOOL, "arguments": json.dumps({"question": "螺丝还有多少?"},
                                                                          ensure_ascii=False), "output": "库存 42 个"}]
    assert sim.stats()["chats_created"] == 1 and sim.stats()["tool_outputs"] == 1


def test_non_text_result_is_submitted_as_json_and_rounds_repeat(coze, sim, quiet_log):
    calls = []
    answer = coze.ask("两次", bot_id=TWO_ROUNDS, token=TOKEN, base_url=sim.url,
                      tools={TOOL: lambda question: calls.append(question) or {"库存": len(calls)}})
    assert '{"库存": 1}' in answer and '{"库存": 2}' in answer and len(calls) == 2


def test_failing_or_missing_handler_submits_an_error_text_and_the_chat_ends(coze, sim, quiet_log):
    def broken(question):
        raise RuntimeError("表格打不开")
    answer = coze.ask("坏了", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools={TOOL: broken})
    assert "运行失败" in answer and "表格打不开" in answer
    assert any("表格打不开" in line and TOOL in line for line in quiet_log)
    answer = coze.ask("没给工具", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url)
    assert "调用方没有提供这个工具" in answer
    answer = coze.ask("参数不对", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools={TOOL: lambda: "x"})
    assert "TypeError" in answer  # the handler does not take the tool's arguments
    assert sim.stats()["chats_created"] == 3 and sim.stats()["chats_completed"] == 3


def test_rounds_are_bounded_and_never_hang(coze, sim, quiet_log):
    coze.patch("MAX_TOOL_ROUNDS", 3)
    with pytest.raises(coze.APIError, match="连续 3 轮") as caught:
        coze.ask("没完", bot_id=ENDLESS, token=TOKEN, base_url=sim.url, tools={TOOL: lambda question: "再查"},
                 timeout=30)
    assert caught.value.chat_id and sim.stats()["tool_outputs"] == 3


def test_subflow_handler_runs_the_shadowbot_flow(coze, sim, quiet_log, shadowbot_subflows):
    answer = coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools='{"查询库存": "查询库存流程"}')
    assert "子流程「查询库存流程」查到 螺母呢? 有 7 个" in answer
    call = shadowbot_subflows[0]
    assert (call["process"], call["inputs"], call["outputs"]) == ("查询库存流程", {"question": "螺母呢?"}, ["output"])
    assert call["package"]


def test_subflow_outside_shadowbot_is_refused_before_any_call(coze, sim):
    with pytest.raises(coze.InputError, match="只能在影刀里运行"):
        coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools={TOOL: "查询库存流程"})
    with pytest.raises(coze.InputError, match="tools 应该是字典"):
        coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools="[1]")
    assert sim.stats()["requests"] == {}


def test_chatflow_needs_no_bot_and_remembers_the_conversation(coze, backend, sim):
    first = coze.chat("第一问", workflow_id=CHATFLOW, token=TOKEN, base_url=sim.url, parameters={"城市": "杭州"})
    assert "第一问" in first["answer"] and "0 轮" in first["answer"] and first["conversation_id"]
    second = coze.ask("第二问", workflow_id=CHATFLOW, token=TOKEN, base_url=sim.url,
                      conversation_id=first["conversation_id"])
    assert "第二问" in second and "1 轮" in second
    assert sim.stats()["requests"]["/v1/workflows/chat"] == 2 and "/v3/chat" not in sim.stats()["requests"]


def test_cut_chatflow_stream_is_recovered_without_a_second_chat(coze, sim, quiet_log):
    sim.inject("cut", path="/v1/workflows/chat")
    answer = coze.ask("断了也要答", workflow_id=CHATFLOW, token=TOKEN, base_url=sim.url)
    assert "断了也要答" in answer and sim.stats()["chats_created"] == 1


def test_batch_rows_call_local_tools(coze, sim, tmp_path, quiet_log):
    import csv
    source = tmp_path / "stock.csv"
    with open(str(source), "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["零件"], ["螺丝"], ["螺母"], ["垫片"]])
    summary = coze.batch(str(source), prompt="{零件}还有多少?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url,
                         tools={TOOL: lambda question: "%s:库存 %d" % (question, len(question))})
    with open(summary["output_path"], encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert summary["done"] == 3 and all("%s还有多少?:库存" % row["零件"] in row["回答"] for row in rows)
    assert sim.stats()["tool_outputs"] == 3
    with pytest.raises(coze.InputError, match="tools"):
        coze.batch(str(source), prompt="{零件}", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools=5)


def test_cli_ask_a_chatflow(sim):
    from helpers import run_cli
    out = run_cli("ask", "对话流你好", "--workflow-id", CHATFLOW, "--token", TOKEN, "--base-url", sim.url, "--json")
    assert out.returncode == 0, out.stderr
    assert "对话流你好" in json.loads(out.stdout)["answer"]
    assert sim.stats()["requests"]["/v1/workflows/chat"] == 1


def test_batch_command_line_tools_name_a_python_function(sim, tmp_path):
    from helpers import run_cli
    (tmp_path / "stock.py").write_text("def query(question):\n    return '库存表说:' + question\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text("零件\n螺丝\n", encoding="utf-8")
    out = run_cli("batch", str(tmp_path / "in.csv"), "--prompt", "{零件}还有多少?", "--tools",
                  '{"%s": "stock:query"}' % TOOL, "--bot-id", TOOL_BOT, "--token", TOKEN, "--base-url", sim.url,
                  env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    with open(str(tmp_path / "in_coze.csv"), encoding="utf-8-sig") as handle:
        assert "库存表说:螺丝还有多少?" in handle.read()
    out = run_cli("batch", str(tmp_path / "in.csv"), "--prompt", "{零件}", "--tools", '{"%s": "nosuch:fn"}' % TOOL,
                  "--bot-id", TOOL_BOT, "--token", TOKEN, "--base-url", sim.url)
    assert out.returncode != 0 and "找不到" in out.stderr and "Traceback" not in out.stderr


def test_tool_templates_match_what_the_module_runs(coze):
    from flow_templates import load_template
    subflow, asking = load_template("tool_subflow"), load_template("ask_with_tool")
    assert [p.name for p in subflow.parameters if p.direction == "Out"] == [coze.SUBFLOW_OUTPUT]
    invoke = [b for b in asking.blocks if b.name == "process.invoke_module"][0]
    params = dict((k, v) for item in json.loads(invoke.inputs["params"][3:]) for k, v in item.items())
    assert json.loads(params["tools"][3:]) == {TOOL: "查询库存"} and subflow.title.endswith("查询库存")


def test_recover_answers_the_tool_calls_of_a_chat_created_earlier(coze, sim, quiet_log):
    from simcalls import call, chat_body
    created = call(sim, "POST", "/v3/chat", chat_body("崩溃前问的", bot_id=TOOL_BOT))[2]["data"]
    client = coze.Client(token=TOKEN, bot_id=TOOL_BOT, base_url=sim.url)
    result = client.recover(created["id"], created["conversation_id"], tools={TOOL: lambda question: "恢复后查到 5 个"})
    assert "恢复后查到 5 个" in result["answer"] and sim.stats()["chats_created"] == 1

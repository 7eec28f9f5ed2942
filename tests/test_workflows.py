"""run_workflow / run_workflow_full against the simulator (source and dist, requests and urllib):
End output apart from Message text, questions answered and resumed, async runs polled through
run_histories, 6003, cut streams never re-run, failures; plus recorded shapes (requests-mock)."""
import json

import pytest

from yingdao_module.simulator import Simulator

TOKEN = "pat_workflowTESTtoken123"
PLAIN, ASKING, ASKING_TWICE, SLOW = "7413", "7411", "7414", "7412"


@pytest.fixture
def sim():
    with Simulator(latency=0.05, question_workflows=[ASKING, ASKING_TWICE + ":2"], slow_workflows={SLOW: 0.6},
                   sync_limit=0.3, ping_interval=0.1) as server:
        yield server


@pytest.fixture
def fast_history(coze):
    coze.patch("HISTORY_FIRST", 0.05)
    coze.patch("HISTORY_MAX", 0.1)


def test_end_output_apart_from_message_text(coze, backend, sim):
    result = coze.run_workflow_full(PLAIN, {"城市": "杭州"}, token=TOKEN, base_url=sim.url)
    assert result["output"] == {"output": {"城市": "杭州"}}
    assert result["messages"] == ["正在处理,请稍候。"]
    assert result["execute_id"] and "execute_id=" + result["execute_id"] in result["debug_url"]
    assert result["usage"]["token_count"] > 0 and result["logid"]


@pytest.mark.parametrize("answers", [["杭州"], '["杭州"]', "杭州", lambda question: "杭州"])
def test_question_answered_and_resumed(coze, backend, sim, quiet_log, answers):
    result = coze.run_workflow_full(ASKING, {}, token=TOKEN, base_url=sim.url, answers=answers)
    assert result["output"] == {"output": "杭州 的查询结果"}
    assert result["questions"] == [{"node_title": "问答", "question": "请问要查询哪个城市?", "answer": "杭州"}]
    assert "请问要查询哪个城市?" not in result["messages"]
    assert any("请问要查询哪个城市?" in line for line in quiet_log)


def test_answers_used_in_order_and_callable_sees_each_question(coze, sim, quiet_log):
    assert coze.run_workflow(ASKING_TWICE, token=TOKEN, base_url=sim.url, answers=["杭州", "明天"]) == {
        "output": "杭州 明天 的查询结果"}
    asked = []
    output = coze.run_workflow(ASKING_TWICE, token=TOKEN, base_url=sim.url,
                               answers=lambda question: asked.append(question) or str(len(asked)))
    assert output == {"output": "1 2 的查询结果"} and asked == ["请问要查询哪个城市?", "请问要查询哪一天?"]


def test_no_answer_left_names_node_question_and_the_fix(coze, sim, quiet_log):
    with pytest.raises(coze.APIError) as caught:
        coze.run_workflow(ASKING_TWICE, token=TOKEN, base_url=sim.url, answers=["杭州"])
    text = str(caught.value)
    assert "问答" in text and "请问要查询哪一天?" in text and "answers" in text
    with pytest.raises(coze.APIError, match="请问要查询哪个城市"):
        coze.run_workflow(ASKING, token=TOKEN, base_url=sim.url)


def test_bad_answers_refused_before_any_call(coze, sim):
    with pytest.raises(coze.InputError, match="answers"):
        coze.run_workflow(ASKING, token=TOKEN, base_url=sim.url, answers=42)
    assert sim.stats()["requests"] == {}


def test_async_run_polls_run_histories(coze, backend, sim, fast_history, quiet_log):
    result = coze.run_workflow_full(SLOW, {"a": 1}, token=TOKEN, base_url=sim.url, is_async=True)
    assert result["output"] == {"output": {"a": 1}} and result["execute_id"]
    history_path = "/v1/workflows/%s/run_histories/%s" % (SLOW, result["execute_id"])
    assert sim.stats()["requests"][history_path] >= 2 and sim.stats()["workflow_runs"] == 1


def test_async_failure_gives_the_error_message(coze, sim, fast_history, quiet_log):
    sim.inject("fail", path="/v1/workflow/run")
    with pytest.raises(coze.APIError, match="工作流运行失败.*node execution failed"):
        coze.run_workflow(SLOW, token=TOKEN, base_url=sim.url, is_async="true")


def test_6003_explained_and_auto_async_falls_back_to_streaming(coze, quiet_log):
    with Simulator(latency=0.05, async_workflows=False) as sim:
        with pytest.raises(coze.APIError, match="不支持异步运行") as caught:
            coze.run_workflow(PLAIN, token=TOKEN, base_url=sim.url, is_async=True)
        assert caught.value.code == 6003
        assert coze.run_workflow(PLAIN, {"x": 1}, token=TOKEN, base_url=sim.url, timeout=900) == {"output": {"x": 1}}
        assert any("6003" in line for line in quiet_log)


def test_long_timeout_runs_async_automatically(coze, sim, fast_history, quiet_log):
    result = coze.run_workflow_full(SLOW, {"a": 2}, token=TOKEN, base_url=sim.url, timeout=900)
    assert result["output"] == {"output": {"a": 2}}
    assert any("run_histories" in path for path in sim.stats()["requests"])


@pytest.mark.parametrize("path", ["/v1/workflow/stream_run", "/v1/workflow/stream_resume"])
def test_cut_stream_is_never_rerun(coze, backend, sim, quiet_log, path):
    sim.inject("cut", path=path)
    with pytest.raises(coze.WorkflowInterrupted) as caught:
        coze.run_workflow(ASKING, token=TOKEN, base_url=sim.url, answers=["杭州"])
    assert "没有自动重跑" in str(caught.value) and "logid" in str(caught.value)
    assert not caught.value.retryable
    assert sim.stats()["requests"].get(path) == 1 and sim.stats()["workflow_runs"] == 1


def test_long_non_stream_run_dropped_is_not_rerun(coze, sim, quiet_log):
    with pytest.raises(coze.WorkflowInterrupted, match="可能已经运行"):
        coze.run_workflow(SLOW, token=TOKEN, base_url=sim.url, stream=False)
    assert sim.stats()["workflow_runs"] == 1


def test_failed_run_is_an_error_not_retried(coze, sim):
    sim.inject("fail", path="/v1/workflow/stream_run")
    with pytest.raises(coze.APIError, match="工作流运行出错") as caught:
        coze.run_workflow(PLAIN, token=TOKEN, base_url=sim.url)
    assert not caught.value.retryable and sim.stats()["workflow_runs"] == 1


def test_busy_service_is_retried_before_the_run_starts(coze, sim, quiet_log):
    sim.inject("4020", path="/v1/workflow/stream_run")
    assert coze.run_workflow(PLAIN, {"k": 1}, token=TOKEN, base_url=sim.url) == {"output": {"k": 1}}
    assert sim.stats()["requests"]["/v1/workflow/stream_run"] == 2


# -- recorded shapes (requests-mock) ------------------------------------------------------------
BASE = "https://api.coze.cn"
SSE = {"Content-Type": "text/event-stream", "x-tt-logid": "LOGID9"}


@pytest.fixture
def mocked(requests_mock, coze, monkeypatch):
    monkeypatch.setenv("COZE_HTTP_BACKEND", "requests")
    return requests_mock


def test_other_interrupt_types_are_named(mocked, coze):
    stream = ('id: 0\nevent: Interrupt\ndata: {"interrupt_data":{"data":"","event_id":"1/2","type":5},'
              '"node_title":"输入"}\n\n')
    mocked.post(BASE + "/v1/workflow/stream_run", text=stream, headers=SSE)
    with pytest.raises(coze.APIError, match="中断类型 5") as caught:
        coze.run_workflow("74", token=TOKEN, answers=["x"])
    assert "输入" in str(caught.value)


def test_stream_ending_early_is_recovered_by_execute_id(mocked, coze, fast_history, quiet_log):
    stream = 'id: 0\nevent: Message\ndata: {"content":"处理中","node_title":"消息","node_is_finish":true,"ext":{"execute_id":"7499"}}\n\n'
    mocked.post(BASE + "/v1/workflow/stream_run", text=stream, headers=SSE)
    record = {"execute_id": "7499", "execute_status": "Success", "output": json.dumps({"Output": '{"ok": 1}'}),
              "debug_url": "https://www.coze.cn/work_flow?execute_id=7499"}
    mocked.get(BASE + "/v1/workflows/74/run_histories/7499",
               json={"code": 0, "msg": "", "data": [record], "detail": {"logid": "L"}})
    assert coze.run_workflow("74", token=TOKEN) == {"ok": 1}
    assert len([r for r in mocked.request_history if r.path == "/v1/workflow/stream_run"]) == 1
    assert any("不会重跑" in line for line in quiet_log)


def test_recorded_interrupt_shape_is_resumed(mocked, coze, quiet_log):
    interrupt = ('id: 0\nevent: Message\ndata: {"content":"请问你想查看哪个城市、哪一天的天气呢","content_type":"text",'
                 '"node_is_finish":true,"node_seq_id":"0","node_title":"问答"}\n\n'
                 'id: 1\nevent: Interrupt\ndata: {"interrupt_data":{"data":"","event_id":"7404830425073352713/2769808280134765896",'
                 '"type":2},"node_title":"问答"}\n\n')
    final = ('id: 0\nevent: Message\ndata: {"content":"{\\"output\\":\\"晴\\"}","cost":"0.00","node_is_finish":true,'
             '"node_seq_id":"0","node_title":"","token":0}\n\nid: 1\nevent: Done\ndata: {}\n\n')
    mocked.post(BASE + "/v1/workflow/stream_run", text=interrupt, headers=SSE)
    mocked.post(BASE + "/v1/workflow/stream_resume", text=final, headers=SSE)
    assert coze.run_workflow("74", token=TOKEN, answers=["杭州 明天"]) == {"output": "晴"}
    assert mocked.last_request.json() == {"workflow_id": "74", "event_id": "7404830425073352713/2769808280134765896",
                                          "interrupt_type": 2, "resume_data": "杭州 明天"}


def test_main_args_take_answers_and_is_async(coze, sim, fast_history, quiet_log):
    args = {"workflow_id": ASKING, "workflow_answers": '["杭州"]', "token": TOKEN, "base_url": sim.url}
    assert coze.main(args) == {"output": "杭州 的查询结果"} and args["error"] == ""
    args = {"workflow_id": SLOW, "parameters": '{"a": 3}', "is_async": "是", "token": TOKEN, "base_url": sim.url}
    assert coze.main(args) == {"output": {"a": 3}} and args["error"] == ""
    assert any("run_histories" in path for path in sim.stats()["requests"])
    args = {"workflow_id": ASKING, "token": TOKEN, "base_url": sim.url}
    assert coze.main(args) == "" and "请问要查询哪个城市?" in args["error"]


def test_cli_workflow_with_answers_async_and_json(sim):
    from helpers import run_cli
    out = run_cli("workflow", ASKING_TWICE, "--answer", "杭州", "--answer", "明天", "--token", TOKEN,
                  "--base-url", sim.url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"output": "杭州 明天 的查询结果"}
    out = run_cli("workflow", SLOW, "--parameters", '{"a": 1}', "--async", "--json", "--token", TOKEN,
                  "--base-url", sim.url)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["output"] == {"output": {"a": 1}} and result["execute_id"]
    out = run_cli("workflow", ASKING, "--token", TOKEN, "--base-url", sim.url)
    assert out.returncode == 1 and "请问要查询哪个城市?" in out.stderr and "Traceback" not in out.stderr


def test_a_client_runs_workflows_itself(coze, backend, sim, quiet_log):
    """Client.run_workflow / run_workflow_full: the module functions are thin wrappers over them."""
    with coze.Client(token=TOKEN, base_url=sim.url, timeout=30) as client:
        assert client.run_workflow(PLAIN, {"城市": "杭州"}) == {"output": {"城市": "杭州"}}
        result = client.run_workflow_full(ASKING, {}, answers=["杭州"])
    assert result["output"] == {"output": "杭州 的查询结果"} and result["questions"][0]["answer"] == "杭州"
    assert sim.stats()["requests"]["/v1/workflow/stream_run"] == 2

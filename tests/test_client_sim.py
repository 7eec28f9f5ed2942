"""The client against the simulator, over real HTTP, with requests and with urllib, from the
source package and from dist/coze.py."""
import json

import pytest

from helpers import BOT_ID as BOT, TOKEN


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url)


def test_streamed_answer_contains_the_question(coze, backend, sim, kw):
    result = coze.chat("第 17 行的商品:保温杯", **kw)
    assert "第 17 行的商品:保温杯" in result["answer"]
    assert result["usage"]["token_count"] > 0 and result["chat_id"] and result["conversation_id"]
    assert result["follow_ups"] and result["logid"]
    stats = sim.stats()
    assert stats["requests"].get("/v3/chat") == 1 and sum(stats["requests"].values()) == 1  # one request
    assert stats["chats_created"] == 1 and stats["chats_completed"] == 1


def test_polled_answer(coze, backend, sim, kw):
    result = coze.chat("轮询的问题", stream=False, **kw)
    assert "轮询的问题" in result["answer"] and result["usage"]["token_count"] > 0
    assert sim.stats()["requests"].get("/v3/chat/message/list") == 1


def test_sequential_requests_share_one_kept_alive_connection(coze, backend, sim, monkeypatch):
    """Both backends keep the connection open between requests (urllib reconnected every time),
    and no request starts a thread of its own (the response-head deadline is on the socket)."""
    import threading
    accepted = []
    server = sim._server
    real_get_request = server.get_request

    def counting_get_request():
        accepted.append(1)
        return real_get_request()
    monkeypatch.setattr(server, "get_request", counting_get_request)
    client = coze.Client(token=TOKEN, bot_id=BOT, base_url=sim.url)
    client.new_conversation()
    started = []
    real_start = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        return real_start(thread)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(10):
        client.new_conversation()
        client.chat("保持连接")
    assert len(accepted) == 1, accepted
    assert started == []  # neither a helper thread nor a new server thread for a new connection
    client.close()


def test_conversation_memory(coze, backend, sim, kw):
    conversation = coze.new_conversation(**kw)
    first = coze.chat("第一问", conversation_id=conversation, **kw)
    second = coze.chat("第二问", conversation_id=conversation, **kw)
    assert first["conversation_id"] == second["conversation_id"] == conversation
    assert "0 轮" in first["answer"] and "1 轮" in second["answer"]


def test_json_question_gets_a_fenced_json_answer(coze, sim, kw):
    answer = coze.ask("请用 JSON 总结:苹果", **kw)
    body = answer.split("```json", 1)[1].split("```", 1)[0]
    assert isinstance(json.loads(body), dict)


def test_file_is_uploaded_and_referenced(coze, backend, sim, kw, tmp_path):
    picture = tmp_path / "receipt.png"
    picture.write_bytes(b"\x89PNG 123")
    answer = coze.ask("这是什么?", files=str(picture), **kw)
    assert "receipt.png" in answer
    assert sim.stats()["requests"].get("/v1/files/upload") == 1


def test_workflow_echoes_parameters(coze, backend, sim):
    for stream in (True, False):
        output = coze.run_workflow("7400000000000000001", {"城市": "杭州", "天数": 3}, token=TOKEN,
                                   base_url=sim.url, stream=stream)
        assert isinstance(output, dict) and "杭州" in json.dumps(output, ensure_ascii=False)


def test_main_writes_outputs_back(coze, sim):
    args = {"question": "Code 流程问", "token": TOKEN, "bot_id": BOT, "base_url": sim.url, "timeout": "30",
            "stream": "false"}
    answer = coze.main(args)
    assert "Code 流程问" in answer and args["answer"] == answer and args["error"] == ""
    assert args["chat_id"] and args["conversation_id"] and args["usage"]["token_count"] > 0
    args = {"workflow_id": "7400000000000000001", "parameters": '{"x": "1"}', "token": TOKEN, "base_url": sim.url}
    assert isinstance(coze.main(args), dict) and args["error"] == ""


def test_main_reads_shadowbot_globals(coze, sim, quiet_log):
    coze.patch("glv", {"coze_token": TOKEN, "coze_bot_id": BOT, "coze_base_url": sim.url})
    answer = coze.main(None)  # standalone run: a configuration check
    assert answer and any("独立运行" in line for line in quiet_log) and any(answer in line for line in quiet_log)


@pytest.mark.parametrize("kind", ["http500", "http502", "http429", "reset", "malformed", "4009", "5000"])
def test_faults_before_the_chat_are_recovered(coze, backend, sim, kw, quiet_log, kind):
    sim.inject(kind, count=1, path="/v3/chat")
    assert "故障题" in coze.ask("故障题", **kw)
    assert sim.stats()["chats_created"] == 1


def test_cut_stream_costs_no_second_chat(coze, backend, sim, kw):
    sim.inject("cut", count=1, path="/v3/chat")
    result = coze.chat("断流题", **kw)
    assert "断流题" in result["answer"] and result["usage"]["token_count"] > 0
    stats = sim.stats()
    assert stats["chats_created"] == 1 and stats["faults"].get("cut") == 1
    assert stats["requests"].get("/v3/chat/retrieve", 0) >= 1


def test_failed_chat_raises_its_last_error(coze, backend, sim, kw):
    sim.inject("fail", count=1, path="/v3/chat")
    with pytest.raises(coze.ServerError) as info:
        coze.ask("失败题", **kw)
    assert info.value.code == 5000 and info.value.chat_id
    assert sim.stats()["chats_created"] == 1


@pytest.mark.parametrize("stream", [True, False])
def test_stuck_chat_times_out_and_is_cancelled(coze, backend, sim, kw, stream):
    sim.inject("stuck", count=1, path="/v3/chat")
    with pytest.raises(coze.CozeTimeoutError) as info:
        coze.ask("卡住题", timeout=0.4, stream=stream, **kw)
    assert info.value.chat_id and info.value.conversation_id
    assert sim.stats()["chats_cancelled"] == 1


def test_unpublished_bot_and_wrong_token_are_not_retried(coze, kw):
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.05, token="pat_right", unpublished=[BOT]) as strict:
        with pytest.raises(coze.AuthError) as info:
            coze.ask("hi", bot_id=BOT, token="pat_wrong", base_url=strict.url)
        assert "api.coze.com" in str(info.value)
        with pytest.raises(coze.BotError, match="发布"):
            coze.ask("hi", bot_id=BOT, token="pat_right", base_url=strict.url)
        assert strict.stats()["requests"]["/v3/chat"] == 2


def test_quota_used_up_is_a_quota_error(coze, backend):
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.05, quota=1) as limited:
        kw = dict(bot_id=BOT, token=TOKEN, base_url=limited.url)
        coze.ask("第一次", **kw)
        with pytest.raises(coze.QuotaError) as info:
            coze.ask("第二次", **kw)
        assert info.value.code == 4028 and "额度" in str(info.value)


def test_rate_limit_is_waited_out(coze, quiet_log):
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.02, qps=1) as limited:
        kw = dict(bot_id=BOT, token=TOKEN, base_url=limited.url)
        coze.patch("BACKOFF_BASE", 0.4)
        coze.patch("BACKOFF_CAP", 1.0)
        answers = [coze.ask("限流%d" % i, **kw) for i in range(3)]
        assert all("限流%d" % i in a for i, a in enumerate(answers))
        assert limited.stats()["chats_created"] == 3

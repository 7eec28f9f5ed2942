"""Chats that fail on Coze's side (status failed, 5000) are asked again in the same run, counted as
extra paid chats; no message promises an automatic retry that does not happen; a row that still
fails says how to re-run failed rows. Source and dist x requests and urllib."""
import pytest

from helpers import BOT_ID, TOKEN
from sheets import products, read_csv, write_csv


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT_ID, token=TOKEN, base_url=sim.url, question_column="商品名", concurrency=1)


def test_a_failed_chat_is_asked_again_and_counted(coze, backend, sim, kw, tmp_path, quiet_log):
    sim.inject("fail", count=1, path="/v3/chat")
    summary = coze.batch(write_csv(tmp_path / "in.csv", products(3)), **kw)
    assert (summary["done"], summary["failed"], summary["asked_again"]) == (3, 0, 1)
    assert summary["chats"] == sim.stats()["chats_created"] == 4  # the failed chat was paid, and counted
    assert all(r["状态"] == "成功" and r["商品名"] in r["回答"] for r in read_csv(summary["output_path"]))
    said = "\n".join(quiet_log)
    assert "自动重问(第 1/2 次" in said and "其中 1 次是重问" in said
    assert "自动重试" not in said  # nothing promised that did not happen


def test_a_row_that_keeps_failing_says_how_to_rerun_failed_rows(coze, sim, kw, tmp_path, quiet_log):
    sim.inject("fail", count=3, path="/v3/chat")
    summary = coze.batch(write_csv(tmp_path / "in.csv", products(2)), chat_retries="2", **kw)
    assert (summary["done"], summary["failed"], summary["asked_again"]) == (1, 1, 2)
    assert sim.stats()["chats_created"] == 4
    failed = read_csv(summary["output_path"])[0]
    assert failed["状态"] == "失败" and "5000" in failed["错误"] and "已重问 2 次仍失败" in failed["错误"]
    assert "--retry-failed" in failed["错误"] and "自动重试" not in failed["错误"]
    assert "自动重试" not in "\n".join(quiet_log)


def test_no_retry_when_chat_retries_is_zero(coze, sim, kw, tmp_path, quiet_log):
    sim.inject("fail", count=1, path="/v3/chat")
    summary = coze.batch(write_csv(tmp_path / "in.csv", products(1)), chat_retries=0, **kw)
    assert (summary["failed"], summary["asked_again"], sim.stats()["chats_created"]) == (1, 0, 1)
    assert "没有重问" in read_csv(summary["output_path"])[0]["错误"]
    assert "自动重" not in "\n".join(quiet_log)


def test_a_failed_single_ask_does_not_promise_a_retry(coze, backend, sim):
    sim.inject("fail", count=1, path="/v3/chat")
    with pytest.raises(coze.CozeError) as caught:
        coze.ask("你好", bot_id=BOT_ID, token=TOKEN, base_url=sim.url)
    assert "5000" in str(caught.value) and "自动重试" not in str(caught.value) and caught.value.failed_chat
    assert sim.stats()["chats_created"] == 1


@pytest.mark.parametrize("value", ["9", "-1", "两次", 2.5])
def test_a_bad_chat_retries_is_refused_before_any_call(coze, sim, kw, tmp_path, value):
    with pytest.raises(coze.InputError, match="chat_retries 应该是 0 到 5 的整数"):
        coze.batch(write_csv(tmp_path / "in.csv", products(1)), chat_retries=value, **kw)
    assert sim.stats()["chats_created"] == 0


def test_cli_names_the_flag(tmp_path):
    from helpers import run_cli
    out = run_cli("batch", write_csv(tmp_path / "in.csv", products(1)), "--question-column", "商品名",
                  "--chat-retries", "abc")
    assert out.returncode == 1 and "--chat-retries 应该是 0 到 5 的整数" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("path, stream", [("/v1/workflow/stream_run", True), ("/v1/workflow/run", False)])
def test_a_failed_workflow_run_does_not_promise_a_retry(coze, sim, path, stream):
    sim.inject("fail", path=path)
    with pytest.raises(coze.CozeError) as caught:
        coze.run_workflow("7400000000000000001", {"input": "x"}, token=TOKEN, base_url=sim.url, stream=stream)
    assert "5000" in str(caught.value) and "自动重试" not in str(caught.value)
    assert sim.stats()["workflow_runs"] == 1


def test_a_chat_whose_answer_cannot_be_read_is_recovered_not_paid_again(coze, sim, kw, tmp_path, quiet_log):
    """The chat exists (noted in the journal), then reading its answer fails until the transport's
    retries run out: the row's retry recovers that chat (free) instead of paying a second one."""
    sim.inject("cut", count=1, path="/v3/chat")  # the stream breaks after the chat was created ...
    sim.inject("http502", count=5, path="/v3/chat/message/list")  # ... and reading it fails, retries and all
    summary = coze.batch(write_csv(tmp_path / "in.csv", products(1)), **kw)
    assert sim.stats()["chats_created"] == 1 and summary["chats"] == 1
    row = read_csv(summary["output_path"])[0]
    assert row["状态"] == "成功" and row["商品名"] in row["回答"]


def test_a_failed_read_keeps_the_chat_for_retry_failed(coze, sim, kw, tmp_path, quiet_log):
    """Reading fails on both tries: the failed row keeps its chat, so --retry-failed recovers it, free."""
    sim.inject("cut", count=1, path="/v3/chat")
    sim.inject("http502", count=10, path="/v3/chat/message/list")
    source = write_csv(tmp_path / "in.csv", products(1))
    summary = coze.batch(source, **kw)
    assert summary["failed"] == 1 and sim.stats()["chats_created"] == 1
    summary = coze.batch(source, retry_failed=True, **kw)
    assert summary["failed"] == 0 and sim.stats()["chats_created"] == 1
    row = read_csv(summary["output_path"])[0]
    assert row["状态"] == "成功" and row["商品名"] in row["回答"]

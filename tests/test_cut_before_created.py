"""A chat whose stream (or answer) is lost before conversation.chat.created, in a known conversation:
the conversation is searched and the chat followed, never paid twice (the cutcreate fault plays
exactly that gap); a request that surely created nothing is sent again; an earlier chat of the same
question is not taken for it. Source and dist × requests and urllib."""
import time

import pytest

from helpers import BOT_ID as BOT, TOKEN, run_cli
from simcalls import call


@pytest.fixture
def kw(sim):
    return dict(bot_id=BOT, token=TOKEN, base_url=sim.url)


@pytest.mark.parametrize("stream", [True, False])
def test_cut_before_created_in_a_known_conversation_pays_once(coze, backend, sim, kw, stream):
    conversation = coze.new_conversation(**dict(kw))
    sim.inject("cutcreate", path="/v3/chat")
    result = coze.chat("创建后断开的问题", conversation_id=conversation, stream=stream, **kw)
    stats = sim.stats()
    assert "创建后断开的问题" in result["answer"] and "此前已有 0 轮" in result["answer"]
    assert stats["chats_created"] == 1 and stats["requests"]["/v3/chat"] == 1
    assert stats["requests"]["/v1/conversation/message/list"] == 1
    assert result["conversation_id"] == conversation and result["chat_id"]


def test_ask_with_a_conversation_gets_the_one_answer(coze, backend, sim, kw):
    conversation = coze.new_conversation(**dict(kw))
    sim.inject("cutcreate", path="/v3/chat")
    assert "只问一次" in coze.ask("只问一次", conversation_id=conversation, **kw)
    assert sim.stats()["chats_created"] == 1


def test_a_request_that_created_nothing_is_sent_again(coze, backend, sim, kw):
    conversation = coze.new_conversation(**dict(kw))
    sim.inject("http502", path="/v3/chat")
    result = coze.chat("网关出错的问题", conversation_id=conversation, **kw)
    stats = sim.stats()
    assert "网关出错的问题" in result["answer"]
    assert stats["chats_created"] == 1 and stats["requests"]["/v3/chat"] == 2
    assert stats["requests"]["/v1/conversation/message/list"] == 1  # looked first, found nothing


def test_an_earlier_chat_of_the_same_question_is_not_taken(coze, backend, sim, kw):
    conversation = coze.new_conversation(**dict(kw))
    coze.chat("同一个问题", conversation_id=conversation, **kw)
    time.sleep(1.05 - time.time() % 1)  # the earlier chat answered in an earlier second than the next request
    sim.inject("http502", path="/v3/chat")
    result = coze.chat("同一个问题", conversation_id=conversation, **kw)
    assert "此前已有 1 轮" in result["answer"] and sim.stats()["chats_created"] == 2


def test_without_a_conversation_the_request_is_sent_again(coze, backend, sim, kw):
    """Nothing to look in: the one re-POST of before (documented), the answer still arrives."""
    sim.inject("cutcreate", path="/v3/chat")
    result = coze.chat("没有会话的问题", **kw)
    stats = sim.stats()
    assert "没有会话的问题" in result["answer"]
    assert stats["chats_created"] == 2 and "/v1/conversation/message/list" not in stats["requests"]


def test_a_chatflow_cut_before_created_in_its_conversation_pays_once(coze, backend, sim, kw):
    conversation = coze.new_conversation(**dict(kw))
    sim.inject("cutcreate", path="/v1/workflows/chat")
    result = coze.chat("对话流断在创建后", workflow_id="7400000000000000077", conversation_id=conversation,
                       token=TOKEN, base_url=sim.url)
    assert "对话流断在创建后" in result["answer"] and sim.stats()["chats_created"] == 1


def test_the_cli_ask_with_a_conversation_pays_once(sim):
    conversation = call(sim, "POST", "/v1/conversation/create", {"bot_id": BOT})[2]["data"]["id"]
    sim.inject("cutcreate", path="/v3/chat")
    out = run_cli("ask", "命令行只付一次", "--conversation-id", conversation,
                  env=dict(COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url))
    assert out.returncode == 0 and "命令行只付一次" in out.stdout, out.stderr
    assert sim.stats()["chats_created"] == 1


@pytest.mark.parametrize("conversation", ["", "   ", None])
def test_find_chat_needs_a_conversation_before_any_request(coze, sim, kw, conversation):
    client = coze.Client(**kw)
    with pytest.raises(coze.InputError) as err:
        client.find_chat(conversation, "问题")
    assert "conversation_id" in str(err.value) and sum(sim.stats()["requests"].values()) == 0

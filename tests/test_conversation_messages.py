"""The simulator's conversation message list (POST /v1/conversation/message/list), read by the
official SDK: the question shows at once with its chat_id, answers once the chat is completed,
newest first with order=desc, pages by after_id; and the cutcreate fault (the chat is created,
the connection drops before its created event)."""
import time

import pytest

from yingdao_module.simulator import Simulator

from helpers import BOT_ID as BOT
from simcalls import call, chat_body

cozepy = pytest.importorskip("cozepy")


def sdk(sim):
    return cozepy.Coze(auth=cozepy.TokenAuth("pat_sdk"), base_url=sim.url)


def test_sdk_lists_question_then_answers_newest_first():
    with Simulator(latency=0.2) as sim:
        coze = sdk(sim)
        conversation = coze.conversations.create(bot_id=BOT).id
        first = coze.chat.create_and_poll(bot_id=BOT, user_id="u", conversation_id=conversation,
                                          additional_messages=[cozepy.Message.build_user_question_text("第一问")])
        second = coze.chat.create(bot_id=BOT, user_id="u", conversation_id=conversation,
                                  additional_messages=[cozepy.Message.build_user_question_text("第二问")])
        listed = list(coze.conversations.messages.list(conversation_id=conversation, limit=20))
        # the running chat shows its question only; the first one everything, oldest last
        assert (listed[0].role, listed[0].type, listed[0].content, listed[0].chat_id) == (
            cozepy.MessageRole.USER, cozepy.MessageType.QUESTION, "第二问", second.id)
        assert [m.chat_id for m in listed[1:]] == [first.chat.id] * (len(listed) - 1)
        answers = [m for m in listed if m.type == cozepy.MessageType.ANSWER]
        assert len(answers) == 1 and "第一问" in answers[0].content
        assert listed[-1].type == cozepy.MessageType.QUESTION and listed[-1].content == "第一问"
        oldest_first = list(coze.conversations.messages.list(conversation_id=conversation, order="asc"))
        assert [m.id for m in oldest_first] == [m.id for m in listed][::-1]
        paged = list(coze.conversations.messages.list(conversation_id=conversation, limit=2))  # pages by after_id
        assert [m.id for m in paged] == [m.id for m in listed]


def test_empty_and_unknown_conversation_and_bad_limit():
    with Simulator(latency=0.1) as sim:
        coze = sdk(sim)
        conversation = coze.conversations.create(bot_id=BOT).id
        page = coze.conversations.messages.list(conversation_id=conversation)
        assert page.items == [] and page.has_more is False
        with pytest.raises(cozepy.CozeAPIError) as err:
            coze.conversations.messages.list(conversation_id="7999")
        assert err.value.code == 4002
        status, _, payload = call(sim, "POST", "/v1/conversation/message/list?conversation_id=" + conversation,
                                  {"limit": 51})
        assert payload["code"] == 4000


def test_cutcreate_fault_creates_the_chat_then_drops_the_stream():
    with Simulator(latency=0.1) as sim:
        coze = sdk(sim)
        conversation = coze.conversations.create(bot_id=BOT).id
        sim.inject("cutcreate", path="/v3/chat")
        events = []
        with pytest.raises(Exception):
            for event in coze.chat.stream(bot_id=BOT, user_id="u", conversation_id=conversation,
                                          additional_messages=[cozepy.Message.build_user_question_text("断在创建后")]):
                events.append(event.event)
        assert events == []  # not even the created event arrived
        time.sleep(0.3)
        listed = list(coze.conversations.messages.list(conversation_id=conversation))
        question = [m for m in listed if m.type == cozepy.MessageType.QUESTION]
        assert [m.content for m in question] == ["断在创建后"] and question[0].chat_id
        assert any(m.type == cozepy.MessageType.ANSWER and m.chat_id == question[0].chat_id for m in listed)
        assert sim.stats()["chats_created"] == 1

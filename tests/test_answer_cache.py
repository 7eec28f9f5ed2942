"""The answer cache (cache=True): an answer already paid for, in any table or run of the same
account and bot, is reused free and marked 缓存; failures are never cached; robots writing at
once never corrupt the file; the token never appears in its name or its lines."""
import os
import subprocess
import sys
import time

from helpers import BOT_ID as BOT, ROOT, TOKEN
from sheets import products, read_csv, write_csv


def cache_files(tmp_path):
    folder = os.environ["COZE_STATE_DIR"]
    return [os.path.join(folder, name) for name in os.listdir(folder) if name.startswith("answers-")]


def test_a_second_table_with_the_same_questions_pays_only_for_new_ones(coze, sim, tmp_path, quiet_log):
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, question_column="商品名", cache=True)
    first = coze.batch(write_csv(tmp_path / "a.csv", products(4)), **kw)
    assert first["chats"] == 4 and first["cached"] == 0
    second = coze.batch(write_csv(tmp_path / "b.csv", products(6)), **kw)
    assert second["chats"] == 2 and second["cached"] == 4 and second["done"] == 6
    assert sim.stats()["chats_created"] == 6
    rows = read_csv(second["output_path"])
    assert [r["状态"] for r in rows] == ["成功(缓存)"] * 4 + ["成功"] * 2
    earlier = dict((r["商品名"], r["回答"]) for r in read_csv(first["output_path"]))
    assert all(r["回答"] == earlier[r["商品名"]] for r in rows[:4])
    assert rows[0]["tokens"] == "0"
    for path in cache_files(tmp_path):
        assert TOKEN not in path and TOKEN not in open(path, encoding="utf-8").read()
    assert any("来自答案缓存" in line for line in quiet_log)


def test_without_cache_or_for_another_bot_everything_is_asked(coze, sim, tmp_path, quiet_log):
    kw = dict(token=TOKEN, base_url=sim.url, question_column="商品名")
    coze.batch(write_csv(tmp_path / "a.csv", products(3)), bot_id=BOT, cache=True, **kw)
    assert coze.batch(write_csv(tmp_path / "b.csv", products(3)), bot_id=BOT, **kw)["chats"] == 3
    other = coze.batch(write_csv(tmp_path / "c.csv", products(3)), bot_id="7000000000000000999", cache=True, **kw)
    assert other["chats"] == 3 and other["cached"] == 0


def test_failures_are_not_cached_and_old_answers_expire(coze, sim, tmp_path, quiet_log):
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, question_column="商品名", cache=True, chat_retries=0)
    sim.inject("fail", count=1, path="/v3/chat")
    first = coze.batch(write_csv(tmp_path / "a.csv", products(3)), concurrency=1, **kw)
    assert first["failed"] == 1
    again = coze.batch(write_csv(tmp_path / "b.csv", products(3)), **kw)
    assert again["chats"] == 1 and again["cached"] == 2  # the failed one is asked, the answers reused
    coze.patch("DAY", 0.001)  # a cache_days of 1 now means 86 ms
    time.sleep(0.2)
    expired = coze.batch(write_csv(tmp_path / "c.csv", products(3)), cache_days=1, **kw)
    assert expired["chats"] == 3 and expired["cached"] == 0


def test_cache_days_without_cache_is_refused_before_any_call(coze, sim, tmp_path):
    import pytest
    with pytest.raises(coze.InputError, match="--cache|cache=True"):
        coze.batch(write_csv(tmp_path / "a.csv", products(3)), bot_id=BOT, token=TOKEN, base_url=sim.url,
                   question_column="商品名", cache_days=3)
    assert sim.stats()["chats_created"] == 0


def test_a_torn_last_line_is_skipped_and_closed(tmp_path):
    from yingdao_module.answer_cache import AnswerCache
    path = str(tmp_path / "answers.jsonl")
    cache = AnswerCache(path)
    cache.put("k1", "甲")
    with open(path, "ab") as handle:
        handle.write(b'{"key": "k2", "answer": "\xe4\xb9')  # killed mid-line
    cache.put("k3", "丙")
    fresh = AnswerCache(path)
    assert fresh.get("k1")["answer"] == "甲" and fresh.get("k3")["answer"] == "丙" and fresh.get("k2") is None


def test_robots_appending_at_once_never_corrupt_the_cache(tmp_path):
    path = str(tmp_path / "answers.jsonl")
    script = ("import sys; sys.path.insert(0, %r)\nfrom yingdao_module.answer_cache import AnswerCache\n"
              "c = AnswerCache(%r)\nfor i in range(60): c.put('%%s-%%d' %% (sys.argv[1], i), '回答' * 500)" % (ROOT, path))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    from yingdao_module.answer_cache import AnswerCache
    entries = AnswerCache(path).load()
    assert len(entries) == 240 and all(e["answer"] == "回答" * 500 for e in entries.values())
    with open(path, "rb") as handle:
        assert len(handle.read().splitlines()) == 240


def test_workflow_rows_are_cached_by_workflow_and_parameters(coze, sim, tmp_path, quiet_log):
    workflow = "7402000000000000001"
    kw = dict(workflow_id=workflow, token=TOKEN, base_url=sim.url, cache=True)
    cities = [["城市"], ["杭州"], ["苏州"]]
    first = coze.batch(write_csv(tmp_path / "a.csv", cities), **kw)
    assert first["done"] == 2 and sim.stats()["workflow_runs"] == 2
    second = coze.batch(write_csv(tmp_path / "b.csv", cities + [["宁波"]]), **kw)
    assert second["cached"] == 2 and sim.stats()["workflow_runs"] == 3
    rows = read_csv(second["output_path"])
    assert [r["状态"] for r in rows] == ["成功(缓存)", "成功(缓存)", "成功"]
    assert rows[0]["output"] == read_csv(first["output_path"])[0]["output"]
    other = coze.batch(write_csv(tmp_path / "c.csv", cities), parameters='{"lang": "en"}', **kw)
    assert other["cached"] == 0  # other parameters: another question


def test_an_answer_asked_without_json_fields_is_not_served_to_a_run_requiring_them(coze, sim, tmp_path, quiet_log):
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, question_column="商品名", cache=True)
    assert coze.batch(write_csv(tmp_path / "a.csv", products(2)), **kw)["chats"] == 2
    strict = coze.batch(write_csv(tmp_path / "b.csv", products(2)), json_fields="名称", **kw)
    assert strict["cached"] == 0 and strict["chats"] >= 2  # asked (and checked) as JSON, not taken as it was


def test_a_replaced_file_at_the_same_path_is_asked_again(coze, sim, tmp_path, quiet_log):
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", files_column="附件", cache=True)
    note = tmp_path / "说明.txt"
    note.write_text("第一版说明", encoding="utf-8")
    table = [["商品名", "附件"], ["甲", "说明.txt"]]
    assert coze.batch(write_csv(tmp_path / "a.csv", table), **kw)["chats"] == 1
    same = coze.batch(write_csv(tmp_path / "b.csv", table), **kw)
    assert same["cached"] == 1 and same["chats"] == 0  # the same content: free
    note.write_text("第二版说明,内容不同", encoding="utf-8")
    replaced = coze.batch(write_csv(tmp_path / "c.csv", table), **kw)
    assert replaced["cached"] == 0 and replaced["chats"] == 1


def test_a_files_cell_with_spaces_around_is_the_same_question(coze, sim, tmp_path, quiet_log):
    """The journal key strips the files cell; the cache key reads it the same way."""
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", files_column="附件", cache=True)
    (tmp_path / "说明.txt").write_text("说明", encoding="utf-8")
    assert coze.batch(write_csv(tmp_path / "a.csv", [["商品名", "附件"], ["甲", "说明.txt"]]), **kw)["chats"] == 1
    spaced = coze.batch(write_csv(tmp_path / "b.csv", [["商品名", "附件"], ["甲", "  说明.txt "]]), **kw)
    assert spaced["cached"] == 1 and spaced["chats"] == 0

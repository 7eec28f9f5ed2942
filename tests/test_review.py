"""review=True / --review: the user writes 通过 or 驳回:<意见> in the output's 审核 column; the
review run asks only the rejected rows again, in each row's own conversation with the note,
writes the new answer, marks the verdict, keeps the earlier answer in the journal; approved
and unmarked rows are never asked again; xlsx and CSV, the input untouched."""
import csv
import json
import hashlib
import os

import pytest

from helpers import BOT_ID as BOT, TOKEN
from sheets import products, read_csv, write_csv


def rewrite_csv(path, verdicts):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    at = lines[0].index("审核")
    for line in lines[1:]:
        line[at] = verdicts.get(line[0], line[at])
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(lines)


def test_only_rejected_rows_are_asked_again_in_their_conversation(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(4))
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}")
    first = coze.batch(source, **kw)
    assert "审核" not in read_csv(first["output_path"])[0]  # no review yet: the output as before
    opened = coze.batch(source, review=True, **kw)  # adds the column, asks nothing
    assert opened["review"]["rejected"] == 0 and sim.stats()["chats_created"] == 4
    before = dict((r["商品名"], r["回答"]) for r in read_csv(first["output_path"]))
    rewrite_csv(first["output_path"], {"商品000": "通过", "商品001": "驳回:更短一点", "商品003": "驳回 不要感叹号"})
    summary = coze.batch(source, review=True, **kw)
    assert sim.stats()["chats_created"] == 6 and summary["review"]["asked"] == 2
    rows = dict((r["商品名"], r) for r in read_csv(summary["output_path"]))
    assert "请按审核意见修改:更短一点" in rows["商品001"]["回答"] and "此前已有 1 轮" in rows["商品001"]["回答"]
    assert "请按审核意见修改:不要感叹号" in rows["商品003"]["回答"]
    assert rows["商品001"]["审核"] == "已按意见重问(第 1 轮):更短一点"
    assert rows["商品000"]["审核"] == "通过" and rows["商品000"]["回答"] == before["商品000"]
    assert rows["商品002"]["审核"] == "" and rows["商品002"]["回答"] == before["商品002"]
    with open(summary["output_path"] + ".journal.jsonl", encoding="utf-8") as handle:  # the earlier answer is kept
        assert before["商品001"] in handle.read()
    with open(summary["report_path"], encoding="utf-8") as handle:
        assert "第 %s 行第 1 轮" % rows["商品001"]["行号"] in handle.read()
    again = coze.batch(source, review=True, **kw)  # nothing is rejected now
    assert again["review"]["asked"] == 0 and sim.stats()["chats_created"] == 6
    plain = coze.batch(source, **kw)  # an ordinary run keeps the verdicts
    assert read_csv(plain["output_path"])[0]["审核"] == "通过"


def test_a_second_round_and_a_failed_one_keep_the_answer(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(2))
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", review=True)
    out = coze.batch(source, **kw)["output_path"]
    rewrite_csv(out, {"商品000": "驳回:一", "商品001": "驳回:二"})
    sim.inject("fail", count=1, path="/v3/chat")
    coze.batch(source, **kw)
    rows = dict((r["商品名"], r) for r in read_csv(out))
    failed = [name for name, row in rows.items() if row["审核"].startswith("驳回")]
    assert len(failed) == 1 and rows[failed[0]]["回答"] and rows[failed[0]]["状态"] == "成功"
    rewrite_csv(out, {"商品000": "驳回:再短", "商品001": "驳回:再短"})
    coze.batch(source, **kw)
    rounds = sorted(r["审核"] for r in read_csv(out))
    assert rounds == ["已按意见重问(第 1 轮):再短", "已按意见重问(第 2 轮):再短"]


def test_review_in_a_workbook_copy_leaves_the_input_untouched(coze, sim, tmp_path, quiet_log):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["商品名", "价格"])
    for i in range(3):
        book.active.append(["商品%d" % i, i])
    source = str(tmp_path / "in.xlsx")
    book.save(source)
    digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", review=True)
    out = coze.batch(source, **kw)["output_path"]
    copy = openpyxl.load_workbook(out)
    sheet = copy.active
    names = [c.value for c in sheet[1]]
    assert names[-1] == "审核"
    sheet.cell(3, len(names)).value = "驳回:加上价格"
    copy.save(out)
    summary = coze.batch(source, **kw)
    assert summary["review"]["asked"] == 1 and sim.stats()["chats_created"] == 4
    sheet = openpyxl.load_workbook(out).active
    assert "加上价格" in sheet.cell(3, 3).value and sheet.cell(3, len(names)).value.startswith("已按意见重问")
    assert hashlib.sha256(open(source, "rb").read()).hexdigest() == digest


def test_the_resume_command_carries_cache_and_review_but_not_estimate(tmp_path):
    from yingdao_module.batch import batch_defaults
    from yingdao_module.batch_options import BatchOptions
    from yingdao_module.resume import resume_args
    source = write_csv(tmp_path / "in.csv", products(2))
    args = resume_args(BatchOptions(source, batch_defaults(), prompt="介绍{商品名}", cache=True, cache_days="7", review="是"), BOT, "")
    assert args[args.index("--cache-days") + 1] == "7" and "--cache" in args and "--review" in args
    estimate = resume_args(BatchOptions(source, batch_defaults(), prompt="介绍{商品名}", estimate=True, qps="auto"), BOT, "")
    assert "--estimate" not in estimate and estimate[estimate.index("--qps") + 1] == "auto"


def test_the_single_file_reviews_on_python_37(sim, tmp_path):
    from helpers import DIST, find_python
    python = find_python("3.7")
    if python is None:
        pytest.skip("no Python 3.7 here")
    import subprocess
    source = write_csv(tmp_path / "in.csv", products(3))
    env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
    command = [python, DIST, "batch", source, "--prompt", "介绍{商品名}", "--review", "--cache"]
    first = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr.decode("utf-8")
    rewrite_csv(str(tmp_path / "in_coze.csv"), {"商品002": "驳回:再具体些"})
    second = subprocess.run(command, env=env, capture_output=True, timeout=120)
    err = second.stderr.decode("utf-8")
    assert second.returncode == 0 and "Traceback" not in err, err
    assert sim.stats()["chats_created"] == 4
    rows = read_csv(str(tmp_path / "in_coze.csv"))
    assert "请按审核意见修改:再具体些" in rows[2]["回答"] and rows[2]["审核"].startswith("已按意见重问")


def test_with_the_cache_a_revised_answer_replaces_the_rejected_one(coze, sim, tmp_path, quiet_log):
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", cache=True)
    out = coze.batch(write_csv(tmp_path / "a.csv", products(2)), review=True, **kw)["output_path"]
    rewrite_csv(out, {"商品001": "驳回:短一点"})
    coze.batch(write_csv(tmp_path / "a.csv", products(2)), review=True, **kw)
    other = coze.batch(write_csv(tmp_path / "b.csv", products(2)), **kw)
    assert other["cached"] == 2 and sim.stats()["chats_created"] == 3
    rows = read_csv(other["output_path"])
    assert "请按审核意见修改:短一点" in rows[1]["回答"] and rows[1]["状态"] == "成功(缓存)"


def test_a_failed_review_chat_leaves_the_answer_for_later_runs(coze, sim, tmp_path, quiet_log):
    """The review chat fails: its note is the row's last journal line, yet the next run (without
    review) pays nothing and keeps the earlier answer."""
    source = write_csv(tmp_path / "in.csv", products(1))
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}", chat_retries=0)
    out = coze.batch(source, review=True, **kw)["output_path"]
    answer = read_csv(out)[0]["回答"]
    rewrite_csv(out, {"商品000": "驳回:短一点"})
    sim.inject("fail", count=1, path="/v3/chat")
    coze.batch(source, review=True, **kw)
    paid = sim.stats()["chats_created"]
    summary = coze.batch(source, **kw)
    assert sim.stats()["chats_created"] == paid == 2 and summary["chats"] == 0
    row = read_csv(out)[0]
    assert row["状态"] == "成功" and row["回答"] == answer


def test_an_interrupted_review_chat_is_recovered_by_the_next_review(coze, sim, tmp_path, quiet_log):
    """A review chat whose run was killed after it was paid (its note the row's last journal line) is
    recovered by the next --review, not paid again; a run without review leaves the answer alone."""
    source = write_csv(tmp_path / "in.csv", products(1))
    kw = dict(bot_id=BOT, token=TOKEN, base_url=sim.url, prompt="介绍{商品名}")
    summary = coze.batch(source, review=True, **kw)
    out, journal = summary["output_path"], summary["output_path"] + ".journal.jsonl"
    answer = read_csv(out)[0]["回答"]
    rewrite_csv(out, {"商品000": "驳回:短一点"})
    with open(journal, encoding="utf-8") as handle:
        record = [json.loads(line) for line in handle if '"status"' in line][-1]
    reply = coze.chat("请按审核意见修改:短一点", conversation_id=record["conversation_id"], bot_id=BOT,
                      token=TOKEN, base_url=sim.url)
    with open(journal, "a", encoding="utf-8") as handle:  # the review chat of a run killed after paying
        handle.write(json.dumps({"row": record["row"], "key": record["key"], "pending": {
            "chat_id": reply["chat_id"], "conversation_id": record["conversation_id"]}}) + "\n")
    paid = sim.stats()["chats_created"]
    assert coze.batch(source, **kw)["chats"] == 0 and read_csv(out)[0]["回答"] == answer
    summary = coze.batch(source, review=True, **kw)
    assert sim.stats()["chats_created"] == paid and summary["review"]["asked"] == 1
    row = read_csv(out)[0]
    assert row["回答"] == reply["answer"] and row["审核"].startswith("已按意见重问")

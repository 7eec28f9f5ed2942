"""Rows through a workflow: parameters from columns (typed), End fields as columns, question
answers from a column, async runs journaled at once and never started twice (SIGKILL), 6003
falls back to streaming, workflow caps apart from chat caps, the resume command."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, TOKEN
from sheets import read_csv, write_csv
from yingdao_module.simulator import Simulator

WORKFLOW = "7402000000000000001"


def cities(n):
    return [["城市", "天数"]] + [["城市%02d" % i, str(i)] for i in range(n)]


def test_parameters_from_columns_and_end_fields_as_columns(coze, backend, sim, tmp_path):
    source = write_csv(tmp_path / "in.csv", cities(3))
    summary = coze.batch(source, workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url,
                         parameters='{"city": "{城市}", "lang": "zh", "q": "{城市}的天气"}')
    assert summary["done"] == 3 and summary["failed"] == 0
    rows = read_csv(summary["output_path"])
    # the simulator's End node says {"output": parameters}: one column "output" holding them as JSON text
    sent = json.loads(rows[1]["output"])
    assert sent == {"city": "城市01", "lang": "zh", "q": "城市01的天气", "天数": "1"}  # 城市 renamed, not sent twice
    assert rows[1]["输出"] == ""  # a JSON object goes into its field columns only
    assert rows[1]["消息"] == ""  # an async run's history has no Message texts (a streamed one has: below)
    assert rows[1]["chat_id"].isdigit() and rows[1]["状态"] == "成功"
    assert sim.stats()["workflow_runs"] == 3


def test_a_number_cell_is_a_json_number(sim, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import yingdao_module as coze
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["城市", "天数", "编号"])
    sheet.append(["杭州", 3, "007"])
    sheet.append(["北京", 2.5, "008"])
    book.save(str(tmp_path / "in.xlsx"))
    summary = coze.batch(str(tmp_path / "in.xlsx"), workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url,
                         output_path=str(tmp_path / "out.csv"))
    rows = read_csv(summary["output_path"])
    assert [json.loads(r["output"]) for r in rows] == [{"城市": "杭州", "天数": 3, "编号": "007"},
                                                      {"城市": "北京", "天数": 2.5, "编号": "008"}]


def test_question_answers_come_from_a_column(coze, tmp_path):
    source = write_csv(tmp_path / "in.csv", [["城市", "回答们"], ["杭州", '["杭州"]'], ["北京", ""]])
    with Simulator(latency=0.02, question_workflows=[WORKFLOW]) as sim:
        summary = coze.batch(source, workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url, answers_column="回答们")
    rows = read_csv(summary["output_path"])
    assert rows[0]["状态"] == "成功" and rows[0]["output"] == "杭州 的查询结果"
    assert rows[1]["状态"] == "失败" and "请问要查询哪个城市?" in rows[1]["错误"]  # names the question
    assert rows[0]["消息"] == "正在处理,请稍候。"  # Message node text kept apart from the End output


def test_async_refused_runs_streamed_and_once(coze, tmp_path, capfd):
    source = write_csv(tmp_path / "in.csv", cities(4))
    with Simulator(latency=0.02, async_workflows=False) as sim:
        summary = coze.batch(source, workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url)
        assert summary["done"] == 4
        assert sim.stats()["workflow_runs"] == 4
    assert "6003" in "".join(capfd.readouterr())
    journal = open(summary["output_path"] + ".journal.jsonl", encoding="utf-8").read()
    assert journal.count('"execute_id"') == 4  # noted from the stream's first event naming it


def journal_ids(path):
    ids = set()
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="replace"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if (record.get("pending") or {}).get("execute_id"):
                ids.add(record["row"])
    return ids


def test_sigkill_never_starts_a_second_run(tmp_path):
    """A CLI batch of slow workflow runs is killed (SIGKILL) while runs are going, then resumed:
    the simulator started exactly one run per row."""
    rows = 6
    source = write_csv(tmp_path / "in.csv", cities(rows))
    journal = str(tmp_path / "in_coze.csv.journal.jsonl")
    with Simulator(latency=0.02, slow_workflows={WORKFLOW: 2.0}) as sim:
        env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_API_BASE=sim.url)
        command = [sys.executable, "-m", "yingdao_module", "batch", source, "--workflow-id", WORKFLOW,
                   "--concurrency", "3"]
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ends = time.monotonic() + 30
        while len(journal_ids(journal)) < 3 and time.monotonic() < ends:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert len(journal_ids(journal)) == 3 and sim.stats()["workflow_runs"] == 3  # killed mid-run
        final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert "不会重跑" in final.stderr
        out = read_csv(str(tmp_path / "in_coze.csv"))
        assert [r["状态"] for r in out] == ["成功"] * rows
        assert [json.loads(r["output"])["城市"] for r in out] == ["城市%02d" % i for i in range(rows)]
        assert sim.stats()["workflow_runs"] == rows


def test_a_row_marked_sending_without_an_id_is_not_run_again(tmp_path, capfd):
    import yingdao_module as coze
    from yingdao_module.batch_plan import question_key
    source = write_csv(tmp_path / "in.csv", cities(2))
    with Simulator(latency=0.02) as sim:
        coze.batch(source, workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url, max_rows=1)
        journal = str(tmp_path / "in_coze.csv.journal.jsonl")
        key = question_key(json.dumps({"城市": "城市01", "天数": "1"}, ensure_ascii=False, sort_keys=True))
        with open(journal, "a", encoding="utf-8") as handle:  # as a kill right after the request left leaves it
            handle.write(json.dumps({"row": 3, "key": key, "pending": {"sending": True}}) + "\n")
        summary = coze.batch(source, workflow_id=WORKFLOW, token=TOKEN, base_url=sim.url)
        assert sim.stats()["workflow_runs"] == 1
    rows = read_csv(summary["output_path"])
    assert rows[1]["状态"] == "失败" and "可能已经运行" in rows[1]["错误"] and "--retry-failed" in rows[1]["错误"]
    assert "--retry-failed" in summary["resume_command"] and "--workflow-id" in summary["resume_command"]


def test_workflow_caps_are_apart_from_chat_caps(tmp_path, monkeypatch):
    from yingdao_module.ratelimit import RateLimiter

    class Settings(object):
        app, token, base_url = None, TOKEN, "https://api.coze.cn"
    monkeypatch.setenv("COZE_STATE_DIR", str(tmp_path))
    chats, runs = RateLimiter(qps=1), RateLimiter(qps=1)
    chats.share_with_account(Settings())
    runs.share_with_account(Settings(), "workflow")
    assert chats.state_path != runs.state_path and TOKEN not in runs.state_path


def test_bad_workflow_options_are_refused_before_any_call(sim, tmp_path):
    import yingdao_module as coze
    source = write_csv(tmp_path / "in.csv", cities(1))
    for kwargs, says in ((dict(workflow_id=WORKFLOW, prompt="{城市}"), "只能选一种"),
                         (dict(parameters='{"a": 1}'), "workflow_id"),
                         (dict(workflow_id=WORKFLOW, parameters='{"c": "{没有}"}'), "{没有}"),
                         (dict(workflow_id=WORKFLOW, answers_column="没有"), "没有「没有」"),
                         (dict(workflow_id=WORKFLOW, parameters="[1]"), "parameters")):
        with pytest.raises(coze.InputError) as caught:
            coze.batch(source, token=TOKEN, base_url=sim.url, **kwargs)
        assert says in str(caught.value)
    assert sim.stats()["requests"] == {}


def test_the_resume_command_carries_every_new_option(tmp_path):
    from yingdao_module.batch import batch_defaults
    from yingdao_module.batch_options import BatchOptions
    from yingdao_module.resume import resume_args
    source = write_csv(tmp_path / "in.csv", [["城市", "回答们", "附件"], ["杭州", "", ""]])
    options = BatchOptions(source, batch_defaults(), workflow_id=WORKFLOW, parameters={"city": "{城市}", "n": 2},
                           answers_column="回答们", files_column="附件", download="是")
    args = resume_args(options, "", "https://api.coze.cn")
    assert args[args.index("--workflow-id") + 1] == WORKFLOW
    assert json.loads(args[args.index("--parameters") + 1]) == {"city": "{城市}", "n": 2}
    assert args[args.index("--answers-column") + 1] == "回答们" and args[args.index("--files-column") + 1] == "附件"
    assert "--download" in args and "--answer-column" not in args  # 输出 is a workflow run's default


def test_the_single_file_on_python37_runs_rows_through_a_workflow_with_files_and_downloads(tmp_path):
    """dist/coze.py alone in a folder, on Python 3.7: a workflow batch with a files column and
    --download against the simulator (images in its outputs)."""
    import shutil
    from helpers import DIST, find_python
    from yingdao_module.simulator.files import demo_png
    python = find_python("3.7")
    if python is None:
        pytest.skip("no Python 3.7 here")
    shutil.copy(DIST, str(tmp_path / "coze.py"))
    (tmp_path / "a.png").write_bytes(demo_png())
    source = write_csv(tmp_path / "in.csv", [["城市", "附件"], ["杭州", "a.png"], ["北京", "a.png"]])
    with Simulator(latency=0.02, image_answers=True) as sim:
        env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_API_BASE=sim.url, COZE_STATE_DIR=str(tmp_path / "state"))
        done = subprocess.run([python, "coze.py", "batch", source, "--workflow-id", WORKFLOW, "--files-column", "附件",
                               "--download"], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert sim.stats()["workflow_runs"] == 2 and sim.stats()["files"] == 1
    rows = read_csv(str(tmp_path / "in_coze.csv"))
    sent = [json.loads(json.loads(r["output"])["附件"]) for r in rows]  # the upload's id as {"file_id": ...} text
    assert sent[0] == sent[1] and sent[0]["file_id"].isdigit()  # one upload for both rows
    assert all(open(r["文件"], "rb").read() == demo_png() for r in rows)


def test_a_file_that_cannot_be_noted_fails_its_workflow_row_only(coze, sim, tmp_path):
    """An OSError around a row's files (here the uploads list cannot be appended to) fails that
    row, as on the bot path: no exception out of batch(), no run started for it, the others run."""
    from yingdao_module.simulator.files import demo_png
    (tmp_path / "a.png").write_bytes(demo_png())
    source = write_csv(tmp_path / "in.csv", [["城市", "附件"], ["杭州", "a.png"], ["北京", ""]])
    os.mkdir(str(tmp_path / "in_coze.csv.uploads.jsonl"))  # open(..., "a") raises IsADirectoryError
    summary = coze.batch(source, workflow_id=WORKFLOW, files_column="附件", token=TOKEN, base_url=sim.url)
    rows = read_csv(summary["output_path"])
    assert (summary["done"], summary["failed"], sim.stats()["workflow_runs"]) == (1, 1, 1)
    assert rows[0]["状态"] == "失败" and "第 2 行的文件没有上传成功" in rows[0]["错误"] and rows[1]["状态"] == "成功"


def test_a_token_in_parameters_is_refused_and_never_printed(coze, sim, tmp_path):
    """A token-shaped constant in parameters is refused before any call, without echoing it; a
    long secret that is not token-shaped never reaches the printed resume command."""
    from yingdao_module.batch import batch_defaults
    from yingdao_module.batch_options import BatchOptions
    from yingdao_module.resume import resume_args
    source = write_csv(tmp_path / "in.csv", [["城市"], ["杭州"]])
    token = "pat_" + "Q7x" * 12
    for parameters in ({"api_key": token}, json.dumps({"auth": {"list": [token]}})):
        with pytest.raises(coze.InputError) as caught:
            coze.batch(source, workflow_id=WORKFLOW, parameters=parameters, token=TOKEN, base_url=sim.url)
        assert "parameters" in str(caught.value) and token not in str(caught.value)
    assert sim.stats()["requests"] == {}
    secret = "sk-" + "Ab1" * 15
    options = BatchOptions(source, batch_defaults(), workflow_id=WORKFLOW, parameters={"city": "{城市}", "key": secret})
    args = resume_args(options, "", "https://api.coze.cn")
    printed = args[args.index("--parameters") + 1]
    assert secret not in " ".join(args) and json.loads(printed)["city"] == "{城市}"

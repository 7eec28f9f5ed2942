"""Token-leak scan: every entry point runs with a unique canary token, and every log line,
exception text, traceback, repr, journal, output file and printed output is searched for
the canary and for its first 8 characters."""
import csv
import glob
import os
import signal
import subprocess
import sys
import time
import traceback

import pytest

from helpers import BOT_ID as BOT, ROOT

CANARY = "pat_Zq9xCANARY7f3e1b2c4d5e6f708192a3b4c5d6"
PREFIX = CANARY[:8]


class Haystack(object):
    """Everything a user or a support engineer could ever see."""

    def __init__(self):
        self.texts = []

    def add(self, where, text):
        self.texts.append((where, text if isinstance(text, str) else repr(text)))

    def add_error(self, where, err):
        self.add(where + " str", str(err))
        self.add(where + " repr", repr(err))
        self.add(where + " traceback", "".join(traceback.format_exception(type(err), err, err.__traceback__)))
        for name, value in vars(err).items():
            self.add("%s attr %s" % (where, name), repr(value))

    def add_files(self, folder):
        for path in glob.glob(os.path.join(folder, "**", "*"), recursive=True):
            if os.path.isfile(path):
                with open(path, "rb") as handle:
                    self.add("file " + os.path.basename(path), handle.read().decode("utf-8", "replace"))

    def add_output(self, log_lines, capfd):
        """The module's log lines and whatever reached stdout / stderr."""
        for line in log_lines:
            self.add("log", line)
        captured = capfd.readouterr()
        self.add("stdout", captured.out)
        self.add("stderr", captured.err)

    def leaks(self):
        return [(where, text[:200]) for where, text in self.texts if CANARY in text or PREFIX in text]


def attempt(hay, where, func):
    try:
        result = func()
        hay.add(where + " result", repr(result))
    except Exception as err:  # every error path is part of the scan
        hay.add_error(where, err)


def test_no_entry_point_leaks_the_token(coze, sim, tmp_path, capfd):
    from yingdao_module.simulator import Simulator
    hay = Haystack()
    lines = []
    coze.set_log_sink(lines.append)
    kw = dict(bot_id=BOT, token=CANARY, base_url=sim.url)
    try:
        attempt(hay, "ask stream", lambda: coze.ask("你好", **kw))
        attempt(hay, "chat poll", lambda: coze.chat("你好", stream=False, **kw))
        attempt(hay, "bearer-prefixed", lambda: coze.ask("你好", bot_id=BOT, token="Bearer " + CANARY + "\n",
                                                          base_url=sim.url))
        attempt(hay, "workflow", lambda: coze.run_workflow("7400000000000000001", {"a": "b"}, token=CANARY,
                                                           base_url=sim.url))
        picture = tmp_path / "a.png"
        picture.write_bytes(b"png")
        attempt(hay, "upload", lambda: coze.upload_file(str(picture), token=CANARY, base_url=sim.url))
        attempt(hay, "conversation", lambda: coze.new_conversation(**kw))
        for kind in ("http500", "http429", "reset", "malformed", "cut", "4020", "fail"):
            sim.inject(kind, count=1, path="/v3/chat")
            attempt(hay, "fault " + kind, lambda: coze.ask("故障", **kw))
        sim.inject("stuck", count=1, path="/v3/chat")
        attempt(hay, "stuck", lambda: coze.ask("卡住", timeout=0.5, **kw))
        for bad in (dict(question=""), dict(bot_id="abc"), dict(timeout=-1), dict(base_url="https://api.coze.cm"),
                    dict(custom_variables={"a": None}), dict(files=["/nope.png"])):
            call = dict(kw, question="你好")
            call.update(bad)
            attempt(hay, "bad %s" % list(bad), lambda: coze.ask(**call))
        with Simulator(latency=0.02, token="pat_the_right_one", unpublished=["7999"], quota=1) as strict:
            attempt(hay, "4100", lambda: coze.ask("你好", bot_id=BOT, token=CANARY, base_url=strict.url))
            attempt(hay, "4015", lambda: coze.ask("你好", bot_id="7999", token="pat_the_right_one", base_url=strict.url))
        args = {"question": "你好", "token": CANARY, "bot_id": BOT, "base_url": sim.url}
        attempt(hay, "main", lambda: coze.main(args))
        hay.add("main outputs", repr(dict((k, args.get(k)) for k in coze.CODE_FLOW_OUTPUTS)))
        args = {"question": "你好", "token": CANARY, "bot_id": "abc", "base_url": sim.url}
        attempt(hay, "main error", lambda: coze.main(args))
        hay.add("main error outputs", repr(dict((k, args.get(k)) for k in coze.CODE_FLOW_OUTPUTS)))
        client = coze.Client(token=CANARY, bot_id=BOT, base_url=sim.url)
        hay.add("reprs", repr(client) + repr(client.settings) + repr(client.transport) + str(vars(client)))
        hay.add("api cache", repr(coze._clients))
        table = tmp_path / "rows.csv"
        table.write_text("问题\n一\n二\n三\n", encoding="utf-8")
        attempt(hay, "batch", lambda: coze.batch(str(table), question_column="问题", **kw))
        attempt(hay, "batch bad column", lambda: coze.batch(str(table), prompt="{不存在}", **kw))
        with Simulator(latency=0.02, token="pat_other") as strict:
            attempt(hay, "batch 4100", lambda: coze.batch(str(table), question_column="问题", bot_id=BOT,
                                                          token=CANARY, base_url=strict.url,
                                                          output_path=str(tmp_path / "fatal.csv")))
    finally:
        coze.set_log_sink(None)
    hay.add_output(lines, capfd)
    hay.add_files(str(tmp_path))
    assert len(hay.texts) > 60  # the scan really looked at things
    assert any("故障" in text for _, text in hay.texts)
    assert hay.leaks() == []


def test_the_scan_can_fail():
    hay = Haystack()
    hay.add("x", "Authorization: Bearer " + PREFIX + "...")
    assert hay.leaks()


def test_cli_json_and_a_killed_batch_do_not_leak(sim, tmp_path):
    env = dict(os.environ, COZE_API_TOKEN=CANARY, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
    outputs = []
    ask = subprocess.run([sys.executable, "-m", "yingdao_module", "ask", "你好", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ask.returncode == 0 and "你好" in ask.stdout
    outputs += [ask.stdout, ask.stderr]
    bad = subprocess.run([sys.executable, "-m", "yingdao_module", "ask", "你好", "--token", CANARY, "--bot-id", "x"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    outputs += [bad.stdout, bad.stderr]
    table = tmp_path / "rows.csv"
    with open(str(table), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["问题"])
        for i in range(40):
            writer.writerow(["问题%d" % i])
    command = [sys.executable, "-m", "yingdao_module", "batch", str(table), "--question-column", "问题",
               "--token", CANARY]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)  # crash mid-run, then resume
    out, err = proc.communicate(timeout=30)
    outputs += [out, err]
    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    outputs += [resumed.stdout, resumed.stderr]
    for path in glob.glob(str(tmp_path / "*")):
        with open(path, "rb") as handle:
            outputs.append(handle.read().decode("utf-8", "replace"))
    assert len(glob.glob(str(tmp_path / "*"))) >= 2  # the output and its journal were scanned too
    leaks = [text[:200] for text in outputs if CANARY in text or PREFIX in text]
    assert leaks == []


def test_a_server_echoing_the_token_and_tokens_in_wrong_fields_do_not_leak(coze, backend, tmp_path, capfd):
    """The same scan against a hostile server that quotes the token back in every answer,
    and with the token pasted into every field that is not `token`."""
    from rawserver import RawServer, json_reply
    echo = "token %s is invalid; Authorization: Bearer %s" % (CANARY, CANARY)
    routes = dict((path, [json_reply(None, code=code, msg=echo)]) for path, code in (
        ("/v3/chat", 4100), ("/v1/workflow/stream_run", 4101), ("/v1/workflow/run", 4000),
        ("/v1/conversation/create", 5000), ("/v1/files/upload", 4000)))
    hay = Haystack()
    lines = []
    coze.set_log_sink(lines.append)
    try:
        with RawServer(routes) as server:
            kw = dict(bot_id=BOT, token=CANARY, base_url=server.url)
            attempt(hay, "echo ask", lambda: coze.ask("你好", **kw))
            attempt(hay, "echo poll", lambda: coze.ask("你好", stream=False, **kw))
            attempt(hay, "echo workflow", lambda: coze.run_workflow("7400000000000000001", {}, token=CANARY,
                                                                    base_url=server.url))
            attempt(hay, "echo conversation", lambda: coze.new_conversation(**kw))
            args = {"question": "你好", "token": CANARY, "bot_id": BOT, "base_url": server.url}
            coze.main(args)
            hay.add("echo main", repr(dict((k, args.get(k)) for k in coze.CODE_FLOW_OUTPUTS)))
            other = dict(bot_id=BOT, token="pat_someOTHERtokenFORthisTEST", base_url=server.url)
            for field in ("bot_id", "user_id", "conversation_id"):
                attempt(hay, "wrong " + field, lambda: coze.ask("你好", **dict(other, **{field: CANARY})))
            attempt(hay, "wrong workflow_id", lambda: coze.run_workflow(CANARY, token=other["token"],
                                                                        base_url=server.url))
            attempt(hay, "wrong base_url", lambda: coze.ask("你好", **dict(other, base_url=CANARY)))
            attempt(hay, "wrong files", lambda: coze.ask("你好", files=CANARY, **other))
            attempt(hay, "wrong custom_variables", lambda: coze.ask("你好", custom_variables={"k": CANARY}, **other))
            args = dict(other, question="你好", conversation_id=CANARY)
            coze.main(args)
            hay.add("wrong main", repr((args["error"], args["answer"])))  # conversation_id stays the user's input
    finally:
        coze.set_log_sink(None)
    hay.add_output(lines, capfd)
    assert len(hay.texts) > 40 and any("扣子原话" in text for _, text in hay.texts)
    assert hay.leaks() == []

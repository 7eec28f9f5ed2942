"""Sub-flow tools in a real-shaped ShadowBot app: package.json maps the shown flow name to its
file name, and the fake xbot_visual.process.run below behaves like the code ShadowBot generates
(a module lookup by file name beside the calling module, then its main(args); outputs read as
attributes). Source and dist (the coze fixture), and dist/coze.py pasted into the app folder and
run by Python 3.7 and this Python."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from helpers import DIST, TOKEN, find_python
from yingdao_module.simulator import Simulator

TOOL_BOT, TOOL = "7000000000000000009", "查询库存"
FLOWS = [{"name": "main", "filename": "main", "kind": "Visual"},
         {"name": TOOL, "filename": "process5", "kind": "Visual"},
         {"name": "A初始化配置", "filename": "process8", "kind": "Code"}]

# xbot_visual.process.run as the generated code uses it: `package` is the calling module's
# __name__, `process` the flow's file name; inputs may be lambdas (variables), outputs are attributes
FAKE_XBOT_VISUAL = '''
import importlib
import types

calls = []


def _run(process, package, inputs, outputs, **block):
    calls.append({"process": process, "package": package, "outputs": list(outputs)})
    module = importlib.import_module(package.rpartition(".")[0] + "." + process)
    args = dict((name, value() if callable(value) else value) for name, value in inputs.items())
    module.main(args)
    return types.SimpleNamespace(**dict((name, args[name]) for name in outputs))


process = types.SimpleNamespace(run=_run)
'''

# a visual flow with input `question` and output `output`, shaped like ShadowBot's generated code
SUBFLOW = '''
def main(args):
    question = ""
    output = ""
    if args is None:
        question = "螺丝"
    else:
        question = args.get("question", "螺丝")
    try:
        output = "文件 process5 查到「%s」有 7 个" % question
    finally:
        args["output"] = output
'''


def make_app(folder, package):
    """A ShadowBot app package `package` in `folder`: package.json, the sub-flow process5.py."""
    app = os.path.join(folder, package)
    os.makedirs(app)
    open(os.path.join(app, "__init__.py"), "w").close()
    with open(os.path.join(app, "package.json"), "w", encoding="utf-8") as handle:
        json.dump({"uuid": "7e7b6c16", "name": "测试应用", "startup": "main", "flows": FLOWS}, handle,
                  ensure_ascii=False, indent=2)
    with open(os.path.join(app, "process5.py"), "w", encoding="utf-8") as handle:
        handle.write(SUBFLOW)
    with open(os.path.join(folder, "xbot_visual.py"), "w", encoding="utf-8") as handle:
        handle.write(FAKE_XBOT_VISUAL)
    return app


@pytest.fixture
def sim():
    with Simulator(latency=0.02, tool_bots={TOOL_BOT: TOOL}) as server:
        yield server


@pytest.fixture
def app(coze, tmp_path, monkeypatch):
    """The module under test seen as `<app>.coze` inside a fake app folder; the fake xbot_visual."""
    package = "app_%s" % tmp_path.name.replace("-", "_")
    folder = make_app(str(tmp_path), package)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("xbot_visual", str(tmp_path / "xbot_visual.py"))
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    monkeypatch.setitem(sys.modules, "xbot_visual", fake)
    coze.patch("app_location", lambda: (package + ".coze", folder))
    yield fake
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        del sys.modules[name]


@pytest.mark.parametrize("given", [TOOL, "process5"])
def test_subflow_by_shown_or_file_name_runs_the_file(coze, sim, app, quiet_log, given):
    answer = coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools={TOOL: given})
    assert "文件 process5 查到「螺母呢?」有 7 个" in answer
    assert [call["process"] for call in app.calls] == ["process5"] and app.calls[0]["outputs"] == ["output"]
    assert sim.stats()["tool_outputs"] == 1


def test_unknown_subflow_is_refused_before_any_chat_listing_the_flows(coze, sim, app):
    with pytest.raises(coze.InputError) as caught:
        coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools='{"查询库存": "查库存"}')
    message = str(caught.value)
    assert "「查库存」不是这个影刀应用里的流程" in message
    assert "「查询库存」→ process5" in message and "「A初始化配置」→ process8" in message
    assert sim.stats()["requests"] == {} and app.calls == []


def test_unreadable_package_json_is_a_clear_error(coze, sim, app, tmp_path):
    folder = coze.app_location()[1]
    with open(os.path.join(folder, "package.json"), "w", encoding="utf-8") as handle:
        handle.write("{broken")
    with pytest.raises(coze.InputError, match="读不懂影刀应用的 package.json"):
        coze.ask("螺母呢?", bot_id=TOOL_BOT, token=TOKEN, base_url=sim.url, tools={TOOL: TOOL})
    assert sim.stats()["requests"] == {}


PASTED = '''
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
import xbot_visual
coze = importlib.import_module(sys.argv[2] + ".coze")
out = {"answer": coze.ask("螺母呢?", bot_id=sys.argv[3], token=sys.argv[4], base_url=sys.argv[5],
                          tools='{"查询库存": "查询库存"}')}
try:
    coze.ask("x", bot_id=sys.argv[3], token=sys.argv[4], base_url=sys.argv[5], tools='{"查询库存": "查库存"}')
except Exception as exc:
    out["refused"] = "%s: %s" % (type(exc).__name__, exc)
out["calls"] = xbot_visual.calls
print(json.dumps(out, ensure_ascii=False))
'''


@pytest.mark.parametrize("version", ["3.7", "this"])
def test_dist_pasted_into_an_app_finds_its_package_json(sim, tmp_path, version):
    python = sys.executable if version == "this" else find_python(version)
    if not python:
        pytest.skip("no Python %s on this machine" % version)
    app = make_app(str(tmp_path), "xbot_robot")
    shutil.copy(DIST, os.path.join(app, "coze.py"))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(PASTED), encoding="utf-8")
    done = subprocess.run([python, str(script), str(tmp_path), "xbot_robot", TOOL_BOT, TOKEN, sim.url],
                          capture_output=True, timeout=120, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    out = json.loads(done.stdout.decode("utf-8"))
    assert "文件 process5 查到「螺母呢?」有 7 个" in out["answer"]
    assert out["calls"] == [{"process": "process5", "package": "xbot_robot.coze", "outputs": ["output"]}]
    assert "InputError" in out["refused"] and "「查询库存」→ process5" in out["refused"]
    assert sim.stats()["chats_created"] == 1

"""dist/coze.py is what users paste: it must be up to date, parse and run on Python 3.7,
use the standard library only, carry the ShadowBot header and import fast."""
import ast
import inspect
import json
import os
import subprocess
import sys

import pytest

from helpers import DIST, ROOT, find_python, load_dist, SourceNames

import yingdao_module

SMOKE = os.path.join(ROOT, "tests", "scripts", "dist_smoke.py")
OTHER_PYTHONS = ["3.7", "3.8", "3.10", "3.12", "3.13"]

with open(DIST, encoding="utf-8") as handle:
    DIST_TEXT = handle.read()


def test_committed_dist_matches_a_fresh_build():
    result = subprocess.run([sys.executable, "build.py", "check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dist_parses_as_python_37():
    ast.parse(DIST_TEXT, feature_version=(3, 7))


def run_vermin(path):
    pytest.importorskip("vermin")
    return subprocess.run([sys.executable, "-c", "import sys; from vermin.main import main; sys.exit(main())",
                           "-t=3.7-", "--no-tips", "--violations", "--eval-annotations", path],
                          capture_output=True, text=True)


def test_dist_uses_no_library_call_newer_than_37(tmp_path):
    result = run_vermin(DIST)
    assert result.returncode == 0, result.stdout + result.stderr
    newer = tmp_path / "newer.py"  # the check itself must be able to fail
    newer.write_text("import math\nprint('x'.removeprefix('a'), math.lcm(2, 3))\n")
    assert run_vermin(str(newer)).returncode != 0


def test_dist_imports_only_the_standard_library():
    tree = ast.parse(DIST_TEXT)
    stdlib = set(getattr(sys, "stdlib_module_names", ())) or None
    optional = {"requests", "openpyxl", "xbot", "xbot_visual"}  # xbot_visual: ShadowBot sub-flows (tools.py)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module.split(".")[0]]
        for name in names:
            assert name in optional or stdlib is None or name in stdlib, name


def test_dist_starts_with_the_shadowbot_header():
    assert DIST_TEXT.startswith("# 使用提醒:")
    code = DIST_TEXT.split("\ntry:", 1)[1]
    for line in ("import xbot", "from xbot import print, sleep", "from .import package",
                 "from .package import variables as glv"):
        assert "\n    " + line + "\n" in code.split("except")[0]


def test_dist_has_a_module_docstring_for_users():
    doc = load_dist().__doc__ or ""
    for words in ("调用模块", "main(args)", "from .coze import", "docs/", "coze_token"):
        assert words in doc, words


def public_callables(module):
    """What ShadowBot's 调用模块 picker could show: module-level functions and classes
    whose names do not start with an underscore."""
    return sorted(name for name, value in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value)))


def test_dist_public_surface_is_exactly_all():
    coze = load_dist()
    assert coze.__all__ == yingdao_module.__all__
    assert public_callables(coze) == sorted(yingdao_module.__all__)
    functions = [name for name in coze.__all__ if inspect.isfunction(getattr(coze, name))]
    assert len(functions) <= 15, functions  # the picker stays short
    assert coze.glv is None and coze.xbot is None


def test_the_package_exports_exactly_all():
    exported = sorted(name for name, value in vars(yingdao_module).items()
                      if not name.startswith("_") and not inspect.ismodule(value))
    assert exported == sorted(yingdao_module.__all__)


@pytest.mark.parametrize("name", [n for n in yingdao_module.__all__ if inspect.isfunction(getattr(yingdao_module, n))])
def test_every_public_function_documents_each_parameter_in_chinese(name):
    function = getattr(load_dist(), name)
    doc = inspect.getdoc(function) or ""
    assert any("\u4e00" <= ch <= "\u9fff" for ch in doc), name
    for parameter in inspect.signature(function).parameters:
        assert not parameter.startswith("_"), (name, parameter)  # no test hooks in what users see
        assert any(line.split()[:1] == [parameter] for line in doc.splitlines()), (name, parameter)


def test_dist_works_without_requests(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)  # import requests -> ImportError
    coze = SourceNames(load_dist("coze_without_requests"))
    assert coze.optional_requests() is None and coze.choose_backend().name == "urllib"


def test_dist_import_does_not_import_requests():
    code = ("import sys,importlib.util as u;s=u.spec_from_file_location('coze',%r);m=u.module_from_spec(s);"
            "s.loader.exec_module(m);print('requests' in sys.modules)" % DIST)
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"


def test_dist_import_is_fast_and_does_nothing():
    code = ("import time,importlib.util as u;t=time.perf_counter();"
            "s=u.spec_from_file_location('coze',%r);m=u.module_from_spec(s);s.loader.exec_module(m);"
            "print(time.perf_counter()-t)" % DIST)
    seconds = float(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert seconds < 2.0  # generous: the real figure is in docs/benchmarks.md


@pytest.mark.parametrize("version", OTHER_PYTHONS)
def test_dist_runs_on_other_pythons_without_requests(version, sim):
    python = find_python(version)
    if python is None:
        pytest.skip("Python %s is not installed here (looked on PATH and under PYENV_ROOT / pyenv root)" % version)
    out = subprocess.run([python, SMOKE, DIST, sim.url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["python"] == version
    assert got["backend"] == "urllib"
    assert "三点七能跑吗" in got["streamed"] and got["usage"]["token_count"] > 0
    assert "轮询也行吗" in got["polled"] and "Code 流程" in got["main"] and got["main_error"] == ""
    assert "问题(question)是空的" in got["refused"]


def test_find_python_looks_under_pyenv_root_and_says_none_when_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # no python3.7, no pyenv on PATH
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert find_python("3.7") is None
    for version in ("3.7.9", "3.7.16", "3.8.1"):
        python = tmp_path / "versions" / version / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("")
    assert find_python("3.7") == str(tmp_path / "versions" / "3.7.16" / "bin" / "python")  # the newest 3.7

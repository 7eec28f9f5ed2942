"""What every test and benchmark shares: where things are, the test bot and token, and how
to load dist/coze.py (the file users paste) under the names the source uses."""
import importlib.util
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.path.join(ROOT, "dist", "coze.py")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

BOT_ID = "7000000000000000001"  # the simulator answers for any bot id; this one looks real
TOKEN = "pat_testTOKENforTHEsimulator42"  # token-shaped, so redaction is exercised too


def load_dist(name="coze_dist"):
    """dist/coze.py imported as a plain module (outside ShadowBot its header falls back)."""
    spec = importlib.util.spec_from_file_location(name, DIST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dist_name(module, name):
    """The name under which dist/coze.py holds the source's `name`: build.py renames every
    top-level name outside __all__ to _name, so callers ask for the source name."""
    if name in vars(module) or name.startswith("__"):
        return name
    return "_" + name


class SourceNames(object):
    """dist/coze.py seen through the source's names: reading or setting `name` reaches `_name`."""

    def __init__(self, module):
        object.__setattr__(self, "module", module)

    def __getattr__(self, name):
        return getattr(self.module, dist_name(self.module, name))

    def __setattr__(self, name, value):
        setattr(self.module, dist_name(self.module, name), value)


def load_dist_quiet(name="coze_dist"):
    """dist/coze.py under the source's names, logging nothing (benchmarks, fault matrix)."""
    coze = SourceNames(load_dist(name))
    coze.set_log_sink(lambda line: None)
    return coze


def sdk_recording(name):
    """A stream recorded by the official Python SDK (coze-py tests/testdata/NAME), read byte for byte.
    The recordings are not part of this repository: they are looked up at run time in
    $COZE_SDK_TESTDATA/coze-py, else ../shared/testdata/coze-py beside this checkout; the calling
    test is skipped when they are not on this machine."""
    import pytest
    folder = os.environ.get("COZE_SDK_TESTDATA") or os.path.join(ROOT, "..", "shared", "testdata")
    path = os.path.join(folder, "coze-py", name)
    if not os.path.exists(path):
        pytest.skip("the coze-py recordings are not here: set COZE_SDK_TESTDATA to a folder holding coze-py/%s" % name)
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def find_python(version):
    """An interpreter for `version` ("3.7"): on PATH as python3.7, or under pyenv's root
    (PYENV_ROOT, else `pyenv root`, else ~/.pyenv). None when this machine has none."""
    found = shutil.which("python" + version)
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found  # (a pyenv shim exists for every version but fails for one not selected)
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    versions = os.path.join(root or os.path.expanduser("~/.pyenv"), "versions")
    candidates = sorted((name for name in (os.listdir(versions) if os.path.isdir(versions) else [])
                         if name.startswith(version + ".")), key=lambda n: [int(p) for p in n.split(".") if p.isdigit()])
    for name in reversed(candidates):
        python = os.path.join(versions, name, "bin", "python")
        if os.path.exists(python):
            return python
    return None


def run_cli(*args, env=None, timeout=60):
    """python -m yingdao_module ARGS in the repository, without the caller's Coze settings."""
    clean = dict(os.environ)
    for name in ("COZE_API_TOKEN", "COZE_BOT_ID", "COZE_API_BASE", "COZE_HTTP_BACKEND"):
        clean.pop(name, None)
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "yingdao_module"] + list(args), cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=timeout)


def interrupt_batch(command, env, sim, chats=4):
    """Run a batch command line and press Ctrl-C once the simulator has `chats` chats; (returncode, stdout, stderr)."""
    import signal
    import time
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while sim.stats()["chats_created"] < chats and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err

"""What every test and benchmark shares: where things are, the test bot and token, and how
to load dist/coze.py (the file users paste) under the names the source uses."""
import importlib.util
import os
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

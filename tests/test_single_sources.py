"""One place for each fact: the default timeout, the Code-flow parameter names, the public surface."""
import ast
import glob
import os

import pytest

from helpers import ROOT

from yingdao_module import shadowbot
from yingdao_module.config import DEFAULT_TIMEOUT


def test_the_default_timeout_is_written_once():
    """Every default of 180 s comes from config.DEFAULT_TIMEOUT, never a literal."""
    found = []
    for path in glob.glob(os.path.join(ROOT, "yingdao_module", "*.py")):
        if path.endswith("config.py"):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        found += ["%s:%d" % (os.path.basename(path), node.lineno) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and node.value == DEFAULT_TIMEOUT and not isinstance(node.value, bool)]
    assert found == []


class Recording(dict):
    """A Code flow's args that remembers which parameters main() asked for."""

    def __init__(self, *args, **kwargs):
        dict.__init__(self, *args, **kwargs)
        self.asked = set()

    def get(self, name, default=None):
        self.asked.add(name)
        return dict.get(self, name, default)


def test_main_reads_exactly_the_code_flow_inputs(monkeypatch):
    for name in ("COZE_API_TOKEN", "COZE_BOT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(shadowbot, "log", lambda line: None)
    chat_args, workflow_args = Recording(question="你好"), Recording(workflow_id="7400000000000000001")
    for args in (chat_args, workflow_args):
        assert shadowbot.main(args) == "" and "令牌" in args["error"]  # no token: a Chinese error, no call
    assert chat_args.asked | workflow_args.asked == set(shadowbot.CODE_FLOW_INPUTS)
    assert set(chat_args) - {"question"} == set(shadowbot.CODE_FLOW_OUTPUTS) - {"conversation_id", "chat_id", "usage"}


@pytest.mark.parametrize("where", ["docs/reference.md", "main() docstring"])
def test_the_code_flow_parameters_are_documented_where_users_look(where):
    if where == "main() docstring":
        text = shadowbot.main.__doc__
    else:
        with open(os.path.join(ROOT, "docs", "reference.md"), encoding="utf-8") as handle:
            doc = handle.read()
        text = doc[doc.index("## `main(args)`"):].split("\n## ")[0]
    for name in shadowbot.CODE_FLOW_INPUTS + shadowbot.CODE_FLOW_OUTPUTS:
        assert name in text, (where, name)

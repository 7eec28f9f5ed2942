"""The batch engine stays in small pieces: plan, ask, output, run loop; and batch()'s signature
is the one list of batch options (BatchOptions and the resume command read BATCH_DEFAULTS)."""
import ast
import inspect
import os

import pytest

from helpers import ROOT

from yingdao_module.batch import batch
from yingdao_module.batch_options import BATCH_DEFAULTS

BATCH_MODULES = ("batch.py", "batch_plan.py", "batch_ask.py", "batch_output.py", "batch_options.py")


def test_batch_defaults_are_batch_signature():
    """Same names, same order, same defaults: a new batch() parameter fails here until BATCH_DEFAULTS has it."""
    signature = [(name, parameter.default) for name, parameter in inspect.signature(batch).parameters.items()
                 if parameter.default is not inspect.Parameter.empty]
    assert list(BATCH_DEFAULTS) == signature


def _shape(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    tree = ast.parse(text)
    long = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            limit = 200 if isinstance(node, ast.ClassDef) else 80
            length = node.end_lineno - node.lineno + 1 if hasattr(node, "end_lineno") else 0
            if length > limit:
                long.append((node.name, length))
    return len(text.splitlines()), long


@pytest.mark.parametrize("name", BATCH_MODULES)
def test_batch_modules_are_small(name):
    lines, long = _shape(os.path.join(ROOT, "yingdao_module", name))
    assert lines <= 450 and long == []

"""batch()'s signature is the one list of batch options: batch_defaults() reads it, and
BatchOptions, the resume command and the command line are handed that instead of keeping a copy
(sizes of the batch modules: test_code_shape.py)."""
import inspect
import os

from helpers import ROOT
from yingdao_module.batch import batch, batch_defaults
from yingdao_module.batch_options import BatchOptions


def test_batch_defaults_are_batch_signature():
    """Same names, same order, same defaults as inspect reads them."""
    signature = [(name, parameter.default) for name, parameter in inspect.signature(batch).parameters.items()
                 if parameter.default is not inspect.Parameter.empty]
    assert list(batch_defaults()) == signature


def test_every_batch_parameter_is_cleaned_by_batch_options(tmp_path):
    """A new batch() parameter fails here until BatchOptions gives it an attribute (cleaned once)."""
    source = tmp_path / "in.csv"
    source.write_text("问题\n你好\n", encoding="utf-8")
    options = BatchOptions(str(source), batch_defaults())
    assert [name for name, _ in batch_defaults() if not hasattr(options, name)] == []


def test_no_second_list_of_defaults():
    """No module keeps its own copy of the options' defaults any more."""
    folder = os.path.join(ROOT, "yingdao_module")
    for name in os.listdir(folder):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                text = handle.read()
            assert "BATCH_DEFAULTS" not in text and "BATCH_OPTION_NAMES" not in text, name

"""batch()'s signature is the one list of batch options: BatchOptions and the resume command read
BATCH_DEFAULTS, which must say the same (sizes of the batch modules: test_code_shape.py)."""
import inspect

from yingdao_module.batch import batch
from yingdao_module.batch_options import BATCH_DEFAULTS


def test_batch_defaults_are_batch_signature():
    """Same names, same order, same defaults: a new batch() parameter fails here until BATCH_DEFAULTS has it."""
    signature = [(name, parameter.default) for name, parameter in inspect.signature(batch).parameters.items()
                 if parameter.default is not inspect.Parameter.empty]
    assert list(BATCH_DEFAULTS) == signature

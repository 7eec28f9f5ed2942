"""扣子 (Coze) bots and workflows for 影刀 RPA (ShadowBot).

    >>> from yingdao_module import ask
    >>> ask("你好", bot_id="7xxxxxxxxxxxxxxxxxx", token="pat_...")

`python build.py` turns this package into one pasteable file, dist/coze.py.
"""
from .errors import (CozeError, InputError, APIError, AuthError, BotError, QuotaError,
                     RateLimitError, ServerError, ChatFailedError, NetworkError, WorkflowInterrupted,
                     CozeTimeoutError)
from .client import Client
from .api import ask, chat, new_conversation, run_workflow, run_workflow_full, upload_file
from .batch import batch
from .merge import merge
from .shadowbot import main

__version__ = "0.1.0"

# The public surface, in one place. build.py keeps exactly these names public in dist/coze.py and
# renames every other top-level name to _name, because ShadowBot's 调用模块 picker lists every
# public function of the pasted module. A new public function: import it above and add it here.
__all__ = [
    # functions users pick in 调用模块 (each with a Chinese docstring for every parameter)
    "ask", "chat", "new_conversation", "run_workflow", "run_workflow_full", "upload_file", "batch", "merge", "main",
    # classes users create or catch in their own Python code (the picker lists functions only)
    "Client", "CozeError", "InputError", "APIError", "AuthError", "BotError", "QuotaError",
    "RateLimitError", "ServerError", "ChatFailedError", "NetworkError", "WorkflowInterrupted", "CozeTimeoutError",
]

"""扣子 (Coze) bots and workflows for 影刀 RPA (ShadowBot).

    >>> from yingdao_module import ask
    >>> ask("你好", bot_id="7xxxxxxxxxxxxxxxxxx", token="pat_...")

`python build.py` turns this package into one pasteable file, dist/coze.py.
"""
from .errors import (CozeError, InputError, APIError, AuthError, BotError, QuotaError,
                     RateLimitError, ServerError, ChatFailedError, NetworkError, CozeTimeoutError)
from .client import Client
from .api import ask, chat, new_conversation, run_workflow, upload_file
from .batch import batch
from .merge import merge
from .shadowbot import main

__version__ = "0.1.0"

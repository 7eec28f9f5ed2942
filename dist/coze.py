# 使用提醒:
# 1. xbot包提供软件自动化、数据表格、Excel、日志、AI等功能
# 2. package包提供访问当前应用数据的功能,如获取元素、访问全局变量、获取资源文件等功能
# 3. 当此模块作为流程独立运行时执行main函数
# 4. 可视化流程中可以通过"调用模块"的指令使用此模块
#
# 扣子(Coze)模块:把本文件整个粘贴为影刀应用里名为 coze 的 Python 模块,
# 在「调用模块」里选 coze → ask,填 question 即可得到回答。
# 令牌、智能体 ID 建议放在全局变量 coze_token(密码类型)、coze_bot_id 里;
# 长期无人值守请用服务类应用:coze_app_id、coze_key_id、coze_private_key(密码类型,填 .pem 路径或私钥)。
# 说明文档:README.md 与 docs/(参数、错误码、常见问题)。
"""扣子(Coze)智能体与工作流,给影刀 RPA 用的一个文件。版本 0.1.0。

把本文件整个粘贴成影刀应用里名为 coze 的 Python 模块,然后三种用法任选:

1. 可视化流程拖「调用模块」:模块选 coze,函数选 ask、chat、new_conversation、run_workflow、run_workflow_full、upload_file、batch、merge、main 之一,
   按参数名填值(每个函数的说明写在它的文档里),输出变量就是回答 / 结果。
2. Code 流程:流程输入参数放 question(或 workflow_id、parameters 等),
   本模块的 main(args) 把 answer、conversation_id、error 写回输出参数。
3. 在别的 Python 模块里:from .coze import ask,然后 ask("你好")。

令牌和智能体 ID 建议放在全局变量 coze_token(密码类型)和 coze_bot_id 里。
说明文档在项目的 README.md 与 docs/:quickstart.md(上手)、reference.md(每个函数和参数)、
errors.md(错误码与处理)、batch.md(表格批处理)、templates.md(现成流程)。

本文件由 build.py 从 yingdao_module/ 生成,请改源码而不是这个文件。只用标准库(装了 requests 就用它),Python 3.7+。
"""
# 目录 / Contents:公开的函数和类(调用模块里能选的)、所在行和段落
#
#   ask ...................... 第  8025 行  Module-level shortcuts (调用模块)
#   chat ..................... 第  8055 行  Module-level shortcuts (调用模块)
#   new_conversation ......... 第  8086 行  Module-level shortcuts (调用模块)
#   run_workflow ............. 第  8101 行  Module-level shortcuts (调用模块)
#   run_workflow_full ........ 第  8122 行  Module-level shortcuts (调用模块)
#   upload_file .............. 第  8144 行  Module-level shortcuts (调用模块)
#   batch .................... 第  7709 行  Batch engine: batch() and the run loop
#   merge .................... 第  7989 行  Merging shard outputs
#   main ..................... 第  8183 行  ShadowBot Code flow: main(args)
#   Client ................... 第  3192 行  Chat client
#   CozeError ................ 第   251 行  Errors
#   InputError ............... 第   300 行  Errors
#   APIError ................. 第   305 行  Errors
#   AuthError ................ 第   309 行  Errors
#   BotError ................. 第   313 行  Errors
#   QuotaError ............... 第   317 行  Errors
#   RateLimitError ........... 第   321 行  Errors
#   ServerError .............. 第   325 行  Errors
#   ChatFailedError .......... 第   329 行  Errors
#   NetworkError ............. 第   337 行  Errors
#   WorkflowInterrupted ...... 第   347 行  Errors
#   CozeTimeoutError ......... 第   353 行  Errors
#
# 段落 / Sections:
#   Logging and redaction ...................................... 第   153 行  yingdao_module/log.py
#   Errors ..................................................... 第   222 行  yingdao_module/errors.py
#   Configuration and input checks ............................. 第   419 行  yingdao_module/config.py
#   RSA keys and RS256 signatures .............................. 第   787 行  yingdao_module/rsa_sign.py
#   Server-sent events ......................................... 第   995 行  yingdao_module/sse.py
#   Timeouts and retry policy .................................. 第  1112 行  yingdao_module/policy.py
#   HTTP responses read within the deadline .................... 第  1199 行  yingdao_module/http_response.py
#   HTTP connections opened within the deadline ................ 第  1433 行  yingdao_module/http_connect.py
#   HTTP backends, requests .................................... 第  1520 行  yingdao_module/http_backends.py
#   HTTP backend, standard library (kept alive) ................ 第  1809 行  yingdao_module/http_stdlib.py
#   Coze transport: envelope, auth header, retries ............. 第  1956 行  yingdao_module/transport.py
#   Sign-in: static token or OAuth JWT service app ............. 第  2184 行  yingdao_module/auth.py
#   Files ...................................................... 第  2394 行  yingdao_module/files.py
#   When to check a non-stream chat ............................ 第  2449 行  yingdao_module/polling.py
#   The flows of the ShadowBot app (package.json) .............. 第  2542 行  yingdao_module/app_flows.py
#   Local tools (端插件) ....................................... 第  2600 行  yingdao_module/tools.py
#   What a chat has told us (ChatState) ........................ 第  2718 行  yingdao_module/chat_state.py
#   What a chat sends (bots and chatflows) ..................... 第  2846 行  yingdao_module/chat_request.py
#   A chat found in its conversation ........................... 第  2877 行  yingdao_module/chat_find.py
#   One chat in flight: stream, poll, tools, cancel ............ 第  2958 行  yingdao_module/chat_run.py
#   Chat client ................................................ 第  3184 行  yingdao_module/client.py
#   Workflows .................................................. 第  3322 行  yingdao_module/workflow.py
#   Rate limits ................................................ 第  3680 行  yingdao_module/ratelimit.py
#   Account caps (qps auto), shard shares ...................... 第  3888 行  yingdao_module/account_limits.py
#   xlsx packages: bounded parts, safe XML ..................... 第  4001 行  yingdao_module/xlsx_package.py
#   xlsx sheets read as a stream, as shown ..................... 第  4158 行  yingdao_module/xlsx_read.py
#   xlsx copies with new cells spliced in ...................... 第  4526 行  yingdao_module/xlsx_write.py
#   Spreadsheets (CSV / xlsx) .................................. 第  4752 行  yingdao_module/tables.py
#   File locks between processes ............................... 第  5052 行  yingdao_module/filelock.py
#   Batch journal .............................................. 第  5153 行  yingdao_module/journal.py
#   Batch options .............................................. 第  5345 行  yingdao_module/batch_options.py
#   Batch report (HTML) ........................................ 第  5552 行  yingdao_module/report.py
#   Quoting commands for bash, cmd and PowerShell .............. 第  5771 行  yingdao_module/shell_quote.py
#   The command that continues a batch run ..................... 第  5856 行  yingdao_module/resume.py
#   Files in: each row's files ................................. 第  5969 行  yingdao_module/row_files.py
#   Files out: answers' links saved ............................ 第  6100 行  yingdao_module/downloads.py
#   Batch planning ............................................. 第  6288 行  yingdao_module/batch_plan.py
#   Answer cache (cache=True) .................................. 第  6524 行  yingdao_module/answer_cache.py
#   Batch asking: one chat per row ............................. 第  6694 行  yingdao_module/batch_ask.py
#   Batch rows through a workflow .............................. 第  6946 行  yingdao_module/batch_workflow.py
#   Review (review=True): rejected rows ........................ 第  7113 行  yingdao_module/review.py
#   Batch output: table, report, summary ....................... 第  7235 行  yingdao_module/batch_output.py
#   Estimate (estimate=True) ................................... 第  7377 行  yingdao_module/estimate.py
#   Batch engine: batch() and the run loop ..................... 第  7461 行  yingdao_module/batch.py
#   Merging shard outputs ...................................... 第  7787 行  yingdao_module/merge.py
#   Module-level shortcuts (调用模块) .......................... 第  8003 行  yingdao_module/api.py
#   ShadowBot Code flow: main(args) ............................ 第  8158 行  yingdao_module/shadowbot.py
#   Command line, only when run as a script .................... 第  8239 行  yingdao_module/command_line.py

try:  # inside ShadowBot; outside it (tests, command line) these imports fail harmlessly
    import xbot
    from xbot import print, sleep
    from .import package
    from .package import variables as glv
except Exception:
    xbot = None
    glv = None  # no ShadowBot global variables outside ShadowBot

import re
import sys
import hashlib
import json
import os
import base64
import binascii
import codecs
import io
import threading
import time
import zlib
import urllib.parse
import weakref
import select
import datetime
import posixpath
import zipfile
from xml.parsers import expat
import functools
import collections
import csv
import errno
import http.client
import ipaddress
import mimetypes
import socket
import urllib.error
import urllib.request
import itertools
import math
import ast
import argparse
import contextlib

__version__ = "0.1.0"
__all__ = ["ask", "chat", "new_conversation", "run_workflow", "run_workflow_full", "upload_file", "batch", "merge",
           "main", "Client", "CozeError", "InputError", "APIError", "AuthError", "BotError", "QuotaError",
           "RateLimitError", "ServerError", "ChatFailedError", "NetworkError", "WorkflowInterrupted",
           "CozeTimeoutError"]

###############################################################################
# Logging and redaction                                 (yingdao_module/log.py)
###############################################################################
# Where progress and warnings go, and the one place secrets are masked.
#
# Inside ShadowBot `print` is xbot's print, which writes to the run log panel (the header
# imports it). The command line redirects log lines to stderr so stdout stays the answer.
# redact() masks anything shaped like a secret; every log line and every CozeError message
# (hence args["error"] and the error column of batch outputs) passes through it, so a token
# pasted into the wrong field or echoed by a server never ends up in a log users share.

_log_sink = None  # None: print(); else a callable taking one string

# What a secret looks like. Ids stay readable: chat/conversation ids are 19 digits, Coze logids
# are a 14-digit timestamp plus ~20 hex digits (34 characters), simulator logids 32 hex digits.
_SECRET_PATTERNS = [
    # PEM private keys with key material (a "-----BEGIN PRIVATE KEY-----…" format hint stays readable)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?=\s*[A-Za-z0-9+/=]{16}).*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
                re.S), "<私钥已隐藏>"),
    # Coze tokens: personal (pat_), service (sat_), OAuth access tokens (czs_)
    (re.compile(r"(?<![A-Za-z0-9])(pat|sat|czs)_[A-Za-z0-9_\-]{6,}", re.I), r"\1_***"),
    # JWTs: base64url header "eyJ..." . payload . signature (a short one is still a token)
    (re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.?[A-Za-z0-9_\-]*"), "eyJ***"),
    # long hex secrets (40+ digits, at least one letter): keys, hashes of keys
    (re.compile(r"(?<![0-9A-Za-z])(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{40,}(?![0-9A-Za-z])"), "***"),
    # long base64 / base64url secrets mixing upper case, lower case and digits
    (re.compile(r"(?<![A-Za-z0-9+_\-])(?=[A-Za-z0-9+_\-]*[a-z])(?=[A-Za-z0-9+_\-]*[A-Z])(?=[A-Za-z0-9+_\-]*[0-9])"
                r"[A-Za-z0-9+_\-]{40,}={0,2}"), "***"),
]


_TOKEN_SHAPES = _SECRET_PATTERNS[:3]  # unmistakable: private keys, Coze tokens, JWTs


def _looks_like_token(text):
    """True when `text` holds a private key, a Coze token or a JWT (not merely a long id)."""
    return isinstance(text, str) and any(pattern.search(text) for pattern, _ in _TOKEN_SHAPES)


def _redact(text):
    """`text` with every token, JWT, private key and long random secret masked."""
    text = text if isinstance(text, str) else str(text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _log(message):
    """Write one line to the ShadowBot log panel, or wherever set_log_sink() points."""
    message = _redact(str(message))
    if _log_sink is not None:
        _log_sink(message)
        return
    try:
        print(message)
    except Exception:  # a closed or non-UTF-8 console must never break a paid call
        pass


def _set_log_sink(sink):
    """Send log lines to `sink(line)` instead of print; None restores print."""
    global _log_sink
    _log_sink = sink


def _log_to_stderr(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

###############################################################################
# Errors                                             (yingdao_module/errors.py)
###############################################################################
# Errors: one small hierarchy users can catch at any level.
#
#     CozeError                 anything this module raises on purpose
#     ├── InputError            bad input, refused before any network call (also a ValueError)
#     ├── APIError              the service answered with an error code
#     │   ├── AuthError         token invalid, wrong region, no permission     (fatal)
#     │   ├── BotError          bot missing or not published as an API service (fatal)
#     │   ├── QuotaError        quota, balance or daily limit used up          (fatal)
#     │   ├── RateLimitError    too many requests, server busy                 (retryable)
#     │   ├── ServerError       5xx, model error                               (retryable)
#     │   ├── ChatFailedError   a chat ended `failed` with a code we do not map
#     │   └── BadResponseError  a body that is not what it claims (wrong shape)  (not retried)
#     ├── NetworkError          no usable answer: connection, reset, garbled body (retryable)
#     │   ├── CertificateError  the HTTPS certificate is not trusted (company proxy?) (fatal)
#     │   └── WorkflowInterrupted   a started workflow run lost its stream (never re-run)
#     └── CozeTimeoutError      the overall deadline passed (the chat was cancelled)
#
# Every message is Chinese first and says what to do. `code`, `logid`, `chat_id` and
# `conversation_id` ride along for support. No error ever carries a secret: the message
# passes through redact() when the error is made, so a token the server echoes back (or a
# user pasted into the wrong field) never reaches a log, args["error"] or an output file.

# "会自动重试" in a retryable error's message is true while retries remain; the last one says what happened
_RETRY_PROMISE = re.compile(r"[:,;]?\s*(?:稍后)?(?:会)?自动重试|(会自动重试)")


class CozeError(Exception):
    """Base class. `str(e)` is the Chinese message a user can act on."""

    retryable = False  # worth trying the same request again
    fatal = False      # a batch must stop: every further call would fail the same way
    retry_after = None  # seconds the server asked us to wait (HTTP Retry-After), if any
    failed_chat = False  # a chat that ran and ended `failed` on Coze's side (paid): only a new chat can help

    def __init__(self, message, code=None, logid=None, chat_id=None, conversation_id=None):
        self.message = _redact(message)
        self.code = code
        self.logid = logid
        self.chat_id = chat_id
        self.conversation_id = conversation_id
        Exception.__init__(self, self._full_message())

    def _full_message(self):
        parts = [self.message]
        ids = []
        if self.code is not None:
            ids.append("错误码 %s" % self.code)
        if self.chat_id:
            ids.append("chat_id %s" % self.chat_id)
        if self.conversation_id:
            ids.append("conversation_id %s" % self.conversation_id)
        if self.logid:
            ids.append("logid %s" % self.logid)
        if ids:
            parts.append("[" + ", ".join(ids) + "]")
        return _redact(" ".join(parts))

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self._full_message())

    def reworded(self, message):
        """This error with another text (ids kept, secrets still redacted)."""
        self.message = _redact(message)
        self.args = (self._full_message(),)
        return self

    def without_retry_promise(self):
        """This error with no "会自动重试" in its text: nothing here will retry it."""
        return self.reworded(_RETRY_PROMISE.sub("", self.message))

    def after_retries(self, what_happened):
        """This error as the final word when retrying stops: no promise of another retry."""
        return self.reworded("%s(%s)" % (_RETRY_PROMISE.sub("", self.message), what_happened))


class InputError(CozeError, ValueError):
    """Bad input caught before any network call."""
    fatal = True


class APIError(CozeError):
    """The service answered with `code != 0` (or an HTTP error status)."""


class AuthError(APIError):
    fatal = True


class BotError(APIError):
    fatal = True


class QuotaError(APIError):
    fatal = True


class RateLimitError(APIError):
    retryable = True


class ServerError(APIError):
    retryable = True


class ChatFailedError(APIError):
    """A chat that ended `failed` with an error code not mapped to a class above."""


class _BadResponseError(APIError):
    """Coze answered, but the body does not have the shape the protocol promises."""


class NetworkError(CozeError):
    retryable = True


class _CertificateError(NetworkError):
    """TLS certificate check failed: retrying cannot help until the trust store is fixed."""
    retryable = False
    fatal = True


class WorkflowInterrupted(NetworkError):
    """The connection of a workflow run that may have started broke and its result could not
    be recovered. Never retried: a second run could repeat what the workflow did (mail, rows)."""
    retryable = False


class CozeTimeoutError(CozeError):
    """The overall deadline (`timeout`) passed."""


# code -> (class, Chinese message with the fix). `{base_url}` is filled in when known.
_ERROR_CODES = {
    4000: (APIError, "请求参数错误:检查 bot_id、问题内容和自定义变量的格式"),
    4001: (APIError, "chat_id 无效:这次对话不存在或已过期"),
    4002: (APIError, "conversation_id 无效:会话不存在,可先用 new_conversation() 新建会话,或留空自动新建"),
    4006: (BotError, "智能体不存在:检查 bot_id(智能体编辑页网址 /bot/ 后面那串数字),并确认令牌属于该智能体所在的空间"),
    4007: (APIError, "非流式调用必须保存历史(auto_save_history=true)"),
    4008: (QuotaError, "今日调用次数已达上限:明天再继续,或升级扣子套餐;批处理会保存进度,之后重跑同一命令即可续跑"),
    4009: (RateLimitError, "扣子服务繁忙(4009):稍后自动重试"),
    4010: (APIError, "提示词太长:缩短问题或清理会话历史(换一个新会话)"),
    4011: (QuotaError, "扣子账户余额不足:请到扣子控制台充值或检查套餐,充值后重跑即可续跑"),
    4013: (ServerError, "模型调用出错(4013):稍后自动重试;反复出现请在扣子里换一个模型"),
    4015: (BotError, "智能体未发布为 API 服务:在扣子里打开智能体,点「发布」,勾选「API」渠道后发布,再重试"),
    4016: (RateLimitError, "这个会话里上一次对话还没结束:等它结束后再问(会自动重试),或换一个会话"),
    4019: (QuotaError, "扣子账户余额不足(欠费):请到扣子控制台充值后重试"),
    4020: (RateLimitError, "请求太频繁(超过每分钟/每秒次数限制):会自动放慢重试;批处理可调低 qps/qpm"),
    4028: (QuotaError, "免费额度已用完:请到扣子控制台开通付费或等待额度恢复;批处理会保存进度,之后重跑同一命令即可续跑"),
    4100: (AuthError, "令牌无效(4100):检查 token 是否复制完整、是否过期,或确认 base_url 是 api.coze.cn 还是 api.coze.com"
                      "(国内扣子 coze.cn 的令牌只能用 https://api.coze.cn,"
                      "国际版 coze.com 的令牌只能用 https://api.coze.com;当前 {base_url})"),
    4101: (AuthError, "令牌没有权限:在扣子「个人访问令牌」里编辑令牌,勾选对话(chat)、工作流(workflow)、文件(file)等权限,并授权智能体所在的空间"),
    4104: (APIError, "对话已结束,无法取消"),
    4105: (APIError, "内容触发了安全审核被拦截:修改问题措辞后再试"),
    4200: (APIError, "资源不存在:检查 bot_id / workflow_id / 会话 id 是否正确"),
    5000: (ServerError, "扣子服务内部错误(5000):稍后自动重试"),
    6003: (APIError, "这个扣子账号的版本不支持异步运行工作流(6003,is_async 需要付费版):去掉 is_async 改用流式运行"
                     "(默认,最长约 10 分钟),或升级扣子套餐"),
    700012006: (AuthError, "访问令牌无效或已过期(OAuth):重新获取令牌"),
}


def _error_for_code(code, msg="", logid=None, base_url=None, chat_id=None, conversation_id=None):
    """Build the right CozeError for a Coze error code, keeping the server's own words."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        pass
    cls, text = _ERROR_CODES.get(code, (APIError, "扣子返回错误"))
    msg = msg if isinstance(msg, str) else ("" if msg is None else str(msg))
    text = text.replace("{base_url}", base_url or "未知")
    if msg and msg not in text:
        text = "%s(扣子原话:%s)" % (text, msg)
    return cls(text, code=code, logid=logid, chat_id=chat_id, conversation_id=conversation_id)


def _error_for_http_status(status, logid=None, base_url=None, retry_after=None):
    """An HTTP error status without a usable Coze envelope."""
    if status == 401:
        return _error_for_code(4100, "", logid, base_url)
    if status == 403:
        return _error_for_code(4101, "", logid, base_url)
    if status == 404:
        return APIError("接口地址不存在(HTTP 404):检查 base_url,应为 https://api.coze.cn 或 https://api.coze.com,"
                        "不要带 /v3/chat 等路径", code=404, logid=logid)
    if status == 429:
        err = RateLimitError("请求太频繁(HTTP 429):会自动放慢重试", code=429, logid=logid)
        err.retry_after = retry_after
        return err
    if status >= 500:
        return ServerError("扣子服务暂时不可用(HTTP %d):稍后自动重试" % status, code=status, logid=logid)
    return APIError("扣子返回 HTTP %d" % status, code=status, logid=logid)

###############################################################################
# Configuration and input checks                     (yingdao_module/config.py)
###############################################################################
# Configuration and input checks, done before any network call.
#
# A setting is taken from the first place that has it:
# the function argument → ShadowBot global variable (coze_token, coze_bot_id, coze_base_url,
# coze_user_id, coze_app_id, coze_key_id, coze_private_key) → environment (COZE_API_TOKEN,
# COZE_BOT_ID, COZE_API_BASE, COZE_USER_ID, COZE_APP_ID, COZE_KEY_ID, COZE_PRIVATE_KEY) →
# default. Credentials are a token, or an OAuth service app (app_id + key_id + private_key). Values typed into
# ShadowBot's 调用模块 block arrive as text, so every coercion
# here accepts text ("180", "false", '{"k": "v"}') as well as real Python values.

_DEFAULT_BASE_URL = "https://api.coze.cn"
_DEFAULT_TIMEOUT = 180

# setting name -> (ShadowBot global variable, environment variable)
_SETTING_SOURCES = {
    "token": ("coze_token", "COZE_API_TOKEN"),
    "bot_id": ("coze_bot_id", "COZE_BOT_ID"),
    "base_url": ("coze_base_url", "COZE_API_BASE"),
    "user_id": ("coze_user_id", "COZE_USER_ID"),
    "app_id": ("coze_app_id", "COZE_APP_ID"),
    "key_id": ("coze_key_id", "COZE_KEY_ID"),
    "private_key": ("coze_private_key", "COZE_PRIVATE_KEY"),
}
_APP_SETTINGS = ("app_id", "key_id", "private_key")  # an OAuth service app (服务类应用) needs all three

_WHERE_TO_SET = {
    "token": "在参数 token 里填写,或在影刀全局变量 coze_token(建议用密码类型)里设置,或设置环境变量 COZE_API_TOKEN。"
             "令牌在扣子「个人访问令牌」页面创建:https://www.coze.cn/open/oauth/pats",
    "bot_id": "在参数 bot_id 里填写,或在影刀全局变量 coze_bot_id 里设置,或设置环境变量 COZE_BOT_ID。"
              "bot_id 是智能体编辑页网址里 /bot/ 后面那串数字",
}

_API_PATH_SUFFIX = re.compile(r"/(v\d+|open_api|api)(/.*)?$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def _shadowbot_global(name):
    """A ShadowBot global variable, or None outside ShadowBot / when it is not defined."""
    if glv is None:
        return None
    try:
        value = glv[name]
    except Exception:
        return None
    # password-type variables may come back as an object that prints as the secret
    return value if value is None or isinstance(value, (str, int)) else str(value)


def _is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _located_setting(name, value=None):
    """(value, rank, where) of the first non-blank value: 0 argument, 1 global variable,
    2 environment, 3 nowhere."""
    if not _is_blank(value):
        return value, 0, "参数 " + name
    global_name, env_name = _SETTING_SOURCES[name]
    value = _shadowbot_global(global_name)
    if not _is_blank(value):
        return value, 1, "影刀全局变量 " + global_name
    value = os.environ.get(env_name)
    if not _is_blank(value):
        return value, 2, "环境变量 " + env_name
    return None, 3, None


def _setting(name, value=None):
    """The first non-blank value for a setting: argument, global variable, environment."""
    return _located_setting(name, value)[0]


# ---- individual values ---------------------------------------------------------------

def _refuse_token(value, name):
    """A token pasted into the wrong field must neither travel on nor be echoed back."""
    if _looks_like_token(value if isinstance(value, str) else str(value)):
        raise InputError("%s 里像是填了令牌或密钥(内容不显示):令牌只应填在 token 参数或影刀全局变量 coze_token 里,"
                         "请检查各参数是否填错了位置" % name)


def _clean_token(token):
    """Normalise a pasted token: spaces, line breaks, quotes and a leading 'Bearer '."""
    if _is_blank(token):
        raise InputError("缺少扣子令牌(token):" + _WHERE_TO_SET["token"])
    if not isinstance(token, str):
        raise InputError("令牌(token)应该是文本,现在是 %s" % type(token).__name__)
    token = re.sub(r"\s+", "", token).strip("'\"“”‘’")
    if token.lower().startswith("bearer"):
        token = token[len("bearer"):]
    if not token:
        raise InputError("令牌(token)是空的:" + _WHERE_TO_SET["token"])
    if any(ord(ch) > 126 for ch in token):
        raise InputError("令牌(token)里有中文、全角或其他非 ASCII 字符:请从扣子「个人访问令牌」页面重新复制,"
                         "只复制 pat_ 开头的那串字符")
    return token


_said_once = set()


def _log_once(message):
    """Log a configuration notice once per process, not on every call of a loop."""
    if message not in _said_once:
        _said_once.add(message)
        _log(message)


def _clean_app_field(value, name, what):
    """app_id / key_id: one word of ASCII text; the page they come from is in the message."""
    plain = isinstance(value, (str, int)) and not isinstance(value, bool)
    text = str(value).strip().strip("'\"“”‘’") if plain else None
    if not text or any(ch.isspace() or ord(ch) > 126 for ch in text):
        raise InputError("%s 格式不对:应是扣子「OAuth 应用」页面上复制的%s(一串字母数字,不含空格和中文)" % (name, what))
    return text


def _resolve_credentials(token=None, app_id=None, key_id=None, private_key=None):
    """(token, app) where exactly one is set; app is (app_id, key_id, RsaPrivateKey).

    A service app needs all three of app_id, key_id and private_key. When both a token and
    a complete app are configured, the one from the more specific place wins (argument,
    then global variable, then environment; the app on a tie: it does not expire) and the
    choice is logged once."""
    token_value, token_rank, token_where = _located_setting("token", token)
    parts = dict((name, _located_setting(name, value)) for name, value in
                 (("app_id", app_id), ("key_id", key_id), ("private_key", private_key)))
    given = [name for name in _APP_SETTINGS if parts[name][0] is not None]
    if not given:
        return _clean_token(token_value), None
    missing = [name for name in _APP_SETTINGS if name not in given]
    if missing:
        if token_value is not None:
            _log_once("服务类应用配置不完整(缺 %s),改用令牌(来自%s)" % ("、".join(missing), token_where))
            return _clean_token(token_value), None
        raise InputError("服务类应用(OAuth JWT)配置不完整:已有 %s,还缺 %s。三项都要填:app_id(应用 ID)、key_id(公钥指纹)、"
                         "private_key(私钥 PEM 文本或 .pem 文件路径),可用参数、影刀全局变量 coze_app_id / coze_key_id / "
                         "coze_private_key(私钥建议用密码类型)或环境变量 COZE_APP_ID / COZE_KEY_ID / COZE_PRIVATE_KEY"
                         % ("、".join(given), "、".join(missing)))
    app_rank, app_where = parts["app_id"][1], parts["app_id"][2]
    if token_value is not None:
        if token_rank < app_rank:
            _log_once("同时配置了令牌(来自%s)和服务类应用(来自%s):使用令牌" % (token_where, app_where))
            return _clean_token(token_value), None
        _log_once("同时配置了令牌(来自%s)和服务类应用(来自%s):使用服务类应用" % (token_where, app_where))
    app = (_clean_app_field(parts["app_id"][0], "app_id", "应用 ID"),
           _clean_app_field(parts["key_id"][0], "key_id", "公钥指纹(公钥 ID)"),
           _load_private_key(parts["private_key"][0]))
    return None, app


def _clean_bot_id(bot_id, required=True):
    """bot_id as a digit string; accepts the bot page URL users often paste."""
    if _is_blank(bot_id):
        if required:
            raise InputError("缺少智能体 ID(bot_id):" + _WHERE_TO_SET["bot_id"])
        return None
    if isinstance(bot_id, bool) or isinstance(bot_id, float):
        raise InputError("bot_id 被当成了小数(%r),长数字会丢失精度:请把 bot_id 作为文本填写" % (bot_id,))
    if isinstance(bot_id, int):
        return str(bot_id)
    if not isinstance(bot_id, str):
        raise InputError("bot_id 应该是一串数字,现在是 %s" % type(bot_id).__name__)
    _refuse_token(bot_id, "bot_id")
    text = bot_id.strip().strip("'\"")
    from_url = re.search(r"/bot/(\d+)", text)
    if from_url:
        return from_url.group(1)
    if not re.match(r"^[0-9]+$", text):
        raise InputError("bot_id 应该是一串数字(现在是 %r):在扣子里打开智能体编辑页,网址 /bot/ 后面那串数字就是 bot_id"
                         % text[:40])
    return text


def _clean_base_url(base_url):
    """The API root, e.g. https://api.coze.cn; refuses hosts that are surely a typo. Without a scheme,
    a host means https:// and this machine (127.0.0.1, localhost) http://."""
    if _is_blank(base_url):
        return _DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise InputError("base_url 应该是网址文本,例如 https://api.coze.cn")
    _refuse_token(base_url, "base_url")
    url = base_url.strip().rstrip("/")
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    host = rest.split("/", 1)[0]
    path = rest[len(host):]
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    hostname = hostname.lower()
    if not scheme:  # "api.coze.cn" means https; this machine (the simulator, a test server) plain http
        scheme = "http" if hostname in _LOOPBACK_HOSTS else "https"
    if scheme.lower() not in ("http", "https") or not hostname:
        raise InputError("base_url 格式不对(%s):应为 https://api.coze.cn(国内扣子)或 https://api.coze.com(国际版)"
                         % base_url.strip()[:80])
    if hostname in ("www.coze.cn", "coze.cn", "www.coze.com", "coze.com"):
        raise InputError("base_url 填成了扣子网站地址 %s:API 地址是 https://api.%s" % (hostname, hostname.replace("www.", "")))
    known = (hostname in _LOOPBACK_HOSTS or hostname.endswith(".coze.cn") or hostname.endswith(".coze.com")
             or os.environ.get("COZE_ALLOW_ANY_BASE_URL") == "1")
    if not known:
        raise InputError("base_url 的主机 %s 不是扣子的地址:国内扣子用 https://api.coze.cn,国际版用 https://api.coze.com"
                         "(私有部署请设置环境变量 COZE_ALLOW_ANY_BASE_URL=1)" % hostname)
    path = _API_PATH_SUFFIX.sub("", path)  # a pasted ".../v3/chat" still means the API root
    return "%s://%s%s" % (scheme.lower(), host, path)


def _clean_user_id(user_id):
    import platform  # on first use: importing the module stays fast
    if not _is_blank(user_id):
        _refuse_token(user_id, "user_id")
        return str(user_id).strip()
    # stable per machine, so the bot's per-user memory and limits behave sensibly
    node = re.sub(r"[^0-9A-Za-z_.-]", "", platform.node() or "")
    return "yingdao_" + (node or "user")


def _clean_conversation_id(conversation_id):
    """A conversation id as text, or None when not given."""
    if _is_blank(conversation_id):
        return None
    _refuse_token(conversation_id, "conversation_id")
    return str(conversation_id).strip()


def _clean_timeout(timeout, default=_DEFAULT_TIMEOUT):
    """Seconds as a positive number; accepts "180" from a ShadowBot text field."""
    if _is_blank(timeout):
        return float(default)
    if isinstance(timeout, bool):
        raise InputError("timeout 应该是秒数(正数),例如 180")
    try:
        value = float(timeout.strip() if isinstance(timeout, str) else timeout)
    except (TypeError, ValueError):
        raise InputError("timeout 应该是秒数(正数),例如 180,现在是 %r" % (timeout,))
    if not value > 0 or value > 24 * 3600:
        raise InputError("timeout 应该是大于 0 的秒数(最多 86400),例如 180,现在是 %r" % (timeout,))
    return value


_TRUE_WORDS = ("true", "1", "yes", "y", "on", "是", "真", "开")
_FALSE_WORDS = ("false", "0", "no", "n", "off", "否", "假", "关")


def _clean_bool(value, name, default):
    if _is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise InputError("%s 应该是 True 或 False(也可写 是/否),现在是 %r" % (name, value))


def _clean_question(question):
    if isinstance(question, (int, float)) and not isinstance(question, bool):
        question = str(question)
    if question is not None and not isinstance(question, str):
        raise InputError("问题(question)应该是文本,现在是 %s" % type(question).__name__)
    if question is None or not question.strip():
        raise InputError("问题(question)是空的:请填写要问智能体的内容")
    return question


def _clean_json_dict(value, name, example='{"input": "你好"}'):
    """A dict of any JSON values (workflow parameters); accepts JSON text from ShadowBot."""
    if _is_blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InputError("%s 应该是字典或 JSON 文本,例如 %s" % (name, example))
    if not isinstance(value, dict):
        raise InputError("%s 应该是字典,例如 %s,现在是 %s" % (name, example, type(value).__name__))
    return value


def _clean_str_dict(value, name):
    """A dict of text -> text, e.g. custom_variables; numbers become text, nothing else does."""
    if _is_blank(value):
        return None
    result = {}
    for key, item in _clean_json_dict(value, name, '{"城市": "杭州"}').items():
        _refuse_token(key, name)
        _refuse_token(item, name)
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(key, str) or not isinstance(item, str):
            raise InputError("%s 的键和值都必须是文本:%r 的值是 %s,请先转成文本" % (name, key, type(item).__name__))
        result[key] = item
    return result


def _clean_file_list(files):
    """files: a path, a file id, a list of them, or JSON text of a list."""
    if _is_blank(files):
        return []
    if isinstance(files, str):
        text = files.strip()
        if text.startswith("["):
            try:
                files = json.loads(text)
            except ValueError:
                raise InputError('files 应该是文件路径列表,例如 ["C:/图片/a.png"]')
        else:
            files = [text]
    if not isinstance(files, (list, tuple)):
        raise InputError("files 应该是文件路径或文件路径列表,现在是 %s" % type(files).__name__)
    cleaned = []
    for item in files:
        if isinstance(item, dict) and item.get("type") in ("image", "file") and \
                (item.get("file_id") or item.get("file_url")):
            cleaned.append(("part", item))  # a message part already made: {"type": "image", "file_id" or "file_url"}
            continue
        item = str(item).strip().strip('"')
        _refuse_token(item, "files")
        if os.path.isfile(item):
            cleaned.append(("path", item))
        elif item.isdigit():
            cleaned.append(("id", item))  # a file id from upload_file()
        else:
            raise InputError("找不到文件:%s(请检查路径,影刀里可用「选择文件」指令得到完整路径)" % item)
    return cleaned


def _clean_workflow_id(workflow_id):
    if _is_blank(workflow_id):
        raise InputError("缺少工作流 ID(workflow_id):在扣子里打开工作流编辑页,网址里 workflow= 后面那串数字就是它")
    text = str(workflow_id).strip()
    _refuse_token(text, "workflow_id")
    from_url = re.search(r"workflow(?:_id)?=(\d+)", text)
    if from_url:
        return from_url.group(1)
    if not re.match(r"^[0-9]+$", text):
        raise InputError("workflow_id 应该是一串数字(现在是 %r):工作流编辑页网址里 workflow= 后面的数字" % text[:40])
    return text


class _Settings(object):
    """Resolved connection settings. Its repr never shows the token or the private key."""

    def __init__(self, token=None, bot_id=None, base_url=None, user_id=None, require_bot=False,
                 app_id=None, key_id=None, private_key=None):
        self.token, self.app = _resolve_credentials(token, app_id, key_id, private_key)
        self.base_url = _clean_base_url(_setting("base_url", base_url))
        self.bot_id = _clean_bot_id(_setting("bot_id", bot_id), required=require_bot)
        self.user_id = _clean_user_id(_setting("user_id", user_id))

    def fingerprint(self):
        """A key for caching clients with these settings; holds a hash, never the token."""
        if self.app is not None:
            app_id, key_id, private_key = self.app
            secret = "app:%s:%s:%s" % (app_id, key_id, private_key.fingerprint)
        else:
            secret = "token:" + self.token
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        return (digest, self.base_url, self.bot_id, self.user_id)

    def __repr__(self):
        who = "app_id=%r, 私钥=<隐藏>" % self.app[0] if self.app is not None else "token=<隐藏>"
        return "Settings(base_url=%r, bot_id=%r, user_id=%r, %s)" % (self.base_url, self.bot_id, self.user_id, who)

###############################################################################
# RSA keys and RS256 signatures                    (yingdao_module/rsa_sign.py)
###############################################################################
# RSA private keys and RS256 signatures with the standard library only.
#
# A Coze OAuth service app (服务类应用) signs its JWT with an RSA private key. ShadowBot's
# Python may have no `cryptography`, so the key is parsed here: PEM → base64 → DER (a
# tiny ASN.1 reader), PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`),
# and the signature is RSASSA-PKCS1-v1_5 with SHA-256: EM^d mod n, computed with the key's CRT
# numbers (two half-size exponentiations, ~3x faster) and checked with the public exponent.
#
# The key is accepted as users paste it: real line breaks, Windows line ends, surrounding
# spaces or quotes, the `\n`-escaped one-line form, or the path of a .pem file. Nothing
# here ever puts key material into an error message or a repr.

# DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_KEY_SHAPES = ("私钥应是 PEM 文本,形如「-----BEGIN PRIVATE KEY-----」……「-----END PRIVATE KEY-----」(PKCS#8)"
               "或「-----BEGIN RSA PRIVATE KEY-----」……「-----END RSA PRIVATE KEY-----」(PKCS#1),"
               "也可以填 .pem 私钥文件的路径")


def _private_key_error(problem):
    """The one error for a private key we cannot use; it never quotes the key."""
    return InputError("私钥(private_key)%s:%s。私钥在扣子 OAuth 应用(服务类应用)页面创建公钥时下载" % (problem, _KEY_SHAPES))


def _encrypted_key_error(marker):
    """A password-protected key: name it and say how to export an unencrypted copy."""
    return InputError("私钥(private_key)有密码保护(%s),本模块只支持不加密的私钥。请用 OpenSSL 导出一份不加密的:"
                      "openssl pkcs8 -topk8 -nocrypt -in 加密的私钥.pem -out 私钥.pem(会问一次密码);"
                      "或 openssl rsa -in 加密的私钥.pem -out 私钥.pem。导出的文件以「-----BEGIN PRIVATE KEY-----」"
                      "或「-----BEGIN RSA PRIVATE KEY-----」开头,请放在密码类型的全局变量 coze_private_key" % marker)


# ---- PEM ------------------------------------------------------------------------------

def _pem_text(value):
    """Normalise pasted PEM text: quotes, spaces, `\\n` escapes, Windows line ends."""
    text = value.strip().strip("'\"“”‘’").strip()
    text = text.replace("\\r", "").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    return text


def _read_key_source(value):
    """PEM text from the value itself or from the file it names."""
    if not isinstance(value, (str, bytes)):
        raise _private_key_error("应该是文本,现在是 %s" % type(value).__name__)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _pem_text(value)
    if "-----BEGIN" in text:
        return text
    if "\n" not in text and len(text) < 400 and (os.path.isfile(text) or re.search(r"\.(pem|key|txt)$", text, re.I)):
        try:
            with open(text, "r", encoding="utf-8-sig") as handle:
                return _pem_text(handle.read())
        except (OSError, UnicodeDecodeError) as err:
            # a path is no secret: name it so the user can fix it
            raise InputError("读不到私钥文件 %s(%s):检查路径是否正确、文件是否存在" % (text, type(err).__name__))
    raise _private_key_error("不是 PEM 格式,也不是存在的 .pem 文件路径")


def _pem_der(text):
    """(kind, DER bytes) of the first private key block in PEM text."""
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise _private_key_error("的开头或结尾不完整(缺 -----BEGIN/-----END 行)")
    for kind, body in blocks:
        legacy_encrypted = re.search(r"^Proc-Type:\s*4\s*,\s*ENCRYPTED", body, re.M | re.I)
        if kind in ("PRIVATE KEY", "RSA PRIVATE KEY") and legacy_encrypted:
            raise _encrypted_key_error("Proc-Type: 4,ENCRYPTED")  # legacy OpenSSL encryption: headers before the base64
        if kind in ("PRIVATE KEY", "RSA PRIVATE KEY"):
            try:
                return kind, base64.b64decode(re.sub(r"\s+", "", body), validate=True)
            except (binascii.Error, ValueError):
                raise _private_key_error("的内容不是有效的 base64(可能复制时少了字符或混入了中文)")
    kinds = [kind for kind, _ in blocks]
    if "ENCRYPTED PRIVATE KEY" in kinds:
        raise _encrypted_key_error("ENCRYPTED PRIVATE KEY")
    if "PUBLIC KEY" in kinds or "RSA PUBLIC KEY" in kinds or "CERTIFICATE" in kinds:
        raise _private_key_error("填成了公钥或证书,这里需要私钥")
    raise _private_key_error("的类型是 %s,不支持" % kinds[0])


# ---- DER (the few ASN.1 shapes RSA keys use) ------------------------------------------

def _der_item(data, pos):
    """(tag, value bytes, next position) of the DER item at `pos`."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, data[pos:pos + length], pos + length


def _der_children(data, expected_tag=0x30):
    """The items inside one SEQUENCE (or other constructed item) that fills `data`."""
    tag, body, end = _der_item(data, 0)
    if tag != expected_tag or end != len(data):
        raise ValueError("unexpected structure")
    return _der_items(body)


def _der_items(body):
    """(tag, value) of each item laid end to end in `body`."""
    items, pos = [], 0
    while pos < len(body):
        tag, value, pos = _der_item(body, pos)
        items.append((tag, value))
    return items


def _der_integers(items, count):
    if len(items) < count or any(tag != 0x02 for tag, _ in items[:count]):
        raise ValueError("expected integers")
    return [int.from_bytes(value, "big") for _, value in items[:count]]


def _rsa_numbers_pkcs1(der):
    """(n, e, d, crt) of a PKCS#1 RSAPrivateKey: SEQUENCE {version, n, e, d, p, q, dP, dQ, qInv};
    crt is (p, q, dP, dQ, qInv), or None when the key lacks them."""
    items = _der_children(der)
    version, n, e, d = _der_integers(items, 4)
    if version not in (0, 1):
        raise ValueError("unknown version")
    crt = tuple(_der_integers(items[4:], 5)) if len(items) >= 9 else None
    return n, e, d, crt


def _rsa_numbers_pkcs8(der):
    """(n, e, d, crt) of a PKCS#8 PrivateKeyInfo holding an RSA key."""
    items = _der_children(der)
    if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
        raise ValueError("not PKCS#8")
    algorithm = _der_items(items[1][1])
    if not algorithm or algorithm[0] != (0x06, _RSA_ENCRYPTION_OID):
        raise TypeError("not RSA")
    return _rsa_numbers_pkcs1(items[2][1])


# ---- the key ----------------------------------------------------------------------------

class _RsaPrivateKey(object):
    """An RSA private key that can sign RS256. Its repr shows only the key size."""

    def __init__(self, n, e, d, crt=None):
        self._n, self._e, self._d = n, e, d
        self._crt = crt if crt and crt[0] * crt[1] == n else None  # (p, q, dP, dQ, qInv)
        self.size = (n.bit_length() + 7) // 8
        # a stable id for caches: a hash of the public part, never the secret
        self.fingerprint = hashlib.sha256(str((n, e)).encode("ascii")).hexdigest()

    def sign_rs256(self, message):
        """RSASSA-PKCS1-v1_5 signature of `message` (bytes) with SHA-256."""
        encoded = int.from_bytes(_emsa_pkcs1_sha256(message, self.size), "big")
        signature = self._power(encoded)
        if pow(signature, self._e, self._n) != encoded:  # a damaged CRT number: never send a wrong signature
            signature = pow(encoded, self._d, self._n)
        return signature.to_bytes(self.size, "big")

    def _power(self, value):
        """value^d mod n; with the CRT numbers, two exponentiations modulo the half-size primes."""
        if self._crt is None:
            return pow(value, self._d, self._n)
        p, q, dp, dq, qinv = self._crt
        mp, mq = pow(value, dp, p), pow(value, dq, q)
        return mq + q * ((qinv * (mp - mq)) % p)

    def __repr__(self):
        return "RsaPrivateKey(%d 位, 内容已隐藏)" % self._n.bit_length()


def _emsa_pkcs1_sha256(message, size):
    """EMSA-PKCS1-v1_5 encoding: 00 01 FF..FF 00 DigestInfo(SHA-256(message))."""
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = size - len(digest_info) - 3
    if padding < 8:
        raise ValueError("RSA key too small for SHA-256")
    return b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info


def _load_private_key(value):
    """An RsaPrivateKey from PEM text (any pasted shape) or a .pem path; InputError otherwise."""
    if isinstance(value, _RsaPrivateKey):
        return value
    kind, der = _pem_der(_read_key_source(value))
    try:
        n, e, d, crt = _rsa_numbers_pkcs8(der) if kind == "PRIVATE KEY" else _rsa_numbers_pkcs1(der)
    except TypeError:
        raise _private_key_error("不是 RSA 私钥(扣子服务类应用用 RSA 密钥)")
    except (ValueError, IndexError):
        raise _private_key_error("的内容不完整或已损坏(可能复制时少了几行)")
    if n.bit_length() < 1024 or not 1 < d < n:
        raise _private_key_error("的内容不完整或已损坏(可能复制时少了几行)")
    return _RsaPrivateKey(n, e, d, crt)

###############################################################################
# Server-sent events                                    (yingdao_module/sse.py)
###############################################################################
# Server-sent events, parsed by the standard
# (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
# lines end in CRLF, LF or a bare CR; one optional space after the colon; `:` lines are
# comments (keep-alives); `id` and `retry` carry nothing we need; a leading BOM is dropped;
# several `data` lines join with a newline; an event is dispatched at a blank line.
#
# One deliberate extension: when the stream ends right after an event whose data is complete
# JSON but without the closing blank line, that event still counts (recorded Coze streams of
# failed chats end that way). Data cut in the middle of its JSON is a cut, never an event.

_LINE_END = re.compile(r"\r\n|\r|\n")
_MAX_EVENT = 32 << 20  # characters in one line or one event's data (a long answer is ~20 MB at most)


def _too_long():
    return CozeError("扣子的流式回复里一行或一个事件超过 %d MB 字符,不像是扣子的回复:检查 base_url 和代理设置"
                     "(重试也没用,所以这次没有重试)" % (_MAX_EVENT >> 20))


class _SseParser(object):
    """Feed text as it arrives, get (event, data) pairs as soon as each event is complete."""

    def __init__(self):
        self._started = False   # the first character (a BOM there is dropped) has been seen
        self._partial = []      # the start of a line whose end has not arrived, in pieces (joined once: linear)
        self._after_cr = False  # the last text ended in "\r": a "\n" starting the next one belongs to it
        self._event = ""
        self._data = []
        self._partial_size = 0  # characters in _partial
        self._data_size = 0     # characters in _data

    def feed(self, text):
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if text:
            if self._after_cr and text.startswith("\n"):
                text = text[1:]
            self._after_cr = text.endswith("\r")
        lines = _LINE_END.split(text)
        if len(lines) == 1:  # no line end yet: keep the piece (a 20 MB line in 8 KB chunks stays linear)
            self._partial.append(text)
            self._partial_size += len(text)
            if self._partial_size + self._data_size > _MAX_EVENT:
                raise _too_long()
            return
        lines[0] = "".join(self._partial) + lines[0]
        self._partial = [lines.pop()]
        self._partial_size = len(self._partial[0])
        for line in lines:
            event = self._line(line)
            if event is not None:
                yield event

    def finish(self):
        """The stream ended: the last event counts only when its data is complete JSON."""
        partial = "".join(self._partial)
        self._partial = []
        if partial:
            self._line(partial)
        if self._data:
            data = "\n".join(self._data)
            event, self._event, self._data, self._data_size = self._event or "message", "", [], 0
            try:
                json.loads(data)
            except ValueError:
                return
            yield event, data

    def _line(self, line):
        if not line:
            if not self._data:  # no data: nothing to dispatch (the standard's rule)
                self._event = ""
                return None
            event = (self._event or "message", "\n".join(self._data))
            self._event, self._data, self._data_size = "", [], 0
            return event
        if line.startswith(":"):  # a comment / keep-alive
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
            self._data_size += len(value)
            if self._data_size > _MAX_EVENT:
                raise _too_long()
        return None  # "id", "retry" and unknown fields are ignored


def _iter_sse_events(chunks):
    """Yield (event_name, data_text) for every event in an iterable of byte (or text) chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span two chunks
    parser = _SseParser()
    for chunk in chunks:
        text = decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        for event in parser.feed(text):
            yield event
    for event in parser.feed(decoder.decode(b"", True)):
        yield event
    for event in parser.finish():
        yield event


def _sse_json(data_text):
    """The JSON payload of an event, or the plain text when it is not JSON ("[DONE]")."""
    try:
        return json.loads(data_text)
    except ValueError:
        return data_text

###############################################################################
# Timeouts and retry policy                          (yingdao_module/policy.py)
###############################################################################
# Timeouts and retries as objects (after urllib3's Timeout and Retry).
#
# A Transport is given a RetryPolicy and its backend a Timeouts; left out, they use DEFAULT_RETRY and
# DEFAULT_TIMEOUTS. A field left at None reads the module-level default (BACKOFF_BASE, ...) when it is
# used, so a test or a user may change one default, or replace a default policy object, or pass
# their own policy to one Client.

_CONNECT_TIMEOUT = 10.0   # seconds to open a connection
_READ_TIMEOUT = 60.0      # seconds of silence we accept while waiting for bytes
_CLOSE_GRACE = 0.05       # a stream left at its terminal event may finish this fast: its connection is reused
_MAX_RETRIES = 4          # retries after the first attempt
_BACKOFF_BASE = 0.5       # first retry waits about this long, then doubles
_BACKOFF_CAP = 8.0        # no single wait is longer (unless the server's Retry-After says so)
_RETRY_AFTER_CAP = 30.0   # a server's Retry-After is followed up to this many seconds


class _Timeouts(object):
    """connect: seconds to open a connection; read: seconds of silence accepted between bytes
    (the caller's deadline also bounds every wait); close_grace: how long a stream left at its
    terminal event may read on so its connection can be reused."""

    def __init__(self, connect=None, read=None, close_grace=None):
        self._connect, self._read, self._close_grace = connect, read, close_grace

    @property
    def connect(self):
        return _CONNECT_TIMEOUT if self._connect is None else self._connect

    @property
    def read(self):
        return _READ_TIMEOUT if self._read is None else self._read

    @property
    def close_grace(self):
        return _CLOSE_GRACE if self._close_grace is None else self._close_grace

    def __repr__(self):
        return "Timeouts(connect=%r, read=%r, close_grace=%r)" % (self.connect, self.read, self.close_grace)


class _RetryPolicy(object):
    """max_retries: retries after the first attempt; backoff_base: the first wait, doubling up to
    backoff_cap, each with jitter; retry_after_cap: the longest Retry-After we follow."""

    def __init__(self, max_retries=None, backoff_base=None, backoff_cap=None, retry_after_cap=None):
        self._max_retries, self._base = max_retries, backoff_base
        self._cap, self._after_cap = backoff_cap, retry_after_cap

    @property
    def max_retries(self):
        return _MAX_RETRIES if self._max_retries is None else self._max_retries

    def with_max_retries(self, max_retries):
        """The same policy with another number of retries (None keeps this one's)."""
        return self if max_retries is None else self.replace(max_retries=max_retries)

    def replace(self, max_retries=None, backoff_base=None, backoff_cap=None, retry_after_cap=None):
        """A copy with the given fields changed."""
        def pick(new, old):
            return old if new is None else new
        return _RetryPolicy(pick(max_retries, self._max_retries), pick(backoff_base, self._base),
                           pick(backoff_cap, self._cap), pick(retry_after_cap, self._after_cap))

    def delay(self, attempt, retry_after=None):
        """Exponential backoff with jitter; the server's Retry-After wins when it is longer."""
        import random  # imported on first use: keeps importing the module fast
        base = _BACKOFF_BASE if self._base is None else self._base
        cap = _BACKOFF_CAP if self._cap is None else self._cap
        delay = min(cap, base * (2 ** attempt)) * random.uniform(0.5, 1.0)
        if retry_after:
            after_cap = _RETRY_AFTER_CAP if self._after_cap is None else self._after_cap
            try:
                delay = max(delay, min(float(retry_after), after_cap))
            except (TypeError, ValueError):
                pass
        return delay

    def __repr__(self):
        return "RetryPolicy(max_retries=%r)" % self.max_retries


_DEFAULT_TIMEOUTS = _Timeouts()
_DEFAULT_RETRY = _RetryPolicy()

###############################################################################
# HTTP responses read within the deadline     (yingdao_module/http_response.py)
###############################################################################
# One HTTP response read within the caller's deadline, without a helper thread.
#
# A socket timeout bounds each receive, not their sum: a server trickling its headers a byte at a
# time would outlast any timeout. So the response reads its socket through DeadlineReader, which
# sets the time left before the deadline as the socket's timeout before every receive: the status
# line, the headers and every body read together end at the deadline. Both backends have an
# http.client response underneath whose class is deadline_response_class().

_READ_SIZE = 65536        # at most this much per read; a read returns whatever has arrived
_SEND_BLOCK = 16384       # a body is sent in blocks of this much (one TLS record), each within the time left
_sending = threading.local()  # .deadline and .idle of the request this thread is sending now
_response_classes = []   # the http.client response class, made on first use


def _deadline_error(logid=None):
    return CozeTimeoutError("等待扣子回复超时(超过 timeout 设定的秒数):可把 timeout 调大", logid=logid)


def _time_left(deadline, logid=None, idle=None):
    """Seconds we may still wait for one read; raises CozeTimeoutError once the deadline passed."""
    idle = _DEFAULT_TIMEOUTS.read if idle is None else idle
    if deadline is None:
        return idle
    left = deadline - time.monotonic()
    if left <= 0:
        raise _deadline_error(logid)
    return min(idle, left)


def _is_timeout(exc):
    return "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()


def _body_decoder(encoding):
    """A function bytes -> pieces of bytes (each at most READ_SIZE: a compressed chunk can inflate
    1000 times) undoing Content-Encoding (b"" flushes), or None for identity."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)

        def decode(data):
            if not data:
                yield inflater.flush()
                return
            while data:
                yield inflater.decompress(data, _READ_SIZE)
                data = inflater.unconsumed_tail
        return decode
    return None


class _DeadlineReader(io.RawIOBase):
    """A socket read so that no receive waits past `deadline` (time.monotonic()) or longer than
    `idle` seconds; the socket's own timeout is put back after each receive (the connection
    sends its next request with it)."""

    def __init__(self, sock, deadline=None, idle=None):
        io.RawIOBase.__init__(self)
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)  # keeps the socket open while this response reads
        self.deadline = deadline
        self.idle = idle

    def readable(self):
        return True

    def readinto(self, buffer):
        idle = _DEFAULT_TIMEOUTS.read if self.idle is None else self.idle
        wait = idle if self.deadline is None else min(idle, self.deadline - time.monotonic())
        if wait <= 0:
            import socket  # only here: importing the module stays fast
            raise socket.timeout("deadline passed")
        previous = self._sock.gettimeout()
        self._sock.settimeout(wait)
        try:
            return self._io.readinto(buffer)
        finally:
            try:
                self._sock.settimeout(previous)
            except OSError:
                pass  # the connection was closed meanwhile

    def close(self):
        if not self.closed:
            self._io.close()
        io.RawIOBase.close(self)


def _send_within(connection, data, send):
    """http.client's `send` (the unbound method) for the request this thread is sending, in blocks
    each bounded by the time left: a socket timeout bounds a whole sendall, so the connection's own
    timeout (its connect timeout, or a short deadline of an earlier request) would cap a large
    upload. Both backends' connections send through here."""
    if connection.sock is None and getattr(connection, "auto_open", 0):
        connection.connect()  # http.client connects on the first send
    deadline = getattr(_sending, "deadline", None)
    idle = getattr(_sending, "idle", None)
    idle = _DEFAULT_TIMEOUTS.read if idle is None else idle
    sized = isinstance(data, (bytes, bytearray))
    view = memoryview(data) if sized and len(data) > _SEND_BLOCK else None
    for at in range(0, len(view), _SEND_BLOCK) if view is not None else (0,):
        wait = idle if deadline is None else min(idle, deadline - time.monotonic())
        if wait <= 0:
            import socket
            raise socket.timeout("deadline passed")
        if connection.sock is not None:
            connection.sock.settimeout(wait)
        send(connection, view[at:at + _SEND_BLOCK] if view is not None else data)


def _deadline_response_class():
    """http.client.HTTPResponse reading through a DeadlineReader set from the request this
    thread is sending (sending_with); made on first use, as http.client costs import time."""
    if not _response_classes:
        import http.client

        class DeadlineResponse(http.client.HTTPResponse):
            def __init__(self, sock, *args, **kwargs):
                http.client.HTTPResponse.__init__(self, sock, *args, **kwargs)
                self.fp.close()
                self.fp = io.BufferedReader(_DeadlineReader(sock, getattr(_sending, "deadline", None),
                                                           getattr(_sending, "idle", None)))
        _response_classes.append(DeadlineResponse)
    return _response_classes[0]


def _current_deadline():
    """The deadline of the request this thread is sending (None: none, or not sending)."""
    return getattr(_sending, "deadline", None)


class _sending_with(object):
    """`with sending_with(deadline, idle):` the responses this thread opens meanwhile read within them."""

    def __init__(self, deadline, idle):
        self.values = (deadline, idle)

    def __enter__(self):
        _sending.deadline, _sending.idle = self.values

    def __exit__(self, *exc_info):
        _sending.deadline = _sending.idle = None


class _HttpResponse(object):
    """Status, lower-cased headers, and a body read as it arrives within the deadline.

    `raw` is the http.client response (a DeadlineResponse) under both backends; `finish(complete)`
    hands the connection back (complete) or closes it. `grace`: how long close() may read on to
    finish the body so the connection can be reused.
    """

    def __init__(self, status, headers, raw, deadline, finish, grace=0.0, idle=None):
        self.status = status
        self.headers = headers
        self._raw = raw
        self._deadline = deadline
        self._finish = finish
        self._grace = grace
        self._idle = _DEFAULT_TIMEOUTS.read if idle is None else idle
        self._complete = False
        self._closed = False

    @property
    def logid(self):
        return self.headers.get("x-tt-logid")

    @property
    def is_event_stream(self):
        return "text/event-stream" in self.headers.get("content-type", "")

    def _read_some(self):
        """One read of whatever has arrived (b"" at the end), bounded by the time left."""
        _time_left(self._deadline, self.logid, self._idle)
        reader = getattr(getattr(self._raw, "fp", None), "raw", None)
        if isinstance(reader, _DeadlineReader):
            reader.deadline, reader.idle = self._deadline, self._idle
        try:
            return self._raw.read1(_READ_SIZE)
        except Exception as exc:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise _deadline_error(self.logid)
            if _is_timeout(exc):
                raise NetworkError("扣子 %d 秒没有发来任何数据,连接已放弃:会自动重试" % self._idle, logid=self.logid)
            raise NetworkError("读取扣子的回复时连接中断(%s):会自动重试" % type(exc).__name__, logid=self.logid)

    def chunks(self):
        """The body in pieces as they arrive (decoded when the server compressed it)."""
        decode = _body_decoder(self.headers.get("content-encoding"))
        while True:
            data = self._read_some()
            if not data:
                break
            if decode is None:
                yield data
                continue
            for piece in self._decoded(decode, data):
                yield piece
        self._complete = True
        if decode is not None:
            for piece in self._decoded(decode, b""):
                yield piece

    def _decoded(self, decode, data):
        """The non-empty pieces of `data` decoded, one at a time."""
        try:
            for piece in decode(data):
                if piece:
                    yield piece
        except zlib.error:
            raise NetworkError("扣子返回的压缩内容无法解压:会自动重试", logid=self.logid)

    def read(self):
        return b"".join(self.chunks())

    def close(self):
        if self._closed:
            return
        self._closed = True
        if not self._complete and self._grace:  # e.g. the `done` after chat.completed: usually already here
            self._deadline = min(self._deadline or float("inf"), time.monotonic() + self._grace)
            try:
                for _ in self.chunks():
                    pass
            except Exception:
                pass  # a server holding the stream open: the connection is closed, not waited for
        try:
            self._finish(self._complete)
        except Exception:
            pass

###############################################################################
# HTTP connections opened within the deadline  (yingdao_module/http_connect.py)
###############################################################################
# Opening a connection within the caller's deadline, name lookup included.
#
# A socket timeout bounds connecting and reading, but not the name lookup (getaddrinfo), which a
# broken resolver can hold for many seconds. So a host name is looked up on a short-lived thread
# given up at the deadline; an IP address (or a call without a deadline) is looked up in place.
# Both backends open their connections through here (new connections only: kept-alive ones
# need no lookup), trying each address the lookup gave in turn, as socket.create_connection does.

def _is_ip_address(host):
    import ipaddress
    try:
        ipaddress.ip_address((host or "").strip("[]"))
        return True
    except ValueError:
        return False


def _resolve_within(host, port, deadline):
    """getaddrinfo(host, port) for TCP, given up at `deadline` (socket.timeout then)."""
    import socket
    if deadline is None or _is_ip_address(host):
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    found, done = {}, threading.Event()

    def look_up():
        try:
            found["addresses"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # handed to the caller below
            found["error"] = exc
        done.set()
    threading.Thread(target=look_up, name="coze-dns", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise socket.timeout("looking up %s took past the deadline" % host)
    if "error" in found:
        raise found["error"]
    return found["addresses"]


def _addresses_within(host, port):
    """The (family, sockaddr) pairs for host, looked up within the deadline of the request being sent."""
    return [(family, sockaddr) for family, _, _, _, sockaddr in _resolve_within(host, port, _current_deadline())]


def _connect_wait(timeout, deadline):
    """The connect timeout for the next address: `timeout` cut to the time left before the deadline
    (the lookup and earlier addresses used some), or None once the deadline has passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    return min(timeout, left) if isinstance(timeout, (int, float)) else left


def _bound_to_deadline(sock, deadline):
    """A connected socket's timeout set to the time left, so the TLS handshake and a proxy's CONNECT
    end at the deadline too (the connect timeout would start afresh for each)."""
    if deadline is not None:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
    return sock


def _connect_within(address, timeout, source_address=None):
    """socket.create_connection for the request being sent: the lookup, each address in turn and
    what follows the connect all bounded by its deadline."""
    import socket
    deadline = _current_deadline()
    failure = None
    for family, sockaddr in _addresses_within(address[0], address[1]):
        wait = _connect_wait(timeout, deadline)
        if wait is None:
            raise socket.timeout("connecting to %s took past the deadline" % address[0])
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(wait)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return _bound_to_deadline(sock, deadline)
        except OSError as exc:
            failure = exc
            sock.close()
    raise failure or OSError("no address for %s" % address[0])

###############################################################################
# HTTP backends, requests                     (yingdao_module/http_backends.py)
###############################################################################
# Raw HTTP: `requests` when it is importable, the standard library's http.client when not.
#
# Both backends share one base class and behave the same: the caller's deadline bounds the wait
# for the response head and every read of the body (http_response.py: no helper thread), bodies are
# read as bytes arrive (no 8 KB buffering of event streams), connections are kept alive per thread,
# redirects never carry the token to another host, and a certificate failure says so. Proxies and
# the CA file come from the environment.

_MAX_REDIRECTS = 3        # Coze does not redirect its API; a few same-host hops are tolerated
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_CA_FILE_VARIABLES = ("COZE_CA_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
# what the proxy for a host depends on: reading these few is microseconds, while urllib's getproxies()
# scans the whole environment (about a millisecond per request on a machine with many variables)
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                   "NO_PROXY", "REQUEST_METHOD")
_proxy_memo = {}
_requests_module = []  # filled on first use: importing requests costs ~100 ms, too much at import time


def _optional_requests():
    """The `requests` module when importable (a ShadowBot venv may not have it), else None."""
    if not _requests_module:
        try:
            import requests
        except Exception:
            requests = None
        _requests_module.append(requests)
    return _requests_module[0]


def _ca_file():
    """The PEM bundle to trust instead of the default one, from the environment (or None)."""
    for name in _CA_FILE_VARIABLES:
        value = (os.environ.get(name) or "").strip()
        if value:
            return value
    return None


def _remembered_proxy(kind, where, find):
    """find() once per host and proxy environment (a changed HTTPS_PROXY / NO_PROXY is seen at once;
    on Windows the registry's proxy is read once per process)."""
    key = (kind, where, tuple(os.environ.get(name) for name in _PROXY_VARIABLES))
    try:
        return _proxy_memo[key]
    except KeyError:
        if len(_proxy_memo) > 256:
            _proxy_memo.clear()
        found = _proxy_memo[key] = find()
        return found


def _origin(url):
    """(scheme, host, port) of a URL, the default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _exception_chain(exc, limit=8):
    """`exc` and what it wraps (reason, args[0], cause, context): requests and urllib nest the ssl error."""
    seen = 0
    while exc is not None and seen < limit:
        yield exc
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            args = getattr(exc, "args", ())
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
        seen += 1


def _is_certificate_failure(exc):
    """True when `exc` (or what it wraps) is a failed TLS certificate check."""
    for inner in _exception_chain(exc):
        text = "%s %r" % (inner, inner)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
            return True
        if type(inner).__name__ == "SSLCertVerificationError":
            return True
    return False


# what OpenSSL says when the other side answers a TLS hello in plain HTTP
_PLAIN_HTTP_MARKERS = ("WRONG_VERSION_NUMBER", "wrong version number", "packet length too long", "RECORD_LAYER_FAILURE")


def _is_plain_http_reply(exc, url):
    """True when an https:// request failed because the server speaks plain HTTP."""
    if not url.lower().startswith("https://"):
        return False
    return any(marker in "%s %r" % (inner, inner) for inner in _exception_chain(exc) for marker in _PLAIN_HTTP_MARKERS)


def _network_error_for(exc, url):
    """Turn a failure to get an answer into a NetworkError whose text names no secret."""
    name = type(exc).__name__
    if _is_certificate_failure(exc):
        host = _origin(url)[1]
        return _CertificateError(
            "证书校验失败:连接 %s 时对方的 HTTPS 证书不被信任(%s)。公司网络的代理常会替换证书:向 IT 要代理的根证书"
            "(PEM 格式),把文件路径设到环境变量 COZE_CA_FILE 后重新运行(证书问题重试也没用,所以这次没有重试)"
            % (host, name))
    if _is_plain_http_reply(exc, url):
        host = urllib.parse.urlsplit(url).netloc
        err = NetworkError("地址 %s 是普通 http,不是 https:请把 base_url 写成 http://%s(本机模拟器、私有部署常是这样);"
                           "如果用了代理,检查 HTTPS_PROXY(这个问题重试也没用,所以这次没有重试)" % (host, host))
        err.retryable, err.fatal = False, True
        return err
    if _is_timeout(exc):
        return NetworkError("连接扣子超时(%s):检查网络或代理,会自动重试" % name)
    return NetworkError("连接扣子失败(%s):检查网络、代理或 base_url,会自动重试" % name)


def _refused_redirect(message, logid=None):
    err = NetworkError(message, logid=logid)
    err.retryable = False
    return err


class _HttpBackend(object):
    """What both backends share: deadlines, redirects, error mapping. A subclass only opens
    one request and returns (status, headers, raw http.client response, finish)."""
    name = "?"

    def __init__(self):
        self.timeouts = _DEFAULT_TIMEOUTS  # its fields read policy.py's settings at each use

    def send(self, method, url, headers, body, deadline=None):
        """An HttpResponse; same-origin redirects are followed a few times, others refused."""
        for _ in range(_MAX_REDIRECTS + 1):
            resp = self._send_once(method, url, headers, body, deadline)
            if resp.status not in _REDIRECT_STATUSES:
                return resp
            target = urllib.parse.urljoin(url, resp.headers.get("location") or "")
            resp.close()
            if _origin(target) != _origin(url):
                raise _refused_redirect("扣子的地址把请求重定向到了另一个地址 %s;为保护令牌没有跟过去:检查 base_url 是否"
                                       "填对(https://api.coze.cn 或 https://api.coze.com),以及代理是否改写了地址"
                                       % target, resp.logid)
            url = target
        raise _refused_redirect("扣子的地址重定向次数太多(超过 %d 次):检查 base_url 和代理设置" % _MAX_REDIRECTS)

    def _send_once(self, method, url, headers, body, deadline):
        idle = self.timeouts.read
        wait = _time_left(deadline, idle=idle)
        try:
            with _sending_with(deadline, idle):
                status, response_headers, raw, finish = self._open(method, url, headers, body,
                                                                   min(self.timeouts.connect, wait), wait)
        except CozeError:
            raise
        except Exception as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise _deadline_error()
            raise _network_error_for(exc, url)
        headers = dict((k.lower(), v) for k, v in response_headers.items())
        return _HttpResponse(status, headers, raw, deadline, finish, self.timeouts.close_grace, idle)

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        raise NotImplementedError

    def close(self):
        """Release pooled connections."""


class _RequestsBackend(_HttpBackend):
    """Keep-alive sessions from `requests`, one per thread (batch runs threads). Proxies come
    from the environment (HTTPS_PROXY, NO_PROXY) as requests reads them, looked up once per host
    and environment instead of on every request (trust_env off; never a ~/.netrc password)."""
    name = "requests"

    def __init__(self):
        _HttpBackend.__init__(self)
        self._local = threading.local()
        self._sessions = weakref.WeakSet()  # every thread's session, for close(); a finished thread's goes with it
        self._lock = threading.Lock()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _optional_requests().Session()
            session.trust_env = False  # proxies are given per request; the CA file is ca_file()
            adapter = _deadline_adapter_class()
            session.mount("http://", adapter())
            session.mount("https://", adapter())
            with self._lock:
                self._sessions.add(session)
        return session

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        requests = _optional_requests()
        proxies = _remembered_proxy("requests", _origin(url), lambda: requests.utils.get_environ_proxies(url))
        # prepared here and sent as is: Session.request would merge session headers, cookies and
        # environment settings on every request (a third of our per-answer CPU); we send our own headers
        prepared = requests.Request(method, url, headers=headers, data=body).prepare()
        resp = self._session().send(prepared, stream=True, proxies=proxies, timeout=(connect_timeout, read_timeout),
                                    allow_redirects=False, verify=_ca_file() or True)
        raw = resp.raw._fp  # urllib3 keeps the http.client response here; we read it ourselves

        def finish(complete):
            if complete:
                raw.read()  # lets http.client mark the exchange done so the connection is reusable
                resp.raw.release_conn()
            else:
                resp.close()  # unread bytes remain: this connection must not be reused
        return resp.status_code, resp.headers, raw, finish

    def close(self):
        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            try:
                session.close()
            except Exception:
                pass


_adapter_classes = []


def _new_conn_within(conn, base):
    """urllib3's _new_conn with the name lookup bounded by the deadline: each address in turn, each
    given only the time left (urllib3 connects to _dns_host; the certificate is still checked
    against the host name); the connected socket's timeout is the time left (bound_to_deadline)."""
    host, timeout, deadline = conn._dns_host, conn.timeout, _current_deadline()
    failure = None
    try:
        for _, sockaddr in _addresses_within(host, conn.port):
            wait = _connect_wait(timeout, deadline)
            if wait is None:
                import socket
                raise socket.timeout("connecting to %s took past the deadline" % host)
            conn._dns_host, conn.timeout = sockaddr[0], wait
            try:
                return _bound_to_deadline(base._new_conn(conn), deadline)
            except Exception as exc:
                failure = exc
    finally:
        conn._dns_host, conn.timeout = host, timeout
    raise failure or OSError("no address for %s" % host)


def _deadline_adapter_class():
    """A requests HTTPAdapter whose urllib3 connections make deadline responses (made on first use)."""
    if not _adapter_classes:
        from requests.adapters import HTTPAdapter
        from requests.packages.urllib3 import connection, connectionpool  # requests's own urllib3

        def within_deadline(base):
            """urllib3's connection class `base`, connecting, sending and answering within the deadline."""
            class Connection(base):
                response_class = _deadline_response_class()

                def _new_conn(self):
                    return _new_conn_within(self, base)

                def send(self, data):
                    _send_within(self, data, base.send)
            return Connection

        pools = {"http": type("HttpPool", (connectionpool.HTTPConnectionPool,),
                              {"ConnectionCls": within_deadline(connection.HTTPConnection)}),
                 "https": type("HttpsPool", (connectionpool.HTTPSConnectionPool,),
                               {"ConnectionCls": within_deadline(connection.HTTPSConnection)})}

        def ours(manager):
            if type(manager).__name__ in ("PoolManager", "ProxyManager"):  # a SOCKS manager keeps its own
                manager.pool_classes_by_scheme = pools
            return manager

        class DeadlineAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                HTTPAdapter.init_poolmanager(self, *args, **kwargs)
                ours(self.poolmanager)

            def proxy_manager_for(self, *args, **kwargs):
                return ours(HTTPAdapter.proxy_manager_for(self, *args, **kwargs))
        _adapter_classes.append(DeadlineAdapter)
    return _adapter_classes[0]

###############################################################################
# HTTP backend, standard library (kept alive)   (yingdao_module/http_stdlib.py)
###############################################################################
# The standard-library backend: http.client connections kept alive, one per thread and host.
#
# Works in any ShadowBot venv (no `requests`). Each thread keeps one connection per (host, proxy,
# CA file); a connection in use is out of the pool, so threads never share one, and an idle one the
# server has closed is noticed before it is used (as urllib3 does), so a request is never sent twice.
# Proxies from the environment (HTTP(S)_PROXY, NO_PROXY), as urllib's ProxyHandler reads them.

_connection_classes = {}  # "http" / "https" -> http.client connection class, made on first use


def _connection_class(scheme):
    """http.client's connection class for `scheme` whose sends are bounded by the deadline (send_within)."""
    if not _connection_classes:
        import http.client
        for name, base in (("http", http.client.HTTPConnection), ("https", http.client.HTTPSConnection)):
            def send(self, data, base=base):
                _send_within(self, data, base.send)
            _connection_classes[name] = type("Deadline" + base.__name__, (base,), {
                "send": send, "response_class": _deadline_response_class()})
    return _connection_classes[scheme]


def _proxy_for(scheme, host):
    """The proxy URL the environment names for this scheme and host, or None (NO_PROXY, none set)."""
    return _remembered_proxy("stdlib", (scheme, host), lambda: _environment_proxy(scheme, host))


def _environment_proxy(scheme, host):
    import urllib.request
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def _proxy_authorization(proxy):
    """{"Proxy-Authorization": ...} for a proxy URL carrying user:password, else {}."""
    parts = urllib.parse.urlsplit(proxy)
    if not parts.username:
        return {}
    pair = "%s:%s" % (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def _is_dropped(connection):
    """True when an idle kept-alive connection has been closed by the server (its socket reads)."""
    sock = connection.sock
    if sock is None:
        return False  # not connected: http.client connects on the next request
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _UrllibBackend(_HttpBackend):
    """The standard library only. Redirects are left to HttpBackend.send."""
    name = "urllib"

    def __init__(self):
        _HttpBackend.__init__(self)
        self._local = threading.local()
        self._connections = weakref.WeakSet()  # every pooled connection, for close()
        self._lock = threading.Lock()
        self._tls = {}  # CA file -> ssl context

    def _pool(self):
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _tls_context(self, cafile):
        with self._lock:
            if cafile not in self._tls:
                import ssl  # imported on first use: keeps importing the module fast
                self._tls[cafile] = ssl.create_default_context(cafile=cafile)
            return self._tls[cafile]

    def _connection(self, key, timeout):
        """A kept-alive connection for `key` taken out of this thread's pool, or a new one."""
        connection = self._pool().pop(key, None)
        if connection is not None and not _is_dropped(connection):
            connection.timeout = timeout  # were it to reconnect: this request's, not the first one's
            return connection
        if connection is not None:
            connection.close()
        scheme, host, port, proxy, cafile = key
        where = urllib.parse.urlsplit(proxy) if proxy else None
        address = (where.hostname, where.port or 80) if where else (host, port)
        if scheme == "https":
            connection = _connection_class("https")(address[0], address[1], timeout=timeout,
                                                   context=self._tls_context(cafile))
            if proxy:
                connection.set_tunnel(host, port, headers=_proxy_authorization(proxy))
        else:
            connection = _connection_class("http")(address[0], address[1], timeout=timeout)
        connection._create_connection = _connect_within  # the name lookup within the deadline too
        with self._lock:
            self._connections.add(connection)
        return connection

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        scheme, host, port = _origin(url)
        proxy = _proxy_for(scheme, host)
        key = (scheme, host, port, proxy, _ca_file() if scheme == "https" else None)
        connection = self._connection(key, connect_timeout)
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if proxy and scheme == "http":
            target, headers = url, dict(headers, **_proxy_authorization(proxy))  # absolute form to a proxy
        try:
            connection.request(method, target, body=body, headers=headers)
            resp = connection.getresponse()
        except BaseException:
            connection.close()
            raise

        def finish(complete):
            pool = self._pool()
            if complete and key not in pool:
                resp.read()  # already at its end: lets http.client mark the exchange done
                resp.close()
                pool[key] = connection
            else:
                resp.close()
                connection.close()  # unread bytes remain: this connection must not be reused
        return resp.status, resp.headers, resp, finish

    def close(self):
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass

###############################################################################
# Coze transport: envelope, auth header, retries  (yingdao_module/transport.py)
###############################################################################
# The Coze layer above raw HTTP (http_backends.py, http_stdlib.py): Transport builds the
# Authorization header (in one place), adds the Coze envelope ({code, msg, data, detail.logid}),
# retries with backoff and jitter what is worth retrying (a RetryPolicy, policy.py), and opens
# event streams (`open_stream`) for chats and workflows.

_USER_AGENT = "yingdao-coze/0.1"
_MAX_JSON_BODY = 64 << 20  # bytes: a JSON answer larger than this is refused
_REJECTED_TOKEN_CODES = (4100, 700012006)  # the service no longer accepts this access token


def _choose_backend(name=None):
    """'requests' or 'urllib'; default: requests when importable (env COZE_HTTP_BACKEND overrides)."""
    name = name or os.environ.get("COZE_HTTP_BACKEND") or "requests"
    if name == "requests" and _optional_requests() is not None:
        return _RequestsBackend()
    return _UrllibBackend()


def _retry_policy(retry=None):
    """A RetryPolicy from a policy, a number of retries, or None (DEFAULT_RETRY, read now)."""
    if isinstance(retry, _RetryPolicy):
        return retry
    return _DEFAULT_RETRY.with_max_retries(retry)


def _backoff_delay(attempt, retry_after=None):
    """The default policy's wait before retry number attempt + 1."""
    return _DEFAULT_RETRY.delay(attempt, retry_after)


def _with_retries(action, what, deadline=None, retry=None):
    """Run `action()`; on a retryable CozeError wait and try again, never past `deadline`.
    `retry`: a RetryPolicy or the number of retries (None: DEFAULT_RETRY)."""
    policy = _retry_policy(retry)
    attempt = 0
    while True:
        try:
            return action()
        except CozeError as err:
            if not err.retryable:
                raise
            if attempt >= policy.max_retries:
                raise err.after_retries("已自动重试 %d 次仍失败,请稍后再试" % attempt if attempt else "请稍后再试")
            delay = policy.delay(attempt, err.retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise err.after_retries("等待时间 timeout 已用完,不再重试")
            attempt += 1
            _log("%s失败:%s;%.1f 秒后第 %d 次重试" % (what, err.message, delay, attempt))
            time.sleep(delay)


def _read_capped(resp, limit=None):
    """The whole body, refused (BadResponseError, not retried) once it passes `limit` bytes
    (MAX_JSON_BODY): no Coze JSON answer comes near it, a captive portal or a broken proxy might."""
    limit = _MAX_JSON_BODY if limit is None else limit
    if not hasattr(resp, "chunks"):
        return resp.read()
    pieces, size = [], 0
    for piece in resp.chunks():
        size += len(piece)
        if size > limit:
            raise _BadResponseError("扣子返回的内容超过 %d MB,不像是扣子的回复:检查 base_url 和代理设置(重试也没用,所以这次没有重试)"
                                   % (limit >> 20), logid=resp.logid)
        pieces.append(piece)
    return b"".join(pieces)


def _json_object_of(resp, base_url):
    """The JSON object a response carries; an empty or garbled body raises the right CozeError."""
    raw = _read_capped(resp)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if resp.status >= 400:
            raise _error_for_http_status(resp.status, resp.logid, base_url, resp.headers.get("retry-after"))
        raise NetworkError("扣子返回的内容无法解析(HTTP %s,不是 JSON):会自动重试" % resp.status, logid=resp.logid)
    return body


def _envelope_of(resp, base_url):
    """Parse a Coze JSON envelope; raise the matching CozeError when it carries an error."""
    body = _json_object_of(resp, base_url)
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    logid = resp.logid or detail.get("logid")
    code = body.get("code", 0)
    if code not in (0, None, "0"):
        err = _error_for_code(code, body.get("msg") if isinstance(body.get("msg"), str) else "", logid, base_url)
        err.retry_after = resp.headers.get("retry-after")
        raise err
    if resp.status >= 400:
        raise _error_for_http_status(resp.status, logid, base_url, resp.headers.get("retry-after"))
    body["logid"] = logid
    return body


def _id_of(envelope, what):
    """`data.id` of an envelope as text; a missing id is a wrong-shaped body, never the text "None"."""
    data = envelope.get("data")
    value = data.get("id") if isinstance(data, dict) else None
    if value in (None, ""):
        raise _BadResponseError("扣子返回的%s结果里没有 id(格式不对):请稍后重试,反复出现请把 logid 发给扣子客服" % what,
                               logid=envelope.get("logid"))
    return str(value)


class _EventStream(object):
    """One open event stream: iterate for (event, data) pairs, data JSON-decoded when it is
    JSON. Stop iterating at the terminal event and close (or leave the `with` block): the
    rest of the stream is never waited for."""

    def __init__(self, resp):
        self._resp = resp
        self.logid = resp.logid

    def __iter__(self):
        for event, text in _iter_sse_events(self._resp.chunks()):
            yield event, _sse_json(text)

    def close(self):
        self._resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _Transport(object):
    """Sends requests to one Coze host. The Authorization header comes from `auth` (a static
    token or a JWT service app, see auth.py); its repr never shows the token."""

    def __init__(self, base_url, auth, backend=None, max_retries=None, before_request=None):
        self.base_url = base_url
        self.auth = auth
        self.backend = backend if hasattr(backend, "send") else _choose_backend(backend)
        self._max_retries = max_retries
        self.before_request = before_request  # called as (method, path) before every request: a rate limiter

    @property
    def retry(self):
        """This transport's RetryPolicy: DEFAULT_RETRY read at each use, with its own max_retries."""
        return _retry_policy().with_max_retries(self._max_retries)

    @property
    def max_retries(self):
        return self.retry.max_retries

    def __repr__(self):
        return "Transport(base_url=%r, backend=%r, token=<隐藏>)" % (self.base_url, self.backend.name)

    def open(self, method, path, params=None, body=None, content_type="application/json",
             accept="application/json", deadline=None):
        """One HTTP request (no retry). `body` is a dict (sent as JSON) or bytes."""
        if self.before_request is not None:
            # a token exchange due now happens before the rate-limit slot is taken, not between the
            # slot and the send (the request would reach the service late, on top of later ones)
            self.auth.authorization(self, deadline)
            self.before_request(method, path)
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(dict((k, v) for k, v in params.items() if v is not None))
        headers = {"Authorization": self.auth.authorization(self, deadline), "User-Agent": _USER_AGENT,
                   "Accept": accept, "Accept-Encoding": "identity"}
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if body is not None:
            headers["Content-Type"] = content_type
        return self.backend.send(method, url, headers, body, deadline)

    def open_stream(self, method, path, params=None, body=None, deadline=None, what="流式回复"):
        """Send a request answered by server-sent events; an EventStream to iterate.

        An error answered before the stream starts (a JSON envelope) raises here; a refused
        access token is renewed once, as in call()."""
        def start():
            resp = self.open(method, path, params, body, accept="text/event-stream, application/json",
                             deadline=deadline)
            if resp.status < 400 and resp.is_event_stream:
                return _EventStream(resp)
            try:
                _envelope_of(resp, self.base_url)
            finally:
                resp.close()
            raise NetworkError("扣子没有返回%s:会自动重试" % what, logid=resp.logid)
        return self.with_fresh_auth(start)

    def call(self, method, path, params=None, body=None, content_type="application/json",
             deadline=None, retry=True, what="请求扣子"):
        """Request + envelope, with retries for network errors, 429/5xx and busy codes."""
        def once():
            resp = self.open(method, path, params, body, content_type, deadline=deadline)
            try:
                return _envelope_of(resp, self.base_url)
            finally:
                resp.close()

        def attempt():
            return self.with_fresh_auth(once)
        if not retry:
            return attempt()
        return _with_retries(attempt, what, deadline, self.retry)

    def with_fresh_auth(self, action):
        """Run `action()`. When the service refuses an exchanged access token (revoked, clock
        skew), exchange a new one and run `action()` once more; a second refusal is final."""
        try:
            return action()
        except AuthError as err:
            if not self.auth.renewable or err.code not in _REJECTED_TOKEN_CODES:
                raise
            _log("扣子不再接受当前的访问令牌(错误码 %s):重新换取令牌后再试一次" % err.code)
            self.auth.invalidate()
        try:
            return action()
        except AuthError as err:
            if err.code in _REJECTED_TOKEN_CODES:
                raise self.auth.still_rejected(err)
            raise

    def close(self):
        self.backend.close()

###############################################################################
# Sign-in: static token or OAuth JWT service app       (yingdao_module/auth.py)
###############################################################################
# Who we are to Coze: a static token, or an OAuth JWT service app (服务类应用).
#
# The transport asks its auth provider for the Authorization header of each request, and
# tells it when the service rejected that header. A static token (a PAT) is what it is. A
# service app signs a JWT with its private key and exchanges it for a short-lived access
# token: one token per (app, key, base URL) per process, shared by every thread and client,
# exchanged by one thread at a time while the others wait, and refreshed ahead of expiry so
# no request goes out with an expired token. The key, the JWT and the access token never
# appear in a log, an error or a repr.

_TOKEN_PATH = "/api/permission/oauth2/token"
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ACCESS_TOKEN_SECONDS = 3600  # the life we ask for (Coze allows up to 86399)
_JWT_SECONDS = 3600           # the JWT is used once; its exp only needs to cover clock skew
_REFRESH_EARLY = 60.0         # refresh this many seconds before the token expires ...
_SHORT_LIFE = 120.0           # ... or halfway through its life when it lives less than this
_EXCHANGE_DEADLINE = 60.0     # all attempts of one exchange (network retries included)
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_APP_PAGE_HINT = ("请在扣子开发者平台「OAuth 应用」页面核对:应用类型是「服务类应用」(JWT 授权),app_id 是该应用的 ID,"
                 "key_id 是该应用下公钥的指纹(公钥 ID),私钥与这个公钥是同一对;国内扣子的应用只能用 https://api.coze.cn,"
                 "国际版只能用 https://api.coze.com;另请确认电脑时间准确")


class _SignInTimeoutError(CozeTimeoutError):
    """The caller's deadline passed while signing in (the OAuth token exchange): no chat exists."""


class _ExchangeAttemptTimeout(NetworkError):
    """One attempt of a token exchange outlasted its own share of the time (EXCHANGE_DEADLINE / 2)
    while the caller's deadline still leaves time: retried like any network failure."""


def _sign_in_timeout(base_url, waited_for_other):
    how = "另一个线程正在换取访问令牌,等到 timeout 用完仍没有换到" if waited_for_other else \
        "扣子的令牌接口(%s%s)在 timeout 用完前没有回复" % (base_url, _TOKEN_PATH)
    return _SignInTimeoutError(
        "登录扣子超时:服务类应用用 JWT 换取访问令牌时%s。还没有创建对话,没有花钱。请检查:电脑能否访问 %s(网络、代理、防火墙),"
        "base_url 是否和应用所在的扣子一致(国内 https://api.coze.cn,国际版 https://api.coze.com);稍后重试,或把 timeout 调大。"
        "下次调用会重新换取" % (how, base_url))


class _StaticToken(object):
    """A personal (pat_) or service (sat_) access token: nothing to renew."""
    renewable = False

    def __init__(self, token):
        self._header = "Bearer " + token

    def authorization(self, transport, deadline=None):
        return self._header

    def invalidate(self):
        pass

    def __repr__(self):
        return "StaticToken(<隐藏>)"


class _JWTApp(object):
    """An OAuth service app: signs JWTs and keeps one fresh access token for everyone."""
    renewable = True

    def __init__(self, app_id, key_id, private_key, base_url):
        self.app_id, self.key_id, self.base_url = app_id, key_id, base_url
        self.audience = urllib.parse.urlsplit(base_url).netloc  # the API host, as cozepy sends it
        self._key = private_key
        self._lock = threading.Lock()
        self._token = None
        self._sent = threading.local()  # .token: the access token this thread last sent
        self._refresh_at = 0.0  # monotonic time after which _token is not used any more
        self._refused = None    # (monotonic time, AuthError) of the last refused exchange
        self.exchanges = 0

    def __repr__(self):
        return "JWTApp(app_id=%r, key_id=%r, base_url=%r, 私钥和令牌已隐藏)" % (self.app_id, self.key_id, self.base_url)

    def authorization(self, transport, deadline=None):
        """'Bearer <access token>', exchanging first when there is none or it is due. Each caller
        gives up at its own deadline, also while another thread's exchange holds the lock."""
        asked = time.monotonic()
        # one exchange at a time; the other threads wait (each until its own deadline) and reuse its token
        if not self._lock.acquire(timeout=-1 if deadline is None else max(0.0, deadline - asked)):
            raise _sign_in_timeout(self.base_url, waited_for_other=True)
        try:
            if self._refused is not None and self._refused[0] >= asked:
                raise self._refused[1]  # refused while this thread waited: asking again would be refused too
            if self._token is None or time.monotonic() >= self._refresh_at:
                try:
                    self._exchange(transport, deadline)
                except AuthError as err:
                    self._refused = (time.monotonic(), err)
                    raise
                except (CozeTimeoutError, _ExchangeAttemptTimeout):  # no token: the next call tries a fresh exchange
                    raise _sign_in_timeout(self.base_url, waited_for_other=False)
            self._sent.token = self._token
            return "Bearer " + self._token
        finally:
            self._lock.release()

    def invalidate(self):
        """This thread's last request was refused: drop the token it carried, unless another
        thread has already replaced it (then that newer token is the one to retry with)."""
        with self._lock:
            if self._token is not None and self._token == getattr(self._sent, "token", None):
                self._token = None

    def still_rejected(self, err):
        return AuthError("扣子拒绝了服务类应用换来的访问令牌,重新换取后仍被拒绝:确认这个 OAuth 应用已被授权访问智能体所在的空间,"
                         "并有对话、工作流、文件等权限(扣子原话:%s)" % err.message, code=err.code, logid=err.logid)

    # -- the exchange --------------------------------------------------------------------------
    def _exchange(self, transport, deadline=None):
        started = time.monotonic()
        end = started + _EXCHANGE_DEADLINE if deadline is None else min(deadline, started + _EXCHANGE_DEADLINE)
        body = json.dumps({"duration_seconds": _ACCESS_TOKEN_SECONDS, "grant_type": _JWT_GRANT}).encode("utf-8")

        def attempt():
            headers = {"Authorization": "Bearer " + self.signed_jwt(), "User-Agent": _USER_AGENT,
                       "Content-Type": "application/json", "Accept": "application/json"}
            try:
                resp = transport.backend.send("POST", self.base_url + _TOKEN_PATH, headers, body,
                                              min(end, time.monotonic() + _EXCHANGE_DEADLINE / 2))
                try:
                    return _token_answer(resp, self.base_url)
                finally:
                    resp.close()
            except CozeTimeoutError:
                if time.monotonic() >= end:
                    raise  # the caller's time is up: SignInTimeoutError
                raise _ExchangeAttemptTimeout("扣子的令牌接口 %d 秒没有回复这次换取:会自动重试" % (_EXCHANGE_DEADLINE / 2))

        token, expires_at = _with_retries(attempt, "换取扣子访问令牌", end, transport.max_retries)
        life = expires_at - time.time()  # expires_in is a unix timestamp, not a duration
        if life > _ACCESS_TOKEN_SECONDS + _REFRESH_EARLY:  # this clock is behind: never longer than asked
            life = _ACCESS_TOKEN_SECONDS
        elif life <= 0:  # this clock is ahead: the real life is unknown, so refresh soon
            _log("扣子访问令牌的到期时间早于本机时间(相差 %d 秒):请校准电脑时间" % int(-life))
            life = _SHORT_LIFE
        self._token = token
        self._refresh_at = started + (life - _REFRESH_EARLY if life >= _SHORT_LIFE else life / 2)
        self.exchanges += 1

    def signed_jwt(self):
        """A fresh RS256 JWT (new jti every time) for one token exchange."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        payload = {"iss": self.app_id, "aud": self.audience, "iat": now, "exp": now + _JWT_SECONDS,
                   "jti": os.urandom(16).hex()}
        signing_input = _b64url_json(header) + "." + _b64url_json(payload)
        return signing_input + "." + _b64url(self._key.sign_rs256(signing_input.encode("ascii")))


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_json(value):
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _token_answer(resp, base_url):
    """(access_token, expires_at) from the exchange's answer; the right CozeError otherwise."""
    body = _json_object_of(resp, base_url)
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    logid = resp.logid or detail.get("logid")
    code = body.get("code")
    if data.get("access_token") and code in (0, None, "0"):
        try:
            return str(data["access_token"]), float(data.get("expires_in"))
        except (TypeError, ValueError):
            raise NetworkError("换取访问令牌时扣子的回复缺少到期时间:会自动重试", logid=logid)
    if resp.status == 429 or resp.status >= 500 or code in (4009, 4020, 5000):
        err = _error_for_code(code, body.get("msg") or "", logid, base_url) if code else \
            _error_for_http_status(resp.status, logid, base_url, resp.headers.get("retry-after"))
        if err.retryable:
            raise err
    reason = body.get("error_message") or body.get("msg") or body.get("error_code") or body.get("error") or ""
    reason = _JWT_SHAPE.sub("<隐藏>", str(reason))[:300]
    where = "HTTP %s" % resp.status + ("、错误码 %s" % code if code not in (None, 0, "0") else "")
    raise AuthError("扣子拒绝了服务类应用的登录(JWT 换取访问令牌失败,%s,扣子原话:%s)。%s"
                    % (where, reason or "无", _APP_PAGE_HINT), logid=logid)


# ---- one JWTApp per (app, key, base URL) per process ---------------------------------------

_jwt_apps = {}
_jwt_apps_lock = threading.Lock()


def _jwt_app_for(app_id, key_id, private_key, base_url):
    """The process-wide JWTApp for these settings (the cache key holds a hash, never the key)."""
    cache_key = (app_id, key_id, private_key.fingerprint, base_url)
    with _jwt_apps_lock:
        app = _jwt_apps.get(cache_key)
        if app is None:
            app = _jwt_apps[cache_key] = _JWTApp(app_id, key_id, private_key, base_url)
        return app


def _auth_for(settings):
    """The auth provider for resolved Settings: the service app when configured, else the token."""
    if settings.app is not None:
        app_id, key_id, private_key = settings.app
        return _jwt_app_for(app_id, key_id, private_key, settings.base_url)
    return _StaticToken(settings.token)

###############################################################################
# Files                                               (yingdao_module/files.py)
###############################################################################
# Files: upload a local file, and put files next to a question in a chat message.

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic")
_MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # Coze's documented upload limit


def _multipart_body(path):
    """(body bytes, content type) for a multipart/form-data upload of one file, field `file`."""
    import mimetypes  # on first use: importing the module stays fast
    import uuid  # on first use: importing the module stays fast
    try:
        size = os.path.getsize(path)
        if size > _MAX_UPLOAD_BYTES:
            raise InputError("文件太大(%.0f MB):扣子单个文件最大 512 MB:%s" % (size / 1048576.0, path))
        with open(path, "rb") as handle:
            content = handle.read()
    except (IOError, OSError):
        raise InputError("读不到文件:%s(检查路径和权限,文件是否被其他程序占用)" % path)
    boundary = "----yingdaoCoze" + uuid.uuid4().hex
    name = os.path.basename(path).replace('"', "_")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    head = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
            % (boundary, name, mime)).encode("utf-8")
    tail = ("\r\n--%s--\r\n" % boundary).encode("ascii")
    return head + content + tail, "multipart/form-data; boundary=" + boundary


def _upload(transport, path, deadline=None):
    """Upload one file; returns its Coze file id."""
    body, content_type = _multipart_body(path)
    envelope = transport.call("POST", "/v1/files/upload", body=body, content_type=content_type,
                              deadline=deadline, what="上传文件")
    return _id_of(envelope, "上传文件")


def _message_with_files(question, file_refs):
    """A user message; with files it becomes an object_string list of text + file parts.

    `file_refs` is a list of (file_id, file_name_or_None).
    """
    if not file_refs:
        return {"role": "user", "type": "question", "content": question, "content_type": "text"}
    parts = [{"type": "text", "text": question}]
    for file_id, name in file_refs:
        if isinstance(file_id, dict):  # a part made by the caller (batch files: an image by id or URL)
            parts.append(file_id)
            continue
        is_image = bool(name) and name.lower().endswith(_IMAGE_EXTENSIONS)
        parts.append({"type": "image" if is_image else "file", "file_id": file_id})
    return {"role": "user", "type": "question", "content": json.dumps(parts, ensure_ascii=False),
            "content_type": "object_string"}

###############################################################################
# When to check a non-stream chat                   (yingdao_module/polling.py)
###############################################################################
# When to ask a non-stream chat for its status: never more often than the official SDK, at better moments.
#
# The official SDK (cozepy `create_and_poll`) checks once a second, so a chat that ends after
# t seconds costs it ceil(t) checks and reaches the caller up to a second late. Here the k-th
# check never comes earlier than k seconds after the chat was created, so no chat ever costs
# more checks than with the SDK, whatever its length. Within that budget the checks go where
# the same bot's recent chats ended (CompletionClock): a bot whose chats take 2.5 s is checked
# once, just after 2.5 s, instead of at 1, 2 and 3 s.

_POLL_PACE = 1.0      # the official SDK checks once a second: the k-th check waits for k x this
_POLL_FIRST = 0.1     # once the expected moments have passed (or after a stream cut), the gap between
_POLL_GROWTH = 1.5    # checks starts here and grows by this factor ...
_POLL_MAX = 1.0       # ... up to once a second
_POLL_SETTLED = 0.1   # a completion time known this precisely (seconds) is not probed any further
_POLL_MARGIN = 0.02   # a check this long after the known end catches a chat a little late (jitter)


class _PollPlan(object):
    """The status checks of one chat, as offsets in seconds from its creation.

    `expected`: increasing offsets at which the chat is likely to have ended; after them the
    gaps grow from POLL_FIRST to POLL_MAX. `budget`: the k-th check waits for k seconds (the
    SDK's pace, POLL_PACE); off when recovering a chat whose stream broke, where no SDK call compares.
    """

    def __init__(self, expected=(), budget=True):
        self.expected = list(expected)
        self.budget = budget
        self.checks = 0
        self.gap = _POLL_FIRST

    def next_check(self, now):
        """The offset of the next check, `now` being the current offset (the previous check is done)."""
        self.checks += 1
        if self.expected:
            wanted = self.expected.pop(0)
        else:
            wanted = now + self.gap
            self.gap = min(_POLL_MAX, self.gap * _POLL_GROWTH)
        earliest = self.checks * _POLL_PACE if self.budget else 0.0
        return max(wanted, earliest, now)


class _CompletionClock(object):
    """When one bot's chats end, learnt from its recent chats: after `low`, by `high` seconds.

    Each polled chat narrows (low, high]: it was still running at one check and done at the
    next. While the window is wide, the next chat is first checked a quarter of the way below
    `high` (a probe that may find it done earlier); once it is narrow, checked just after `high`.
    A chat outside the window (the bot got faster or slower) starts a new window.
    """

    def __init__(self):
        self.low, self.high = 0.0, None
        self._lock = threading.Lock()  # a batch shares one Client between threads

    def expected(self):
        """Offsets at which to check the next chat (see PollPlan); none before the first chat."""
        with self._lock:
            low, high = self.low, self.high
        if high is None:
            return []
        if high - low > _POLL_SETTLED:
            return [high - (high - low) / 4.0, high]
        if high + _POLL_MARGIN >= 2 * _POLL_PACE:  # a second check may follow at once: first try `high` itself
            return [high, high + _POLL_MARGIN]
        return [high + _POLL_MARGIN]  # one check only before the SDK's second: make it a sure one

    def learn(self, running, done, server_bound=None):
        """A chat was still running at offset `running` and done at offset `done`. `server_bound`
        (completed_at - created_at + 1, whole seconds from the service) also bounds its length:
        it is how a bot that became much faster shows when its first check already finds it done."""
        if server_bound is not None and running < server_bound < done:
            done = server_bound
        with self._lock:
            if self.high is None or done <= self.low or running >= self.high:
                # the first chat, or one outside the window: a new window, wide enough to probe again
                self.low, self.high = min(running, done - 2 * _POLL_SETTLED), done
            else:
                self.low, self.high = max(self.low, running), min(self.high, done)


def _server_length_bound(chat):
    """Seconds a finished chat surely took less than, from the service's own whole-second
    created_at / completed_at (no clock of ours involved); None when they are missing."""
    try:
        return float(int(chat["completed_at"]) - int(chat["created_at"]) + 1)
    except (KeyError, TypeError, ValueError):
        return None

###############################################################################
# The flows of the ShadowBot app (package.json)   (yingdao_module/app_flows.py)
###############################################################################
# The flows of the ShadowBot app this module is pasted into, read from the app's package.json.
#
# A ShadowBot app is a Python package: the pasted module is `<app>.<module>` and sits in the
# app folder beside `package.json`, whose `flows` list every flow as
# {"name": shown name, "filename": module file, "kind": "Visual" | "Code"}. The code ShadowBot
# generates runs a sub-flow by its file name (`xbot_visual.process.run(process="process5",
# package=__name__, ...)`); renaming a flow changes only its shown name. Users type the shown
# name, so a sub-flow named in `tools` is resolved here, before any chat is paid for.

_APP_MANIFEST = "package.json"


def _app_location():
    """(this module's import name, its folder): what process.run's `package` needs and where
    the app's package.json is."""
    try:
        folder = os.path.dirname(os.path.abspath(__file__))
    except NameError:  # a module without a file (pasted into an interpreter)
        folder = ""
    return __name__, folder


def _app_flows(folder):
    """[(shown name, file name)] of the app in `folder`, or None when `folder` holds no
    package.json (not an app folder)."""
    path = os.path.join(folder, _APP_MANIFEST) if folder else ""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InputError("读不懂影刀应用的 %s(%s):%s。请在影刀里打开一次这个应用,让它重新保存" % (_APP_MANIFEST, path, exc))
    flows = manifest.get("flows") if isinstance(manifest, dict) else None
    return [(str(flow.get("name") or ""), str(flow["filename"])) for flow in (flows or [])
            if isinstance(flow, dict) and isinstance(flow.get("filename"), str) and flow["filename"].strip()]


def _subflow_file(tool, given):
    """The file name ShadowBot's process.run needs for the sub-flow `given` (its shown name or
    its file name); a name that is no flow of the app is refused with the app's flows listed."""
    flows = _app_flows(_app_location()[1])
    if flows is None:
        _log("没有找到影刀应用的 %s,按原样运行子流程「%s」(它应该是流程的文件名,例如 process5)" % (_APP_MANIFEST, given))
        return given
    for shown, filename in flows:  # the shown name first: it is what users see and type
        if given == shown:
            return filename
    for shown, filename in flows:
        if given == filename:
            return filename
    listing = ";".join("「%s」→ %s" % (shown, filename) for shown, filename in flows) or "(没有流程)"
    raise InputError("tools 里工具「%s」的子流程「%s」不是这个影刀应用里的流程。请填流程列表里显示的名字(或它的文件名)。"
                     "应用里的流程(显示名 → 文件名):%s(还没有调用扣子,没有花钱)" % (tool, given, listing))

###############################################################################
# Local tools (端插件)                                (yingdao_module/tools.py)
###############################################################################
# Local tools (端插件): a bot calls a tool that runs on the caller's side; the chat stops in
# `requires_action` until each call gets an output.
#
#     ask("螺丝还有多少?", tools={"查询库存": lambda question: "42 个"})
#     ask("螺丝还有多少?", tools={"查询库存": "查询库存"})         # a ShadowBot sub-flow, by its shown name
#     batch(..., tools='{"查询库存": "stock:query"}')               # module:function (command line)
#
# A handler is a Python callable, called with the tool's JSON arguments as keyword arguments
# (its result is submitted as is when it is text, as JSON otherwise), or the name of a ShadowBot
# sub-flow (the name shown in the flow list, or its file name), run with xbot_visual.process.run
# under its file name (app_flows.py reads package.json): the arguments are its inputs and its output
# parameter `output` is the result. Text shaped "module:function" names a Python function to
# import (how the command line, which takes JSON text, passes one). Such a chat cannot be cancelled, so every call must
# be
# answered: a handler that raises, or a tool without a handler, gets an error text as its
# output (and a log line), and the bot decides how to go on.

_MAX_TOOL_ROUNDS = 10      # a bot asking for tools more often than this is stopped
_SUBFLOW_OUTPUT = "output"  # the output parameter a sub-flow serving a tool must have
_PYTHON_FUNCTION = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")  # "module:function"


def _in_shadowbot():
    try:
        import xbot_visual  # noqa: F401  (only inside ShadowBot)
    except ImportError:
        return False
    return True


def _clean_tools(tools):
    """{tool name: handler} from a dict or (from ShadowBot) JSON text {"工具名": "子流程名"}."""
    if tools is None or (isinstance(tools, str) and not tools.strip()):
        return {}
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            tools = None
    if not isinstance(tools, dict):
        raise InputError('tools 应该是字典 {"工具名": 处理函数或影刀子流程名},或这样的 JSON 文本,'
                         '例如 {"查询库存": "查询库存"}')
    return dict((str(name), _clean_handler(name, handler)) for name, handler in tools.items())


def _clean_handler(name, handler):
    """A callable, or the name of a ShadowBot sub-flow (only inside ShadowBot)."""
    import importlib  # on first use: importing the module stays fast
    if callable(handler):
        return handler
    if not isinstance(handler, str) or not handler.strip():
        raise InputError("tools 里工具「%s」的处理方式应该是 Python 函数或影刀子流程名,现在是 %r" % (name, handler))
    handler = handler.strip()
    function = _PYTHON_FUNCTION.match(handler)
    if function:
        try:
            return getattr(importlib.import_module(function.group(1)), function.group(2))
        except (ImportError, AttributeError) as exc:
            raise InputError("tools 里工具「%s」的函数「%s」找不到(%s):写成 模块名:函数名,模块要在当前目录或 Python 路径里"
                             % (name, handler, exc))
    if not _in_shadowbot():
        raise InputError("tools 里工具「%s」写的是影刀子流程「%s」:子流程只能在影刀里运行;在影刀外请传 Python 函数"
                         "(命令行里写成 模块名:函数名)" % (name, handler))
    return _subflow_file(name, handler)


def _tool_outputs(required_action, tools, calls_made):
    """The tool_outputs answering every call of a `required_action`; each call is appended to
    `calls_made` as {name, arguments, output}."""
    calls = ((required_action or {}).get("submit_tool_outputs") or {}).get("tool_calls") or []
    outputs = []
    for call in calls:
        function = call.get("function") or {}
        name, arguments = function.get("name") or "", function.get("arguments") or ""
        output = _run_tool(name, arguments, tools)
        calls_made.append({"name": name, "arguments": arguments, "output": output})
        outputs.append({"tool_call_id": call.get("id"), "output": output})
    return outputs


def _run_tool(name, arguments, tools):
    """The output text of one tool call; a failure becomes an error text (logged)."""
    handler = tools.get(name)
    if handler is None:
        return _tool_failed(name, "调用方没有提供这个工具(在 tools 参数里加上「%s」)" % name)
    try:
        kwargs = json.loads(arguments) if arguments.strip() else {}
        if not isinstance(kwargs, dict):
            raise ValueError("工具参数不是 JSON 对象:%s" % arguments[:200])
        result = _run_subflow(handler, kwargs) if isinstance(handler, str) else handler(**kwargs)
    except Exception as exc:
        return _tool_failed(name, "%s: %s" % (type(exc).__name__, exc))
    if result is None:
        return ""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def _tool_failed(name, why):
    _log("本地工具「%s」没有运行成功:%s;已把这条错误作为工具结果交给智能体(这种对话不能取消)" % (name, why))
    return "工具「%s」运行失败:%s" % (name, why)


def _run_subflow(process, inputs):
    """Run a ShadowBot sub-flow (its file name) with the tool's arguments as inputs, as the code
    ShadowBot generates does (`package` is the calling module's name); its `output` is the result."""
    try:
        import xbot_visual
    except ImportError:
        raise CozeError("影刀子流程「%s」只能在影刀里运行" % process)
    result = xbot_visual.process.run(process=process, package=_app_location()[0], inputs=inputs,
                                     outputs=[_SUBFLOW_OUTPUT])
    if isinstance(result, dict):
        return result.get(_SUBFLOW_OUTPUT)
    return getattr(result, _SUBFLOW_OUTPUT, result)

###############################################################################
# What a chat has told us (ChatState)            (yingdao_module/chat_state.py)
###############################################################################
# ChatState: what one chat has told us so far, from stream events or from polling (its answer,
# reasoning, follow-ups, usage, tool calls), and the two signals a chat in flight raises.

class _ChatState(object):
    """What one chat has told us so far, from stream events or from polling."""

    def __init__(self, conversation_id=None, on_created=None):
        self.on_created = on_created  # called once with (chat_id, conversation_id) when the chat exists
        self.chat_id = None
        self.conversation_id = conversation_id
        self.status = None
        self.usage = {}
        self.last_error = None
        self.logid = None
        self.canceled = False      # a cancel was already sent
        self._answer_ids = []      # answer message ids in order of appearance
        self._deltas = {}          # message id -> [delta text, ...] (joined once: += would copy it all each time)
        self._completed = {}       # message id -> full text of the completed message
        self._reasoning_parts = []  # reasoning deltas, joined once
        self._reasoning_done = {}  # message id -> reasoning of the completed message
        self.follow_ups = []
        self.required_action = None  # the local tool calls the chat waits for
        self.tool_calls = []         # [{name, arguments, output}] answered so far

    # -- feeding --------------------------------------------------------------------------
    def take_chat(self, chat):
        chat = self._expect_object(chat, "对话状态")
        created = self.chat_id is None and chat.get("id")
        self.chat_id = chat.get("id") or self.chat_id
        self.conversation_id = chat.get("conversation_id") or self.conversation_id
        self.status = chat.get("status") or self.status
        if isinstance(chat.get("usage"), dict):
            self.usage = chat["usage"]
        last_error = chat.get("last_error")
        if isinstance(last_error, dict) and (last_error.get("code") or 0) != 0:
            self.last_error = last_error
        if created and self.on_created:
            self.on_created(self.chat_id, self.conversation_id)
        if isinstance(chat.get("required_action"), dict):
            self.required_action = chat["required_action"]

    def take_message(self, message, completed):
        message = self._expect_object(message, "消息")
        kind = message.get("type")
        msg_id = message.get("id") or "answer"
        if kind == "answer":
            if msg_id not in self._answer_ids:
                self._answer_ids.append(msg_id)
            if completed:
                self._completed[msg_id] = message.get("content") or ""
                if message.get("reasoning_content"):
                    self._reasoning_done[msg_id] = message["reasoning_content"]
            else:
                self._deltas.setdefault(msg_id, []).append(message.get("content") or "")
                self._reasoning_parts.append(message.get("reasoning_content") or "")
        elif kind == "follow_up" and completed and message.get("content"):
            self.follow_ups.append(message["content"])

    def take_message_list(self, messages):
        if not isinstance(messages, list):
            raise _BadResponseError("扣子返回的消息列表格式不对(应为列表,实际是 %s):请稍后重试,反复出现请把 logid 发给扣子客服"
                                   % type(messages).__name__, logid=self.logid, chat_id=self.chat_id,
                                   conversation_id=self.conversation_id)
        self._answer_ids, self._deltas, self._completed, self.follow_ups = [], {}, {}, []
        self._reasoning_done = {}
        for message in messages:
            message = self._expect_object(message, "消息")
            if message.get("role", "assistant") == "assistant":
                self.take_message(message, completed=True)

    def _expect_object(self, value, what):
        """`value` when it is a JSON object; a wrong shape must never pass as an empty answer."""
        if isinstance(value, dict):
            return value
        shown = "null" if value is None else type(value).__name__
        raise _BadResponseError("扣子返回的%s格式不对(应为 JSON 对象,实际是 %s):请稍后重试,反复出现请把 logid 发给扣子客服"
                               % (what, shown), logid=self.logid, chat_id=self.chat_id,
                               conversation_id=self.conversation_id)

    # -- results --------------------------------------------------------------------------
    @property
    def answer(self):
        # the completed message is authoritative; deltas only fill in what never completed
        return "\n".join(self._completed[i] if i in self._completed else "".join(self._deltas.get(i, ()))
                         for i in self._answer_ids)

    @property
    def reasoning(self):
        return "".join(self._reasoning_parts)

    def result(self, started):
        reasoning = "".join(self._reasoning_done.get(i, "") for i in self._answer_ids) or self.reasoning
        usage = self.usage or {}
        return {
            "answer": self.answer,
            "conversation_id": self.conversation_id,
            "chat_id": self.chat_id,
            "usage": {"token_count": int(usage.get("token_count") or 0),
                      "input_count": int(usage.get("input_count") or 0),
                      "output_count": int(usage.get("output_count") or 0)},
            "follow_ups": list(self.follow_ups),
            "reasoning": reasoning,
            "logid": self.logid,
            "tool_calls": list(self.tool_calls),
            "elapsed": 0.0 if started is None else round(time.monotonic() - started, 3),
        }

    def failure(self, base_url):
        """The error a failed chat carries; its last_error is never hidden."""
        error = self.last_error or {}
        code = error.get("code") or 5000
        err = _error_for_code(code, error.get("msg") or "", self.logid, base_url, self.chat_id, self.conversation_id)
        err = type(err)("对话失败:" + err.message, err.code, err.logid, err.chat_id, err.conversation_id)
        err.retryable = False  # the chat ran and was billed; asking again is the caller's choice
        err.failed_chat = True
        return err.without_retry_promise()


class _StreamCut(Exception):
    """The event stream ended before the chat did (network cut, proxy timeout)."""


class _ToolCallsPending(Exception):
    """The chat stopped in requires_action: local tools must answer before it goes on."""

###############################################################################
# What a chat sends (bots and chatflows)       (yingdao_module/chat_request.py)
###############################################################################
# What one chat sends, built in one place: the path, query parameters and body for a bot
# (/v3/chat) or a chatflow (对话流, /v1/workflows/chat), from inputs already checked.

class _ChatRequest(object):
    """path, params (query, or None), body (a dict sent as JSON) and whether the answer streams."""

    def __init__(self, path, params, body, stream):
        self.path, self.params, self.body, self.stream = path, params, body, stream


def _chat_request(message, bot_id, user_id, conversation_id=None, custom_variables=None, stream=True,
                 workflow_id=None, parameters=None):
    """The ChatRequest asking `message` (an additional message). A chatflow streams only and takes
    its conversation id (and optional bot id) in the body; a bot takes the conversation id as a query
    parameter."""
    if workflow_id:
        body = {"workflow_id": workflow_id, "additional_messages": [message], "parameters": parameters}
        for name, value in (("conversation_id", conversation_id), ("bot_id", bot_id)):
            if value:
                body[name] = value
        return _ChatRequest("/v1/workflows/chat", None, body, True)
    body = {"bot_id": bot_id, "user_id": user_id, "stream": stream, "auto_save_history": True,
            "additional_messages": [message]}
    if custom_variables:
        body["custom_variables"] = custom_variables
    params = {"conversation_id": conversation_id} if conversation_id else None
    return _ChatRequest("/v3/chat", params, body, stream)

###############################################################################
# A chat found in its conversation                (yingdao_module/chat_find.py)
###############################################################################
# Finding a chat in its conversation, where no chat id ever reached us: a stream cut (or a lost
# connection) before conversation.chat.created, or a batch killed between creating a row's conversation
# and hearing of its chat. The conversation's message list shows each chat's user question, with its
# chat_id, from the moment the chat exists, so a chat that may exist is looked for (unpaid) before a
# question is paid for again.

_LOOK_LIMIT = 20  # newest messages looked at: a chat shows its question and a few answer messages
_CLOCK_SLACK = 5  # seconds Coze's clock may run behind ours when created_at is compared


def _sent_text(message):
    """The text of a user message: its content, or the text parts of an object_string list."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or message.get("content_type") != "object_string":
        return content if isinstance(content, str) else ""
    try:
        parts = json.loads(content)
    except ValueError:
        return content
    if not isinstance(parts, list):
        return content
    return "".join(part.get("text") or "" for part in parts if isinstance(part, dict) and part.get("type") == "text")


def _recent_messages(transport, conversation_id, deadline):
    """The newest LOOK_LIMIT messages of a conversation, newest first."""
    envelope = transport.call("POST", "/v1/conversation/message/list", {"conversation_id": conversation_id},
                              {"order": "desc", "limit": _LOOK_LIMIT}, deadline=deadline, what="读取会话消息")
    data = envelope.get("data")
    if not isinstance(data, list):
        raise _BadResponseError("扣子返回的会话消息列表格式不对(应为列表):请稍后重试,反复出现请把 logid 发给扣子客服",
                               logid=envelope.get("logid"), conversation_id=conversation_id)
    return [message for message in data if isinstance(message, dict)]


def _asked(messages, since=None):
    """[(chat_id, question text)] of the user questions, newest first; with `since` (a Unix time) only
    chats created after it (less the clock slack) that had not answered before it."""
    answered_before = set()
    if since is not None:
        answered_before = set(str(m.get("chat_id")) for m in messages
                              if m.get("role") == "assistant" and _seconds(m) < int(since))
    found = []
    for message in messages:
        if message.get("role") != "user" or message.get("type", "question") != "question":
            continue
        chat_id = str(message.get("chat_id") or "")
        if not chat_id or chat_id in answered_before or (
                since is not None and _seconds(message) < int(since) - _CLOCK_SLACK):
            continue
        found.append((chat_id, _sent_text(message)))
    return found


def _seconds(message):
    try:
        return int(message.get("created_at") or 0)
    except (TypeError, ValueError):
        return 0


def _find_asked(transport, conversation_id, question, deadline, since=None):
    """The id of the newest chat that asked `question` in the conversation, or None.

    With `since` (when the request was sent) only chats created after it count: a conversation a
    caller passed may hold the same question asked before. Without it the conversation is the row's
    own: a question there that is not `question` means a chat we cannot tell is ours (APIError,
    never paid again)."""
    questions = _asked(_recent_messages(transport, conversation_id, deadline), since)
    for chat_id, text in questions:
        if text == question:
            return chat_id
    if questions and since is None:
        raise APIError("这一行的会话 %s 里已经有一次对话,但问的不是这一行的问题,认不出是不是这一行付过费的那次:"
                       "为免重复付费没有重问。请在扣子里查看这个会话;确认后用 --retry-failed(影刀里 retry_failed 填 是)重问"
                       % conversation_id, conversation_id=conversation_id)
    return None

###############################################################################
# One chat in flight: stream, poll, tools, cancel  (yingdao_module/chat_run.py)
###############################################################################
# ChatRun: one chat in flight, from the request to its end, within one deadline.
#
# Streaming costs one request and returns at conversation.chat.completed; if the stream breaks after
# the chat was created, the same chat is recovered with retrieve + message list (a new chat would be
# paid for twice); if it breaks before, a known conversation is searched for the chat first (chat_find.py).
# Polling checks the status no more often than the official SDK, at the moments the bot's recent chats
# ended (polling.py). Local tool calls are answered until the chat ends; at the
# deadline the chat is cancelled and CozeTimeoutError names it.

_CANCEL_TIMEOUT = 1.0  # best effort, and short: a timeout must be reported about when it is due
_FINAL_STATUSES = ("completed", "failed", "canceled", "requires_action")


def _cancel_chat(transport, conversation_id, chat_id):
    """Cancel a running chat (so it stops costing tokens)."""
    return transport.call("POST", "/v3/chat/cancel", body={"conversation_id": conversation_id, "chat_id": chat_id},
                          deadline=time.monotonic() + _CANCEL_TIMEOUT, retry=False, what="取消对话")


def _create_or_find(transport, send, body, params, state, deadline):
    """send() the chat request with retries; False when it went through. True when the chat is known
    but not followed: a stream cut after its creation, or a chat a lost attempt created, found in the
    known conversation before a retry (so it is followed, not paid again). Without a known conversation
    nothing can be looked up: the request is sent again (the only way to an answer)."""
    conversation = (params or {}).get("conversation_id") or body.get("conversation_id")
    question = _sent_text((body.get("additional_messages") or [None])[-1])
    sent = []

    def attempt():
        if sent and conversation and not state.chat_id:
            chat_id = _find_asked(transport, conversation, question, deadline, since=sent[0])
            if chat_id:
                _log("提问的回复在对话创建前中断,但会话里已有这次对话 %s:找回它,不再重新提问" % chat_id)
                state.take_chat({"id": chat_id, "conversation_id": conversation})
                raise _StreamCut()
        sent.append(time.time())
        send()

    try:
        _with_retries(attempt, "提问", deadline, transport.retry)
    except _StreamCut:
        return True
    return False


class _ChatRun(object):
    """Follows one chat (`state`, a ChatState) for a Client: its transport, and the completion
    clocks (bot_id -> CompletionClock) the Client keeps across chats."""

    def __init__(self, transport, state, deadline, clocks, tools=None):
        self.transport = transport
        self.base_url = transport.base_url
        self.state = state
        self.deadline = deadline
        self.clocks = clocks
        self.tools = tools

    def ask(self, request):
        """Send `request` (a ChatRequest) and follow the chat to its end; Ctrl-C or the deadline
        cancels it (a timeout then names the chat)."""
        def start():
            if request.stream:
                self._chat_streaming(request.body, request.params, self.state, self.deadline, request.path)
            else:
                self._chat_polling(request.body, request.params, self.state, self.deadline)
        try:
            self.follow(start)
        except KeyboardInterrupt:
            self._cancel_quietly(self.state)  # the user stopped the flow: do not leave a paid chat running
            raise
        except CozeTimeoutError as err:  # from any read past the deadline: stop the chat, name it
            if isinstance(err, _SignInTimeoutError) and not self.state.chat_id:
                raise  # signing in took the time: no chat exists to cancel
            self._cancel_quietly(self.state)
            raise self._timeout(self.state)

    def recover(self):
        """Follow a chat created earlier (state.chat_id set) until it ends."""
        self.follow(lambda: self._wait_until_done(self.state, self.deadline))

    def follow(self, start):
        """start() (create or find the chat and follow it), then answer the local tool calls it
        stops for until it ends; a bounded number of rounds."""
        rounds = 0
        while True:
            try:
                return start() if rounds == 0 else self._wait_until_done(self.state, self.deadline)
            except _ToolCallsPending:
                rounds += 1
                self._submit_tool_outputs(self.state, self.tools, rounds, self.deadline)

    # -- streaming ------------------------------------------------------------------------------
    def _chat_streaming(self, body, params, state, deadline, path="/v3/chat"):
        def create_and_read():
            with self.transport.open_stream("POST", path, params, body, deadline=deadline) as events:
                state.logid = events.logid
                try:
                    self._read_stream(events, state)
                except (NetworkError, _BadResponseError, _StreamCut):
                    if state.chat_id:  # the chat exists and is paid for: recover it, never re-create
                        raise _StreamCut()
                    raise NetworkError("流式回复在对话创建前中断:会自动重试", logid=events.logid)

        if _create_or_find(self.transport, create_and_read, body, params, state, deadline):
            self._wait_until_done(state, deadline)

    def _read_stream(self, events, state):
        """Follow the chat's events; return at conversation.chat.completed without reading on."""
        for event, data in events:
            if event in ("conversation.chat.created", "conversation.chat.in_progress"):
                state.take_chat(data)
            elif event == "conversation.message.delta":
                state.take_message(data, completed=False)
            elif event == "conversation.message.completed":
                state.take_message(data, completed=True)
            elif event == "conversation.chat.completed":
                state.take_chat(data)
                state.status = "completed"
                return
            elif event == "conversation.chat.failed":
                state.take_chat(data)
                raise state.failure(self.base_url)
            elif event == "conversation.chat.requires_action":
                state.take_chat(data)
                raise _ToolCallsPending()
            elif event == "error":
                data = data if isinstance(data, dict) else {}
                err = _error_for_code(data.get("code") or 5000, data.get("msg") or "", state.logid,
                                     self.base_url, state.chat_id, state.conversation_id)
                if state.chat_id:
                    err.retryable = False  # a chat exists: a retry would pay for a second one
                raise err
            elif event == "done":
                break
        raise _StreamCut()  # the stream ended without conversation.chat.completed

    # -- polling ----------------------------------------------------------------------------------
    def _chat_polling(self, body, params, state, deadline):
        clock = self.clocks.setdefault(body["bot_id"], _CompletionClock())

        def send():
            envelope = self.transport.call("POST", "/v3/chat", params, body, deadline=deadline, retry=False,
                                           what="提问")
            state.logid = envelope.get("logid")
            state.take_chat(envelope.get("data"))
        if _create_or_find(self.transport, send, body, params, state, deadline):
            return self._wait_until_done(state, deadline)  # found after a lost answer: no polling plan
        created = time.monotonic()  # the SDK starts its once-a-second checks here too
        self._wait_until_done(state, deadline, _PollPlan(clock.expected()), created, clock)

    def _wait_until_done(self, state, deadline, plan=None, created=None, clock=None):
        """Check the chat's status as `plan` says (after a stream cut: soon, then backing off),
        tell `clock` when it ended, then fetch its messages."""
        plan = plan or _PollPlan(budget=False)
        created = time.monotonic() if created is None else created
        query = {"conversation_id": state.conversation_id, "chat_id": state.chat_id}
        running = 0.0  # offset of the last check that found the chat running
        while state.status not in _FINAL_STATUSES:
            now = time.monotonic()
            check_at = created + plan.next_check(now - created)
            if check_at >= deadline:
                self._cancel_quietly(state)
                raise self._timeout(state)
            time.sleep(check_at - now)
            sent = time.monotonic() - created
            try:
                envelope = self.transport.call("GET", "/v3/chat/retrieve", query, deadline=deadline,
                                               what="查询对话状态")
            except CozeError as err:
                if not err.retryable:
                    raise
                continue  # retries were used up; keep polling until the deadline
            state.take_chat(envelope.get("data"))
            if state.status not in _FINAL_STATUSES:
                running = sent
            elif state.status == "completed" and clock is not None:
                clock.learn(running, sent, _server_length_bound(envelope.get("data") or {}))
        if state.status == "failed":
            raise state.failure(self.base_url)
        if state.status == "canceled":
            raise APIError("对话已被取消", code=None, logid=state.logid, chat_id=state.chat_id,
                           conversation_id=state.conversation_id)
        if state.status == "requires_action":
            raise _ToolCallsPending()
        envelope = self.transport.call("GET", "/v3/chat/message/list", query, deadline=deadline + 30,
                                       what="读取回答")
        state.take_message_list(envelope.get("data"))

    # -- endings --------------------------------------------------------------------------------------
    def _cancel_quietly(self, state):
        if state.chat_id and state.conversation_id and not state.canceled:
            state.canceled = True
            try:
                _cancel_chat(self.transport, state.conversation_id, state.chat_id)
            except Exception:
                pass  # best effort: the chat may have just finished

    def _timeout(self, state):
        return CozeTimeoutError(
            "等待扣子回答超时(超过 timeout 设定的秒数),已取消这次对话:可把 timeout 调大,或让智能体回答短一些",
            logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)

    # -- local tools ------------------------------------------------------------------------------------
    def _submit_tool_outputs(self, state, tools, rounds, deadline):
        """Answer the chat's tool calls (it cannot be cancelled: it must be answered to end)."""
        if rounds > _MAX_TOOL_ROUNDS:
            raise APIError("智能体连续 %d 轮调用本地工具仍没有结束,已停止:检查工具的结果是否是智能体要的内容"
                           "(这次对话停在等待工具结果,扣子不允许取消,会在扣子那边超时结束)" % _MAX_TOOL_ROUNDS,
                           logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)
        outputs = _tool_outputs(state.required_action, tools, state.tool_calls)
        state.required_action = None
        if not outputs:
            raise APIError("智能体要求调用本地工具(requires_action),但没有说要调用哪个工具:请检查智能体的端插件设置",
                           logid=state.logid, chat_id=state.chat_id, conversation_id=state.conversation_id)
        query = {"conversation_id": state.conversation_id, "chat_id": state.chat_id}
        try:
            self.transport.call("POST", "/v3/chat/submit_tool_outputs", query,
                                {"tool_outputs": outputs, "stream": False}, deadline=deadline,
                                what="提交本地工具结果")
        except CozeError as err:  # the chat's status (polled next) says whether it went through
            _log("提交本地工具结果时出错:%s;继续查询对话状态" % err)
        state.status = None

###############################################################################
# Chat client                                        (yingdao_module/client.py)
###############################################################################
# Client: resolved settings and one transport; its calls check their inputs, then hand the work on.
#
# A chat's request is built in chat_request.py and followed to its end in chat_run.py (streaming,
# recovery after a cut, polling, local tools, cancel at the deadline); workflows in workflow.py.

class Client(object):
    """A connection to Coze with resolved settings; reuse it for many calls.

    >>> client = Client(token="pat_...", bot_id="7xxxxxxxxxxxxxxxxxx")
    >>> client.ask("你好")

    A robot that runs for months should sign in with an OAuth service app instead of a
    token (a PAT expires within 30 days): Client(app_id=..., key_id=..., private_key=...).
    """

    def __init__(self, token=None, bot_id=None, base_url=None, user_id=None, timeout=_DEFAULT_TIMEOUT,
                 max_retries=None, backend=None, app_id=None, key_id=None, private_key=None, before_request=None):
        self.settings = _Settings(token=token, bot_id=bot_id, base_url=base_url, user_id=user_id,
                                 app_id=app_id, key_id=key_id, private_key=private_key)
        self.timeout = _clean_timeout(timeout)
        self.transport = _Transport(self.settings.base_url, _auth_for(self.settings), backend, max_retries,
                                   before_request)
        self._completion_clocks = {}  # bot_id -> CompletionClock: when its chats end, for polling

    def __repr__(self):
        return "Client(base_url=%r, bot_id=%r, token=<隐藏>)" % (self.settings.base_url, self.settings.bot_id)

    def close(self):
        """Close pooled connections (the client stays usable: they reopen on demand)."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def base_url(self):
        return self.settings.base_url

    # -- public calls -------------------------------------------------------------------------
    def ask(self, question, **kwargs):
        """The answer text, like ShadowBot's AI大语言模型 block."""
        return self.chat(question, **kwargs)["answer"]

    def chat(self, question, conversation_id=None, custom_variables=None, files=None, stream=True,
             timeout=None, bot_id=None, user_id=None, on_created=None, tools=None, workflow_id=None,
             parameters=None):
        """Ask once; returns {answer, conversation_id, chat_id, usage, follow_ups, reasoning, logid,
        tool_calls, elapsed}. on_created(chat_id, conversation_id) is called the moment the chat exists
        (it is paid for from then on), so a caller can note it and recover() it after a crash instead
        of asking again. `tools` answers local tool calls (see tools.py); `workflow_id` asks a chatflow
        (对话流) instead of a bot, with its `parameters`."""
        question = _clean_question(question)
        tools = _clean_tools(tools)
        if workflow_id not in (None, ""):
            workflow_id = _clean_workflow_id(workflow_id)
            parameters = _clean_json_dict(parameters, "parameters")
            bot_id = _clean_bot_id(bot_id, required=False)
        else:
            bot_id = _clean_bot_id(bot_id or self.settings.bot_id, required=True)
        user_id = _clean_user_id(user_id) if user_id else self.settings.user_id
        custom_variables = _clean_str_dict(custom_variables, "custom_variables")
        file_list = _clean_file_list(files)
        stream = _clean_bool(stream, "stream", True)
        timeout = _clean_timeout(timeout, self.timeout)
        conversation_id = _clean_conversation_id(conversation_id)

        started = time.monotonic()
        deadline = started + timeout
        file_refs = [(self.upload_file(value, deadline=deadline), value) if kind == "path" else (value, None)
                     for kind, value in file_list]
        message = _message_with_files(question, file_refs)
        request = _chat_request(message, bot_id, user_id, conversation_id, custom_variables, stream,
                               workflow_id, parameters)
        state = _ChatState(conversation_id, on_created)
        _ChatRun(self.transport, state, deadline, self._completion_clocks, tools).ask(request)
        return state.result(started)

    def recover(self, chat_id, conversation_id, timeout=None, tools=None):
        """The result of a chat created earlier (as chat() returns it), waiting while it is still
        in progress: how a crashed batch gets an answer it already paid for without asking again."""
        tools = _clean_tools(tools)
        started = time.monotonic()
        deadline = started + _clean_timeout(timeout, self.timeout)
        state = _ChatState(str(conversation_id))
        state.chat_id = str(chat_id)
        _ChatRun(self.transport, state, deadline, self._completion_clocks, tools).recover()
        return state.result(started)

    def find_chat(self, conversation_id, question, timeout=60):
        """The id of the chat that asked `question` in a conversation of its own, or None when the
        conversation holds no chat yet (ask in it); APIError when it holds another question's chat.
        Unpaid: one message list request. How a batch killed before hearing of its chat finds it."""
        conversation_id, question = _clean_conversation_id(conversation_id), _clean_question(question)
        if conversation_id is None:
            raise InputError("会话 ID(conversation_id)是空的:请填写要查找的会话")
        return _find_asked(self.transport, conversation_id, question, time.monotonic() + _clean_timeout(timeout, 60))

    def run_workflow(self, workflow_id, parameters=None, bot_id=None, timeout=None, stream=True, answers=None,
                     is_async=None):
        """The End node's output of one workflow run (a dict when it is JSON, else text)."""
        return self.run_workflow_full(workflow_id, parameters, bot_id, timeout, stream, answers, is_async)["output"]

    def run_workflow_full(self, workflow_id, parameters=None, bot_id=None, timeout=None, stream=True, answers=None,
                          is_async=None):
        """Run a workflow; returns {output, messages, questions, execute_id, debug_url, usage, logid,
        elapsed} (workflow.py). `bot_id` only for workflows with bot nodes: the client's own bot_id
        is not sent. A run that may have started is never sent again."""
        return _run_workflow_on(self.transport, workflow_id, parameters, bot_id, _clean_timeout(timeout, self.timeout),
                               stream, answers, is_async)

    def new_conversation(self, bot_id=None, timeout=60):
        """A new conversation id; pass it to chat()/ask() so the bot remembers earlier turns."""
        bot_id = _clean_bot_id(bot_id or self.settings.bot_id, required=False)
        deadline = time.monotonic() + _clean_timeout(timeout, 60)
        body = {"bot_id": bot_id} if bot_id else {}
        envelope = self.transport.call("POST", "/v1/conversation/create", body=body, deadline=deadline,
                                       what="新建会话")
        return _id_of(envelope, "新建会话")

    def upload_file(self, path, timeout=120, deadline=None):
        """Upload a local file; returns the file id to pass in `files`."""
        kind, value = _clean_file_list([path])[0]
        if kind == "id":
            return value
        if deadline is None:
            deadline = time.monotonic() + _clean_timeout(timeout, 120)
        return _upload(self.transport, value, deadline)

    def cancel(self, conversation_id, chat_id):
        """Cancel a running chat (so it stops costing tokens)."""
        return _cancel_chat(self.transport, conversation_id, chat_id)

###############################################################################
# Workflows                                        (yingdao_module/workflow.py)
###############################################################################
# Workflows: run a Coze workflow and get its End node's output.
#
# A streamed run (the default) keeps the Message nodes' texts apart from the End node's
# output. A question node (问答) stops the run with an Interrupt; it is resumed with the
# next of `answers` (stream_resume, at most 3 times per run). `is_async` starts the run in the
# background and polls run_histories until it ends. A workflow may send mail or write a
# database, so a run that may have started is never re-run: a stream cut after the run
# started is recovered from run_histories when its execute id is known, otherwise
# WorkflowInterrupted says so and gives the ids to look it up.

_STREAM_RUN_LIMIT = 600    # a synchronous (streamed) run is stopped after 10 minutes
_MAX_RESUMES = 3           # the service resumes one run at most this often
_HISTORY_FIRST = 1.0       # first run_histories check of an async run (seconds) ...
_HISTORY_GROWTH = 1.5      # ... each later one waits this much longer ...
_HISTORY_MAX = 15.0        # ... up to this
_INTERRUPT_KINDS = {1: "端插件(本地插件)", 2: "问答", 5: "输入", 7: "OAuth 授权"}


def _parse_workflow_output(text):
    """A JSON object/array string becomes a dict/list; anything else stays text."""
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (dict, list)) else text


def _history_output(text):
    """The End output inside a run_histories record; it may be wrapped as {"Output": "<End output>"}."""
    value = _parse_workflow_output(text)
    if isinstance(value, dict) and list(value) == ["Output"] and isinstance(value["Output"], str):
        return value["Output"]
    return text


class _Answers(object):
    """The answers for a workflow's questions: a list (used in order), a callable
    f(question) -> str, or (from ShadowBot) JSON list text; plain text is one answer."""

    def __init__(self, answers):
        self._ask = None
        self._left = []
        if answers is None or (isinstance(answers, str) and not answers.strip()):
            return
        if callable(answers):
            self._ask = answers
            return
        if isinstance(answers, str):
            try:
                parsed = json.loads(answers)
            except ValueError:
                parsed = answers
            answers = parsed if isinstance(parsed, list) else [answers]
        if not isinstance(answers, (list, tuple)):
            raise InputError("answers 应该是回答的列表(按提问顺序),例如 [\"杭州\", \"明天\"],"
                             "或一个函数 f(问题) -> 回答,现在是 %s" % type(answers).__name__)
        self._left = [a if isinstance(a, str) else json.dumps(a, ensure_ascii=False) for a in answers]

    def next_for(self, question, node_title):
        """The answer to `question`, or None when there is none left."""
        if self._ask is None:
            return self._left.pop(0) if self._left else None
        try:
            answer = self._ask(question)
        except Exception as exc:
            raise CozeError("回答工作流问题的函数出错(节点「%s」问「%s」):%s: %s"
                            % (node_title, question, type(exc).__name__, exc))
        return None if answer is None else str(answer)


class _WorkflowRun(object):
    """What one run has told us. Message-node text and the End node's output arrive as
    separate messages and are kept apart: `texts` holds one text per node message (its
    pieces joined), `output_text` the End output. The recorded real streams name no node
    type and give the End node an empty title: the last node message before Done is it."""

    def __init__(self):
        self.texts = []          # [(node title, text)] of the nodes that are not the End node
        self.output_text = None
        self._open = None        # [node key, title, pieces, is_end] of the message being streamed
        self._last = None
        self.interrupt = None    # the open Interrupt: {"event_id", "type", "node_title", "question"}
        self.questions = []      # [{"node_title", "question", "answer"}] answered so far
        self.execute_id = None
        self.debug_url = None
        self.logid = None
        self.usage = {}
        self.done = False
        self.started = False     # an event arrived: the run exists on the server

    # -- feeding --------------------------------------------------------------------------
    def take_event(self, event, data, base_url):
        if event in ("Message", "Error", "Interrupt") and not isinstance(data, dict):
            raise _BadResponseError("扣子返回的工作流事件 %s 格式不对(不是 JSON 对象):请稍后重试" % event,
                                   logid=self.logid)
        data = data if isinstance(data, dict) else {}
        self.started = True
        self.take_ids(data)
        if event == "Message":
            self.take_message(data)
        elif event == "Interrupt":
            self._close_message()
            interrupt = data.get("interrupt_data") or {}
            title = data.get("node_title") or ""
            asked = [pair for pair in self.texts if pair[0] == title]
            if asked:  # the question is not one of the run's Message texts
                self.texts.remove(asked[-1])
            self.interrupt = {"event_id": interrupt.get("event_id"), "type": interrupt.get("type"),
                              "node_title": title, "question": asked[-1][1] if asked else ""}
        elif event == "Error":
            err = _error_for_code(data.get("error_code") or data.get("code") or 5000,
                                 data.get("error_message") or data.get("msg") or "", self.logid, base_url)
            err = type(err)("工作流运行出错:" + err.message + self.ids_text(), err.code, err.logid)
            err.retryable = False  # the run happened; running it again is the caller's choice
            raise err.without_retry_promise()
        elif event == "Done":
            self.finish()

    def take_ids(self, data):
        ext = data.get("ext") if isinstance(data.get("ext"), dict) else {}
        self.execute_id = data.get("execute_id") or ext.get("execute_id") or self.execute_id
        if data.get("debug_url"):
            self.debug_url = data["debug_url"]
            found = re.search(r"execute_id=(\d+)", self.debug_url)
            self.execute_id = self.execute_id or (found.group(1) if found else None)

    def take_message(self, data):
        key = data.get("node_id") or data.get("node_title") or ""
        node_type = data.get("node_type")
        is_end = node_type == "End" if node_type else None
        if self._open is None or self._open[0] != key:
            self._close_message()
            self._open = [key, data.get("node_title") or "", [], is_end]
        self._open[2].append(data.get("content") or "")
        for name, count in (data.get("usage") or {}).items():
            if isinstance(count, int):
                self.usage[name] = self.usage.get(name, 0) + count
        if data.get("node_is_finish", True):
            self._close_message()

    def _close_message(self):
        if self._open is None:
            return
        key, title, pieces, is_end = self._open
        self._open = None
        if is_end:
            self.output_text = "".join(pieces)
        else:
            self._last = (title, "".join(pieces), is_end is None)
            self.texts.append(self._last[:2])

    def finish(self):
        """At Done: without node types, the last node message is the End output."""
        self._close_message()
        self.done = True
        if self.output_text is None and self._last and self._last[2] and self._last[:2] in self.texts:
            self.texts.remove(self._last[:2])
            self.output_text = self._last[1]

    # -- results --------------------------------------------------------------------------
    def ids_text(self):
        ids = [("execute_id", self.execute_id), ("debug_url", self.debug_url)]
        shown = ", ".join("%s %s" % pair for pair in ids if pair[1])
        return "[%s]" % shown if shown else ""

    def result(self, started):
        usage = self.usage
        return {"output": _parse_workflow_output(self.output_text if self.output_text is not None else ""),
                "messages": [text for _, text in self.texts],
                "questions": list(self.questions),
                "execute_id": self.execute_id, "debug_url": self.debug_url,
                "usage": {"token_count": int(usage.get("token_count") or 0),
                          "input_count": int(usage.get("input_count") or 0),
                          "output_count": int(usage.get("output_count") or 0)},
                "logid": self.logid, "elapsed": round(time.monotonic() - started, 3)}


def _run_workflow_on(transport, workflow_id, parameters=None, bot_id=None, timeout=_DEFAULT_TIMEOUT, stream=True,
                    answers=None, is_async=None, app_id=None):
    """Run a workflow through `transport`; returns the dict of run_workflow_full()."""
    body = {"workflow_id": _clean_workflow_id(workflow_id), "parameters": _clean_json_dict(parameters, "parameters")}
    bot_id = _clean_bot_id(bot_id, required=False)
    if bot_id:
        body["bot_id"] = bot_id
    if app_id not in (None, ""):
        body["app_id"] = str(app_id).strip()
    timeout = _clean_timeout(timeout)
    answers = _Answers(answers)
    stream = _clean_bool(stream, "stream", True)
    auto_async = is_async is None or is_async == ""
    is_async = timeout > _STREAM_RUN_LIMIT if auto_async else _clean_bool(is_async, "is_async", False)
    started = time.monotonic()
    deadline = started + timeout
    run = _WorkflowRun()
    if is_async:
        try:
            return _run_async(transport, body, run, deadline, started)
        except APIError as err:
            if not (auto_async and err.code == 6003):
                raise
            _log("这个扣子账号不支持异步运行工作流(6003),改用流式运行(最长约 10 分钟)")
    if not stream:
        return _run_sync(transport, body, run, deadline, started)
    path, request = "/v1/workflow/stream_run", body
    while True:
        _stream_into(transport, path, request, run, deadline)
        if run.interrupt is None:
            return run.result(started)
        request = _resume_request(body["workflow_id"], run, answers)
        path = "/v1/workflow/stream_resume"


def _resume_request(workflow_id, run, answers):
    """The stream_resume body answering the open Interrupt, or a Chinese error saying why not."""
    interrupt, run.interrupt = run.interrupt, None
    node, question, kind = interrupt["node_title"], interrupt["question"], interrupt["type"]
    if kind != 2:
        raise APIError("工作流停在节点「%s」等待「%s」(中断类型 %s),本模块只能自动回答问答节点(类型 2):"
                       "请在扣子里改掉这个节点,或改用智能体调用%s"
                       % (node, _INTERRUPT_KINDS.get(kind, "未知类型"), kind, run.ids_text()), logid=run.logid)
    if len(run.questions) >= _MAX_RESUMES:
        raise APIError("工作流的问答节点「%s」已经问了 %d 次(扣子最多续跑 %d 次),这次又问「%s」:请检查回答是否符合问题要求%s"
                       % (node, len(run.questions), _MAX_RESUMES, question, run.ids_text()), logid=run.logid)
    answer = answers.next_for(question, node)
    if answer is None:
        raise APIError("工作流的问答节点「%s」在提问「%s」,但没有可用的回答:请用 answers 参数按提问顺序传入回答,"
                       "例如 answers=[\"杭州\"](影刀「调用模块」里填 JSON 列表 [\"杭州\"]),或传一个函数 f(问题) -> 回答%s"
                       % (node, question, run.ids_text()), logid=run.logid)
    run.questions.append({"node_title": node, "question": question, "answer": answer})
    _log("工作流问答节点「%s」问「%s」,回答「%s」" % (node, question, answer))
    return {"workflow_id": workflow_id, "event_id": interrupt["event_id"], "interrupt_type": kind,
            "resume_data": answer}


def _open_run(transport, path, request, deadline, stream):
    """POST a request that starts (or resumes) a run. Retried only when the service refused it
    as busy or the connection failed before any answer; an answered run is never sent twice."""
    attempt = 0
    while True:
        if time.monotonic() >= deadline:
            raise CozeTimeoutError("运行工作流超时(超过 timeout 设定的秒数),工作流没有开始运行")
        try:
            if stream:
                return transport.open_stream("POST", path, body=request, deadline=deadline, what="工作流的流式回复")
            return transport.call("POST", path, body=request, deadline=deadline, retry=False)
        except ServerError as err:  # the run may have happened: not sent again, so nothing promises a retry
            raise err.without_retry_promise()
        except (RateLimitError, NetworkError) as err:
            if not err.retryable:  # a certificate the machine does not trust, ...
                raise
            if isinstance(err, NetworkError) and not stream:
                raise WorkflowInterrupted("运行工作流的请求发出后连接中断(%s),工作流可能已经运行:为避免重复执行"
                                          "(例如重复发邮件、重复写表)没有自动重跑。请到扣子工作流的运行日志里确认;"
                                          "运行较久的工作流请用流式(stream=True,默认)或 is_async=True"
                                          % err.message, logid=err.logid)
            if attempt >= transport.max_retries:
                raise
            delay = _backoff_delay(attempt, err.retry_after)
            if time.monotonic() + delay >= deadline:
                raise
            attempt += 1
            _log("运行工作流失败:%s;%.1f 秒后第 %d 次重试" % (err.message, delay, attempt))
            time.sleep(delay)


def _stream_into(transport, path, request, run, deadline):
    """Open a run's stream and feed its events to `run` until Done or an Interrupt."""
    events = _open_run(transport, path, request, deadline, stream=True)
    run.logid = events.logid or run.logid
    try:
        for event, data in events:
            run.take_event(event, data, transport.base_url)
            if run.done or run.interrupt:
                return
            if time.monotonic() >= deadline:
                raise CozeTimeoutError("等待工作流结果超时(超过 timeout 设定的秒数);工作流可能仍在扣子上运行%s"
                                       % run.ids_text(), logid=run.logid)
    except NetworkError as err:
        return _recover(transport, request.get("workflow_id"), run, deadline, err.message)
    finally:
        events.close()
    return _recover(transport, request.get("workflow_id"), run, deadline, "流在结束前关闭")


def _recover(transport, workflow_id, run, deadline, why):
    """A stream of a started run broke: get the result from run_histories when the execute id
    is known, else raise WorkflowInterrupted (never re-run)."""
    if run.execute_id:
        _log("工作流的流式回复中途断开(%s),用 execute_id %s 查询运行结果,不会重跑" % (why, run.execute_id))
        record = _poll_history(transport, workflow_id, run, deadline)
        run.output_text = _history_output(record.get("output") or "")
        run.done = True
        return
    raise WorkflowInterrupted("工作流已经开始运行,但流式回复中途断开(%s):为避免重复执行(例如重复发邮件、重复写表)"
                              "没有自动重跑。它可能已经运行完成,请到扣子工作流的运行日志里按 logid 查看结果%s"
                              % (why, run.ids_text()), logid=run.logid)


def _run_sync(transport, body, run, deadline, started):
    """A non-stream run (dropped by the gateway after about 90 s: prefer streaming for long runs)."""
    envelope = _open_run(transport, "/v1/workflow/run", body, deadline, stream=False)
    run.logid = envelope.get("logid")
    run.take_ids(envelope)
    run.output_text = envelope.get("data") or ""
    run.usage = envelope.get("usage") or {}
    return run.result(started)


def _run_async(transport, body, run, deadline, started):
    """Start the run in the background (is_async), then poll run_histories until it ends."""
    envelope = _open_run(transport, "/v1/workflow/run", dict(body, is_async=True), deadline, stream=False)
    run.logid = envelope.get("logid")
    run.take_ids(envelope)
    if not run.execute_id:
        raise APIError("扣子没有返回异步运行的 execute_id,无法查询结果", logid=run.logid)
    _log("工作流已在扣子上异步运行,execute_id %s;定时查询结果" % run.execute_id)
    record = _poll_history(transport, body["workflow_id"], run, deadline)
    run.output_text = _history_output(record.get("output") or "")
    run.usage = record.get("usage") or {}
    return run.result(started)


def _poll_history(transport, workflow_id, run, deadline):
    """GET run_histories with growing intervals until the run succeeds (returns its record),
    fails (raises with its error message) or the deadline passes."""
    import random  # on first use: importing the module stays fast
    path = "/v1/workflows/%s/run_histories/%s" % (workflow_id, run.execute_id)
    interval = _HISTORY_FIRST
    while True:
        try:
            envelope = transport.call("GET", path, deadline=deadline, what="查询工作流运行结果")
        except CozeError as err:
            if not err.retryable:
                raise
            envelope = {}  # retries were used up; keep polling until the deadline
        records = envelope.get("data") or []
        record = records[0] if isinstance(records, list) and records else {}
        run.debug_url = record.get("debug_url") or run.debug_url
        status = record.get("execute_status")
        if status == "Success":
            return record
        if status == "Fail":
            raise APIError("工作流运行失败:%s(错误码 %s)%s" % (record.get("error_message") or "扣子没有给出原因",
                                                       record.get("error_code"), run.ids_text()), logid=run.logid)
        delay = interval * random.uniform(0.8, 1.0)
        if time.monotonic() + delay >= deadline:
            raise CozeTimeoutError("等待工作流结果超时(超过 timeout 设定的秒数);工作流可能仍在扣子上运行,"
                                   "之后可用 execute_id 查询%s" % run.ids_text(), logid=run.logid)
        time.sleep(delay)
        interval = min(_HISTORY_MAX, interval * _HISTORY_GROWTH)

###############################################################################
# Rate limits                                     (yingdao_module/ratelimit.py)
###############################################################################
# Rate limits: sliding windows for qps / qpm and a daily count for qpd, per Coze account.
#
# The service counts the calls it received in the last second / minute and today; we count the
# calls we started, with a small margin for the network, so a batch runs at the cap without
# being rejected (4020) and without wasting retries. Every rated request goes through the
# limiter — first attempts, a row's second try and the transport's own retries alike — because
# the transport calls `before_request` before it sends anything.
#
# The recent starts and today's count live in a small JSON file per account (a hash of token
# and base URL, never the token) under a per-user folder, shared by every process through a
# file lock: a run restarted right after a kill waits for the window it already used, and a
# second run on the same day, even on another table, stops at qpd without paying.

_WINDOW_MARGIN = 0.025  # seconds added to each window: arrival times jitter a little
_RATED_PATHS = ("/v3/chat", "/v1/workflow/run", "/v1/workflow/stream_run")  # what Coze counts against qps/qpd
_REMEMBERED_STARTS = 61.0  # seconds of call starts kept in the state file (the longest window, qpm)
_MAX_REMEMBERED = 5000
_SLOT_OPEN = 1.0  # a slotted call starts only in its slot's first second (slots are > 2 s wide)


def _state_folder():
    """COZE_STATE_DIR, else %LOCALAPPDATA%\\yingdao-coze on Windows, else ~/.cache/yingdao-coze."""
    folder = os.environ.get("COZE_STATE_DIR")
    if not folder:
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("XDG_CACHE_HOME") or \
            os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "yingdao-coze")
    return folder


def _account_state_path(account, base_url, kind="ratelimit", extension=".json"):
    """A state file of one account (its token or app id) at one base URL: named by a hash,
    never the token."""
    digest = hashlib.sha256(("%s\n%s" % (account, base_url)).encode("utf-8")).hexdigest()[:24]
    return os.path.join(_state_folder(), "%s-%s%s" % (kind, digest, extension))


def _account_of(settings):
    """Who a Client's settings sign in as: an OAuth app, or a token (only ever hashed)."""
    return "app:%s" % settings.app[0] if settings.app is not None else "token:%s" % settings.token


def _slot_wait(slots, now, last_start):
    """Seconds until a call may start in this robot's slot (0: now); see RateLimiter.configure."""
    index, count, width = slots
    number = int(now // width)
    if number % count == index and now - number * width < _SLOT_OPEN and \
            (last_start is None or int(last_start // width) != number):
        return 0.0
    ahead = (index - number % count) % count or count  # slots until the next one of this index
    return max(0.001, (number + ahead) * width - now)


class _CallNotStarted(CozeError):
    """The batch is stopping: a call waiting for the rate limit is not started."""
    fatal = True


class _RateLimiter(object):
    """acquire() blocks until one more call may start; False once qpd is used up or stopped.

    With `state_path` the window and the day's count are shared with every process of the
    same account; without it they live in this process only."""

    def __init__(self, qps=None, qpm=None, qpd=None, state_path=None, slots=None):
        self.state_path = state_path
        self.used_today = 0
        self._memory = {"day": "", "count": 0, "starts": []}
        self._lock = threading.Lock()
        self.configure(qps, qpm, qpd, slots)

    def configure(self, qps=None, qpm=None, qpd=None, slots=None, margin=_WINDOW_MARGIN):
        """Set the caps (before the first call). `slots` (index, count, width): start at most one
        call per slot of this index, in its first SLOT_OPEN seconds (shards below 1 call/s).
        `margin`: seconds added to each window, the arrival jitter it absorbs (wider for shards:
        another robot's calls fill what a late call of ours overlaps)."""
        self.windows, self.slots = [], slots
        for limit, seconds in ((qps, 1.0), (qpm, 60.0)):
            if limit:
                whole = max(1, int(limit))  # 0.5 per second = 1 per 2 s; 2.5 per second = 2 per 0.8 s
                self.windows.append((whole, seconds * whole / float(limit) + margin))
        # qps calls are spread evenly over the second instead of sent as one burst: a burst's
        # requests reach the service up to tens of milliseconds apart, eating the margin
        self.spacing = self.windows[0][1] / self.windows[0][0] if qps else 0.0
        self.qpd = int(qpd) if qpd else None
        if not self.limited:
            self.state_path = None

    @property
    def calls_per_second(self):
        """The steady rate the caps allow (None: no cap but qpd); for the estimate."""
        rates = [whole / seconds for whole, seconds in self.windows]
        if self.slots is not None:
            rates.append(1.0 / (self.slots[1] * self.slots[2]))
        return min(rates) if rates else None

    @property
    def limited(self):
        return bool(self.windows or self.qpd is not None or self.slots)

    def share_with_account(self, settings, shard_text="", kind=""):
        """Keep the window and the day's count in the state file of the account that `settings`
        (a Client's) signs in as — a token, or an OAuth app — shared by every process. A shard
        keeps its own (its caps are its share of the account's, see account_limits.py); `kind`
        "workflow": workflow runs have caps of their own, apart from chats."""
        if self.limited:
            who = _account_of(settings) + ("\nshard:%s" % shard_text if shard_text else "")
            who = "%s:%s" % (kind, who) if kind else who
            self.state_path = _account_state_path(who, settings.base_url)

    def acquire(self, stop=None):
        if not self.limited:
            return True
        while True:
            with self._lock:
                wait = self._take_slot()
            if wait == 0:
                return True
            if wait is None:
                return False
            if stop is not None and stop.wait(min(wait, 0.5)):
                return False
            if stop is None:
                time.sleep(wait)

    def hook(self, stop=None):
        """A `before_request(method, path)` for the transport: rated requests wait for a slot."""
        def before_request(method, path):
            if method == "POST" and path in _RATED_PATHS and not self.acquire(stop):
                if stop is not None and stop.is_set():
                    raise _CallNotStarted("批处理正在停止:这一行没有发出请求,不计费;重跑同一命令时会再问")
                raise self.daily_cap_error()
        return before_request

    def daily_cap_error(self):
        tomorrow = datetime.date.today() + datetime.timedelta(days=1)
        return QuotaError("今日额度已用完:这个账号今天已发起 %d 次对话,达到 qpd=%d 的上限(同一账号的所有运行、所有表格合计)。"
                          "额度在本地时间 %s 0 点重置,之后重跑同一命令即可从断点继续,已完成的行不会重复付费"
                          % (self.used_today, self.qpd, tomorrow.strftime("%Y-%m-%d")))

    # -- the shared state ------------------------------------------------------------------------------
    def _take_slot(self):
        """0 when a call may start now (and it is counted), seconds to wait, or None at the daily cap."""
        lock = _FileLock(self.state_path + ".lock") if self.state_path else None
        state = None
        try:
            if lock is not None:
                if not os.path.isdir(os.path.dirname(self.state_path)):
                    os.makedirs(os.path.dirname(self.state_path))
                lock.acquire()
            state = self._load()
            now, today = time.time(), time.strftime("%Y-%m-%d")
            if state["day"] != today:
                state["day"], state["count"] = today, 0
            self.used_today = state["count"]
            if self.qpd is not None and state["count"] >= self.qpd:
                return None
            starts = [t for t in state["starts"] if 0 <= now - t < _REMEMBERED_STARTS][-_MAX_REMEMBERED:]
            wait = self.spacing - (now - starts[-1]) if starts else 0.0
            if self.slots is not None:
                wait = max(wait, _slot_wait(self.slots, now, starts[-1] if starts else None))
            for limit, seconds in self.windows:
                recent = [t for t in starts if now - t < seconds]
                if len(recent) >= limit:
                    wait = max(wait, seconds - (now - recent[len(recent) - limit]))
            if wait > 0:
                return wait
            starts.append(now)
            state["starts"], state["count"] = starts, state["count"] + 1
            self.used_today = state["count"]
            self._save(state)
            return 0
        except OSError as err:  # no lock, folder or disk for the state: limit this process alone
            if state is not None:
                self._memory = state  # what was read still counts: a full disk must not forget the window
            _log("限速状态文件 %s 无法使用(%s):本次只在这个进程里限速" % (self.state_path, err.strerror or err))
            self.state_path = None
            return self._take_slot()
        finally:
            if lock is not None:
                lock.release()

    def _load(self):
        if self.state_path is None:
            return self._memory
        try:
            with open(self.state_path, "rb") as handle:
                state = json.loads(handle.read().decode("utf-8"))
            if isinstance(state, dict) and isinstance(state.get("starts"), list):
                return {"day": str(state.get("day") or ""), "count": int(state.get("count") or 0),
                        "starts": [float(t) for t in state["starts"]]}
        except (OSError, ValueError, TypeError):
            pass  # missing or damaged: start from nothing rather than refuse to run
        return {"day": "", "count": 0, "starts": []}

    def _save(self, state):
        if self.state_path is None:
            self._memory = state
            return
        temporary = "%s.%d.tmp" % (self.state_path, os.getpid())
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"day": state["day"], "count": state["count"],
                       "starts": [round(t, 4) for t in state["starts"]]}, handle)
        os.replace(temporary, self.state_path)  # atomic: a reader sees the old file or the new one

###############################################################################
# Account caps (qps auto), shard shares      (yingdao_module/account_limits.py)
###############################################################################
# The account's own caps (qps="auto") and one robot's share of them (shard K/N).
#
# Coze tells an account its QPS in force: GET /v1/commerce/benefit/benefits/get answers
# `data.benefit_info[].effective.item_info.total` (official SDK, cozepy/benefits). When it is
# refused (some editions may not call it) we fall back to the published free-edition figures and
# say so. With shard K/N the caps given are the ACCOUNT's: robots cannot see each other, so each
# takes a fixed share with a margin, small enough that N robots together are never refused.

_BENEFITS_PATH = "/v1/commerce/benefit/benefits/get"
_DEFAULT_ACCOUNT_QPS = {"chat": 20.0, "workflow": 50.0}  # coze.cn free edition (2025), used when refused
_SHARE_MARGIN = 0.9  # a robot plans for 90 % of its share: clocks and networks jitter
_SHARD_JITTER = 0.5  # seconds added to a robot's windows: a call delayed that long still fits the account's
# (0.25 s left 2-4 refusals in 3,000 soak rows on a loaded machine, 0.5 s none: docs/reliability.md)
_SLOT_WIDTH = 2.05   # seconds: below one call per second each, robots take turns in slots this wide


def _is_auto(value):
    return isinstance(value, str) and value.strip().lower() in ("auto", "自动")


def _effective_qps(data, resource):
    """The QPS in force for `resource` in a benefits answer's data, or None when it has none."""
    infos = data.get("benefit_info") if isinstance(data, dict) else None
    for info in infos if isinstance(infos, list) else []:
        if not isinstance(info, dict) or info.get("resource_id") not in (None, "", resource):
            continue
        if info.get("benefit_type") not in (None, "", "api_run_qps"):
            continue
        item = (info.get("effective") or {}).get("item_info") if isinstance(info.get("effective"), dict) else None
        total = item.get("total") if isinstance(item, dict) else None
        try:
            total = float(total)
        except (TypeError, ValueError):
            continue
        if total > 0:
            return total
    return None


def _read_account_qps(transport, resource="chat", deadline=None):
    """(qps, how it was found) for `resource` ("chat" or "workflow"); never raises for a refusal."""
    default = _DEFAULT_ACCOUNT_QPS[resource]
    try:
        envelope = transport.call("GET", _BENEFITS_PATH, {"benefit_type_list": "api_run_qps", "resource_id": resource},
                                  deadline=deadline, what="读取账号限额")
    except CozeError as err:
        note = ("扣子没有告诉这个账号的限额(%s):按免费版公开的 %s QPS=%g 运行;知道自己的套餐限额时请用 --qps 直接填"
                % (err.message, "对话" if resource == "chat" else "工作流", default))
        _log(note)
        return default, note
    qps = _effective_qps(envelope.get("data"), resource)
    if qps is None:
        note = "扣子的限额回答里没有 %s 的 QPS:按免费版公开的 QPS=%g 运行" % (resource, default)
    else:
        note = "账号的%s限额:QPS=%g(扣子接口读取)" % ("对话" if resource == "chat" else "工作流", qps)
    _log(note)
    return (qps if qps is not None else default), note


def _robot_share(account_cap, shard, whole=False):
    """One robot's part of an account cap when N robots split a table (None stays None).

    qps and qpm: a whole number of calls per window, floor(cap x margin / N), so however the
    robots' calls line up, their sum stays under the cap; 0 means below one call per window,
    handled by slots (see slot_plan). qpd: floor(cap / N)."""
    if not account_cap or not shard:
        return account_cap
    if whole:
        return max(1, int(account_cap // shard[1]))
    return int(account_cap * _SHARE_MARGIN // shard[1])


def _slot_plan(account_qps, shard):
    """(slot index, slot count, width) when a robot's qps share is below one call per second:
    time (the wall clock, the same on every robot within NTP's milliseconds) is cut into slots;
    robot K starts at most one call per slot of its index, in the slot's first second. At most
    floor(cap x margin) robots share an index, so any second holds at most that many calls."""
    per_slot = max(1, int(account_qps * _SHARE_MARGIN))
    count = -(-shard[1] // per_slot)  # ceil(N / per_slot)
    width = _SLOT_WIDTH if account_qps >= 1 else _SLOT_WIDTH / account_qps
    return (shard[0] - 1) % count, count, width


def _describe_share(qps, qpm, qpd, shard, shares):
    """One log line: the account's caps and this robot's share."""
    parts = []
    for name, cap, mine in (("qps", qps, shares[0]), ("qpm", qpm, shares[1]), ("qpd", qpd, shares[2])):
        if cap:
            parts.append("%s %g → 本机 %s" % (name, cap, ("%g" % mine) if mine else "轮流(每几秒 1 次)"))
    return "分片 %d/%d:限速按整个账号计算,%d 台机器人各取一份并留 10%% 余量,合起来不会被扣子拒绝:%s" % (
        shard[0], shard[1], shard[1], ";".join(parts))


def _apply_limits(limiter, transport, qps, qpm, qpd, shard, resource="chat"):
    """Set `limiter`'s caps from a run's options: qps "auto" is read from the account; with a
    shard the caps are the account's and this robot takes its share. Returns the qps in force
    for the whole account (for the estimate), or None."""
    if _is_auto(qps):
        qps = _read_account_qps(transport, resource)[0] if transport is not None else _DEFAULT_ACCOUNT_QPS[resource]
    if not shard or shard[1] == 1:
        limiter.configure(qps, qpm, qpd)
        return qps
    shares = (_robot_share(qps, shard), _robot_share(qpm, shard), _robot_share(qpd, shard, whole=True))
    # below one call per minute each, a robot still makes one: a qpm that low is not a batch's
    qpm_share = max(1, shares[1]) if qpm else None
    slots = _slot_plan(qps, shard) if qps and not shares[0] else None
    limiter.configure(shares[0] or None, qpm_share, shares[2], slots, margin=_SHARD_JITTER)
    _log(_describe_share(qps, qpm, qpd, shard, shares))
    return qps

###############################################################################
# xlsx packages: bounded parts, safe XML       (yingdao_module/xlsx_package.py)
###############################################################################
# The zip package of an .xlsx file, opened so that no file can exhaust the machine: every
# part is read as a bounded stream (inflated size and compression ratio checked before the
# first byte is inflated, and counted while it is), XML is parsed event by event with expat
# and any DTD or entity declaration is refused (no entity is ever expanded), relationships
# may not point outside the package or at a missing part. Whatever is wrong ends in one
# Chinese InputError naming the file, what is wrong and what to do.

_XLSX_PART_LIMIT = 1 << 30        # inflated bytes of one part (a full 1,048,576-row sheet fits)
_XLSX_RATIO_LIMIT = 200           # inflated / compressed, for parts over XLSX_RATIO_FROM bytes
_XLSX_RATIO_FROM = 8 << 20
_XLSX_RUN_LIMIT = 1 << 24         # bytes without a "<": one text node or one tag (a huge attribute) at most
_XLSX_CHUNK = 1 << 16
_XLSX_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XLSX_DTD = "部件 %s 里有 DTD 或实体声明(正常的 Excel 文件没有,可能是恶意构造的)"
_XLSX_RESAVE = "请用 Excel 或 WPS 打开它,「另存为」.xlsx(或 CSV)后再运行(还没有发出任何请求,没有花钱)"


def _xlsx_refusal(path, problem):
    """The one error for a workbook that cannot be read: which file, what is wrong, what to do."""
    return InputError("表格 %s 读不了:%s。%s" % (path, problem, _XLSX_RESAVE))


def _open_package(path):
    """A zipfile.ZipFile of `path`, or an InputError for a legacy .xls, an encrypted workbook
    (both are OLE files) or anything that is not a zip."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(8)
    except OSError as err:
        raise InputError("打不开表格 %s:%s" % (path, err.strerror or type(err).__name__))
    if magic == _XLSX_OLE_MAGIC:
        raise _xlsx_refusal(path, "这是旧版 .xls 文件,或设了打开密码的工作簿(加密后不再是 .xlsx 格式)。"
                                 "有密码的请先在 Excel 里「文件 → 信息 → 保护工作簿」去掉密码")
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise _xlsx_refusal(path, "不是有效的 .xlsx 文件(不是 zip 压缩包,或文件不完整:%s)" % type(err).__name__)
    if len(book.NameToInfo) != len(book.filelist):  # two parts with one name: which one Excel reads is unclear
        book.close()
        raise _xlsx_refusal(path, "压缩包里有同名的部件")
    return book


def _part_chunks(book, path, name):
    """Yield the inflated bytes of part `name` in chunks; a part that would inflate past the
    limits is refused before anything is inflated, corrupt data when it is met."""
    try:
        info = book.getinfo(name)
    except KeyError:
        raise _xlsx_refusal(path, "缺少部件 %s(工作簿里的关系指向一个不存在的部件)" % name)
    if info.flag_bits & 0x1:
        raise _xlsx_refusal(path, "部件 %s 是加密的" % name)
    if info.file_size > _XLSX_PART_LIMIT or (
            info.file_size > _XLSX_RATIO_FROM and info.file_size > _XLSX_RATIO_LIMIT * max(info.compress_size, 1)):
        raise _xlsx_refusal(path, "部件 %s 解压后有 %d 字节(压缩前 %d 字节),超过上限,可能是恶意构造的「压缩炸弹」"
                           % (name, info.file_size, info.compress_size))
    seen = 0
    try:
        with book.open(info) as stream:
            while True:
                chunk = stream.read(_XLSX_CHUNK)
                if not chunk:
                    return
                seen += len(chunk)
                if seen > _XLSX_PART_LIMIT:
                    raise _xlsx_refusal(path, "部件 %s 解压后超过 %d 字节" % (name, _XLSX_PART_LIMIT))
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as err:
        raise _xlsx_refusal(path, "部件 %s 的压缩数据已损坏(%s)" % (name, type(err).__name__))


def _check_package(book, path):
    """Inflate every part once (bounded, CRC checked): a broken picture or chart is found now;
    an XML part that is only copied is refused too when it declares a DTD or an entity."""
    for info in book.infolist():
        xml, tail = info.filename.lower().endswith((".xml", ".rels", ".vml")), b""
        for chunk in _part_chunks(book, path, info.filename):
            if xml and (b"<!DOCTYPE" in tail + chunk or b"<!ENTITY" in tail + chunk):
                raise _xlsx_refusal(path, _XLSX_DTD % info.filename)
            tail = chunk[-16:]


def _xml_events(book, path, name):
    """Yield (True, local name, attributes) at each start tag and (False, local name, text) at
    each end tag of part `name`; text is what came since the last tag (leaf values).
    Attribute names keep their namespace as 'uri}local'."""
    pending, text, local = [], [], {}  # local: 'uri}tag' -> 'tag', computed once per tag name
    add, keep, forget = pending.append, text.append, text.clear

    def refuse_dtd(*_):
        raise _xlsx_refusal(path, _XLSX_DTD % name)

    def start(tag, attrs):
        forget()
        add((True, local.get(tag) or local.setdefault(tag, tag[tag.rfind("}") + 1:]), attrs))

    def end(tag):
        add((False, local.get(tag) or local.setdefault(tag, tag[tag.rfind("}") + 1:]), "".join(text)))
        forget()

    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = refuse_dtd
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, keep
    parser.buffer_text = True
    run = 0  # bytes since the last "<": expat holds a whole tag (and its attributes) in memory
    try:
        for chunk in _part_chunks(book, path, name):
            last = chunk.rfind(b"<")
            run = run + len(chunk) if last < 0 else len(chunk) - last - 1
            if run > _XLSX_RUN_LIMIT:
                raise _xlsx_refusal(path, "部件 %s 里有一个超过 %d 字节的标签或文字" % (name, _XLSX_RUN_LIMIT))
            parser.Parse(chunk, False)
            yield from pending
            del pending[:]
        parser.Parse(b"", True)
    except expat.ExpatError as err:
        raise _xlsx_refusal(path, "部件 %s 不是合法的 XML(第 %s 行:%s)" % (name, err.lineno, expat.ErrorString(err.code)))
    yield from pending


def _attribute(attrs, local):
    """The value of attribute `local` whatever its namespace (r:id, id)."""
    for key, value in attrs.items():
        if key == local or key.endswith("}" + local):
            return value
    return None


def _part_path(path, base, target, mode=None):
    """The zip name a relationship target points at; refused when it leaves the package."""
    if mode == "External" or "://" in target or target.startswith("\\"):
        raise _xlsx_refusal(path, "关系指向工作簿外面的文件 %s" % target)
    target = urllib.parse.unquote(target)
    resolved = posixpath.normpath(target.lstrip("/") if target.startswith("/") else posixpath.join(base, target))
    if resolved in ("", ".") or resolved.startswith("../") or resolved == ".." or resolved.startswith("/"):
        raise _xlsx_refusal(path, "关系指向工作簿外面的路径 %s" % target)
    return resolved


def _relationships(book, path, part):
    """{id: (type tail, Target, TargetMode)} of the relationships of `part` ({} when it has none)."""
    folder, base = posixpath.dirname(part), posixpath.basename(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in book.NameToInfo:
        return {}
    found = {}
    for is_start, tag, attrs in _xml_events(book, path, rels):
        if is_start and tag == "Relationship":
            kind = (attrs.get("Type") or "").rsplit("/", 1)[-1]
            found[attrs.get("Id")] = (kind, attrs.get("Target") or "", attrs.get("TargetMode"))
    return found

###############################################################################
# xlsx sheets read as a stream, as shown          (yingdao_module/xlsx_read.py)
###############################################################################
# Read one worksheet of an .xlsx file as a stream, as the user sees it, with the standard library.
#
# `XlsxSheet(path, sheet).rows()` yields (row number, texts) for every row that is in the file:
# a jump in row numbers is skipped, never filled with blank rows; a row past Excel's 1,048,576,
# a row number that goes backwards or a cell reference that is not one is refused. The active
# sheet (the one Excel opens on) is read unless a name is given. Formulas give their cached
# value; numbers come as plain text ("12.5", "3", percentages as "15%"), cells formatted as
# dates as ISO text ("2026-11-25", "2026-11-25 14:30", "14:30" for a time alone), booleans as
# TRUE / FALSE. A vertically merged cell's value is shown in every row it covers, as on
# screen. Formulas without a cached value (a file written by a program, never opened in
# Excel) are noted in `uncached` ({column: first row}) so the caller can stop or warn.
# The package limits (size, ratio, DTD, relationships) are in xlsx_package.py.

_XLSX_MAX_ROW = 1048576
_XLSX_MAX_COLUMN = 16384
_XLSX_MAX_MERGES = 1000000
_XLSX_MAX_STRINGS = 4000000       # shared strings held in memory while a sheet is read ...
_XLSX_MAX_STRING_CHARS = 1 << 26  # ... and their characters (a 400,000-row sheet of unique texts fits)
_XLSX_MAX_STYLES = 1000000        # cell formats (Excel allows 64,000)
_XLSX_REF = re.compile(r"^([A-Za-z]{1,3})([0-9]{1,7})$")
_XLSX_MERGE = re.compile(rb'<(?:[\w.-]+:)?mergeCell\b[^>]*?\bref\s*=\s*["\']([A-Za-z]{1,3}[0-9]{1,7}'
                         rb'(?::[A-Za-z]{1,3}[0-9]{1,7})?)["\']')
_XLSX_COLUMNS = {}  # 'AB' -> 28 (1-based), every cell has one: worth remembering
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_XLSX_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_XLSX_PERCENT_FORMATS = (9, 10)


def _column_letter(index):
    """0 -> 'A', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _split_ref(ref):
    """'AB12' -> (27, 12): column 0-based, row 1-based; (None, None) when it is not a reference
    inside Excel's grid."""
    match = _XLSX_REF.match(ref or "")
    if not match:
        return None, None
    letters = match.group(1)
    column = _XLSX_COLUMNS.get(letters)
    if column is None:
        column = 0
        for char in letters.upper():
            column = column * 26 + ord(char) - 64
        if column <= _XLSX_MAX_COLUMN and letters.isupper():
            _XLSX_COLUMNS[letters] = column  # at most 16,384 entries: a bounded cache
    row = int(match.group(2))
    if column > _XLSX_MAX_COLUMN or not 1 <= row <= _XLSX_MAX_ROW:
        return None, None
    return column - 1, row


def _xlsx_format_kind(code):
    """'date', 'percent' or 'number' for a custom number format code."""
    bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code or "")  # quoted text, escapes, [colours] / [locales]
    if re.search(r"[dmyhsDMYHS]", bare.split(";")[0]) or re.match(r"\[(h|hh|m|mm|s|ss)\]", code or "", re.I):
        return "date"
    return "percent" if "%" in bare else "number"


def _xlsx_number(value):
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return "%.15g" % value  # Excel's precision: 0.1 + 0.2 shows as 0.3


class _XlsxNumber(str):
    """A number cell: its text as shown, and `value` (int or float) for those that need the number
    (a workflow parameter from a number cell is a JSON number)."""
    __slots__ = ("value",)


def _xlsx_typed_number(value):
    shown = _XlsxNumber(_xlsx_number(value))
    shown.value = int(value) if value.is_integer() and abs(value) < 1e15 else value
    return shown


def _xlsx_date(value, date1904):
    """An Excel serial date as ISO text: date, date and time, or time alone."""
    epoch = datetime.datetime(1904, 1, 1) if date1904 else datetime.datetime(1899, 12, 30)
    if not date1904 and value < 61:
        epoch += datetime.timedelta(days=1)  # Excel's 1900-02-29 that never was
    try:
        moment = epoch + datetime.timedelta(seconds=round(value * 86400))
    except (OverflowError, ValueError):
        return _xlsx_number(value)
    clock = moment.strftime("%H:%M:%S" if moment.second else "%H:%M")
    if 0 <= value < 1:
        return clock
    day = "%04d-%02d-%02d" % (moment.year, moment.month, moment.day)
    return day if value == int(value) else day + " " + clock


def _xlsx_int(text, default=0):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _xlsx_strings(events, refuse):
    """The shared strings: <t> runs of each <si>, without phonetic guides, _xHHHH_ decoded."""
    strings, parts, phonetic, chars = [], [], False, 0
    for is_start, tag, value in events:
        if tag == "rPh":
            phonetic = is_start
        elif not is_start and tag == "t" and not phonetic:
            parts.append(value)
        elif not is_start and tag == "si":
            strings.append(_XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(parts)))
            parts, chars = [], chars + len(strings[-1])
            if len(strings) > _XLSX_MAX_STRINGS or chars > _XLSX_MAX_STRING_CHARS:
                raise refuse("共享文字超过 %d 条或 %d 个字符,太大了;请另存为 CSV 再运行" % (_XLSX_MAX_STRINGS, _XLSX_MAX_STRING_CHARS))
    return strings


def _xlsx_formats(events, refuse):
    """How each cell style shows a number: 'date', 'percent' or 'number'."""
    custom, formats, in_xfs = {}, [], False
    for is_start, tag, attrs in events:
        if tag == "cellXfs":
            in_xfs = is_start
        elif is_start and tag == "numFmt":
            custom[_xlsx_int(attrs.get("numFmtId"))] = attrs.get("formatCode") or ""
        elif is_start and tag == "xf" and in_xfs:
            if len(formats) >= _XLSX_MAX_STYLES:
                raise refuse("单元格格式超过 %d 种" % _XLSX_MAX_STYLES)
            number_format = _xlsx_int(attrs.get("numFmtId"))
            if number_format in custom:
                formats.append(_xlsx_format_kind(custom[number_format]))
            elif number_format in _XLSX_DATE_FORMATS:
                formats.append("date")
            else:
                formats.append("percent" if number_format in _XLSX_PERCENT_FORMATS else "number")
    return formats


class _XlsxSheet(object):
    """One worksheet of an .xlsx file: its name, its zip part, and its rows as a stream."""

    def __init__(self, path, sheet=None):
        self.path = path
        with _open_package(path) as book:
            self._locate(book, sheet)
        self.uncached = {}  # column index -> first row whose formula has no cached value
        self._merges = None

    def _locate(self, book, wanted):
        root_rels = _relationships(book, self.path, "")
        root = next((_part_path(self.path, "", target, mode) for kind, target, mode in root_rels.values()
                     if kind == "officeDocument"), "xl/workbook.xml")
        rels = _relationships(book, self.path, root)
        base = root.rsplit("/", 1)[0] if "/" in root else ""
        sheets, active, self.date1904 = [], 0, False
        for is_start, tag, attrs in _xml_events(book, self.path, root):
            if is_start and tag == "workbookView" and not active:
                active = _xlsx_int(attrs.get("activeTab"))
            elif is_start and tag == "workbookPr":
                self.date1904 = attrs.get("date1904") in ("1", "true")
            elif is_start and tag == "sheet":
                kind, target, mode = rels.get(_attribute(attrs, "id"), ("", "", None))
                sheets.append((attrs.get("name") or "", kind, target, mode))
        worksheets = [(name, target, mode) for name, kind, target, mode in sheets if kind == "worksheet"]
        self.names = [name for name, _, _ in worksheets]
        if not worksheets:
            raise InputError("表格里没有工作表:%s" % self.path)
        if wanted:
            found = [(target, mode) for name, target, mode in worksheets if name == wanted]
            if not found:
                raise InputError("表格里没有工作表「%s」,有的是:%s" % (wanted, "、".join(self.names)))
            self.name, (target, mode) = wanted, found[0]
        else:
            name, kind, target, mode = sheets[active] if 0 <= active < len(sheets) else sheets[0]
            if kind != "worksheet":
                name, target, mode = worksheets[0]
            self.name = name
        self.part = _part_path(self.path, base, target, mode)
        others = dict((kind, _part_path(self.path, base, target, mode)) for kind, target, mode in rels.values()
                      if kind in ("sharedStrings", "styles"))
        for part in [self.part] + list(others.values()):
            if part not in book.NameToInfo:
                raise _xlsx_refusal(self.path, "缺少部件 %s(工作簿里的关系指向一个不存在的部件)" % part)
        self._strings_part, self._styles_part = others.get("sharedStrings"), others.get("styles")

    def verify(self):
        """Every part of the workbook checked once (see check_package): before any chat, not when
        the paid answers are written into the copy."""
        with _open_package(self.path) as book:
            _check_package(book, self.path)

    def _lookups(self, book):
        refuse = functools.partial(_xlsx_refusal, self.path)
        strings = _xlsx_strings(_xml_events(book, self.path, self._strings_part), refuse) if self._strings_part else []
        formats = _xlsx_formats(_xml_events(book, self.path, self._styles_part), refuse) if self._styles_part else []
        return strings, formats

    def merges(self):
        """[(first column, first row, last column, last row)] of the merged ranges, found by
        scanning the part's bytes (they come after the rows, so a parse would need two passes)."""
        if self._merges is None:
            found, tail = set(), b""
            with _open_package(self.path) as book:
                for chunk in _part_chunks(book, self.path, self.part):
                    data = tail + chunk
                    found.update(m.group(1) for m in _XLSX_MERGE.finditer(data))
                    if len(found) > _XLSX_MAX_MERGES:
                        raise _xlsx_refusal(self.path, "合并单元格超过 %d 处" % _XLSX_MAX_MERGES)
                    tail = data[-512:]
            merges = []
            for ref in sorted(found):
                start, _, end = ref.decode("ascii").partition(":")
                (c1, r1), (c2, r2) = _split_ref(start), _split_ref(end or start)
                if c1 is not None and c2 is not None:
                    merges.append((min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)))
            self._merges = merges
        return self._merges

    def rows(self, after=0):
        """Yield (row number, texts) for every row in the file below row `after`."""
        vertical = dict(((c1, r1), r2) for c1, r1, c2, r2 in self.merges() if r2 > r1)
        carried = {}  # column -> (last row of the merge, value)
        with _open_package(self.path) as book:
            strings, formats = self._lookups(book)
            reader = _XlsxRowReader(self, strings, formats, after)
            for number, cells in reader.read(_xml_events(book, self.path, self.part)):
                for column in range(len(cells) if vertical else 0):
                    if (column, number) in vertical:
                        carried[column] = (vertical[(column, number)], cells[column])
                yield number, self._carry(cells, number, carried)

    @staticmethod
    def _carry(cells, number, carried):
        for column, (last, value) in list(carried.items()):
            if number > last:
                del carried[column]
            elif not (column < len(cells) and cells[column]):
                cells.extend([""] * (column + 1 - len(cells)))
                cells[column] = value
        while cells and not cells[-1]:
            cells.pop()  # formatted blanks at the end of a row
        return cells

    def free_column(self, at_least=0, header_row=1):
        """The first column right of every cell that holds something and of every merged range
        that reaches the header row or below: new cells there are never hidden under a merge."""
        used = at_least
        for c1, r1, c2, r2 in self.merges():
            if r2 >= header_row:
                used = max(used, c2 + 1)
        with _open_package(self.path) as book:
            column, filled = -1, False
            for is_start, tag, value in _xml_events(book, self.path, self.part):
                if tag == "row" and is_start:
                    column = -1
                elif tag == "c" and is_start:
                    found, _ = _split_ref(value.get("r"))
                    column, filled = column + 1 if found is None else found, False
                elif tag in ("v", "f", "is") and is_start:
                    filled = True
                elif tag == "c" and filled:
                    used = max(used, column + 1)
        return used


class _XlsxRowReader(object):
    """Turns the events of a sheet part into (row number, texts), checking numbers as it goes."""

    def __init__(self, sheet, strings, formats, after):
        self.sheet, self.strings, self.formats, self.after = sheet, strings, formats, after

    def refuse(self, problem):
        return _xlsx_refusal(self.sheet.path, "工作表「%s」%s" % (self.sheet.name, problem))

    def read(self, events):
        number, cells, column, cell, phonetic = 0, None, -1, None, False
        for is_start, tag, value in events:
            if is_start:
                if tag == "c" and cells is not None:
                    column = self.column_of(value.get("r"), column, number)
                    # type, style, value, formula, texts
                    cell = [value.get("t") or "n", value.get("s"), None, False, []]
                elif tag == "row":
                    number = self.row_number(value.get("r"), number)
                    cells, column, cell = ([] if number > self.after else None), -1, None
                elif tag == "rPh":
                    phonetic = True
            elif cell is not None:
                if tag == "v":
                    cell[2] = value
                elif tag == "c":
                    text = self.text(cell, column, number)
                    if text:
                        cells.extend([""] * (column + 1 - len(cells)))
                        cells[column] = text
                    cell = None
                elif tag == "f":
                    cell[3] = True
                elif tag == "rPh":
                    phonetic = False
                elif tag == "t" and not phonetic:
                    cell[4].append(value)
            elif tag == "row" and cells is not None:
                yield number, cells
                cells = None

    def row_number(self, text, previous):
        if text is None:
            number = previous + 1
        elif not text.strip().isdigit():
            raise self.refuse("的行号「%s」不是数字" % text[:20])
        else:
            number = int(text)
        if number > _XLSX_MAX_ROW:
            raise self.refuse("有第 %d 行,超过了 Excel 的最大行数 %d" % (number, _XLSX_MAX_ROW))
        if number <= previous:
            raise self.refuse("的行号顺序错乱(第 %d 行出现在第 %d 行之后)" % (number, previous))
        return number

    def column_of(self, ref, previous, number):
        if ref is None:
            column = previous + 1
        else:
            column, _ = _split_ref(ref)
            if column is None:
                raise self.refuse("第 %d 行的单元格引用「%s」不是有效的引用" % (number, ref[:20]))
        if column >= _XLSX_MAX_COLUMN:
            raise self.refuse("第 %d 行的单元格超出了 Excel 的最大列数 %d" % (number, _XLSX_MAX_COLUMN))
        return column

    def text(self, cell, column, number):
        kind, style, value, formula, texts = cell
        if kind == "inlineStr":
            return _XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), "".join(texts))
        if value is None or (value == "" and kind != "str"):
            if formula and column not in self.sheet.uncached:
                self.sheet.uncached[column] = number
            return ""
        if kind == "s":
            index = _xlsx_int(value, -1)
            if not 0 <= index < len(self.strings):
                raise self.refuse("第 %d 行引用了不存在的共享文字 %s" % (number, value[:20]))
            return self.strings[index]
        if kind == "b":
            return "TRUE" if value.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return value
        try:
            number_value = float(value)
        except ValueError:
            return value
        style = _xlsx_int(style)
        shown = self.formats[style] if 0 <= style < len(self.formats) else "number"
        if shown == "date":
            return _xlsx_date(number_value, self.sheet.date1904)
        if shown == "percent":
            return _xlsx_number(round(number_value * 100, 10)) + "%"
        return _xlsx_typed_number(number_value)

###############################################################################
# xlsx copies with new cells spliced in          (yingdao_module/xlsx_write.py)
###############################################################################
# Write a copy of an .xlsx workbook where only new cells are added (the splice writer).
#
# Every zip part is copied as a stream, in the same order with the same compression, except
# the processed sheet, where new inline-string cells are spliced into the XML text, also as a
# stream (the head up to <sheetData>, then one <row> at a time): the existing cells, styles,
# merged cells, formulas, column widths, charts, images and validations are left exactly as
# they were, and no part is ever held whole in memory. Spliced rather than re-serialized:
# ElementTree would rename namespace prefixes and drop declarations that `mc:Ignorable`
# needs, which Excel reports as a damaged file. Parts are read through xlsx_package, so the
# writer is bound by the same size and ratio limits as the reader.

_XLSX_CELL_LIMIT = 32767  # characters Excel keeps in one cell
_XLSX_ROW = re.compile(r"<(?P<p>(?:[\w.-]+:)?)row\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)row>)", re.S)
_XLSX_CELL = re.compile(r"<(?P<p>(?:[\w.-]+:)?)c\b(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</(?P=p)c>)", re.S)
# the row's last cell, when it has a reference
_XLSX_LAST_CELL = re.compile(r'<(?:[\w.-]+:)?c\b[^>]*?\br="([A-Z]{1,3}[0-9]+)"')
_XLSX_ATTR = re.compile(r'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_XLSX_SHEETDATA = re.compile(r"<(?P<p>(?:[\w.-]+:)?)sheetData\b[^>]*?(?P<empty>/?)>")
_XLSX_ILLEGAL = re.compile(u"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XLSX_ESCAPE_LOOKALIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def _xlsx_attrs(text):
    return dict((m.group(1), m.group(2) if m.group(2) is not None else m.group(3)) for m in _XLSX_ATTR.finditer(text))


def _xlsx_escape(text):
    text = _XLSX_ILLEGAL.sub("", text)
    if len(text) > _XLSX_CELL_LIMIT:
        note = "…(超过 Excel 单元格上限,已截断;完整内容在 .journal.jsonl)"
        text = text[:_XLSX_CELL_LIMIT - len(note)] + note
    text = _XLSX_ESCAPE_LOOKALIKE.sub(r"_x005F_\1", text)  # Excel would decode a literal _x0041_ as "A"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_apply(text, edits):
    """`text` with (start, end, replacement) edits applied; they do not overlap, and
    insertions at one place keep the order they were listed in (the sort is stable)."""
    out, position = [], 0
    for start, end, replacement in sorted(edits, key=lambda edit: edit[0]):
        out.append(text[position:start])
        out.append(replacement)
        position = max(position, end)
    out.append(text[position:])
    return "".join(out)


def _splice_copy(sheet, target, cells, widths=None):
    """Write a copy of `sheet`'s workbook to `target` with `cells` ({row: {column: text}}) added
    to the sheet as text; `widths` ({column: width}) sets widths of columns that have none."""
    with _open_package(sheet.path) as source, zipfile.ZipFile(target, "w") as out:
        out.comment = source.comment
        for info in source.infolist():
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
            copy.create_system, copy.comment, copy.extra = info.create_system, info.comment, info.extra
            with out.open(copy, "w", force_zip64=info.file_size > (1 << 30)) as stream:
                if info.filename == sheet.part:
                    _splice_into(stream, sheet.path, _part_chunks(source, sheet.path, info.filename), cells, widths)
                elif not info.is_dir():
                    for chunk in _part_chunks(source, sheet.path, info.filename):
                        stream.write(chunk)


def _splice_into(stream, path, chunks, cells, widths):
    try:
        for text in _XlsxSplice(path, cells, widths or {}).run(chunks):
            stream.write(text.encode("utf-8"))
    except UnicodeDecodeError:
        raise _xlsx_refusal(path, "工作表部件不是 UTF-8 编码")


class _XlsxSplice(object):
    """The sheet part's text, streamed, with the new cells spliced in row by row."""

    def __init__(self, path, cells, widths):
        self.path, self.cells, self.widths = path, cells, widths
        self.pending = collections.deque(sorted(number for number in cells if cells[number]))

    def run(self, chunks):
        decoder = codecs.getincrementaldecoder("utf-8")()
        texts = (decoder.decode(chunk) for chunk in chunks)
        buffer, opening = "", None
        for text in texts:  # the head: everything up to and including <sheetData>
            buffer += text
            opening = _XLSX_SHEETDATA.search(buffer)
            if opening:
                break
        if not opening:
            raise _xlsx_refusal(self.path, "工作表部件里没有 <sheetData>")
        prefix = opening.group("p")
        yield self.head(buffer[:opening.start()], prefix)
        if opening.group("empty"):
            yield "<%ssheetData>%s</%ssheetData>" % (prefix, self.new_rows(prefix, None), prefix)
            yield buffer[opening.end():]
        else:
            yield opening.group(0)
            for piece in self.rows(buffer[opening.end():], texts, prefix):
                yield piece
        for text in texts:
            yield text
        yield decoder.decode(b"", True)

    def rows(self, buffer, texts, prefix):
        """Yield the rows with new cells spliced in, then the rest of the buffer after </sheetData>."""
        closing, position, expected = "</%ssheetData>" % prefix, 0, 1
        while True:
            row = _XLSX_ROW.search(buffer, position)
            end = buffer.find(closing, position, row.start() if row else len(buffer))  # never past the next row
            if row and end < 0:
                number = _xlsx_attrs(row.group("attrs")).get("r") or str(expected)
                if not number.isdigit():
                    raise _xlsx_refusal(self.path, "工作表的行号「%s」不是数字" % number[:20])
                number = int(number)
                expected = number + 1
                yield buffer[position:row.start()] + self.new_rows(prefix, number)
                if self.pending and self.pending[0] == number:
                    yield self.grown_row(row, number, self.cells[self.pending.popleft()])
                else:
                    yield row.group(0)
                position = row.end()
            elif end >= 0:
                yield buffer[position:end] + self.new_rows(prefix, None) + buffer[end:]
                return
            else:
                more = next(texts, None)
                if more is None:
                    raise _xlsx_refusal(self.path, "工作表部件在 <sheetData> 里中断了")
                buffer, position = buffer[position:] + more, 0

    def new_rows(self, prefix, before):
        """New rows for the pending numbers below `before` (all of them when None)."""
        rows = []
        while self.pending and (before is None or self.pending[0] < before):
            number = self.pending.popleft()
            body = "".join(_new_cell(prefix, c, number, self.cells[number][c])
                           for c in sorted(self.cells[number]) if self.cells[number][c])
            rows.append('<%srow r="%d">%s</%srow>' % (prefix, number, body, prefix) if body else "")
        return "".join(rows)

    def head(self, text, prefix):
        """The part before <sheetData>: the dimension grown, widths for new columns."""
        rows = [n for n in self.cells if self.cells[n]]
        max_row = max(rows) if rows else 0
        max_column = max([c for n in rows for c in self.cells[n]] or [0])
        edits = []
        dimension = re.search(r'<(?:[\w.-]+:)?dimension\b[^>]*?\bref="([^"]*)"', text)
        if dimension and (max_row or max_column):
            edits.append((dimension.start(1), dimension.end(1), _grown_ref(dimension.group(1), max_row, max_column)))
        edits.extend(_width_edits(text, prefix, self.widths))
        return _xlsx_apply(text, edits)

    @staticmethod
    def grown_row(row, number, row_cells):
        """The row's XML with the new cells in column order; an empty cell already at a new
        cell's place (a formatted blank) is replaced, keeping its style."""
        prefix, body = row.group("p"), row.group("body") or ""
        at = body.rfind("<%sc " % prefix)
        last = _XLSX_LAST_CELL.match(body, at) if at >= 0 else None
        last_column = _split_ref(last.group(1))[0] if last else None
        existing, column = [], -1
        if last_column is not None and last_column < min(row_cells):  # the usual case: every new cell goes last
            existing.append((last_column, len(body), len(body), None))
        for cell in [] if existing else _XLSX_CELL.finditer(body):
            attrs = _xlsx_attrs(cell.group("attrs"))
            found, _ = _split_ref(attrs.get("r"))
            column = column + 1 if found is None else found
            existing.append((column, cell.start(), cell.end(), attrs.get("s")))
        edits = []
        for new in sorted(c for c in row_cells if row_cells[c]):
            same = [e for e in existing if e[0] == new]
            if same:
                edits.append((same[0][1], same[0][2], _new_cell(prefix, new, number, row_cells[new], same[0][3])))
            else:
                at = next((e[1] for e in existing if e[0] > new), len(body))
                edits.append((at, at, _new_cell(prefix, new, number, row_cells[new])))
        body = _xlsx_apply(body, edits)
        attrs_text = row.group("attrs")
        spans = re.search(r'\bspans="(\d+):(\d+)"', attrs_text)
        if spans:
            widest = max([int(spans.group(2))] + [c + 1 for c in row_cells if row_cells[c]])
            wider = 'spans="%s:%d"' % (spans.group(1), widest)
            attrs_text = attrs_text[:spans.start()] + wider + attrs_text[spans.end():]
        return "<%srow%s>%s</%srow>" % (prefix, attrs_text.rstrip().rstrip("/"), body, prefix)


def _new_cell(prefix, column, number, text, style=None):
    return '<%sc r="%s%d"%s t="inlineStr"><%sis><%st xml:space="preserve">%s</%st></%sis></%sc>' % (
        prefix, _column_letter(column), number, ' s="%s"' % style if style else "", prefix, prefix,
        _xlsx_escape(text), prefix, prefix, prefix)


def _grown_ref(ref, max_row, max_column):
    corners = [_split_ref(part) for part in ref.split(":")]
    if any(c is None for c, _ in corners):
        return ref
    first_column, first_row = corners[0]
    last_column, last_row = corners[-1]
    return "%s%d:%s%d" % (_column_letter(first_column), first_row, _column_letter(max(last_column, max_column)),
                          max(last_row, max_row))


def _width_edits(head, prefix, widths):
    """Give new columns a width unless a <col> range already covers them."""
    cols = re.search(r"<(?:[\w.-]+:)?cols>(.*?)</(?:[\w.-]+:)?cols>", head, re.S)
    ranges = []
    if cols:
        for col in re.finditer(r"<(?:[\w.-]+:)?col\b([^>]*?)/?>", cols.group(1)):
            attrs = _xlsx_attrs(col.group(1))
            ranges.append((int(attrs.get("min") or 0), int(attrs.get("max") or 0), cols.start(1) + col.start()))
    added = [(column + 1, width) for column, width in sorted(widths.items())
             if not any(low <= column + 1 <= high for low, high, _ in ranges)]
    if not added:
        return []
    new = ['<%scol min="%d" max="%d" width="%s" customWidth="1"/>' % (prefix, c, c, w) for c, w in added]
    if not cols:
        return [(len(head), len(head), "<%scols>%s</%scols>" % (prefix, "".join(new), prefix))]
    edits = []
    for (column, _), element in zip(added, new):
        at = next((start for low, _, start in ranges if low > column), cols.end(1))
        edits.append((at, at, element))
    return edits

###############################################################################
# Spreadsheets (CSV / xlsx)                          (yingdao_module/tables.py)
###############################################################################
# Spreadsheets: read text tables (UTF-8, UTF-8 with BOM, GBK, or UTF-16 with BOM as Excel's
# 「Unicode 文本」 saves it; comma, tab or semicolon separated; an Excel `sep=;` first line) and
# xlsx (xlsx_read.py, standard library only); write them atomically (a temporary file, then a rename),
# falling back to a new name when the output is open in Excel. A text table is written back in
# its input's encoding, delimiter and `sep=` line, and the cells we add are made inert (a leading
# ' on text Excel would run as a formula). An xlsx batch output is a copy of the input workbook
# with the new cells added (write_xlsx_copy).

_OPENPYXL_MISSING = ("把分片合并成 .xlsx 需要 openpyxl:在影刀应用的「Python 包管理」里安装 openpyxl,"
                    "或在命令行运行 pip install openpyxl;也可以把表格另存为 CSV")


_MIXED_ENCODING = ("CSV 文件第 %d 行不是 UTF-8 编码,而前面的行是 UTF-8:一个文件里混用了两种编码,读下去会出现乱码。"
                  "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
_UNKNOWN_ENCODING = ("CSV 文件第 %d 行既不是 UTF-8 也不是 GBK 编码,读不懂。"
                    "请用 Excel 或 WPS 打开它,「另存为」选「CSV UTF-8」后再运行(还没有发出任何请求,没有花钱)")
_BROKEN_CSV = ("表格文件 %s 第 %d 行读不通(%s):常见原因是单元格里有落单的引号,或一个单元格太长。"
              "请用 Excel 或 WPS 打开它,重新「另存为」后再运行(还没有发出任何请求,没有花钱)")
_UNREADABLE_UTF16 = ("表格文件 %s 开头是 UTF-16(「Unicode 文本」)的标记,但内容读不通:%s。"
                    "请用 Excel 或 WPS 打开它,重新「另存为」后再运行(还没有发出任何请求,没有花钱)")
_CHUNK = 1 << 20
_HEADER_SCAN = 10  # rows searched for the header (a title or notes above it are common)
_sniffed = {}  # (path, size, mtime) -> encoding: the table is read again at every save

# How a text table is laid out: its encoding, its delimiter, and whether it starts with Excel's
# `sep=X` hint line (kept when the table is written back)
_TextFormat = collections.namedtuple("TextFormat", "encoding delimiter sep_line")
_CSV_UTF8 = _TextFormat("utf-8-sig", ",", False)
_DELIMITERS = (",", "\t", ";")  # in order of preference when the header splits equally
_SEP_LINE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)
# OWASP's CSV injection advice: a cell starting with one of these may run as a formula in Excel/WPS
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")  # -5, +3.2, -10%: numbers, not formulas


_UTF8_WIDE = re.compile(b"[\xe0-\xef][\x80-\xbf]{2}")  # a 3-byte UTF-8 character: CJK text


def _first_bad_byte(path, encoding):
    """(line of the first byte that does not decode or None, how many (up to 2) 3-byte UTF-8
    characters come before it); reads in chunks, so a big file costs no memory."""
    lines, pending, wide = 1, b"", 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            data, bad = pending + chunk, None
            try:
                data.decode(encoding)
                pending = b""
            except UnicodeDecodeError as err:
                if chunk and err.end == len(data) and len(data) - err.start < 4:
                    pending, data = data[err.start:], data[:err.start]  # a character cut by the chunk end
                else:
                    bad, data = err.start, data[:err.start]
            found = _UTF8_WIDE.search(data) if wide < 2 else None
            while found and wide < 2:
                wide += 1
                found = _UTF8_WIDE.search(data, found.end())
            lines += data.count(b"\n")
            if bad is not None:
                return lines, wide
            if not chunk:
                return None, wide


def _sniff_encoding(path):
    """'utf-16' for a file starting with a UTF-16 BOM (Excel's 「Unicode 文本」), 'utf-8-sig'
    for UTF-8 (with or without BOM), 'gb18030' for GBK (Excel's CSV on Chinese Windows), decided
    on the whole file; a file that changes encoding half-way is refused with the line, before
    anything is paid for."""
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime)
    if key not in _sniffed:
        with open(path, "rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                _sniffed[key] = "utf-16"
                return "utf-16"
        line, wide = _first_bad_byte(path, "utf-8")
        encoding = "utf-8-sig"
        if line:
            with open(path, "rb") as handle:
                bom = handle.read(3) == codecs.BOM_UTF8
            # CJK text before the bad byte that is valid UTF-8 means the file started as UTF-8
            # (GBK text rarely forms even one 3-byte UTF-8 character by chance, never two in a row of text)
            if bom or wide >= 2:
                raise InputError(_MIXED_ENCODING % line)
            line, _ = _first_bad_byte(path, "gb18030")
            if line:
                raise InputError(_UNKNOWN_ENCODING % line)
            encoding = "gb18030"
        _sniffed[key] = encoding
    return _sniffed[key]


def _openpyxl():
    try:
        import openpyxl
    except ImportError:
        raise InputError(_OPENPYXL_MISSING)
    return openpyxl


def _read_rows(path, sheet=None):
    """Yield (row number, cells as text) for every row of the table; an xlsx jump in row
    numbers is skipped, not filled."""
    if not os.path.isfile(path):
        raise InputError("找不到表格文件:%s" % path)
    if path.lower().endswith((".xlsx", ".xlsm")):
        for numbered in _XlsxSheet(path, sheet).rows():
            yield numbered
    elif path.lower().endswith((".csv", ".txt")):
        for numbered in enumerate(_read_text_table(path), start=1):
            yield numbered
    else:
        raise InputError("只支持 .xlsx 和 .csv 表格:%s" % path)


def _clean_header(cells):
    header = [name.strip() for name in cells]
    while header and not header[-1]:
        header.pop()
    return header


def _read_header(path, sheet=None, wanted=(), header_row=None, guesses=()):
    """(row number, cleaned header, found, top rows): row `header_row` when given; else the first
    of the top HEADER_SCAN rows holding every name in `wanted` (or, with nothing wanted, one
    of `guesses`); else the first non-blank row with found False, so the caller can show the
    top rows (header_preview) and name --header-row. Empty tables and repeated names are refused."""
    top, chosen, rows = [], None, _read_rows(path, sheet)
    try:
        for number, cells in rows:
            if header_row:
                if number == header_row:
                    chosen = (number, _clean_header(cells))
                if number >= header_row:
                    break
                continue
            if number > _HEADER_SCAN:
                break
            header = _clean_header(cells)
            top.append((number, header))
            if (wanted and all(name in header for name in wanted)) or (
                    not wanted and guesses and any(name in header for name in guesses)):
                chosen = (number, header)
                break
    finally:
        rows.close()
    found = chosen is not None
    if header_row and not (found and chosen[1]):
        raise InputError("表格 %s 里第 %d 行是空的或不存在:header_row(--header-row)应该是列名所在的行" % (path, header_row))
    chosen = chosen or next(((n, h) for n, h in top if h), (None, []))
    number, header = chosen
    if not header:
        raise InputError("表格是空的(前 %d 行里没有列名):%s" % (_HEADER_SCAN, path))
    seen = set()
    for name in header:
        if name and name in seen:
            raise InputError("表格里有重复的列名「%s」(第 %d 行):请改成不同的名字,否则不知道用哪一列" % (name, number))
        seen.add(name)
    return number, header, found or bool(header_row) or not wanted, top


def _header_preview(top):
    """What the top rows hold, and how to name the header row: for a header that was not found."""
    lines = ["第 %d 行:%s" % (number, "、".join(name[:20] for name in header if name)[:80] or "(空)")
             for number, header in top[:6]]
    return ("。表格前几行是:%s。如果列名不在第一行,请用 --header-row N(batch() 的参数 header_row=N)"
            "指定列名所在的行" % ";".join(lines))


def _write_rows(path, header, rows, encoding="utf-8-sig", inert_from=None):
    """Write atomically; if `path` is locked (open in Excel) use `<name>_1.<ext>` and so on.
    A text table is written in `encoding`, an encoding name or the input's TextFormat (GBK stays
    GBK, 「Unicode 文本」 stays UTF-16 and tab-separated, a `sep=` line stays); its cells from
    column `inert_from` on (the ones we add) are made inert (inert_cell). Returns the path written."""
    def write(temporary):
        if temporary.lower().endswith((".xlsx", ".xlsm")):
            workbook = _openpyxl().Workbook(write_only=True)
            sheet = workbook.create_sheet()
            sheet.append(_text_cells(sheet, header))
            for row in rows:
                sheet.append(_text_cells(sheet, row))
            workbook.save(temporary)
        else:
            _write_text_table(temporary, header, rows, encoding, inert_from)
    return _publish(path, write)


def _sniff_format(path):
    """The TextFormat of a text table: its encoding (sniff_encoding), an Excel `sep=X` first line,
    else the delimiter that splits the header line into the most columns (comma on a tie)."""
    encoding = _sniff_encoding(path)
    with open(path, encoding=encoding, newline="") as handle:
        try:
            first = handle.readline(1 << 16)
        except UnicodeDecodeError as err:
            raise InputError(_UNREADABLE_UTF16 % (path, err))
        hint = _SEP_LINE.match(first.rstrip("\r\n"))
        if hint:
            return _TextFormat(encoding, hint.group(1), True)
    widths = [(len(next(csv.reader([first], delimiter=d), [])), -i, d) for i, d in enumerate(_DELIMITERS)]
    return _TextFormat(encoding, max(widths)[2], False)


def _read_text_table(path):
    """Rows (lists of text) of a CSV / text table, in its own encoding and delimiter; an Excel
    `sep=` line is not a row."""
    found = _sniff_format(path)
    with open(path, encoding=found.encoding, newline="") as handle:
        if found.sep_line:
            handle.readline()
        reader = csv.reader(handle, delimiter=found.delimiter)
        try:
            for row in reader:
                yield row
        except UnicodeDecodeError as err:  # UTF-16 is not scanned ahead like UTF-8 and GBK
            raise InputError(_UNREADABLE_UTF16 % (path, err))
        except csv.Error as err:  # a stray quote runs a cell on past the field size limit
            raise InputError(_BROKEN_CSV % (path, reader.line_num, err))


def _write_text_table(path, header, rows, layout, inert_from=None):
    """Write `header` and `rows` as a text table in `layout` (a TextFormat or an encoding name);
    cells from column `inert_from` on are made inert."""
    if not isinstance(layout, _TextFormat):
        layout = _CSV_UTF8._replace(encoding=layout)
    def inert(row):
        if inert_from is None:
            return row
        row = list(row)
        for at in range(inert_from, len(row)):
            if isinstance(row[at], str) and row[at][:1] in _FORMULA_FIRST:  # cheap test first: 100k rows
                row[at] = _inert_cell(row[at])
        return row
    with open(path, "w", encoding=layout.encoding, newline="") as handle:  # utf-8-sig's BOM: Excel opens it right
        if layout.sep_line:
            handle.write("sep=%s\r\n" % layout.delimiter)
        writer = csv.writer(handle, delimiter=layout.delimiter)
        writer.writerow(inert(header))
        for row in rows:
            writer.writerow(inert(row))


def _inert_cell(value):
    """Text Excel or WPS would run as a formula (starting with = + - @ tab or CR), with a leading '
    as OWASP advises for CSV, so it shows as the text it is; plain numbers (-5, +3.2) stay."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _text_cells(sheet, row):
    """`row` for openpyxl, with text starting with = kept as text: openpyxl would store it as a
    live formula (an answer "=1+1", or a CSV cell, is text, as it is in the xlsx copies)."""
    from openpyxl.cell import WriteOnlyCell
    cells = []
    for value in row:
        if isinstance(value, str) and value.startswith("="):
            value = WriteOnlyCell(sheet, value=value)
            value.data_type = "s"
        cells.append(value)
    return cells


def _write_xlsx_copy(path, sheet, cells, widths=None):
    """Write a copy of `sheet`'s workbook with `cells` ({row: {column: text}}) added, atomically
    (see xlsx_write.splice_copy); returns the path written."""
    return _publish(path, lambda temporary: _splice_copy(sheet, temporary, cells, widths))


def _publish(path, write):
    """`write(temporary)` beside `path`, then rename it to `path`, or to `<name>_1.<ext>` ... when
    `path` is locked; a half-written file (full disk) never stays behind."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, ext = os.path.splitext(os.path.basename(path))
    temporary = os.path.join(folder, ".%s.tmp%s" % (stem, ext))
    try:
        write(temporary)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    for attempt in range(50):
        target = path if attempt == 0 else os.path.join(folder, "%s_%d%s" % (stem, attempt, ext))
        try:
            os.replace(temporary, target)
            if attempt:
                _log("输出文件 %s 被占用(可能在 Excel 里开着),改写到 %s" % (os.path.basename(path), target))
            return target
        except PermissionError:
            continue
    raise InputError("输出文件被占用,也无法写到其他名字:请关闭 Excel 里的 %s" % path)

###############################################################################
# File locks between processes                     (yingdao_module/filelock.py)
###############################################################################
# File locks between processes: fcntl.flock on POSIX, msvcrt.locking on Windows.
#
# The operating system drops a lock when its process dies (even kill -9 or a power cut), so a
# crash never leaves a table or a rate-limit state locked. The lock file stays on disk; it
# holds a line saying who locked it last (pid, computer, start time), never a secret.

_WINDOWS_LOCK_OFFSET = 1 << 30  # msvcrt locks bytes: lock one far past the owner text, so it stays readable


def _lock(handle, blocking):
    """Lock an open file; OSError when another process holds it and blocking is False."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        handle.seek(_WINDOWS_LOCK_OFFSET)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not blocking:
                    raise
                time.sleep(0.5)
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def _unlock(handle):
    try:
        import fcntl
    except ImportError:
        import msvcrt
        handle.seek(_WINDOWS_LOCK_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _FileLock(object):
    """An exclusive lock held through `path`; also usable as a context manager (blocking)."""

    def __init__(self, path):
        self.path = path
        self._handle = None

    def acquire(self, blocking=True):
        """True once held; False when another process holds it and blocking is False."""
        handle = open(self.path, "a+b")
        try:
            _lock(handle, blocking)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self):
        if self._handle is not None:
            try:
                _unlock(self._handle)
            except OSError:
                pass
            self._handle.close()
            self._handle = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    # -- who holds it (for messages) -------------------------------------------------------------
    def write_owner(self):
        """Record this process as the holder: pid, computer name, start time."""
        import socket  # on first use: importing the module stays fast
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(json.dumps(owner, ensure_ascii=False).encode("utf-8"))
            self._handle.flush()
        except OSError:
            pass  # only used in messages: a full disk must not stop the lock from working

    def owner(self):
        """{pid, host, started} of the holder as it wrote them, or {} when not (yet) known."""
        for _ in range(10):  # the holder writes its line right after locking
            try:
                with open(self.path, "rb") as handle:
                    owner = json.loads(handle.read(4096).decode("utf-8"))
                if isinstance(owner, dict):
                    return owner
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        return {}

###############################################################################
# Batch journal                                     (yingdao_module/journal.py)
###############################################################################
# The batch journal: one JSON line per finished row, appended, flushed and fsynced before
# anything else happens, so a crash or a closed laptop never loses an answer already paid for.
# Rows finishing together share one fsync (group commit), so bookkeeping does not queue behind the disk.
#
# Its first line binds it to the input table, the question (template or column), the sheet and
# the bot: resuming with something else is refused instead of mixing answers, unless the run
# restarts (the old journal is kept under another name). Lines torn by a crash, cut inside a
# UTF-8 character or full of stray bytes are skipped: those rows are simply asked again.
#
# One run at a time: an exclusive lock on `<journal>.lock` (released by the operating system
# when the process dies) keeps a second robot on the same output from paying for the same rows.

_BOUND_FIELDS = (("input", "输入表格"), ("prompt", "提问模板"), ("question_column", "问题列"), ("sheet", "工作表"),
                ("bot_id", "智能体 bot_id"), ("workflow_id", "工作流 workflow_id"), ("server", "服务器(base_url)"))
_DEMO_SERVER = "离线演示(本机模拟器:没有找到令牌)"  # what the journal binds for the offline demo


def _journal_path_for(output_path):
    """Where the journal of a batch output lives: beside it."""
    return output_path + ".journal.jsonl"


def _journal_header(output_path):
    """The first line of an output's journal (input, prompt, shard ...), or {} when there is none."""
    try:
        with open(_journal_path_for(output_path), "rb") as handle:
            first = json.loads(handle.readline().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return first if isinstance(first, dict) and "journal" in first else {}


class _CommitGroup(object):
    """Journal lines that one fsync makes durable together."""
    __slots__ = ("lines", "done", "error")

    def __init__(self):
        self.lines, self.done, self.error = [], False, None


class _Journal(object):
    def __init__(self, path, header):
        self.path = path
        self.header = header
        self._handle = None
        self._cond = threading.Condition()  # workers finish rows concurrently
        self._open = None  # the CommitGroup taking lines until its fsync starts
        self._flushing = False  # a group is being written and fsynced (the lock released meanwhile)
        self._run_lock = _FileLock(path + ".lock")

    # -- one run at a time ------------------------------------------------------------------------
    def take_run_lock(self, wait=False):
        """Own this journal for the run; another run holding it stops us (or we wait for it)."""
        try:
            if self._run_lock.acquire(blocking=False):
                self._run_lock.write_owner()
                return
        except OSError as err:  # the folder is read-only, the disk full
            raise InputError("无法在输出文件夹里建立运行锁 %s(%s):请换一个能写的 output_path"
                             % (self._run_lock.path, err.strerror or err))
        owner = self._run_lock.owner()
        other = "进程 %s,电脑 %s,%s 开始" % (owner.get("pid", "?"), owner.get("host", "?"), owner.get("started", "?"))
        if not wait:
            raise CozeError("另一个批处理正在处理同一个输出(%s):%s。两个一起跑会为同一行付两次钱。"
                            "等它结束后再运行(会从断点继续),或加 wait=True(命令行 --wait)排队等它结束,"
                            "或换一个 output_path" % (other, self.output_name()))
        _log("另一个批处理正在处理同一个输出(%s):等它结束后接着做,不会重复付费……" % other)
        self._run_lock.acquire(blocking=True)
        self._run_lock.write_owner()

    def release_run_lock(self):
        self._run_lock.release()

    def output_name(self):
        suffix = ".journal.jsonl"
        return os.path.basename(self.path[:-len(suffix)] if self.path.endswith(suffix) else self.path)

    # -- reading back -----------------------------------------------------------------------------
    def load(self, restart=False):
        """{row number: record} from an earlier run (the last record of a row wins, except that a
        chat in flight for a row already answered, a review's, never hides that answer: it rides
        along as the answer's "pending", for the next --review to recover)."""
        records = {}
        if not os.path.exists(self.path):
            return records
        if restart:
            archived = "%s.%s.old" % (self.path, time.strftime("%Y%m%d-%H%M%S"))
            os.replace(self.path, archived)
            _log("重新开始:旧的断点日志已改名保存为 %s" % os.path.basename(archived))
            return records
        torn = 0
        with open(self.path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw.strip(b"\x00\r\n\t ").decode("utf-8"))
                except ValueError:  # UnicodeDecodeError is a ValueError too
                    torn += raw.strip(b"\x00\r\n\t ") != b""
                    continue  # torn by a crash or a full disk: that row is simply asked again
                if isinstance(record, dict) and "journal" in record:
                    self.check_header(record)
                elif isinstance(record, dict) and "row" in record:
                    earlier = records.get(record["row"]) or {}
                    if not record.get("status") and earlier.get("status") == _STATUS_OK and \
                            earlier.get("key") == record.get("key"):
                        record = dict(earlier, pending=record.get("pending"))
                    records[record["row"]] = record
        if torn:
            _log("断点日志里有 %d 行不完整(上次可能崩溃或磁盘满),已跳过:这些行会重新提问" % torn)
        return records

    def check_header(self, earlier):
        for field, label in _BOUND_FIELDS:
            before, now = earlier.get(field), self.header.get(field)
            if before and now and before != now:
                demo = "这次没有找到令牌,所以是离线演示:设置环境变量 COZE_API_TOKEN(或全局变量 coze_token)后重跑同一命令即可接着上次的运行。" \
                    if now == _DEMO_SERVER else ""
                raise InputError(demo +
                    "输出 %s 的断点日志属于另一次批处理:%s 不同(上次是「%s」,这次是「%s」)。接着跑会把两种回答混在一张表里。"
                    "请换一个 output_path(输出文件),或加 restart=True(命令行 --restart)从头开始:旧日志会改名保存,不会删除"
                    % (self.output_name(), label, before, now))

    # -- writing ------------------------------------------------------------------------------------
    def append(self, record):
        """Write one record to disk and return once it is fsynced; OSError when the disk is full or
        the file unwritable. Group commit: records appended while an fsync runs wait for the next
        one, which covers them all (one fsync per group, not per record; each caller still
        returns only after its own record is durable)."""
        line = json.dumps(record, ensure_ascii=False) + "\n"  # outside the lock: rows serialise in parallel
        with self._cond:
            group = self._open
            if group is None:
                group = self._open = _CommitGroup()
            group.lines.append(line)
            while not group.done:
                if self._flushing:
                    self._cond.wait()
                else:  # lead: this group is still open, so it holds our line; commit it
                    self._open, self._flushing = None, True
                    self._commit(group)
        if group.error is not None:
            raise group.error

    def _commit(self, group):
        """Write and fsync a group's lines with the lock released (called holding it)."""
        error = OSError(errno.EINTR, "日志写入被中断")  # for the waiters, if we are interrupted
        self._cond.release()
        try:
            self._write_lines(group.lines)
            error = None
        except (OSError, ValueError) as err:
            self._drop_handle()  # reopen next time: it checks for a torn last line again
            error = err
        finally:
            self._cond.acquire()
            group.done, group.error, self._flushing = True, error, False
            self._cond.notify_all()

    def _write_lines(self, lines):
        if self._handle is None:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            torn = not new and not self._ends_with_newline()
            self._handle = open(self.path, "a", encoding="utf-8")
            if torn:  # start after the torn line instead of gluing our record onto it
                self._handle.write("\n")
            if new:
                self._handle.write(json.dumps(dict(self.header, journal=1), ensure_ascii=False) + "\n")
        self._handle.write("".join(lines))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _ends_with_newline(self):
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def _drop_handle(self):
        if self._handle is not None:
            try:
                self._handle.close()
            except (OSError, ValueError):
                pass  # its buffer could not be flushed either: the disk is still full
            self._handle = None

    def close(self):
        with self._cond:
            while self._flushing:
                self._cond.wait()
            self._drop_handle()

###############################################################################
# Batch options                               (yingdao_module/batch_options.py)
###############################################################################
# Batch options: every batch() parameter, checked once before a table is read or a call paid for.
#
# Values typed into ShadowBot's 调用模块 arrive as text ("2", "否", ""), the command line
# gives None for what was not typed: both are cleaned here, so the engine sees clean values.

_ESTIMATE_SAMPLES = 3  # rows asked by estimate=True, spread over the table
_CHAT_RETRIES_MAX = 5


def _clean_count(value, name, allow_float=False):
    """A positive whole number (or any positive number), or None when blank."""
    if value is None or value == "" or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value) if allow_float else int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError("%s 应该是%s,现在是 %r" % (name, "数字" if allow_float else "整数", value))
    if number <= 0:
        raise InputError("%s 应该大于 0,现在是 %r" % (name, value))
    return number


def _clean_chat_retries(value):
    """How often a chat that failed on Coze's side is asked again in the same run: 0 to CHAT_RETRIES_MAX."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= _CHAT_RETRIES_MAX:
        raise InputError("chat_retries 应该是 0 到 %d 的整数(扣子那边失败的对话在本次运行里再问几次,每次多付一次对话),"
                         "现在是 %r" % (_CHAT_RETRIES_MAX, value))
    return number


def _clean_estimate(value):
    """How many sample rows estimate asks: 0 (no estimate), ESTIMATE_SAMPLES for yes, or a number."""
    if value is True or (isinstance(value, str) and value.strip().lower() in ("是", "true", "yes", "y", "1", "对")):
        return _ESTIMATE_SAMPLES
    no = ("否", "false", "no", "n", "0")
    if value in (None, False, "") or (isinstance(value, str) and value.strip().lower() in no):
        return 0
    number = _clean_count(value, "estimate")
    if number > 50:
        raise InputError("estimate 是试问的行数(默认 3),最多 50,现在是 %r" % (value,))
    return number


def _parse_shard(shard):
    """'K/N' -> (K, N), 1-based; None when not sharding."""
    if shard is None or str(shard).strip() == "":
        return None
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", str(shard))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise InputError("shard 应该写成「第几份/共几份」,例如 1/3、2/3、3/3(从 1 开始,不能超过总份数),现在是 %r" % (shard,))
    return int(match.group(1)), int(match.group(2))


def _default_output(input_path, shard):
    stem, ext = os.path.splitext(input_path)
    suffix = ".shard%dof%d" % shard if shard else ""
    return "%s_coze%s%s" % (stem, suffix, ext if ext.lower() in (".xlsx", ".csv", ".txt") else ".csv")


def _same_file(first, second):
    """True when two paths name one file, however spelled: symlinked folders, hard links, "..",
    and letter case on a case-insensitive disk (Windows, macOS). When both exist the operating
    system decides (samefile compares device and inode / file index); a path that does not exist
    yet is compared by its real path (folders' symlinks resolved, case folded on Windows)."""
    try:
        if os.path.exists(first) and os.path.exists(second):
            return os.path.samefile(first, second)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(first)) == os.path.normcase(os.path.realpath(second))


def _refuse_same_file(path, name, protected):
    """InputError when `path` (the option `name`) is one of the protected files [(path, label)]."""
    for other, label in protected:
        if _same_file(path, other):
            raise InputError("%s(%s)和%s(%s)是同一个文件(可能是另一种写法、链接或大小写不同):写入会覆盖%s。"
                             "请换一个 %s" % (name, path, label, other, label, name))


def _clean_json_fields(value):
    """["a", "b"] from "a,b" (also , 、 ; or a list); [] when not given."""
    if value is None or value == "":
        return []
    names = value if isinstance(value, (list, tuple)) else re.split(r"[,,、;;]", str(value))
    names = [str(name).strip() for name in names if str(name).strip()]
    if len(set(names)) != len(names):
        raise InputError("json_fields 里有重复的键:%s" % "、".join(names))
    return names


def _option_text(value):
    value = "" if value is None else str(value).strip()
    return value or None


class _BatchOptions(object):
    """The cleaned options of one batch run (see batch() for what each one means). `defaults` is
    batch_defaults() (batch()'s signature, handed in: that module imports this one).
    Its repr never shows the token or the private key."""

    def __repr__(self):
        return "BatchOptions(input_path=%r, output_path=%r, 令牌和私钥已隐藏)" % (self.input_path, self.output_path)

    def __init__(self, input_path, defaults, **values):
        self.defaults = dict(defaults)
        unknown = sorted(set(values) - set(self.defaults))
        if unknown:
            raise InputError("batch 没有参数 %s。可用的参数:%s" % ("、".join(unknown), "、".join(name for name, _ in defaults)))
        given = dict(self.defaults)
        given.update((name, value) for name, value in values.items() if value is not None and value != "")
        self.input_path = os.path.abspath(str(input_path or "").strip().strip('"'))
        self.prompt, self.question_column = _option_text(given["prompt"]), _option_text(given["question_column"])
        self.sheet, self.answer_column = _option_text(given["sheet"]), _option_text(given["answer_column"]) or "回答"
        self.bot_id, self.token, self.base_url = given["bot_id"], given["token"], given["base_url"]
        self.app_id, self.key_id, self.private_key = given["app_id"], given["key_id"], given["private_key"]
        self.concurrency = _clean_count(given["concurrency"], "concurrency") or 2
        try:
            self.qps = "auto" if _is_auto(given["qps"]) else _clean_count(given["qps"], "qps", allow_float=True)
        except InputError as err:
            raise InputError("%s;或者填 auto,读取账号自己的限额" % err)
        self.qpm = _clean_count(given["qpm"], "qpm", allow_float=True)
        self.qpd = _clean_count(given["qpd"], "qpd")
        self.max_rows = _clean_count(given["max_rows"], "max_rows")
        self.header_row = _clean_count(given["header_row"], "header_row")  # None: found in the top rows
        if self.header_row and self.header_row > 1048576:
            raise InputError("header_row 应该是列名所在的行号(1 到 1048576),现在是 %r" % (given["header_row"],))
        self.table_header_row = self.header_row or 1  # the header row actually used (checked_table sets it)
        self.max_tokens = _clean_count(given["max_tokens"], "max_tokens")
        self.shard = _parse_shard(given["shard"])
        self.timeout = _clean_timeout(given["timeout"])
        self.tools = _clean_tools(given["tools"])
        self.chat_retries = _clean_chat_retries(given["chat_retries"])
        self.clean_rows_through(given)
        self.estimate = _clean_estimate(given["estimate"])
        self.cache_days = _clean_count(given["cache_days"], "cache_days", allow_float=True)
        for name in ("retry_failed", "json_columns", "dedupe", "restart", "wait", "ask_blank", "download", "cache",
                     "review"):
            setattr(self, name, _clean_bool(given[name], name, False))
        self.json_fields = _clean_json_fields(given["json_fields"])
        if self.estimate and self.review:
            raise InputError("estimate(估算花费)和 review(按审核意见重问)不能同时用:估算请在正式运行前单独做")
        if self.review and self.workflow_id:
            raise InputError("review(按审核意见重问)用于问智能体的行:智能体在原会话里记得上文;"
                             "工作流的行没有会话,要重跑请改参数列后加 --retry-failed 或换一个 output_path")
        if self.cache_days and not self.cache:
            raise InputError("cache_days 只在用答案缓存时有效:请同时加 cache=True(命令行 --cache)")
        output = _option_text(given["output_path"])
        self.output_path = os.path.abspath(output.strip('"')) if output else \
            _default_output(self.input_path, self.shard)
        _refuse_same_file(self.output_path, "output_path", [(self.input_path, "输入表格")])
        _refuse_same_file(self.journal_path, "output_path", [(self.input_path, "输入表格")])
        if not os.path.isdir(os.path.dirname(self.output_path)):
            raise InputError("输出文件夹不存在:%s。请先建好这个文件夹,或换一个 output_path" % os.path.dirname(self.output_path))
        report = _option_text(given["report_path"])
        self.report_path = os.path.abspath(report.strip('"')) if report else \
            os.path.splitext(self.output_path)[0] + "_报告.html"
        _refuse_same_file(self.report_path, "report_path", [(self.input_path, "输入表格"), (self.output_path, "输出表格")])
        if self.download:
            self.check_downloads_folder()

    def clean_rows_through(self, given):
        """A workflow per row (workflow_id, parameters, answers_column) instead of a bot; files_column."""
        workflow_id = _option_text(given["workflow_id"])
        self.workflow_id = _clean_workflow_id(workflow_id) if workflow_id else None
        self.parameters = _clean_json_dict(given["parameters"], "parameters", '{"city": "{城市}", "lang": "zh"}')
        _refuse_token(json.dumps(self.parameters, ensure_ascii=False), "parameters")  # any key or value, nested too
        self.answers_column = _option_text(given["answers_column"])
        self.files_column = _option_text(given["files_column"])
        if self.workflow_id and (self.prompt or self.question_column):
            raise InputError("workflow_id(每行运行工作流)和 prompt / question_column(每行问智能体)只能选一种:"
                             "工作流的参数来自同名的列,改名或常量写在 parameters 里")
        if not self.workflow_id and (self.parameters or self.answers_column):
            raise InputError("parameters 和 answers_column 只用于每行运行工作流:请同时填 workflow_id(命令行 --workflow-id)")
        if self.workflow_id and self.answer_column == "回答":
            self.answer_column = "输出"  # a workflow's End output that is not a JSON object

    @property
    def downloads_folder(self):
        """Where download=True saves what answers link to: <output name>_文件 beside the output."""
        return os.path.splitext(self.output_path)[0] + "_文件"

    def check_downloads_folder(self):
        """The downloads folder is never the input table, nor a folder holding it."""
        folder = self.downloads_folder
        _refuse_same_file(folder, "下载文件夹", [(self.input_path, "输入表格")])
        inside = os.path.normcase(os.path.realpath(self.input_path)).startswith(
            os.path.normcase(os.path.realpath(folder)) + os.sep)
        if inside or (os.path.exists(folder) and not os.path.isdir(folder)):
            raise InputError("下载文件夹 %s %s:请换一个 output_path(下载文件夹是「<输出名>_文件」)"
                             % (folder, "里有输入表格,下载的文件可能覆盖它" if inside else "已经是一个文件"))

    @property
    def journal_path(self):
        return _journal_path_for(self.output_path)

    @property
    def shard_text(self):
        return "%d/%d" % self.shard if self.shard else ""

###############################################################################
# Batch report (HTML)                                (yingdao_module/report.py)
###############################################################################
# The batch report: one self-contained HTML page in Chinese (no scripts, fonts, images or
# links to fetch) that a user can open offline or mail to a manager: totals, tokens, time and
# rate, a progress chart drawn as inline SVG, failures grouped by reason with what to do about
# each, and the command that continues the run.
#
# `write_report(path, facts)` takes plain facts from the batch (see `render_report`).

_REPORT_CHART_POINTS = 300  # the chart keeps at most this many points, however long the run
_REPORT_FIXES = (  # (words in the reason, what to do); the first match wins
    ("JSON", "在提问模板里写明「只输出 JSON 对象」并列出键名;改好后加 --retry-failed 重跑这些行"),
    ("超时", "把 timeout 调大,或让智能体回答短一些;然后加 --retry-failed 重跑这些行"),
    ("限流", "把 qps / concurrency 调小,然后加 --retry-failed 重跑这些行"),
    ("繁忙", "稍后加 --retry-failed 重跑这些行"),
    ("网络", "检查网络或代理,然后加 --retry-failed 重跑这些行"),
    ("是空的", "在表格里补上这些列,重跑同一命令就会问这些行;确实要问空行就加 --ask-blank"),
    ("问题为空", "在表格里补上问题,重跑同一命令即可"),
)
_REPORT_IDS = re.compile(r"[((][^))]*(?:logid|chat_id|错误码)[^))]*[))]")
_REPORT_CSS = """
body{margin:0;background:#f4f5f7;color:#1f2329;font:15px/1.6 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",
"WenQuanYi Zen Hei","Source Han Sans SC",sans-serif}
main{max-width:1000px;margin:0 auto;padding:28px 24px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.sub{color:#646a73;margin:0 0 18px;word-break:break-all}
.demo{background:#fee2e2;border:2px solid #dc2626;color:#991b1b;padding:12px 16px;margin:0 0 18px;border-radius:6px;
font-size:17px}
.stop{background:#fff4e5;border-left:4px solid #f59e0b;padding:10px 14px;margin:0 0 18px;border-radius:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{flex:1;min-width:150px;background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:30px;line-height:1.2}.card span{color:#646a73}
.ok b{color:#16a34a}.failed b{color:#dc2626}.skipped b{color:#6b7280}.pending b{color:#d97706}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#f8f9fb;font-weight:600;color:#4b5563;white-space:nowrap}
td.n{white-space:nowrap;text-align:right}td.rows{min-width:150px}
.figures td:first-child{color:#646a73;width:30%}
.chart{background:#fff;border-radius:8px;padding:8px 8px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
pre{background:#1f2329;color:#e5e7eb;padding:12px 14px;border-radius:8px;white-space:pre-wrap;word-break:break-all;
font:14px/1.5 Consolas,"DejaVu Sans Mono",monospace}
.none{color:#646a73}code{white-space:nowrap;font-family:Consolas,"DejaVu Sans Mono",monospace;font-size:13px}
"""


def _report_seconds(seconds):
    if 0 < (seconds or 0) < 10 and round(seconds, 1) != round(seconds):  # a short run's axis: 0.4 秒, not 0 秒
        return "%.1f 秒" % seconds
    seconds = int(round(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return "%d 小时 %d 分" % (hours, minutes)
    return "%d 分 %d 秒" % (minutes, seconds) if minutes else "%d 秒" % seconds


def _report_rows(numbers, limit=12):
    shown = "、".join(str(n) for n in numbers[:limit])
    return shown + (" 等 %d 行" % len(numbers) if len(numbers) > limit else "")


def _report_fix(reason):
    """What to do about rows that failed or were skipped for `reason`."""
    for words, fix in _REPORT_FIXES:
        if words in reason:
            return fix
    return "按左边的说明处理后,加 --retry-failed 重跑这些行"


def _group_reasons(records):
    """[(reason, [row numbers])] from {"row", "error"} records, the most frequent first."""
    groups = {}
    for record in records:
        reason = _REPORT_IDS.sub("", record.get("error") or "未知原因").strip()
        groups.setdefault(reason, []).append(record["row"])
    return sorted(groups.items(), key=lambda item: (-len(item[1]), min(item[1])))


def _report_step(top):
    """A round tick step (1, 2, 5 x 10^k) giving at most 5 ticks up to `top`."""
    step = 1
    while top / step > 5:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10 -> 20 ...
            step = int(step * factor)
            if top / step <= 5:
                break
    return step


def _report_chart(timeline, planned):
    """Inline SVG: rows finished (and failed) over the run's time."""
    width, height, left, right, top, bottom = 960, 290, 56, 20, 44, 40
    if len(timeline) > _REPORT_CHART_POINTS:
        step = len(timeline) / float(_REPORT_CHART_POINTS)
        timeline = [timeline[int(i * step)] for i in range(_REPORT_CHART_POINTS)] + [timeline[-1]]
    points = [(0.0, 0, 0)] + [tuple(point) for point in timeline]
    span = max(points[-1][0], 1.0)
    top_count = max(planned, max(p[1] for p in points), 1)
    step = _report_step(top_count)
    peak = step * -(-top_count // step)  # the axis ends on a round number

    def x(seconds):
        return left + (width - left - right) * seconds / span

    def y(count):
        return top + (height - top - bottom) * (1 - count / float(peak))

    def line(index):
        return " ".join("%.1f,%.1f" % (x(p[0]), y(p[index])) for p in points)

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" '
             'aria-label="进度随时间变化">' % (width, height)]
    for count in range(0, peak + 1, step):
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eef0f3"/>'
                     % (left, width - right, y(count), y(count)))
        parts.append('<text x="%d" y="%.1f" font-size="12" fill="#646a73" text-anchor="end">%d</text>'
                     % (left - 8, y(count) + 4, count))
    for share, anchor in ((0, "start"), (0.25, "middle"), (0.5, "middle"), (0.75, "middle"), (1, "end")):
        parts.append('<text x="%.1f" y="%d" font-size="12" fill="#646a73" text-anchor="%s">%s</text>'
                     % (x(span * share), height - bottom + 18, anchor, _report_seconds(span * share)))
    if planned:
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#9ca3af" stroke-dasharray="5 4"/>'
                     '<text x="%d" y="%.1f" font-size="12" fill="#6b7280" text-anchor="end">计划 %d 行</text>'
                     % (left, width - right, y(planned), y(planned), width - right, y(planned) - 6, planned))
    parts.append('<polyline fill="none" stroke="#2563eb" stroke-width="2.5" points="%s"/>' % line(1))
    if any(p[2] for p in points):
        parts.append('<polyline fill="none" stroke="#dc2626" stroke-width="2" points="%s"/>' % line(2))
    parts.append('<g font-size="13"><rect x="%d" y="%d" width="12" height="4" fill="#2563eb"/>'
                 '<text x="%d" y="%d" fill="#1f2329">已处理</text>'
                 '<rect x="%d" y="%d" width="12" height="4" fill="#dc2626"/>'
                 '<text x="%d" y="%d" fill="#1f2329">其中失败</text></g>'
                 % (left, 12, left + 18, 18, left + 80, 12, left + 98, 18))
    parts.append('<text x="%d" y="%d" font-size="12" fill="#646a73" text-anchor="middle">用时</text>'
                 % ((width + left) // 2, height - 4))
    parts.append("</svg>")
    return "".join(parts)


def _report_groups(groups, title, empty):
    import html  # on first use: importing the module stays fast
    if not groups:
        return '<h2>%s</h2><p class="none">%s</p>' % (title, empty)
    rows = "".join('<tr><td>%s</td><td class="n">%d</td><td class="rows">%s</td><td>%s</td></tr>'
                   % (html.escape(reason), len(numbers), html.escape(_report_rows(numbers)),
                      re.sub(r"(--[a-z-]+)", r"<code>\1</code>", html.escape(_report_fix(reason))))
                   for reason, numbers in groups)
    return ('<h2>%s</h2><table><tr><th>原因</th><th>行数</th><th>表格行号</th><th>怎么办</th></tr>%s</table>'
            % (title, rows))


def _render_report(facts):
    """The page for `facts`: title, input, output, sheet, started, elapsed (s), ok, failed,
    skipped, pending, planned (rows this run), finished (rows this run), tokens (of answered rows),
    all_tokens (failed rows cost too), chats,
    timeline [(seconds, finished, failed)], failures and skips [{"row", "error"}],
    stopped_reason, resume (a command), asked_again (chats failed on Coze's side asked again),
    demo (text: the answers came from the offline demo, said in a banner and the title),
    sections [(title, text)]: the estimate, review rounds."""
    import html  # on first use: importing the module stays fast
    esc = html.escape
    counts = [("ok", "成功", facts.get("ok", 0)), ("failed", "失败", facts.get("failed", 0)),
              ("skipped", "跳过", facts.get("skipped", 0)), ("pending", "未完成", facts.get("pending", 0))]
    cards = "".join('<div class="card %s"><b>%d</b><span>%s</span></div>' % (kind, count, name)
                    for kind, name, count in counts)
    elapsed = float(facts.get("elapsed") or 0)
    finished = facts.get("finished", 0)
    answered = facts.get("ok", 0)
    tokens, all_tokens = facts.get("tokens", 0), facts.get("all_tokens", facts.get("tokens", 0))
    figures = [
        ("开始时间", facts.get("started", "")),
        ("本次用时", _report_seconds(elapsed)),
        ("本次处理", "%d 行,平均 %.2f 行/秒(%.1f 行/分钟)" % (finished, finished / max(elapsed, 0.001),
                                                         60 * finished / max(elapsed, 0.001))),
        ("tokens", "共 %d(成功的行 %d,平均每行 %d)" % (all_tokens, tokens, tokens // answered if answered else 0)),
        ("本次发起的对话(计费次数)", "%d" % facts.get("chats", 0) + (
            "(其中 %d 次是重问扣子那边失败的对话)" % facts["asked_again"] if facts.get("asked_again") else "")),
        ("输入表格", facts.get("input", "") + ("(工作表「%s」)" % facts["sheet"] if facts.get("sheet") else "")),
        ("输出表格", facts.get("output", "")),
    ]
    table = "".join("<tr><td>%s</td><td>%s</td></tr>" % (esc(name), esc(str(value))) for name, value in figures)
    stop = ""
    if facts.get("demo"):  # a report made offline must never pass for real answers
        stop = '<p class="demo"><b>【离线演示】</b>%s。</p>' % esc(facts["demo"].replace("离线演示:", "", 1))
    if facts.get("stopped_reason"):
        stop += '<p class="stop"><b>提前停止:</b>%s</p>' % esc(facts["stopped_reason"])
    if facts.get("pending") or facts.get("failed"):
        resume = ("<h2>继续</h2><p>还有未完成或失败的行。处理好上面的原因后:</p>"
                  "<pre>%s</pre>" % esc(facts.get("resume", "")))
    else:
        resume = "<h2>继续</h2><p class=\"none\">全部完成,没有需要继续的行。</p>"
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s批处理报告 - %s</title><style>%s</style></head><body><main>" % (
            "【离线演示】" if facts.get("demo") else "", esc(facts.get("title", "")), _REPORT_CSS),
        "<h1>%s批处理报告:%s</h1>" % ("【离线演示】" if facts.get("demo") else "", esc(facts.get("title", ""))),
        '<p class="sub">%s 生成</p>' % esc(facts.get("generated", "")),
        stop,
        "".join("<h2>%s</h2><pre>%s</pre>" % (esc(title), esc(text)) for title, text in facts.get("sections") or []),
        '<div class="cards">%s</div>' % cards,
        '<h2>用量与速度</h2><table class="figures">%s</table>' % table,
        '<h2>进度</h2><div class="chart">%s</div>' % _report_chart(facts.get("timeline") or [], facts.get("planned", 0)),
        _report_groups(_group_reasons(facts.get("failures") or []), "失败的行", "没有失败的行。"),
        _report_groups(_group_reasons(facts.get("skips") or []), "跳过的行", "没有跳过的行。"),
        resume,
        "</main></body></html>",
    ])


def _write_report(path, facts):
    """Write the page atomically (a half-written report never replaces a good one); returns the path."""
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(_render_report(facts))
    os.replace(temporary, path)
    return path

###############################################################################
# Quoting commands for bash, cmd and PowerShell (yingdao_module/shell_quote.py)
###############################################################################
# Commands we print for a user to paste: each argument quoted for the shell it will be pasted
# into, so a file name or prompt holding $( ), backticks, %VAR%, &, |, quotes or a newline is
# passed as text and never runs anything. Where a value cannot be quoted safely for a shell, we
# say so instead of printing a command for it.
#
# POSIX sh/bash: single quotes keep everything literal (no $, `, \ or ! expansion inside); a
# single quote itself is written '\'' (close, escaped quote, reopen). Newlines are literal too.
#
# cmd.exe: inside double quotes & | < > ^ ( ) are literal, but %VAR% is still expanded (and !VAR!
# with delayed expansion), and there is no way to escape % or " inside quotes that also survives
# the C runtime's argv parsing; a newline ends the command. So a value with % ! " or a line break
# cannot be pasted into cmd: we say so. Backslashes are literal to the C runtime except before a
# quote, so the ones ending a value are doubled before the closing quote.
#
# PowerShell: single-quoted strings are literal ($, `, ; & | are text); a single quote inside is
# doubled, and PowerShell also takes the typographic quotes ‘ ’ ‚ ‛ as single quotes, so those
# are doubled too. Windows PowerShell 5.1 passes an argument holding " to a program without
# escaping it (the program sees it split), one ending in a backslash followed by the quote it
# adds, and drops an empty argument: such values are refused rather than mangled.

_SHELL_NAMES = {"posix": "终端(bash / zsh)", "cmd": "命令提示符(cmd)", "powershell": "PowerShell"}
_POSIX_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")  # nothing a POSIX shell would interpret
_CMD_REFUSED = re.compile(r"[%!\"\x00-\x08\x0a-\x1f]")  # a tab is kept inside quotes; a line break ends the command
_PS_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
_WINDOWS_PLAIN = re.compile(r"^-{0,2}[A-Za-z][A-Za-z0-9_-]*$")  # flags and words like batch: left as typed


def _posix_quote(value):
    """One argument for sh / bash / zsh: always possible."""
    if value and _POSIX_PLAIN.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def _cmd_quote(value):
    """One argument for cmd.exe, or None when it cannot be pasted there safely."""
    if _WINDOWS_PLAIN.match(value):
        return value
    if _CMD_REFUSED.search(value):
        return None
    trailing = len(value) - len(value.rstrip("\\"))
    return '"' + value + "\\" * trailing + '"'


def _powershell_quote(value):
    """One argument for PowerShell, or None when Windows PowerShell would pass it on mangled."""
    if not value or '"' in value or "\u201c" in value or "\u201d" in value or value.endswith("\\") or "\x00" in value:
        return None
    if _WINDOWS_PLAIN.match(value):
        return value
    return "'" + _PS_SINGLE_QUOTES.sub(r"\1\1", value) + "'"


_QUOTERS = {"posix": _posix_quote, "cmd": _cmd_quote, "powershell": _powershell_quote}


def _command_line(args, shell):
    """The command line for `shell` ("posix", "cmd", "powershell"), or None when one of the
    arguments cannot be quoted safely for it. The first argument (the program) is a plain word."""
    quoted = [args[0]]
    for value in args[1:]:
        text = _QUOTERS[shell](str(value))
        if text is None:
            return None
        quoted.append(text)
    return " ".join(quoted)


def _shells_here(platform_name):
    """The shells a user on this platform pastes into: cmd and PowerShell on Windows, else POSIX."""
    return ("cmd", "powershell") if platform_name.startswith("win") else ("posix",)


def _printable_commands(args, platform_name, reason_unquotable):
    """Lines to show: for each shell of the platform, '<shell>:<command>' or why there is none."""
    lines = []
    for shell in _shells_here(platform_name):
        line = _command_line(args, shell)
        lines.append("%s:%s" % (_SHELL_NAMES[shell], line) if line is not None else
                     "%s:无法安全地写成命令(%s)" % (_SHELL_NAMES[shell], reason_unquotable[shell]))
    return lines

###############################################################################
# The command that continues a batch run             (yingdao_module/resume.py)
###############################################################################
# The command that continues a batch run, printed in the log, the summary and the report.
#
# Run as printed (in the same folder, the token in the environment) it continues the same run on
# the same server: every option that shapes the run goes in, driven by RESUME_OPTIONS (a new
# batch option is one entry there; one that BatchOptions does not have is left out). Secrets
# never go in: the text says where the token or private key is read from instead. Arguments are
# quoted for the shells of the platform (shell_quote.py).

_DEMO_TOKEN = "demo-token"  # the offline demo (cli.py) signs in to the local simulator with this
_RESUME_PROGRAM = ("python", "-m", "yingdao_module", "batch")
# (BatchOptions attribute, command-line flag), in the order they are printed
_RESUME_OPTIONS = (
    ("prompt", "--prompt"), ("question_column", "--question-column"), ("sheet", "--sheet"),
    ("header_row", "--header-row"), ("answer_column", "--answer-column"), ("output_path", "--output"),
    ("report_path", "--report"), ("json_fields", "--json-fields"), ("json_columns", "--json-columns"),
    ("dedupe", "--dedupe"), ("ask_blank", "--ask-blank"), ("concurrency", "--concurrency"), ("qps", "--qps"),
    ("qpm", "--qpm"), ("qpd", "--qpd"), ("max_rows", "--max-rows"), ("max_tokens", "--max-tokens"),
    ("timeout", "--timeout"), ("shard", "--shard"), ("tools", "--tools"), ("chat_retries", "--chat-retries"),
    ("workflow_id", "--workflow-id"), ("parameters", "--parameters"), ("answers_column", "--answers-column"),
    ("files_column", "--files-column"), ("download", "--download"),
    ("cache", "--cache"), ("cache_days", "--cache-days"), ("review", "--review"),
)  # estimate is left out: the command printed after an estimate is the real run
_UNQUOTABLE = {
    "posix": "",
    "cmd": "路径、提示词或其他参数里有 %、!、双引号或换行,cmd 会改动它们;请用 PowerShell 那一条,或在影刀里再次运行同一个流程",
    "powershell": "参数里有双引号或以反斜杠结尾,Windows PowerShell 会把它传错;请用 cmd 那一条,或在影刀里再次运行同一个流程",
}


def _option_value(options, name):
    """The value of one option as the command line takes it; None when it is the default."""
    if name == "output_path":
        default = _default_output(options.input_path, options.shard)
        return None if options.output_path == default else options.output_path
    if name == "report_path":
        return None if options.report_path == os.path.splitext(options.output_path)[0] + "_报告.html" \
            else options.report_path
    if name == "shard":
        return options.shard_text or None
    if name == "tools":
        return _tools_text(options.tools)
    if name == "parameters":
        # constants of the user's: a secret among them is never printed (the run refused token-shaped ones)
        return _redact(json.dumps(options.parameters, ensure_ascii=False)) if options.parameters else None
    if name == "answer_column" and getattr(options, "workflow_id", None) and options.answer_column == "输出":
        return None  # a workflow run's default
    value = getattr(options, name, None)
    return None if value == options.defaults.get(name) else value


def _tools_text(tools):
    """{"tool": "module:function"} as JSON (how the command line names Python functions)."""
    if not tools:
        return None
    return json.dumps(dict((name, handler if isinstance(handler, str) else
                            "%s:%s" % (getattr(handler, "__module__", "?"), getattr(handler, "__name__", "?")))
                           for name, handler in tools.items()), ensure_ascii=False)


def _option_words(flag, value):
    if value is None or value is False or value in ("", [], ()):
        return []
    if value is True:
        return [flag]
    if isinstance(value, float) and value == int(value):
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    return [flag, str(value)]


def _resume_program():
    """How the command line was started: `python /path/to/coze.py batch` when dist/coze.py itself runs
    as the script (its module is __main__ only then; pasted into ShadowBot it never is), else the
    package. The script's full path, so the command runs from any folder."""
    if __name__ == "__main__":
        return ["python", os.path.abspath(sys.argv[0] or "coze.py"), "batch"]
    return list(_RESUME_PROGRAM)


def _resume_args(options, bot_id, base_url, app_id=None, key_id=None, demo=False, retry_failed=False):
    """The argument list of the resume command (no secrets)."""
    args = _resume_program() + [options.input_path]
    for name, flag in _RESUME_OPTIONS:
        args += _option_words(flag, _option_value(options, name))
    args += _option_words("--bot-id", bot_id)
    if not demo:  # the demo's simulator port changes: without a token the command finds the demo again
        args += _option_words("--base-url", base_url)
    args += _option_words("--app-id", app_id) + _option_words("--key-id", key_id)
    return args + _option_words("--retry-failed", bool(retry_failed))


def _credential_note(app_id, demo):
    if demo:
        return "这是离线演示:命令里没有令牌,不设置令牌时它同样用本机模拟器继续"
    if app_id:
        return ("私钥没有写进命令:运行前把私钥(PEM 文本或 .pem 文件路径)放进环境变量 COZE_PRIVATE_KEY"
                "(在影刀里是密码类型的全局变量 coze_private_key),命令会从那里读取")
    return "令牌没有写进命令:运行前设置环境变量 COZE_API_TOKEN(在影刀里是全局变量 coze_token),命令会从那里读取"


def _resume_text(options, bot_id, base_url, app_id=None, key_id=None, demo=False, retry_failed=False,
                platform_name=None):
    """The lines telling how to continue this run, for the log, the summary and the report."""
    args = _resume_args(options, bot_id, base_url, app_id, key_id, demo, retry_failed)
    lines = ["在同一文件夹运行下面的命令继续(已完成的行不会再付费):"]
    lines += _printable_commands(args, platform_name or sys.platform, _UNQUOTABLE)
    lines += [_credential_note(app_id, demo), "在影刀里:再次运行同一个流程即可,参数不变"]
    return "\n".join(lines)

###############################################################################
# Files in: each row's files                      (yingdao_module/row_files.py)
###############################################################################
# Files in: the files a batch row sends with its question (files_column).
#
# A cell holds one or more local paths or http(s) URLs, separated by ";" or new lines; a relative
# path is relative to the input table's folder. Images go as image parts, other files as file
# parts; a URL is sent as the URL (Coze fetches it), a local file is uploaded. Each distinct file
# is uploaded once per output (by content hash, per account and server): its file id goes into
# `<output>.uploads.jsonl` at once, so a resume never uploads it again. A missing or unreadable
# file fails its row only, before any chat, naming the path.

_FILE_SEPARATORS = re.compile(r"[;;\r\n]+")
_MAX_FILES_PER_ROW = 20


class _RowFileError(InputError):
    """A file of one row cannot be sent: that row fails, the others go on."""
    fatal = False


def _cell_files(text):
    """The paths and URLs in a cell, in order, without blanks and surrounding quotes."""
    items = [item.strip().strip('"').strip() for item in _FILE_SEPARATORS.split(str(text or ""))]
    return [item for item in items if item]


def _is_url(item):
    return item.lower().startswith(("http://", "https://"))


def _is_image_name(name):
    return name.lower().split("?")[0].endswith(_IMAGE_EXTENSIONS)


def _content_hash(path):
    """sha256 of a file, read in pieces (a 500 MB video costs no memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _RowFiles(object):
    """Turns a row's files cell into message parts (or workflow parameter values), uploading each
    distinct local file once."""

    def __init__(self, options, client, account):
        self.folder = os.path.dirname(options.input_path)
        self.client, self.account = client, account  # account: a hash naming who uploaded (never the token)
        self.path = options.output_path + ".uploads.jsonl"
        self.lock = threading.Lock()  # one upload at a time: the same file in two rows is uploaded once
        self.known = None

    def local_path(self, item, number):
        path = item if os.path.isabs(item) else os.path.join(self.folder, item)
        if not os.path.isfile(path):
            raise _RowFileError("第 %d 行的文件找不到:%s(相对路径从输入表格所在的文件夹算起)" % (number, item))
        if os.path.getsize(path) > _MAX_UPLOAD_BYTES:
            raise _RowFileError("第 %d 行的文件太大(扣子单个文件最大 512 MB):%s" % (number, item))
        return path

    def parts(self, cell, number):
        """[(kind, value, is_image)]: kind "url" (value the URL) or "id" (an uploaded file's id).
        Every local file is checked before anything is uploaded."""
        items = _cell_files(cell)
        if len(items) > _MAX_FILES_PER_ROW:
            raise _RowFileError("第 %d 行有 %d 个文件,一行最多 %d 个" % (number, len(items), _MAX_FILES_PER_ROW))
        found = [(item, None if _is_url(item) else self.local_path(item, number)) for item in items]
        parts = []
        for item, path in found:
            if path is None:
                parts.append(("url", item, _is_image_name(item)))
            else:
                parts.append(("id", self.file_id(path, item, number), _is_image_name(path)))
        return parts

    def message_parts(self, cell, number):
        """The row's files as chat message parts (client.chat's files)."""
        return [{"type": "image" if image else "file", ("file_url" if kind == "url" else "file_id"): value}
                for kind, value, image in self.parts(cell, number)]

    def parameter_value(self, cell, number):
        """The row's files as a workflow parameter: a URL as it is, an upload as {"file_id": ...} text;
        a list when the cell names several."""
        values = [value if kind == "url" else json.dumps({"file_id": value})
                  for kind, value, _ in self.parts(cell, number)]
        return values[0] if len(values) == 1 else values

    def file_id(self, path, item, number):
        try:
            digest = _content_hash(path)
        except (IOError, OSError) as err:
            raise _RowFileError("第 %d 行的文件读不出来:%s(%s;检查权限,文件是否被其他程序占用)"
                               % (number, item, getattr(err, "strerror", None) or type(err).__name__))
        with self.lock:
            known = self.load()
            if digest in known:
                return known[digest]
            file_id = self.client.upload_file(path)
            known[digest] = file_id
            with open(self.path, "a", encoding="utf-8") as handle:  # at once: a resume finds it
                handle.write(json.dumps({"sha256": digest, "account": self.account, "file_id": file_id}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            return file_id

    def load(self):
        """{content hash: file id} uploaded earlier by this account (lines torn by a crash skipped)."""
        if self.known is None:
            self.known = {}
            try:
                with open(self.path, "rb") as handle:
                    lines = handle.read().splitlines()
            except (IOError, OSError):
                lines = []
            for line in lines:
                try:
                    record = json.loads(line.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("account") == self.account and record.get("file_id"):
                    self.known[record.get("sha256")] = str(record["file_id"])
        return self.known


def _account_key(settings):
    """Who uploads (a hash of who signs in, as ratelimit.account_of names it, and the server), never the secret."""
    return hashlib.sha256(("%s\n%s" % (_account_of(settings), settings.base_url)).encode("utf-8")).hexdigest()[:16]

###############################################################################
# Files out: answers' links saved                 (yingdao_module/downloads.py)
###############################################################################
# Files out: the images and files an answer links to, saved next to the output (download=True).
#
# Links are markdown images and links and bare URLs, http(s) only. Every download is bounded: a
# size limit counted while reading (a server that lies about, or never states, its length stops
# at the limit), a deadline for the whole download (a server that trickles stops at it), at most
# DOWNLOAD_REDIRECTS redirects. Downloads never carry the token, to any host, the API host included:
# answer links are public or signed URLs, and a link in an answer is untrusted text. A saved
# name has no folder parts, no "..", no Windows-reserved name or character, a bounded length,
# the extension of the content type, and never replaces an existing file (a new suffix instead).
# A failed download is noted in the row; the answer itself stays a success. A link (or a
# redirect) to a loopback, private or link-local address is not fetched unless its host is the
# API host: an answer must not make the robot's machine call into its office network.

_DOWNLOAD_LIMIT = 50 * 1024 * 1024   # bytes per file
_DOWNLOAD_DEADLINE = 60.0            # seconds per file, headers and body together
_DOWNLOAD_REDIRECTS = 3
_DOWNLOAD_MAX_LINKS = 20                      # per answer
_DOWNLOAD_NAME_LIMIT = 80                     # characters of a saved name, extension included
# raw CJK ends a bare URL; no re.I: folding would let the range swallow "s", "k" (ſ, K)
_LINK = re.compile(r"(?:[Hh][Tt][Tt][Pp][Ss]?)://[^\s<>\"'()\[\]{}\u0080-\uffff]+")
_TRAILING = ".,;:!?。,;:!?、)"
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$", re.I)
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_KNOWN_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
                    "image/svg+xml": ".svg", "application/pdf": ".pdf", "text/plain": ".txt",
                    "text/csv": ".csv", "application/zip": ".zip", "audio/mpeg": ".mp3", "video/mp4": ".mp4"}


class _DownloadFailed(Exception):
    """One link could not be saved; its text (Chinese) goes into the row."""


def _answer_links(text):
    """The http(s) URLs in an answer, in order, each once (markdown ![](url), [](url) and bare URLs)."""
    found = []
    for match in _LINK.finditer(text or ""):
        url = match.group(0).rstrip(_TRAILING)
        if url not in found:
            found.append(url)
    return found[:_DOWNLOAD_MAX_LINKS]


def _safe_name(name, extension=""):
    """A file name that is only a name on every system: no folders, no "..", no reserved names."""
    name = urllib.parse.unquote(str(name or "")).replace("\\", "/").split("/")[-1]
    name = _UNSAFE_CHARACTERS.sub("_", name).strip(" .")
    stem, ext = os.path.splitext(name)
    if extension:
        ext = extension
    elif not re.match(r"^\.[A-Za-z0-9]{1,8}$", ext or ""):
        ext = ".bin" if ext else ""
    stem = stem.strip(" .") or "文件"
    if _WINDOWS_RESERVED.match(stem.split(".")[0]):
        stem = "_" + stem
    return stem[:max(1, _DOWNLOAD_NAME_LIMIT - len(ext))] + ext


def _disposition_name(header):
    """The file name in a Content-Disposition header (filename* first), or ""."""
    header = header or ""
    starred = re.search(r"filename\*\s*=\s*(?:[\w-]+)?'[^']*'([^;]+)", header, re.I)
    if starred:
        return urllib.parse.unquote(starred.group(1).strip().strip('"'))
    plain = re.search(r'filename\s*=\s*"?([^";]+)"?', header, re.I)
    return plain.group(1).strip() if plain else ""


def _inner_address(host):
    """True when a host name resolves to a loopback, private, link-local or reserved address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False  # the connection fails on its own, with its own message
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved \
                or address.is_multicast or address.is_unspecified:
            return True
    return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by Downloader (counted, without any credentials), not by urllib."""

    def redirect_request(self, *args, **kwargs):
        return None


class _Downloader(object):
    """Saves linked files into one folder."""

    def __init__(self, folder, limit=_DOWNLOAD_LIMIT, deadline=_DOWNLOAD_DEADLINE, trusted=()):
        self.folder, self.limit, self.deadline = folder, limit, deadline
        self.trusted = set(host.lower() for host in trusted if host)  # the API host: may be on the office network
        self.opener = urllib.request.build_opener(_NoRedirect())

    def save_all(self, texts):
        """(saved paths, problems) for every link in the texts."""
        saved, problems = [], []
        for url in _answer_links("\n".join(text for text in texts if text)):
            try:
                saved.append(self.save(url))
            except _DownloadFailed as err:
                problems.append("下载失败 %s:%s" % (url[:200], err))
            except OSError as err:  # the folder or the disk: the answer is kept all the same
                problems.append("下载的文件没有存成 %s:%s" % (url[:200], getattr(err, "strerror", None) or type(err).__name__))
        return saved, problems

    def save(self, url):
        """Download one URL into the folder; its local path."""
        ends = time.monotonic() + self.deadline
        response = self.open(url, ends)
        try:
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            vague = content_type in ("", "application/octet-stream")
            guessed = "" if vague else mimetypes.guess_extension(content_type) or ""
            extension = _KNOWN_EXTENSIONS.get(content_type) or guessed
            name = _disposition_name(response.headers.get("Content-Disposition")) or \
                urllib.parse.urlsplit(response.geturl() or url).path.rstrip("/").split("/")[-1]
            return self.write(response, _safe_name(name, extension), ends)
        finally:
            response.close()

    def open(self, url, ends):
        """The response of a URL after at most DOWNLOAD_REDIRECTS redirects (never with a token)."""
        for _ in range(_DOWNLOAD_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme.lower() not in ("http", "https"):
                raise _DownloadFailed("只下载 http(s) 链接")
            host = (parts.hostname or "").lower()
            if host not in self.trusted and _inner_address(host):
                raise _DownloadFailed("链接指向本机或内网地址 %s,不下载(只有扣子 API 所在的主机例外)" % host)
            left = ends - time.monotonic()
            if left <= 0:
                raise _DownloadFailed("超过 %d 秒没有下载完" % self.deadline)
            request = urllib.request.Request(url, headers={"User-Agent": "yingdao-coze"})
            try:
                return self.opener.open(request, timeout=min(left, 10.0))
            except urllib.error.HTTPError as err:
                location = err.headers.get("Location") if 300 <= err.code < 400 else None
                err.close()
                if not location:
                    raise _DownloadFailed("服务器返回 HTTP %d" % err.code)
                url = urllib.parse.urljoin(url, location)
            except (urllib.error.URLError, socket.timeout, OSError, ValueError, http.client.HTTPException) as err:
                raise _DownloadFailed("连不上或超时(%s)" % (getattr(err, "reason", None) or type(err).__name__))
        raise _DownloadFailed("重定向超过 %d 次" % _DOWNLOAD_REDIRECTS)

    def write(self, response, name, ends):
        """Stream the body into a new file (never an existing one); the size counted while reading."""
        os.makedirs(self.folder, exist_ok=True)  # rows download at once: another may have just made it
        path, handle = self.new_file(name)
        size, complete = 0, False
        try:
            while True:
                if time.monotonic() > ends:
                    raise _DownloadFailed("超过 %d 秒没有下载完" % self.deadline)
                try:
                    block = response.read(65536)
                except (socket.timeout, OSError, ValueError, http.client.HTTPException) as err:
                    raise _DownloadFailed("读取中断(%s)" % type(err).__name__)
                if not block:
                    break
                size += len(block)
                if size > self.limit:
                    raise _DownloadFailed("文件超过 %d MB 的上限" % (self.limit // 1048576 or 1))
                handle.write(block)
            complete = True
        finally:
            handle.close()
            if not complete:
                os.remove(path)
        return path

    def new_file(self, name):
        """(path, open handle) of a file that did not exist: name, name (2), name (3) ..."""
        stem, ext = os.path.splitext(name)
        for number in range(1, 1000):
            path = os.path.join(self.folder, name if number == 1 else "%s (%d)%s" % (stem, number, ext))
            try:
                return path, open(path, "xb")
            except FileExistsError:
                continue
        raise _DownloadFailed("文件夹里同名文件太多:%s" % name)

###############################################################################
# Batch planning                                 (yingdao_module/batch_plan.py)
###############################################################################
# Batch planning: which rows of the input table are asked now, and with what question.
#
# A row is a `Row` (number in the sheet, cells, question, key, the chat a killed run noted).
# Finished rows (same question key in the journal), blank rows and empty questions are not
# asked; everything wrong with the table (missing columns, formulas without values) is refused
# here, before any call is paid for.

_STATUS_OK, _STATUS_FAILED, _STATUS_SKIPPED = "成功", "失败", "跳过"
_EXTRA_COLUMNS = ("状态", "错误", "tokens", "chat_id", "行号")
_TEMPLATE_PART = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")  # {{ and }} are literal braces, {name} a column
_LITERAL_BRACES = {"{{": "{", "}}": "}"}
_QUESTION_GUESSES = ("问题", "question", "提问")  # the question column when neither prompt nor question_column names one

# one row to ask: pending is the chat (or run) a killed run noted for the same question, or None
_Row = collections.namedtuple("Row", "number cells question key pending")


# ---- questions ----------------------------------------------------------------------------------

def _question_maker(header, prompt, question_column):
    """A function row -> question, checked against the columns before any call."""
    listing = "、".join(name for name in header if name)
    if prompt and question_column:
        raise InputError("prompt(提问模板)和 question_column(问题列)只能填一个")
    if prompt:
        names = [m.group(1) for m in _TEMPLATE_PART.finditer(prompt) if m.group(1) is not None]
        missing = [name for name in names if name not in header]
        if missing:
            hint = "" if not re.search(r'[":,]', "".join(missing)) else \
                "。要在模板里写字面的大括号(例如让智能体回 JSON),请写成 {{ 和 }}"
            raise InputError("提问模板里的 {%s} 在表格里没有这一列。表格的列有:%s%s" % ("}、{".join(missing), listing, hint))
        if not names:
            raise InputError("提问模板里没有 {列名}:例如「为{商品名}写一句广告语」。表格的列有:%s" % listing)
        positions = dict((name, header.index(name)) for name in names)
        return _asking(lambda row: _TEMPLATE_PART.sub(
            lambda m: _LITERAL_BRACES.get(m.group(0)) or _cell(row, positions[m.group(1)]), prompt), positions)
    if not question_column:
        guesses = [name for name in header if name in _QUESTION_GUESSES] or \
                  ([header[0]] if len([n for n in header if n]) == 1 else [])
        if not guesses:
            raise InputError("请用 prompt 写提问模板(例如「为{商品名}写一句广告语」),或用 question_column 指定问题所在的列。"
                             "表格的列有:%s" % listing)
        question_column = guesses[0]
    if question_column not in header:
        raise InputError("表格里没有「%s」这一列。表格的列有:%s" % (question_column, listing))
    position = header.index(question_column)
    return _asking(lambda row: _cell(row, position), {question_column: position})


def _parameter_maker(header, parameters, reserved):
    """A function row -> the workflow's parameters as JSON text (sorted keys: the row's question key).
    Every column is a parameter of its name (a number cell a JSON number); `parameters` renames
    ({"city": "{城市}"}: the cell, typed, and 城市 is not sent by its own name), puts columns into
    text ("{城市}的天气") or adds constants. `reserved` columns (answers, files) are not parameters."""
    listing = "、".join(name for name in header if name)
    whole, templated, used = {}, {}, set()
    for name, value in parameters.items():
        if not isinstance(value, str):
            continue
        names = [m.group(1) for m in _TEMPLATE_PART.finditer(value) if m.group(1) is not None]
        missing = [column for column in names if column not in header]
        if missing:
            raise InputError("parameters 里 %s 的 {%s} 在表格里没有这一列。表格的列有:%s" % (name, "}、{".join(missing), listing))
        used.update(names)
        match = _TEMPLATE_PART.fullmatch(value.strip())
        if match and match.group(1) is not None:
            whole[name] = header.index(match.group(1))
        elif names:
            templated[name] = value
    by_name = dict((name, at) for at, name in enumerate(header)
                   if name and name not in used and name not in reserved and name not in parameters)
    positions = dict((column, header.index(column)) for column in used)
    positions.update(by_name)

    def make(row):
        def fill(found):
            return _LITERAL_BRACES.get(found.group(0)) or _cell(row, positions[found.group(1)])
        values = dict((name, value) for name, value in parameters.items()
                      if name not in whole and name not in templated)
        values.update((name, _typed(row, at)) for name, at in list(by_name.items()) + list(whole.items()))
        values.update((name, _TEMPLATE_PART.sub(fill, text)) for name, text in templated.items())
        return json.dumps(values, ensure_ascii=False, sort_keys=True)
    if not positions:
        raise InputError("表格里没有可以当作工作流参数的列(列名就是参数名)。表格的列有:%s" % listing)
    return _asking(make, positions)


def _typed(row, position):
    """A cell as a parameter value: a number cell of a workbook is a number, anything else its text."""
    value = _cell(row, position)
    return getattr(value, "value", value)


def _asking(make_question, positions):
    """make_question, knowing the template's columns ({name: position}) so blank rows are found."""
    make_question.columns = positions
    return make_question


def _cell(row, position):
    return row[position] if position < len(row) and row[position] is not None else ""


def _question_key(question, files=""):
    """The key that ties a journal record to its question (and files): the same row with another
    question is asked again."""
    return hashlib.sha1((question + ("\n" + files if files else "")).encode("utf-8")).hexdigest()[:16]


def _checked_table(options):
    """(header, row -> question) of the input table; every mistake in it is refused here, before any call."""
    template = options.prompt or "".join(v for v in options.parameters.values() if isinstance(v, str))
    wanted = [m.group(1) for m in _TEMPLATE_PART.finditer(template) if m.group(1) is not None]
    wanted += [name for name in (options.question_column, options.answers_column, options.files_column) if name]
    number, header, found, top = _read_header(options.input_path, options.sheet, wanted, options.header_row,
                                             _QUESTION_GUESSES)
    try:
        for name in (options.answers_column, options.files_column):
            if name and name not in header:
                raise InputError("表格里没有「%s」这一列。表格的列有:%s" % (name, "、".join(n for n in header if n)))
        make_question = _parameter_maker(header, options.parameters, (options.answers_column, options.files_column)) \
            if options.workflow_id else _question_maker(header, options.prompt, options.question_column)
    except InputError as err:
        raise InputError(str(err) + ("" if found else _header_preview(top)))
    options.table_header_row = number
    if options.answer_column in header:
        raise InputError("表格里已经有「%s」列:请用 answer_column 换一个回答列名" % options.answer_column)
    taken = [name for name in options.json_fields if name in header or name in _EXTRA_COLUMNS
             or name == options.answer_column]
    if taken:
        raise InputError("json_fields 的键「%s」和表格里已有的列或结果列重名:请换个键名" % "、".join(taken))
    return header, make_question


# ---- the plan -------------------------------------------------------------------------------------

class _Planner(object):
    """The input table of one run: its data rows (this shard's), and which of them to ask now."""

    def __init__(self, options, header, make_question, sheet):
        self.options, self.header, self.make_question, self.sheet = options, header, make_question, sheet
        self.scope = []  # row numbers this run covers (max_rows and shard applied)
        self.earlier = {"ok": 0, "failed": 0}  # rows finished by earlier runs and not asked again

    def rows(self):
        """(row number in the sheet, cells) for this shard's data rows (below the header row)."""
        header_row = self.options.table_header_row
        rows = self.sheet.rows(after=header_row) if self.sheet is not None else \
            _read_rows(self.options.input_path, self.options.sheet)
        index = 0
        for number, cells in rows:
            if number <= header_row or not any(str(c).strip() for c in cells):
                continue
            index += 1
            shard = self.options.shard
            if shard and (index - 1) % shard[1] != shard[0] - 1:
                continue
            yield number, cells

    def plan(self, done):
        """(rows to ask now, skipped, blank, taken); finished rows, and rows whose template columns
        are all blank, are skipped (blank and empty ones are recorded in `done` as skipped)."""
        todo, skipped, blank, taken = [], 0, 0, 0
        columns = self.make_question.columns
        for number, cells in self.rows():
            if self.options.max_rows is not None and taken >= self.options.max_rows:
                break
            taken += 1
            self.scope.append(number)
            question = self.make_question(cells)
            key = _question_key(question, self.column_text(cells, self.options.files_column))
            earlier = done.get(number) or {}
            if not self.options.ask_blank and not any(_cell(cells, at).strip() for at in columns.values()):
                done[number] = {"row": number, "key": key, "status": _STATUS_SKIPPED,
                                "error": "这些列是空的:%s(没有提问,不花钱)" % "、".join(columns)}
                skipped += 1
                blank += 1
            elif not question.strip():
                done[number] = {"row": number, "key": key, "status": _STATUS_SKIPPED, "error": "问题为空"}
                skipped += 1
            elif earlier.get("key") == key and earlier.get("status") and (
                    earlier["status"] in (_STATUS_OK, _STATUS_SKIPPED) or not self.options.retry_failed):
                skipped += 1  # answered (or failed and not retried) in an earlier run: not paid again
                self.earlier["failed" if earlier["status"] == _STATUS_FAILED else "ok"] += 1
            else:
                noted = earlier.get("pending") if earlier.get("key") == key else None
                todo.append(_Row(number, cells, question, key, noted))
        return todo, skipped, blank, taken

    def column_text(self, cells, name):
        """The text of a named column in a row ("" without that column)."""
        return str(_cell(cells, self.header.index(name))).strip() if name else ""

    def rows_above_header(self):
        """The rows above the header (a title, notes), as they are, blank ones included: a CSV output keeps them."""
        header_row, expected = self.options.table_header_row, 1
        rows = self.sheet.rows() if self.sheet is not None else _read_rows(self.options.input_path, self.options.sheet)
        for number, cells in rows:
            if number >= header_row:
                break
            for _ in range(expected, number):
                yield []
            expected = number + 1
            yield list(cells)
        rows.close()

    def check_formulas(self):
        """Formulas without a stored value read as blank: in a column the questions use that would
        ask wrong questions (stop here, before any chat); elsewhere it is only a warning."""
        uncached = self.sheet.uncached
        used = [(name, uncached[at]) for name, at in self.make_question.columns.items() if at in uncached]
        if used:
            raise InputError(
                "「%s」列是公式,但文件里没有存算好的值(第 %d 行起;表格多半是程序生成的,没在 Excel 里打开保存过),"
                "提问会用到它,读出来却是空白。请用 Excel 或 WPS 打开 %s 保存一次再运行,或把这一列复制后「选择性粘贴 → 数值」"
                "(还没有发出任何请求,没有花钱)" % ("、".join(name for name, _ in used), used[0][1],
                                              os.path.basename(self.options.input_path)))
        others = [self.header[at] or _column_letter(at) for at in sorted(uncached) if at < len(self.header)]
        if others:
            _log("注意:「%s」列是公式,但文件里没有算好的值,输出里这些格是空白(提问没有用到它们)" % "、".join(others))


def _without_duplicates(todo):
    """(rows to ask, [(copy row, number of the row it copies)]): one question is asked once."""
    first_of, unique, copies = {}, [], []
    for row in todo:
        if row.key in first_of:
            copies.append((row, first_of[row.key]))
            continue
        first_of[row.key] = row.number
        unique.append(row)
    return unique, copies

###############################################################################
# Answer cache (cache=True)                    (yingdao_module/answer_cache.py)
###############################################################################
# The answer cache (batch cache=True): an answer already paid for is reused, free.
#
# One file per account (a hash of token or app and base URL, never the token) in the state
# folder, next to the rate-limit state: one JSON line per answer, appended under a file lock, so
# robots running at once never mix their lines; a line torn by a kill is skipped on reading and
# closed before the next append. The key is a hash of everything that shapes an answer: the bot
# or workflow, json_fields and tools, the filled-in question, files (a local one by its content,
# never its path alone), custom variables, parameters. Only answers are
# kept (never failures); `days` makes older ones count as absent.

_CACHED_MARK = "缓存"
_DAY = 86400.0


def _cache_key(target, question, files=None, custom_variables=None, parameters=None):
    """The hash naming one question: target is ("bot", id) or ("workflow", id)."""
    shape = [list(target), question, files or [], custom_variables or {}, parameters or {}]
    text = json.dumps(shape, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _files_shape(cell, folder):
    """A files cell as the key sees it: URLs as written, a local file by its content (a file
    replaced at the same path is another question); "" for no files."""
    items = _cell_files(cell)
    if not items:
        return ""
    shape = []
    for item in items:
        path = item if _is_url(item) or os.path.isabs(item) else os.path.join(folder, item)
        try:
            shape.append(item if _is_url(item) else "sha256:" + _content_hash(path))
        except OSError:
            shape.append(item)  # missing or unreadable: the row fails before asking, nothing is cached
    return shape


def _status_text(record):
    """The status column of a row: 成功(缓存) for an answer taken from the cache."""
    status = record.get("status", "")
    return "%s(%s)" % (status, _CACHED_MARK) if record.get("cached") and status else status


def _cached_record(cache, row, key):
    """The finished record of a row whose answer is in the cache (no chat, no tokens), or None."""
    entry = cache.get(key)
    if entry is None:
        return None
    return {"row": row.number, "key": row.key, "status": _STATUS_OK, "answer": entry["answer"], "error": "",
            "tokens": 0, "chat_id": entry.get("chat_id") or "", "conversation_id": entry.get("conversation_id") or "",
            "messages": entry.get("messages") or "", "cached": True}


def _with_cache(asker, options, settings, bot_id):
    """`asker` with the cache in front when options.cache."""
    if not options.cache:
        return asker
    target = ("workflow", options.workflow_id) if options.workflow_id else ("bot", bot_id)
    if options.json_fields:  # a plain answer is not one checked (and repaired) as JSON
        target += ("json", list(options.json_fields))
    if options.tools:  # a bot with local tools answers with what they return
        target += ("tools", sorted(options.tools))
    folder = os.path.dirname(os.path.abspath(options.input_path))
    return _CachingAsker(asker, _AnswerCache.for_account(settings, options.cache_days), target, folder)


class _CachingAsker(object):
    """An asker (a bot's or a workflow's) with the cache in front: a row answered before is
    finished from it, free; a fresh answer is stored. Everything else is the asker's."""

    def __init__(self, asker, cache, target, folder=""):
        self.asker, self.cache, self.target, self.folder = asker, cache, target, folder
        self.cached = 0  # rows answered from the cache

    def __getattr__(self, name):
        return getattr(self.asker, name)

    def ask_row(self, row):
        # the question (a workflow's: its parameters), and the row's files (local ones by content)
        key = self.key(row)
        hit = _cached_record(self.cache, row, key) if not row.pending and not self.asker.stop.is_set() else None
        if hit is not None:
            with self.asker.lock:
                self.cached += 1
            self.asker.finish(hit)
            return hit
        record = self.asker.ask_row(row)
        if record is not None and record.get("status") == _STATUS_OK:  # only answers, never failures
            self.remember(row, record, key)
        return record

    def key(self, row):
        return _cache_key(self.target, row.question, _files_shape(self.asker.extras.cell(row), self.folder))

    def remember(self, row, record, key=None):
        """Store a row's answer (also one revised by review: it replaces the rejected one)."""
        key = key or self.key(row)
        self.cache.put(key, record.get("answer") or "", record.get("tokens") or 0, record.get("chat_id") or "",
                       record.get("conversation_id") or "", record.get("messages") or "")


class _AnswerCache(object):
    """get(key) -> the stored answer (a dict) or None; put(key, answer) stores a fresh one."""

    def __init__(self, path, days=None):
        self.path, self.days = path, days
        self.entries = None  # loaded on first use: {key: entry}

    @classmethod
    def for_account(cls, settings, days=None):
        return cls(_account_state_path(_account_of(settings), settings.base_url, "answers", ".jsonl"), days)

    def __repr__(self):
        return "AnswerCache(%r)" % self.path

    def load(self):
        """Every readable line; a torn or foreign line is skipped, the newest entry of a key wins."""
        entries = {}
        try:
            with open(self.path, "rb") as handle:
                for line in handle:
                    try:
                        entry = json.loads(line.decode("utf-8"))
                    except ValueError:
                        continue  # a line torn by a kill, or not ours
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str) and \
                            isinstance(entry.get("answer"), str):
                        entries[entry["key"]] = entry
        except OSError:
            pass  # no cache yet (or unreadable): every question is asked
        self.entries = entries
        return entries

    def get(self, key):
        if self.entries is None:
            self.load()
        entry = self.entries.get(key)
        if entry is None:
            return None
        if self.days is not None and time.time() - float(entry.get("time") or 0) > self.days * _DAY:
            return None  # older than cache_days: asked again (and the new answer stored)
        return entry

    def put(self, key, answer, tokens=0, chat_id="", conversation_id="", messages=""):
        """Store one answer; a cache that cannot be written is only a warning (the answer is kept elsewhere)."""
        entry = {"key": key, "answer": answer, "tokens": tokens, "chat_id": chat_id,
                 "conversation_id": conversation_id, "messages": messages, "time": round(time.time(), 3)}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            folder = os.path.dirname(self.path)
            if not os.path.isdir(folder):
                os.makedirs(folder)
            with _FileLock(self.path + ".lock"):
                with open(self.path, "ab+") as handle:
                    handle.seek(0, os.SEEK_END)
                    if handle.tell():  # a line torn by a kill: close it, so ours stays whole
                        handle.seek(-1, os.SEEK_END)
                        if handle.read(1) != b"\n":
                            line = b"\n" + line
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as err:
            _log("答案缓存 %s 写不进去(%s):这个回答照常写进输出,只是下次不能从缓存取" % (self.path, err.strerror or err))
        if self.entries is not None:
            self.entries[key] = entry

###############################################################################
# Batch asking: one chat per row                  (yingdao_module/batch_ask.py)
###############################################################################
# Batch asking: one row's chat, paid once.
#
# A row's conversation is created first (unpaid) and journaled before its chat is sent; the chat id
# goes into the journal the moment the chat exists. A killed run's chat is recovered instead of paid
# again, even one killed before its id was heard of: it is found in the row's conversation (a question
# there that is not the row's is reported, never paid again). A chat that failed on Coze's side is asked again
# (chat_retries); with json_fields an answer that is not the JSON asked for gets one repair
# question in the same conversation. Fatal errors stop the run (the row stays unfinished).

_JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
_JSON_REPAIR = "上次回答不是合法的 JSON,只输出包含 %s 的 JSON 对象"


class _BatchStopped(Exception):
    """The run stops (fatal error, qpd, max_tokens) before this row could ask: it stays unfinished."""


def _spread_json(answer):
    """The dict inside an answer (plain or in a ```json fence), or None."""
    fenced = _JSON_FENCE.match(answer or "")
    try:
        value = json.loads(fenced.group(1) if fenced else answer)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _cannot_write(path, err):
    """The stop reason for a file that cannot be written, in Chinese, with the way out."""
    full = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
    why = "磁盘已满(或超过了文件大小上限)" if getattr(err, "errno", None) in full \
        else "没有写权限或文件被占用" if getattr(err, "errno", None) in (errno.EACCES, errno.EPERM) else "写入失败"
    return ("写不进文件 %s:%s(%s)。已停止,不再发新的请求;已拿到的回答先留在内存里,结束前再写一次。"
            "请腾出磁盘空间(或换一个能写的 output_path)后重跑同一命令,从断点继续,已写入的行不会重复付费"
            % (os.path.basename(path), why, getattr(err, "strerror", None) or type(err).__name__))


def _still_failed(message, asked_again):
    """A failed chat's text once no retry is left: how often it was asked, and how to ask the failed rows again."""
    tried = "已重问 %d 次仍失败" % asked_again if asked_again else "没有重问(chat_retries 为 0)"
    return ("%s(%s)。之后重跑失败的行:同一命令加 --retry-failed(影刀里 retry_failed 填 是),已成功的行不会重复付费"
            % (message, tried))


class _RowExtras(object):
    """What a row carries besides its question: its files (RowFiles, column `files_at`) and the
    files its answer links to (Downloader). Either may be None."""

    def __init__(self, row_files=None, files_at=None, downloader=None):
        self.row_files, self.files_at, self.downloader = row_files, files_at, downloader

    def cell(self, row):
        """The row's files cell, stripped as the planner reads it for the journal key ("" without one)."""
        cells, at = row.cells, self.files_at
        value = cells[at] if at is not None and at < len(cells) else None
        return "" if value is None else str(value).strip()

    def message_parts(self, row):
        """The row's files as message parts (RowFileError names a missing one)."""
        return self.row_files.message_parts(self.cell(row), row.number) if self.row_files and self.cell(row) else None

    def fetch(self, record, texts):
        """Save what the answer links to; the paths go to record["files"], problems to its error
        (the answer stays a success)."""
        if self.downloader is None:
            return
        try:
            saved, problems = self.downloader.save_all(texts)
        except Exception as err:  # whatever a download raises, the paid answer is kept: a row problem
            saved, problems = [], ["下载失败(%s)" % type(err).__name__]
        record["files"] = ";".join(saved)
        if problems:
            record["error"] = ";".join([record["error"]] + problems if record.get("error") else problems)


class _Asker(object):
    """Asks rows through a Client; `finish(record)` keeps a finished row, `halt(reason)` stops the run."""

    def __init__(self, options, client, journal, stop, finish, halt, extras=None):
        self.options, self.client, self.journal, self.stop = options, client, journal, stop
        self.finish, self.halt = finish, halt
        self.extras = extras or _RowExtras()
        self.chats = self.asked_again = 0  # paid chats started by this run; failed ones asked again
        self.opened = {}  # row number -> the pending note of its chat in flight (conversation, then chat)
        self.lock = threading.Lock()

    def ask_row(self, row):
        """The row's finished record (also given to finish), or None when it stays unfinished."""
        if self.stop.is_set():
            return None
        record = {"row": row.number, "key": row.key}
        pending = row.pending
        network_tries = asked_again = 0
        try:
            files = self.extras.message_parts(row)  # before any chat: a missing file fails this row only
        except (CozeError, OSError) as err:
            record.update(status=_STATUS_FAILED, answer="", tokens=0, chat_id="",
                          error=getattr(err, "message", None) or "文件没有上传成功(%s)" % type(err).__name__)
            if getattr(err, "fatal", False):
                self.halt(err.message)
                return None
            self.finish(record)
            return record
        while True:
            try:
                result, tokens, problem = self.converse(row, pending, files)
                record.update(status=_STATUS_FAILED if problem else _STATUS_OK, answer=result["answer"],
                              error=problem, tokens=tokens, chat_id=result["chat_id"] or "",
                              conversation_id=result.get("conversation_id") or "")
                self.extras.fetch(record, [result["answer"]])
                break
            except _BatchStopped:
                return None  # asked nothing new; a chat already noted is recovered by the next run
            except CozeError as err:
                # a chat may exist: a noted one is recovered (free), a conversation looked in, before paying again
                pending = self.unasked(row)
                if err.failed_chat:
                    pending = None  # that chat failed on Coze's side: only a new one can help
                record.update(status=_STATUS_FAILED, answer="", error=err.message, tokens=0,
                              chat_id=err.chat_id or "")
                if err.fatal:
                    self.halt(err.message if "重跑" in err.message else "%s。处理好后重跑同一命令即可从断点继续" % err.message)
                    return None  # a fatal answer is not the row's fault: leave it for the next run
                if err.failed_chat:
                    if asked_again < self.options.chat_retries and not self.stop.is_set():
                        asked_again += 1
                        self.ask_again(row.number, err, asked_again)
                        continue
                    record["error"] = _still_failed(err.message, asked_again)
                    break
                network_tries += 1
                if not err.retryable or network_tries == 2 or self.stop.wait(2.0):
                    if err.retryable and pending:
                        record["pending"] = pending  # --retry-failed recovers that chat instead of paying again
                    break
        self.unasked(row)
        self.finish(record)
        return record

    def unasked(self, row):
        """The pending note of the row's chat in flight (its conversation, then the chat once it
        exists), forgotten; or None."""
        with self.lock:
            return self.opened.pop(row.number, None)

    def note(self, row, pending):
        """Journal what the row has in flight (fsynced); False (and the run halts) when it cannot be written."""
        try:
            self.journal.append({"row": row.number, "key": row.key, "pending": pending})
            return True
        except (OSError, ValueError) as err:
            self.halt(_cannot_write(self.journal.path, err))
            return False

    def ask_again(self, number, err, attempt):
        """Say (truthfully: it happens now) that a chat failed on Coze's side is asked again, paid again."""
        with self.lock:
            self.asked_again += 1
        _log("第 %d 行的对话在扣子那边失败(%s):自动重问(第 %d/%d 次,多付一次对话)"
            % (number, err.message, attempt, self.options.chat_retries))

    def converse(self, row, pending, files=None):
        """(result, tokens, problem) of one row: the answer of a chat a killed run already paid for,
        or of a new chat; with json_fields, one repair question in the same conversation."""
        result, conversation = self.resume(row, pending) if pending else (None, None)
        repaired = bool(result and pending.get("repair"))
        earlier_tokens = pending.get("tokens", 0) if repaired else 0
        if result is None:
            result = self.new_chat(row, row.question, conversation, files=files)
        tokens = earlier_tokens + result["usage"]["token_count"]
        problem = self.json_problem(result["answer"])
        if problem and not repaired:
            result = self.new_chat(row, _JSON_REPAIR % "、".join(self.options.json_fields),
                                   result["conversation_id"], tokens)
            tokens += result["usage"]["token_count"]
            problem = self.json_problem(result["answer"])
        return result, tokens, "回答不是合法的 JSON(追问一次后仍然不是):%s" % problem if problem else ""

    def new_chat(self, row, question, conversation_id=None, tokens_before=None, files=None):
        """Ask, paid (the client waits for the rate limits), in the row's conversation (created and
        journaled first when it has none), noting the chat id in the journal the moment the chat exists."""
        if self.stop.is_set():
            raise _BatchStopped()
        if conversation_id is None:
            conversation_id = self.open_conversation(row)

        def noted(chat_id, conversation):
            pending = {"chat_id": chat_id, "conversation_id": conversation}
            if tokens_before is not None:
                pending.update(repair=True, tokens=tokens_before)
            with self.lock:
                self.chats += 1
                self.opened[row.number] = pending  # a retry recovers this chat instead of paying again
            self.note(row, pending)  # when it fails, the answer itself is still kept (finish)
        return self.client.chat(question, conversation_id=conversation_id, on_created=noted, tools=self.options.tools,
                                files=files)

    def open_conversation(self, row):
        """A new conversation for the row (unpaid), journaled before any chat is sent in it: a run
        killed before it hears of the chat finds the chat there instead of paying again."""
        conversation = self.client.new_conversation()
        if not self.note(row, {"conversation_id": conversation}) or self.stop.is_set():
            raise _BatchStopped()
        with self.lock:
            self.opened[row.number] = {"conversation_id": conversation}
        return conversation

    def resume(self, row, pending):
        """(result, None) of the chat a killed run paid for; (None, conversation) when the row's
        conversation holds no chat yet (ask there); (None, None): ask anew. APIError when the
        conversation holds a chat that cannot be told to be the row's."""
        with self.lock:
            self.opened[row.number] = pending  # a network error while looking keeps it for the retry
        if pending.get("chat_id"):
            return self.recover(pending), None
        conversation = pending["conversation_id"]
        chat_id = self.client.find_chat(conversation, row.question)
        if chat_id is None:
            return None, conversation
        _log("第 %d 行中断前已建立的对话 %s 在它的会话里找到了:找回回答,不重新提问" % (row.number, chat_id))
        self.unasked(row)
        found = {"chat_id": chat_id, "conversation_id": conversation}
        self.note(row, found)
        return self.recover(found), None

    def recover(self, pending):
        """The result of a chat a killed run paid for, or None when it cannot be had (ask again)."""
        try:
            return self.client.recover(pending["chat_id"], pending["conversation_id"], tools=self.options.tools)
        except CozeError as err:
            if err.fatal and not err.chat_id:  # the account's problem (token, quota now): stop
                raise
            if err.retryable:  # the network or a busy server: the chat is tried again later, never paid again
                raise
            # the old chat failed, or cannot be found any more: this row is asked again
            _log("中断前的对话 %s 没有找回(%s),重新提问" % (pending["chat_id"], err.message))
            return None

    def json_problem(self, answer):
        """What is wrong with an answer that must be a JSON object with json_fields, or ""."""
        fields = self.options.json_fields
        if not fields:
            return ""
        value = _spread_json(answer)
        if value is None:
            return "不是 JSON 对象"
        missing = [name for name in fields if name not in value]
        return "缺少键 %s" % "、".join(missing) if missing else ""

###############################################################################
# Batch rows through a workflow              (yingdao_module/batch_workflow.py)
###############################################################################
# Batch rows through a workflow: one run per row, never two.
#
# A workflow may send mail or write a database, so a run that may have started is never started
# again. Before the request that starts a run leaves (after the rate limiter let it go), the row
# is marked in the journal as "sending"; the run's execute_id goes into the journal the moment it
# is known. A resume fetches a run with a known execute_id from run_histories; a row marked
# "sending" without an id is not run again but reported (look it up in Coze, then --retry-failed).
#
# Rows run asynchronously (is_async: the execute_id comes back at once); rows with answers for
# question nodes (answers_column), and every row once the account refuses async runs (6003),
# stream, and their execute_id is noted from the first event that names it.

_WORKFLOW_STARTS = ("/v1/workflow/run", "/v1/workflow/stream_run")
_MAYBE_STARTED = ("上次运行在发出工作流请求后中断,没有拿到 execute_id:工作流可能已经运行。为避免重复执行(例如重复发邮件、"
                 "重复写表)没有重跑。请到扣子工作流的运行日志里确认;确认没有运行后,同一命令加 --retry-failed 重跑这一行")


class _NotedRun(_WorkflowRun):
    """A WorkflowRun that reports its execute_id the moment an event names it."""

    def __init__(self, noted):
        _WorkflowRun.__init__(self)
        self.noted = noted

    def take_ids(self, data):
        known = self.execute_id
        _WorkflowRun.take_ids(self, data)
        if self.execute_id and self.execute_id != known:
            self.noted(self.execute_id)


class _WorkflowAsker(object):
    """Runs a row's workflow; `finish(record)` keeps a finished row, `halt(reason)` stops the run.
    `chats` counts the runs this process started."""

    def __init__(self, options, client, journal, stop, finish, halt, extras, answers_at=None):
        self.options, self.client, self.journal, self.stop = options, client, journal, stop
        self.finish, self.halt, self.extras, self.answers_at = finish, halt, extras, answers_at
        self.transport = client.transport
        self.chats = self.asked_again = 0
        self.async_refused = False
        self.lock = threading.Lock()
        self.current = threading.local()  # the row this thread is about to start
        limited = self.transport.before_request

        def before_request(method, path):
            if limited is not None:
                limited(method, path)  # waits for the workflow rate limits
            if method == "POST" and path in _WORKFLOW_STARTS:
                self.sending()
        self.transport.before_request = before_request

    note = _Asker.note  # journal what the row has in flight; the run halts when it cannot be written

    def sending(self):
        """The request that may start this thread's row's run leaves now: mark the row first."""
        row = getattr(self.current, "row", None)
        if row is not None and not self.current.marked:
            self.current.marked = True
            with self.lock:
                self.chats += 1
            self.note(row, {"sending": True})

    def ask_row(self, row):
        if self.stop.is_set():
            return None
        record = {"row": row.number, "key": row.key, "chat_id": ""}
        pending = row.pending or {}
        try:
            if pending.get("execute_id"):
                result = self.fetch(pending["execute_id"])
            elif pending.get("sending"):
                raise CozeError(_MAYBE_STARTED)
            else:
                result = self.start(row)
            output = result["output"]
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            record.update(status=_STATUS_OK, answer=text,
                          messages="\n".join(result.get("messages") or []), error="",
                          tokens=result["usage"]["token_count"], chat_id=result.get("execute_id") or "")
            self.extras.fetch(record, [record["answer"], record["messages"]])
        except _BatchStopped:
            return None
        except CozeError as err:
            known = getattr(self.current, "execute_id", None) or pending.get("execute_id")
            if err.fatal:
                self.halt(err.message if "重跑" in err.message else "%s。处理好后重跑同一命令即可从断点继续" % err.message)
                return None  # the row stays unfinished; a known run is fetched by the next run
            record.update(status=_STATUS_FAILED, answer="", tokens=0, error=err.message, chat_id=known or "")
            if known and isinstance(err, (CozeTimeoutError, NetworkError)):
                record["pending"] = {"execute_id": known}  # maybe still running: --retry-failed fetches it
        finally:
            self.current.row = self.current.execute_id = None
        self.finish(record)
        return record

    def fetch(self, execute_id):
        """The result of a run started earlier, from run_histories."""
        _log("续跑:工作流运行 %s 在中断前已开始,查询它的结果,不会重跑" % execute_id)
        deadline = time.monotonic() + self.options.timeout
        run = _WorkflowRun()
        run.execute_id = execute_id
        return self.history_result(run, deadline, time.monotonic())

    def history_result(self, run, deadline, started):
        record = _poll_history(self.transport, self.options.workflow_id, run, deadline)
        run.output_text = _history_output(record.get("output") or "")
        run.usage = record.get("usage") or {}
        return run.result(started)

    def start(self, row):
        """Run the row's workflow once: async, or streamed (questions; async refused)."""
        if self.stop.is_set():
            raise _BatchStopped()
        started = time.monotonic()
        deadline = started + self.options.timeout
        parameters = json.loads(row.question)
        cell = self.extras.cell(row)
        if cell and self.extras.row_files is not None:
            try:
                parameters[self.options.files_column] = self.extras.row_files.parameter_value(cell, row.number)
            except OSError as err:  # deleted since the check, a full disk for .uploads.jsonl: this row fails
                raise _RowFileError("第 %d 行的文件没有上传成功(%s),没有运行工作流"
                                   % (row.number, getattr(err, "strerror", None) or type(err).__name__))
        self.current.row, self.current.marked, self.current.execute_id = row, False, None

        def noted(execute_id):
            self.current.execute_id = execute_id
            self.note(row, {"execute_id": execute_id})
        run = _NotedRun(noted)
        body = {"workflow_id": self.options.workflow_id, "parameters": parameters}
        if not self.options.answers_column and not self.async_refused:
            try:
                envelope = _open_run(self.transport, "/v1/workflow/run", dict(body, is_async=True), deadline,
                                    stream=False)
            except APIError as err:
                if err.code != 6003:
                    raise
                self.refuse_async()
            else:
                run.logid = envelope.get("logid")
                run.take_ids(envelope)
                if not run.execute_id:
                    raise APIError("扣子没有返回异步运行的 execute_id,无法查询结果", logid=run.logid)
                return self.history_result(run, deadline, started)
        return self.stream(row, body, run, deadline, started)

    def stream(self, row, body, run, deadline, started):
        at = self.answers_at
        answers = _Answers(row.cells[at] if at is not None and at < len(row.cells) else None)
        path, request = "/v1/workflow/stream_run", body
        while True:
            _stream_into(self.transport, path, request, run, deadline)
            if run.interrupt is None:
                return run.result(started)
            request = _resume_request(body["workflow_id"], run, answers)
            path = "/v1/workflow/stream_resume"

    def refuse_async(self):
        with self.lock:
            first, self.async_refused = not self.async_refused, True
        if first:
            _log("这个扣子账号不支持异步运行工作流(6003):改为流式运行,execute_id 一出现就记进断点日志,仍然不会重跑")

###############################################################################
# Review (review=True): rejected rows                (yingdao_module/review.py)
###############################################################################
# Review (batch review=True): answers the user rejected are asked again, with the user's note.
#
# The output gets a 审核 column (its last) once review is used, or when the user added one. The user writes 通过, or
# 驳回:<意见>, in the OUTPUT file (xlsx or
# CSV) and runs the same command again with review: the run finds the output where it always
# writes it (output_path), reads each row's verdict by the output's 行号 column, and asks only
# the rejected rows again, in the row's own conversation (its id is in the journal) with
# "请按审核意见修改:<意见>"; without a conversation (answers from older versions), in a new one that
# quotes the question and the earlier answer. The new answer replaces the old one in the output;
# the old one stays in the journal. The verdict becomes 已按意见重问(第 N 轮):<意见>, so a row is
# asked again only when the user rejects it again. Verdicts the user wrote are kept on every
# rewrite of the output, in any run.

_REVIEW_COLUMN = "审核"
_REJECTED, _APPROVED = "驳回", "通过"
_REVIEW_NOTE = "请按审核意见修改:%s"
_REVIEW_FRESH = "问题:%s\n\n你上次的回答:%s\n\n请按审核意见修改:%s"
_REVIEWED = "已按意见重问(第 %d 轮):%s"


def _rejection_note(verdict):
    """The note of a rejected verdict (驳回:意见, 驳回:意见, 驳回 意见, 驳回), or None when not rejected."""
    text = (verdict or "").strip()
    if not text.startswith(_REJECTED):
        return None
    return text[len(_REJECTED):].lstrip(":: \t").strip()


def _read_verdicts(output_path, sheet=None):
    """{row number: verdict} from the 审核 column of an earlier output; None when it has no such column."""
    if not os.path.isfile(output_path):
        return None
    try:
        number, header, found, _ = _read_header(output_path, sheet, ("行号", _REVIEW_COLUMN))
        if not found:
            return None
        row_at, verdict_at = header.index("行号"), header.index(_REVIEW_COLUMN)
        verdicts = {}
        for at, cells in _read_rows(output_path, sheet):
            if at <= number or len(cells) <= max(row_at, verdict_at):
                continue
            text, row = str(cells[verdict_at] or "").strip(), str(cells[row_at] or "").strip()
            if text and row.isdigit():
                verdicts[int(row)] = text
        return verdicts
    except (InputError, OSError, ValueError) as err:
        _log("读不出输出表格里的「审核」列(%s):这次不按审核重问,审核意见请在输出表格修好后再运行" % err)
        return None


def _review_question(record, question, note):
    """(question, conversation id) for asking a rejected row again."""
    conversation = record.get("conversation_id") or ""
    if conversation:
        return _REVIEW_NOTE % (note or "请重新回答"), conversation
    return _REVIEW_FRESH % (question, record.get("answer", ""), note or "请重新回答"), None


def _ask_rejected(run, row, record, note):
    """Ask one rejected row again; the earlier answer is kept when this fails (nothing paid is lost).
    A review chat an interrupted run already paid for (the row's pending chat) is recovered instead."""
    question, conversation = _review_question(record, row.question, note)
    try:
        result = run.asker.recover(row.pending) if (row.pending or {}).get("chat_id") else None
        if result is None:
            result = run.asker.new_chat(row, question, conversation)
    except _BatchStopped:
        return False  # the run is stopping (said above): the verdict stays, asked by the next --review
    except CozeError as err:
        _log("第 %d 行按审核意见重问失败(%s):保留原来的回答,审核列仍是驳回,下次 --review 再问" % (row.number, err.message))
        return False
    finally:
        run.asker.unasked(row)
    rounds = int(record.get("review_round") or 0) + 1
    conversation = result.get("conversation_id") or conversation or ""
    record = dict((name, value) for name, value in record.items() if name != "pending")
    revised = dict(record, answer=result["answer"], tokens=result["usage"]["token_count"],
                   chat_id=result["chat_id"] or "", conversation_id=conversation,
                   review_round=rounds, error="", cached=False)
    run.finish(revised)
    if hasattr(run.asker, "remember"):  # with cache=True the revised answer replaces the rejected one there
        run.asker.remember(row, revised)
    run.output.verdicts[row.number] = _REVIEWED % (rounds, note)
    return True


def _run_review(run, todo, taken, skipped, blank, started, summarize):
    """Rows never asked are asked as usual (`todo`), then every rejected row of `run` (a BatchRun)
    again; the summary with `review` counts."""
    from concurrent.futures import ThreadPoolExecutor  # on first use: fast import
    if todo:
        _log("还有 %d 行没有回答,先照常提问" % len(todo))
        run.ask_all(todo, started)
    verdicts = run.output.verdicts
    rejected = []
    for number, cells in run.planner.rows():
        note = _rejection_note(verdicts.get(number))
        record = run.done.get(number) or {}
        if note is not None and record.get("status") == _STATUS_OK and number in run.planner.scope:
            question = run.planner.make_question(cells)
            rejected.append((_Row(number, cells, question, record.get("key"), record.get("pending")), record, note))
    approved = sum(1 for n in run.planner.scope if (verdicts.get(n) or "").strip().startswith(_APPROVED))
    _log("按审核重问:驳回 %d 行(在原会话里带着意见再问),通过 %d 行,其余 %d 行没有审核意见,都不再问" % (
        len(rejected), approved, len(run.planner.scope) - len(rejected) - approved))
    run.planned = len(todo) + len(rejected)
    with ThreadPoolExecutor(max_workers=run.options.concurrency) as pool:
        asked = list(pool.map(lambda item: _ask_rejected(run, *item), rejected if not run.stop.is_set() else []))
    rounds = dict((item[0].number, (run.done.get(item[0].number) or {}).get("review_round", 0)) for item in rejected)
    text = "本次按审核意见重问 %d 行,成功 %d 行,失败 %d 行(失败的保留原回答);通过 %d 行。各行轮数:%s" % (
        len(rejected), sum(asked), len(asked) - sum(asked), approved,
        "、".join("第 %d 行第 %d 轮" % item for item in sorted(rounds.items())) or "无")
    run.report_sections = [("审核", text)]
    run.close()
    summary = summarize(run, taken, skipped, blank, started)
    summary["review"] = {"rejected": len(rejected), "asked": sum(asked), "failed": len(asked) - sum(asked),
                         "approved": approved, "rounds": rounds}
    _log(text)
    return summary

###############################################################################
# Batch output: table, report, summary         (yingdao_module/batch_output.py)
###############################################################################
# Batch output: the answers written back (into a copy of the input workbook, or a text table
# in the input's layout), the HTML report and the summary batch() returns.
#
# Everything here is written from the run's records ({row number: record}), so the output can be
# rewritten at any time (every SAVE_EVERY seconds and at the end) without losing anything.

_MESSAGES_COLUMN, _FILES_COLUMN = "消息", "文件"  # a workflow's Message node texts; the files download saved
_ANSWER_WIDTH = 60       # width of the answer column added to an xlsx copy
_DEMO_SAYS = "离线演示:这些回答来自本机的扣子模拟器,不是真实智能体的回答"


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _BatchOutput(object):
    """The output table of one run; `output_path` is where it was last written."""

    def __init__(self, options, header, planner, sheet):
        self.options, self.header, self.planner, self.sheet = options, header, planner, sheet
        self.output_path = options.output_path
        self.first_new_column = None  # where the new columns go in an xlsx copy (found on first save)
        self.verdicts = {}  # {row number: 审核 verdict} read from the earlier output, kept on every rewrite
        self.reviewed = False  # the output has a 审核 column (see review_column)

    def review_column(self, verdicts):
        """Keep the earlier output's verdicts (None: it had no 审核 column); the column is written
        when the output had one or review is asked for, never twice (an input with its own)."""
        self.verdicts = verdicts or {}
        self.reviewed = (verdicts is not None or self.options.review) and _REVIEW_COLUMN not in self.header

    def json_keys(self, done):
        """The JSON keys that get a column each: json_fields, or with json_columns every key answers had."""
        keys = list(self.options.json_fields)
        if (self.options.json_columns or self.options.workflow_id) and not keys:  # a workflow's End fields: always
            for record in done.values():
                for key in (_spread_json(record.get("answer")) or {}):
                    if key not in keys and key not in self.header and key not in self.more_columns():
                        keys.append(key)
        return keys

    def more_columns(self):
        """Columns after the JSON fields: a workflow's Message texts, the downloaded files."""
        wanted = ((_MESSAGES_COLUMN, self.options.workflow_id), (_FILES_COLUMN, self.options.download))
        return [name for name, used in wanted if used] + [self.options.answer_column]

    def output_rows(self, done, json_keys):
        more = self.more_columns()[:-1]
        for number, cells in self.planner.rows():
            record = done.get(number) or {}
            cells = list(cells) + [""] * (len(self.header) - len(cells))
            spread = _spread_json(record.get("answer")) if json_keys or self.options.workflow_id else None
            answer = "" if self.options.workflow_id and spread is not None else record.get("answer", "")
            row = cells[:len(self.header)] + [answer]  # a workflow's JSON object goes into its field columns only
            if json_keys:
                row += [_text((spread or {}).get(key, "")) for key in json_keys]
            row += [record.get("messages" if name == _MESSAGES_COLUMN else "files", "") for name in more]
            row += [_status_text(record), record.get("error", ""), record.get("tokens", ""),
                    record.get("chat_id", ""), number]
            row += [self.verdicts.get(number, "")] if self.reviewed else []  # last: the user's column
            yield row

    def save(self, done):
        """Write the table from the records; OSError or ValueError when the disk refuses."""
        json_keys = self.json_keys(done)
        added = [self.options.answer_column] + json_keys + self.more_columns()[:-1] + list(_EXTRA_COLUMNS)
        added += [_REVIEW_COLUMN] if self.reviewed else []
        if self.sheet is not None and self.output_path.lower().endswith((".xlsx", ".xlsm")):
            self.output_path = self.save_into_copy(done, added, json_keys)
        else:
            layout = "utf-8-sig" if self.sheet is not None else _sniff_format(self.options.input_path)
            lines = itertools.chain(self.planner.rows_above_header(), [list(self.header) + added],
                                    self.output_rows(done, json_keys))
            # the input's cells as they were
            self.output_path = _write_rows(self.output_path, next(lines), lines, layout, inert_from=len(self.header))

    def save_into_copy(self, done, added, json_keys):
        """The input workbook, copied, with the new columns right of everything on the sheet
        (and of any merged range in the header row), their names in the header row."""
        header_row = self.options.table_header_row
        if self.first_new_column is None:
            self.first_new_column = self.sheet.free_column(len(self.header), header_row)
        first = self.first_new_column
        cells = {header_row: dict((first + i, name) for i, name in enumerate(added))}
        for row in self.output_rows(done, json_keys):
            number = row[len(self.header) + added.index("行号")]
            cells[number] = dict((first + i, str(value)) for i, value in enumerate(row[len(self.header):])
                                  if value not in ("", None))
        return _write_xlsx_copy(self.output_path, self.sheet, cells, {first: _ANSWER_WIDTH})

    def report(self, run):
        """Write the HTML report of a run (never lets a report problem stop the batch)."""
        records = [run.done.get(number) or {} for number in run.planner.scope]
        status = [record.get("status") for record in records]
        facts = dict(
            title=os.path.basename(self.options.input_path), input=self.options.input_path, output=self.output_path,
            sheet=self.sheet.name if self.sheet else "", started=run.started_at,
            elapsed=time.monotonic() - run.started, generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            ok=status.count(_STATUS_OK), failed=status.count(_STATUS_FAILED), skipped=status.count(_STATUS_SKIPPED),
            pending=sum(1 for value in status if not value), planned=run.planned,
            finished=run.counts["ok"] + run.counts["failed"],
            tokens=sum(r.get("tokens") or 0 for r in records if r.get("status") == _STATUS_OK),
            all_tokens=sum(r.get("tokens") or 0 for r in records), chats=run.asker.chats,
            timeline=list(run.timeline), stopped_reason=run.stopped_reason, resume=run.resume_command(),
            asked_again=run.asker.asked_again, demo=_DEMO_SAYS if run.demo else "",
            failures=[r for r in records if r.get("status") == _STATUS_FAILED],
            skips=[r for r in records if r.get("status") == _STATUS_SKIPPED],
            sections=list(getattr(run, "report_sections", [])))
        try:
            _write_report(self.options.report_path, facts)
        except OSError as err:
            _log("报告没有写成(%s):%s;批处理本身不受影响" % (type(err).__name__, self.options.report_path))


def _summarize(run, taken, skipped, blank, started):
    """The summary batch() returns, logged: paid chats counted, asked-again ones too; a demo says so."""
    summary = {"total": taken, "done": run.counts["ok"], "skipped": skipped, "failed": run.counts["failed"],
               "tokens": run.counts["tokens"], "elapsed": round(time.monotonic() - started, 2),
               "output_path": run.output_path, "shard": run.options.shard_text,
               "stopped_reason": run.stopped_reason, "blank": blank, "report_path": run.options.report_path,
               "earlier_done": run.planner.earlier["ok"], "earlier_failed": run.planner.earlier["failed"],
               "resume_command": run.resume_command() if run.unfinished() else "",
               "chats": run.asker.chats, "asked_again": run.asker.asked_again,
               "cached": getattr(run.asker, "cached", 0)}
    if run.demo:
        summary["demo"] = _DEMO_SAYS
    again = ",其中 %(asked_again)d 次是重问扣子那边失败的对话" if summary["asked_again"] else ""
    again += ",%(cached)d 行来自答案缓存(没有付费)" if summary["cached"] else ""
    text = (("【离线演示】" if run.demo else "") + ("批处理提前停止(原因见上)" if run.stopped_reason else "批处理结束")
            + ":成功 %(done)d 行,失败 %(failed)d 行,跳过 %(skipped)d 行(其中模板列空白 %(blank)d 行),"
            + ("运行工作流 %(chats)d 次" if run.options.workflow_id else "发起对话 %(chats)d 次") + again
            + ",用 %(tokens)d tokens,%(elapsed).1f 秒;输出 %(output_path)s;报告 %(report_path)s")
    _log(text % summary)
    if summary["resume_command"]:
        _log(summary["resume_command"])
    if run.demo:
        _log(_DEMO_SAYS)
    return summary

###############################################################################
# Estimate (estimate=True)                         (yingdao_module/estimate.py)
###############################################################################
# The estimate (batch estimate=True): what a whole table will cost before it runs overnight.
#
# A few sample rows, spread over the rows still to ask, are asked one by one (each row's own
# time is measured) and journaled like any row, so the real run never pays for them again.
# The projection for the rest: tokens (mean per row x rows left), chats (repairs included),
# and the time at the caps in force (the limiter's rate, this robot's share with a shard) or
# at the measured speed with `concurrency` rows in flight, whichever is slower; qpd in days.

def _sample_rows(todo, count):
    """`count` rows spread evenly from the first to the last (all of them when fewer)."""
    if len(todo) <= count:
        return list(todo)
    if count == 1:
        return [todo[len(todo) // 2]]
    step = (len(todo) - 1) / float(count - 1)
    return [todo[int(round(i * step))] for i in range(count)]


def _projection(records, seconds, chats, rows_left, concurrency, calls_per_second, qpd):
    """The figures for rows_left more rows from what the samples cost (a dict; None values unknown)."""
    answered = [r for r in records if r.get("status") == _STATUS_OK and not r.get("cached")]
    asked = max(1, len(records))
    tokens_per_row = sum(r.get("tokens") or 0 for r in answered) / float(len(answered)) if answered else None
    chats_per_row = chats / float(asked) if chats else 1.0
    row_seconds = sum(seconds) / float(len(seconds)) if seconds else None
    rates = []  # rows per second each limit allows
    if row_seconds:
        rates.append(concurrency / row_seconds)
    if calls_per_second:
        rates.append(calls_per_second / chats_per_row)
    total_chats = int(math.ceil(chats_per_row * rows_left))
    return {"rows_left": rows_left, "samples": len(records),
            "tokens": int(round(tokens_per_row * rows_left)) if tokens_per_row is not None else None,
            "tokens_per_row": round(tokens_per_row, 1) if tokens_per_row is not None else None,
            "chats": total_chats, "seconds": round(rows_left / min(rates), 1) if rates and rows_left else 0.0,
            "days": int(math.ceil(total_chats / float(qpd))) if qpd else None,
            "rows_per_second": round(min(rates), 3) if rates else None}


def _estimate_text(figures, resume):
    """The projection in Chinese, for the log, the summary and the report."""
    if figures["tokens"] is None:
        return "估算失败:试问的 %d 行没有一行成功(原因见上),无法估算。处理好后再估算一次" % figures["samples"]
    hours = figures["seconds"] / 3600.0
    lines = ["估算(试问 %d 行,已记进日志,正式运行不会再付费):剩下 %d 行预计用 %d tokens(平均每行 %s),"
             "发起 %d 次对话,按现在的限速和并发约 %s(%.1f 小时)" % (
                 figures["samples"], figures["rows_left"], figures["tokens"], figures["tokens_per_row"],
                 figures["chats"], "%d 分钟" % int(math.ceil(figures["seconds"] / 60.0)), hours)]
    if figures["days"] and figures["days"] > 1:
        lines.append("按每天 qpd 的上限,要分 %d 天跑完(每天续跑同一命令)" % figures["days"])
    lines.append("正式运行:" + (resume or "再次运行同一命令,去掉 --estimate(影刀里 estimate 填 否)"))
    return "\n".join(lines)


def _run_estimate(run, todo, taken, skipped, blank, started):
    """Ask the samples of `run` (a BatchRun), save, and return the summary with the projection."""
    samples = _sample_rows(todo, run.options.estimate)
    _log("估算:本次要问 %d 行,均匀挑 %d 行试问(其余不问,不花钱)" % (len(todo), len(samples)))
    records, seconds = [], []
    for row in samples:  # one at a time: each row's own time
        began = time.monotonic()
        record = run.asker.ask_row(row)
        if record is None:
            break  # the run stopped (token, quota...): said above
        records.append(record)
        if not record.get("cached"):
            seconds.append(time.monotonic() - began)
    limiter = getattr(run, "limiter", None)
    figures = _projection(records, seconds, run.asker.chats, len(todo) - len(records), run.options.concurrency,
                         limiter.calls_per_second if limiter is not None else None,
                         limiter.qpd if limiter is not None else None)
    run.planned = len(samples)
    text = _estimate_text(figures, "")
    run.report_sections = [("估算", text)]
    run.close()
    summary = _summarize(run, taken, skipped, blank, started)
    figures["text"] = _estimate_text(figures, summary["resume_command"])
    summary["estimate"] = figures
    _log(figures["text"])
    return summary

###############################################################################
# Batch engine: batch() and the run loop              (yingdao_module/batch.py)
###############################################################################
# Batch: push every row of a spreadsheet through a bot, fast, resumable, nothing lost.
#
#     batch("商品.xlsx", prompt="为{商品名}写一句广告语", qps=2)
#
# Every finished row goes to the journal (fsynced) before anything else; the output table is
# rewritten from the journal every 30 s and at the end. Running the same call again skips
# finished rows. Fatal errors (token, bot, quota, daily limit) stop the run at once, save
# everything and say how to continue. shard="K/N" lets N robots split one workbook; merge.py
# joins their outputs in the original row order.
#
# This file holds batch() and the run loop; which rows are asked is batch_plan.py, how one row
# is asked batch_ask.py, what is written batch_output.py.

def _api_host(client):
    """The host of the API (downloads from it are allowed even on an office network)."""
    settings = getattr(client, "settings", None)
    return urllib.parse.urlsplit(getattr(settings, "base_url", "") or "").hostname or ""


_SAVE_EVERY = 30.0       # seconds between rewrites of the output table
_PROGRESS_EVERY = 10.0   # seconds between progress lines (or every 5 %)


class _BatchRun(object):
    """One run over one input: the records, the counts, the stop, and the loop that keeps
    `concurrency` rows in flight."""

    def __init__(self, options, header, make_question, client, stop, bot_id=""):
        self.options, self.header = options, header
        self.stop = stop  # the client's chat waits for the rate limiter and refuses to start once stop is set
        xlsx = options.input_path.lower().endswith((".xlsx", ".xlsm"))
        self.sheet = _XlsxSheet(options.input_path, options.sheet) if xlsx else None
        if self.sheet is not None:
            self.sheet.verify()  # every part, before any chat: a broken one would stop the copy after paying
        self.timeline = []
        self.started, self.started_at, self.planned = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S"), 0
        settings = getattr(client, "settings", None)  # tests may stand in for Client
        self.bot_id, self.base_url = bot_id or "", getattr(settings, "base_url", "") or ""
        self.app = getattr(settings, "app", None) or (None, None, None)
        self.demo = getattr(settings, "token", None) == _DEMO_TOKEN
        self.journal = _Journal(options.journal_path, {
            "input": options.input_path, "prompt": options.prompt or "",
            "question_column": options.question_column or "", "sheet": options.sheet or "",
            "bot_id": "" if options.workflow_id else bot_id or "", "shard": options.shard_text,
            "workflow_id": options.workflow_id or "",
            "server": _DEMO_SERVER if self.demo else self.base_url})
        self.planner = _Planner(options, header, make_question, self.sheet)
        self.asker = _with_cache(self.asker_for(client, stop), options, settings, bot_id)
        self.output = _BatchOutput(options, header, self.planner, self.sheet)
        self.done = {}
        self.unsaved = []  # answers paid for that the disk refused: kept here, written again at the end
        self.stopped_reason = ""
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "failed": 0, "tokens": 0}

    def asker_for(self, client, stop):
        """A workflow per row, or a bot per row; with the row's files and the answers' downloads."""
        options, header = self.options, self.header
        extras = _RowExtras(
            _RowFiles(options, client, _account_key(client.settings)) if options.files_column else None,
            header.index(options.files_column) if options.files_column else None,
            _Downloader(options.downloads_folder, trusted=[_api_host(client)]) if options.download else None)
        if options.workflow_id:
            return _WorkflowAsker(options, client, self.journal, stop, self.finish, self.halt, extras,
                                 header.index(options.answers_column) if options.answers_column else None)
        return _Asker(options, client, self.journal, stop, self.finish, self.halt, extras)

    @property
    def output_path(self):
        return self.output.output_path

    def finish(self, record):
        try:
            self.journal.append(record)  # first: the answer is safe on disk before the table is written
        except (OSError, ValueError) as err:
            with self.lock:
                self.unsaved.append(record)
            self.halt(_cannot_write(self.journal.path, err))
        with self.lock:
            self.done[record["row"]] = record
            self.counts["ok" if record["status"] == _STATUS_OK else "failed"] += 1
            self.counts["tokens"] += record.get("tokens") or 0
            max_tokens = self.options.max_tokens
            if max_tokens is not None and self.counts["tokens"] >= max_tokens and not self.stop.is_set():
                self.halt("已用 %d tokens,达到 max_tokens 上限 %d" % (self.counts["tokens"], max_tokens))

    def halt(self, reason):
        if not self.stop.is_set():
            self.stopped_reason = reason
            self.stop.set()
            _log("批处理停止:%s" % reason)

    def save(self):
        """Rewrite the output table and the report from the records."""
        try:
            self.output.save(self.done)
        except (OSError, ValueError) as err:  # the answers stay in the journal (or in memory) for now
            self.halt(_cannot_write(self.output_path, err))
        self.output.report(self)

    def resume_command(self):
        """How to continue this run: the command for this platform's shells (no secrets), and
        in ShadowBot: run the same flow again."""
        failed = any(self.done.get(n, {}).get("status") == _STATUS_FAILED for n in self.planner.scope)
        return _resume_text(self.options, self.bot_id, self.base_url, self.app[0], self.app[1], self.demo, failed)

    def unfinished(self):
        """Rows of this run without an answer: not asked yet, or failed."""
        return sum(1 for n in self.planner.scope if self.done.get(n, {}).get("status") in (None, _STATUS_FAILED))

    # -- the whole run ------------------------------------------------------------------------------
    def run(self, dedupe_label="与第 %d 行问题相同,沿用其回答"):
        try:
            self.journal.take_run_lock(self.options.wait)
        except KeyboardInterrupt:
            _log("已中断:还没有开始提问,没有花钱")
            raise
        try:
            self.done = self.journal.load(self.options.restart)
            xlsx_output = self.sheet is not None and self.output_path.lower().endswith((".xlsx", ".xlsm"))
            self.output.review_column(_read_verdicts(self.output_path, self.sheet.name if xlsx_output else None))
            return self.run_locked(dedupe_label)
        finally:
            self.journal.release_run_lock()

    def run_locked(self, dedupe_label):
        started = self.started = time.monotonic()
        todo, skipped, blank, taken = self.planner.plan(self.done)
        earlier = self.planner.earlier
        if earlier["ok"]:
            _log("续跑:%d 行已在之前完成,跳过(不会重复计费)" % earlier["ok"])
        if earlier["failed"]:
            _log("续跑:%d 行之前失败,这次不重试(要重试请加 retry_failed=True,命令行 --retry-failed)" % earlier["failed"])
        if blank:
            _log("%d 行的模板列(%s)全是空的:没有提问,状态记为「跳过」" % (blank, "、".join(self.planner.make_question.columns)))
        todo, copies = _without_duplicates(todo) if self.options.dedupe else (todo, [])
        self.planned = len(todo)
        if self.sheet is not None:
            _log("使用工作表「%s」(工作簿里有:%s)" % (self.sheet.name, "、".join(self.sheet.names)))
            self.planner.check_formulas()
        if self.options.estimate:
            return _run_estimate(self, todo, taken, skipped, blank, started)
        if self.options.review:
            return _run_review(self, todo, taken, skipped, blank, started, _summarize)
        _log("批处理开始:共 %d 行,本次要问 %d 行,并发 %d" % (taken, len(todo), self.options.concurrency))
        try:
            self.ask_all(todo, started)
            for row, first in copies:
                original = self.done.get(first)
                if original and original.get("status") == _STATUS_OK:
                    self.finish(dict(original, row=row.number, key=row.key, tokens=0, error=dedupe_label % first))
        except KeyboardInterrupt:
            self.close()
            _log("已中断:已完成的 %d 行都已保存在 %s。重跑同一命令即可从断点继续,已完成的行不会重复付费"
                % (sum(1 for r in self.done.values() if r.get("status")), self.output_path))
            _log(self.resume_command())
            raise
        self.close()
        return _summarize(self, taken, skipped, blank, started)

    def close(self):
        """Write what the disk refused earlier (it may have room again), then the table."""
        unsaved, self.unsaved = self.unsaved, []
        for record in unsaved:
            try:
                self.journal.append(record)
            except (OSError, ValueError):
                self.unsaved.append(record)
        self.journal.close()
        if self.unsaved:
            _log("仍有 %d 个已付费的回答写不进磁盘(第 %s 行),程序结束后会丢失,下次运行会重新提问这几行" % (
                len(self.unsaved), "、".join(str(r["row"]) for r in self.unsaved)))
        self.save()

    def ask_all(self, todo, started):
        """Keep `concurrency` rows in flight (a bounded window, so 100,000 rows cost no memory),
        saving the table every SAVE_EVERY seconds and logging progress."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait  # on first use: fast import
        window = set()
        last_save = last_progress = time.monotonic()
        next_share, reported = 0.05, 0
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            items = iter(todo)
            try:
                while True:
                    while len(window) < self.options.concurrency * 2 and not self.stop.is_set():
                        item = next(items, None)
                        if item is None:
                            break
                        window.add(pool.submit(self.asker.ask_row, item))
                    if not window:
                        break
                    # any finished row frees its place at once (waiting for the oldest one could
                    # leave workers idle while it waits for the rate limiter); at least a 1 s tick
                    finished_rows = wait(window, timeout=1.0, return_when=FIRST_COMPLETED)[0]
                    for future in finished_rows:
                        window.discard(future)
                        if future.exception() is not None:  # a bug in one row must not lose the whole run
                            _log("有一行处理出错:%s" % type(future.exception()).__name__)
                    now = time.monotonic()
                    if now - last_save >= _SAVE_EVERY:
                        self.save()
                        last_save = now
                    finished = self.counts["ok"] + self.counts["failed"]
                    if finished != (self.timeline[-1][1] if self.timeline else 0):
                        self.timeline.append((round(now - started, 2), finished, self.counts["failed"]))
                    due = now - last_progress >= _PROGRESS_EVERY or (todo and finished >= next_share * len(todo))
                    if due and finished != reported:  # a line only when something new happened
                        _log_progress(self, started, len(todo))
                        last_progress, reported = now, finished
                        while todo and finished >= next_share * len(todo):
                            next_share += 0.05
            except KeyboardInterrupt:
                for future in window:
                    future.cancel()  # rows not started are not paid for; started ones finish and are kept
                self.halt("收到 Ctrl-C:不再开始新的行,等进行中的行结束后保存")
                raise



def _log_progress(run, started, planned):
    """One progress line of a run: rows finished, speed, time left, tokens."""
    with run.lock:
        finished = run.counts["ok"] + run.counts["failed"]
        elapsed = max(0.001, time.monotonic() - started)
        rate = finished / elapsed
        eta = (planned - finished) / rate if rate else 0
        _log("进度 %d/%d:成功 %d,失败 %d,%.2f 行/秒,预计还需 %d 秒,已用 %d tokens" % (
            finished, planned, run.counts["ok"], run.counts["failed"], rate, eta, run.counts["tokens"]))


def _signature_defaults(function):
    """((name, default), ...) of a function's parameters that have defaults, in order."""
    code = function.__code__
    names, defaults = code.co_varnames[:code.co_argcount], function.__defaults__ or ()
    return tuple(zip(names[len(names) - len(defaults):], defaults))


def _batch_defaults():
    """batch()'s keyword parameters and their defaults: its signature (what ShadowBot's 调用模块
    shows) is the one list of batch options; BatchOptions, the resume command and the command line
    are handed this instead of keeping a copy."""
    return _signature_defaults(batch)


def batch(input_path, prompt=None, question_column=None, output_path=None, sheet=None, answer_column="回答",
          bot_id=None, token=None, base_url=None, concurrency=2, qps=None, qpm=None, qpd=None, max_rows=None,
          max_tokens=None, retry_failed=False, shard=None, json_columns=False, dedupe=False, timeout=_DEFAULT_TIMEOUT,
          restart=False, wait=False, app_id=None, key_id=None, private_key=None,
          json_fields=None, ask_blank=False, report_path=None, tools=None, header_row=None, chat_retries=2,
          workflow_id=None, parameters=None, answers_column=None, files_column=None, download=False,
          estimate=False, cache=False, cache_days=None, review=False):
    """表格批处理:表格每一行问智能体一次,回答写进新表格;再次运行同一调用会从断点继续,不重复付费。

    input_path       输入表格 .xlsx、.csv 或 .txt(原表格不会被修改;.xlsx 的输出是原工作簿的副本加上新列)
    prompt           提问模板,{列名} 换成这一行的值,例如「为{商品名}写一句广告语」;{{ 和 }} 是字面的大括号
    question_column  不用模板时,直接拿这一列当问题(和 prompt 二选一)
    output_path      输出表格,默认 <名字>_coze.<扩展名>
    sheet            工作表名,默认 Excel 打开时显示的那个
    answer_column    回答列的列名,默认「回答」
    bot_id           智能体 ID,不填用全局变量 coze_bot_id
    token            个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url         API 地址,不填用 https://api.coze.cn
    app_id           服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask();跑几千行、跨夜的批处理建议用它
    key_id           服务类应用公钥的指纹(公钥 ID)
    private_key      私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    concurrency      同时进行的对话数,默认 2
    qps              每秒最多发起多少次对话(可填小数);"auto" = 读取账号的限额(读不到时按免费版 20 并说明);
                     填了 shard 时 qps / qpm / qpd 是整个账号的上限,每台机器人自动取一份(留 10% 余量)
    qpm              每分钟最多发起多少次对话
    qpd              每天最多发起多少次对话(按账号计,重启后也记得;到了就停,明天续跑)
    max_rows         只做前 N 行(试跑)
    max_tokens       累计 token 到这个数就停止(花费上限)
    retry_failed     续跑时也重试之前失败的行
    shard            K/N:N 台机器人分一张表,本机做第 K 份
    json_columns     回答是 JSON 时一键一列
    dedupe           相同的问题只问一次
    timeout          每行最多等多少秒,默认 180
    restart          日志属于另一个提示词 / 智能体 / 表格时,把旧日志改名存档后重新开始
    wait             另一个批处理正在写同一个输出时,等它结束再继续(默认立即停止并说明)
    json_fields      回答必须是含这些键的 JSON 对象(例如 "标题,卖点"),每个键一列;不合格时同一会话追问一次
    ask_blank        模板用到的列全空的行也提问(默认跳过,不花钱)
    report_path      报告网页,默认 <输出名>_报告.html
    tools            智能体的本地工具(端插件),同 ask()
    header_row       列名在第几行;默认在前 10 行里找含有模板各列(或问题列)的那一行,上面的标题行原样保留
    chat_retries     扣子那边失败的对话(例如错误码 5000)在本次运行里再问几次,默认 2,0 = 不再问;每次重问多付一次对话
    workflow_id      每行运行这个工作流(代替智能体):参数来自同名的列,结束节点输出的 JSON 字段一列一个;已开始的运行绝不重跑
    parameters       工作流参数的改名与常量(JSON),例如 {"city": "{城市}", "lang": "zh"}
    answers_column   工作流问答节点的回答所在的列(JSON 列表或一段文字)
    files_column     每行要带上的文件所在的列:本地路径或 http(s) 网址,多个用 ; 或换行分开;图片按图片发送
    download         把回答(或工作流输出)里的图片和文件下载到 <输出名>_文件 文件夹,路径写进「文件」列
    estimate         只估算:均匀挑几行试问(是 = 3 行,或填行数),给出整张表的 token、对话次数和按限速要多久;
                     试问的行记进日志,正式运行不会再付费
    cache            答案缓存:同一账号、同一智能体、同样的问题以前问过(任何表格、任何运行),直接用那次的回答,不花钱;
                     状态写「成功(缓存)」;失败的不缓存
    cache_days       缓存多少天内的回答算数(默认一直算)
    review           按审核重问:在输出表格的「审核」列写「驳回:意见」的行,在原来的会话里带着意见再问一次;
                     写「通过」或空着的行不再问

    返回汇总字典:total, done, skipped(其中 blank 行是模板列空白), failed, tokens, elapsed, output_path,
    report_path, stopped_reason(空 = 正常结束), earlier_done / earlier_failed(之前已成功 / 已失败的行),
    resume_command(继续这次运行的命令,全部完成时为空)。
    """
    options = _BatchOptions(defaults=_batch_defaults(), **locals())  # locals() holds exactly the parameters here
    header, make_question = _checked_table(options)
    if options.table_header_row > 1:  # said here, not in checked_table: the command line checks the table first too
        _log("列名在第 %d 行(上面 %d 行原样保留);不对的话用 --header-row N 指定"
            % (options.table_header_row, options.table_header_row - 1))
    stop = threading.Event()
    limiter = _RateLimiter()  # its caps are set below, once the client can read the account's
    # checks token and bot before any call; tests and benchmarks stand in for Client here
    client = Client(token=options.token, bot_id=None if options.workflow_id else options.bot_id,
                    base_url=options.base_url, timeout=options.timeout,
                    app_id=options.app_id, key_id=options.key_id, private_key=options.private_key,
                    before_request=limiter.hook(stop))  # every POST /v3/chat waits for the limiter, retries included
    kind = "workflow" if options.workflow_id else "chat"  # workflow runs have caps of their own
    _apply_limits(limiter, getattr(client, "transport", None), options.qps, options.qpm, options.qpd, options.shard,
                 kind)
    limiter.share_with_account(client.settings, options.shard_text, "workflow" if options.workflow_id else "")
    run = _BatchRun(options, header, make_question, client, stop, client.settings.bot_id)
    run.limiter = limiter  # the estimate reads its rate; run.report_sections: [(title, text)] for the report
    return run.run()

###############################################################################
# Merging shard outputs                               (yingdao_module/merge.py)
###############################################################################
# Merge: join the outputs of a sharded batch (shard="K/N" on N robots) into one table in the
# original row order, and say when a shard is missing or unfinished.
#
# It takes file paths, or what batch() returned: its summary dict, or that dict as text (a
# ShadowBot variable typed into 调用模块 arrives as text, JSON or Python-style quotes).
# Shards of an .xlsx input are copies of the same workbook, each with its own rows answered:
# their merge is the first copy with every other copy's new cells added.

_SHARD_IN_NAME = re.compile(r"\.shard(\d+)of(\d+)")
_MERGE_INPUT_HELP = "merge 需要各分片的输出文件路径,或 batch 返回的汇总(字典或它的文本),或它们的列表"


def _literal(text):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)  # str() of a dict or list: single quotes
    except (ValueError, SyntaxError):
        raise InputError("%s;这段文本看不懂:%s" % (_MERGE_INPUT_HELP, text[:80]))


def _shard_sources(items):
    """[(path, summary or None)] from paths, batch summaries, or their text."""
    if isinstance(items, (str, dict)):
        items = [items]
    sources = []
    for item in items or []:
        if isinstance(item, str) and item.strip()[:1] in ("[", "{"):
            value = _literal(item.strip())
            sources.extend(_shard_sources(value if isinstance(value, list) else [value]))
        elif isinstance(item, str) and item.strip():
            sources.append((item.strip().strip('"'), None))
        elif isinstance(item, dict) and item.get("output_path"):
            sources.append((str(item["output_path"]), item))
        else:
            raise InputError("%s;这一项不是:%r" % (_MERGE_INPUT_HELP, item))
    if not sources:
        raise InputError(_MERGE_INPUT_HELP)
    return sources


def _shard_of(path, summary):
    """(K, N) from the summary's shard, the output's journal (its first line names the shard) or the
    file name, or None: a renamed output still knows its shard."""
    text = str((summary or {}).get("shard") or _journal_header(path).get("shard") or "")
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", text)
    match = match or _SHARD_IN_NAME.search(os.path.basename(path))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _merge_shards(items, output_path=None):
    """(path written, [problems in Chinese]) — see merge()."""
    sources = _shard_sources(items)
    header, rows, problems, shards, owner, from_workbook = None, [], [], {}, {}, set()
    for path, summary in sources:
        sheet = _answered_sheet(path) if path.lower().endswith((".xlsx", ".xlsm")) else None
        table = (cells for _, cells in (sheet.rows() if sheet else _read_rows(path)))
        names = _numbered_header(table)
        if "行号" not in names:
            raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)
        header = header or names
        if names != header:
            raise InputError("%s 的列和其他分片不一样,不能合并" % path)
        number_at, status_at = names.index("行号"), names.index("状态") if "状态" in names else None
        unfinished = 0
        for row in table:
            if not row:
                continue
            number = row[number_at] if number_at < len(row) else ""
            if not number:
                continue  # a row of another shard, or a blank one, in a workbook copy
            if number in owner:
                raise InputError("第 %s 行同时出现在 %s 和 %s 里:同一个分片传了两次?" % (number, owner[number], path))
            owner[number] = path
            if sheet:
                from_workbook.add(number)
            if status_at is not None and (status_at >= len(row) or not row[status_at]):
                unfinished += 1
            rows.append(row)
        name = os.path.basename(path)
        if summary and summary.get("stopped_reason"):
            problems.append("%s 没有跑完:%s" % (name, summary["stopped_reason"]))
        elif unfinished:
            problems.append("%s 还有 %d 行没有处理(状态为空):在那台机器人上重跑同一命令即可续跑" % (name, unfinished))
        shard = _shard_of(path, summary)
        if shard:
            shards.setdefault(shard[1], set()).add(shard[0])
    for total, present in sorted(shards.items()):
        missing = [str(k) for k in range(1, total + 1) if k not in present]
        if missing:
            problems.append("缺少分片 %s(共 %d 份):等那几台机器人跑完,再把它们的输出一起交给 merge"
                            % ("、".join("%s/%d" % (k, total) for k in missing), total))
    if len(shards) > 1:
        problems.append("这些文件来自不同的分法(共 %s 份):只合并同一次分表的输出" % "、".join(str(n) for n in sorted(shards)))
    rows.sort(key=lambda row: int(row[number_at] or 0))
    output_path = _safe_output(output_path, [path for path, _ in sources], _finished_rows(rows, number_at, status_at),
                              problems)
    if all(path.lower().endswith((".xlsx", ".xlsm")) for path, _ in sources):
        return _merged_copy(sources[0][0], rows, output_path), problems
    # a text shard's cells were made inert when batch wrote it; a workbook's were not (nor can its
    # own columns be told from ours there), so every cell of its rows is made inert in a text table
    rows = [[_inert_cell(cell) for cell in row] if row[number_at] in from_workbook else row for row in rows]
    first = sources[0][0]
    layout = "utf-8-sig" if first.lower().endswith((".xlsx", ".xlsm")) else _sniff_format(first)
    return _write_rows(output_path, header, rows, layout), problems


def _numbered_header(table):
    """The header of a batch output (the first of the top rows with 行号; title rows above it are
    skipped), or [] when there is none; `table` is left just after it."""
    for cells in itertools.islice(table, _HEADER_SCAN):
        if "行号" in cells:
            return cells
    return []


def _finished_rows(rows, number_at, status_at):
    """Row numbers with a status (answered, failed or skipped) in rows of a batch output."""
    return set(row[number_at] for row in rows if number_at < len(row) and row[number_at]
               and (status_at is None or (status_at < len(row) and row[status_at])))


def _safe_output(output_path, source_paths, finished, problems):
    """Where to write the merge so that nothing is lost: never over a shard, never over a table that has
    finished rows this merge lacks (an earlier complete merge). Given by the user: refused; the default
    name: written beside it, and said in problems."""
    first = source_paths[0]
    chosen = output_path is not None
    if not chosen:
        output_path = _SHARD_IN_NAME.sub("", first)
        if output_path == first:
            output_path = "%s_merged%s" % os.path.splitext(first)
    for path in source_paths:  # never write the merge over one of its shards, however spelled
        _refuse_same_file(output_path, "output_path", [(path, "分片输出")])
    reason = _what_would_be_lost(output_path, finished)
    if reason and chosen:
        raise InputError("%s:没有覆盖它。要更新它,把所有分片的输出一起交给 merge;要另存,用 output_path 换一个文件名" % reason)
    stem, ext = os.path.splitext(output_path)
    for number in range(1, 100):
        if not reason:
            return output_path
        output_path = "%s_部分合并%s%s" % (stem, number if number > 1 else "", ext)
        earlier, reason = reason, _what_would_be_lost(output_path, finished)
        if not reason:
            problems.append("%s:没有覆盖它,这次的合并写在 %s" % (earlier, os.path.basename(output_path)))
    raise InputError("找不到可以写合并结果的文件名(%s 等都已存在):请用 output_path 指定一个" % os.path.basename(output_path))


def _what_would_be_lost(output_path, finished):
    """Why writing output_path would lose something ("" when it would not): it holds finished rows that
    `finished` lacks, or it is not a batch output at all."""
    name = os.path.basename(output_path)
    if not os.path.exists(output_path):
        return ""
    try:
        sheet = _answered_sheet(output_path) if output_path.lower().endswith((".xlsx", ".xlsm")) else None
        table = (cells for _, cells in (sheet.rows() if sheet else _read_rows(output_path)))
        names = _numbered_header(table)
        existing = _finished_rows(list(table), names.index("行号"), names.index("状态") if "状态" in names else None)
    except (InputError, ValueError, OSError):
        return "%s 已经存在,而且不是 merge 的输出" % name
    lost = sorted(existing - finished, key=int)
    if not lost:
        return ""
    return "%s 是更完整的合并结果(%d 行已处理,这次合并只有 %d 行,少了第 %s 行)" % (
        name, len(existing), len(finished), _row_list(lost))


def _row_list(numbers, limit=8):
    return "、".join(numbers[:limit]) + (" 等 %d 行" % len(numbers) if len(numbers) > limit else "")


def _answered_sheet(path):
    """The sheet of a workbook copy that batch wrote its columns into (its header has 行号)."""
    for name in _XlsxSheet(path).names:
        sheet = _XlsxSheet(path, name)
        if _numbered_header(cells for _, cells in sheet.rows()):
            return sheet
    raise InputError("%s 没有「行号」列:merge 只能合并 batch 的输出" % path)


def _merged_copy(first, rows, output_path):
    """The first shard's workbook with the other shards' answers added where it has none."""
    sheet = _answered_sheet(first)
    mine = dict(sheet.rows())
    number_at = _numbered_header(iter(mine.values())).index("行号")
    cells = {}
    for row in rows:
        number = int(row[number_at])
        base = mine.get(number, [])
        added = dict((column, value) for column, value in enumerate(row)
                     if value and (column >= len(base) or not base[column]))
        if added:
            cells[number] = added
    return _write_xlsx_copy(output_path, sheet, cells)


def merge(paths, output_path=None):
    """合并多台机器人分表(shard="K/N")的输出:按原表格的行号排好,写成一个表格,返回它的路径。

    paths        各分片的输出文件路径列表,或 batch 返回的汇总(字典,或它的文本),或它们的列表
    output_path  合并后的文件,默认去掉文件名里的 .shardKofN;那里已有更完整的合并结果时不覆盖
                 (默认名时另存为 <名字>_部分合并,指定的文件名则报错)
    缺少某一份、或某一份没跑完时,照样合并已有的行,并在日志里说明缺什么(输出改了名也认得出是第几份:
    看它旁边的断点日志)。
    """
    path, problems = _merge_shards(paths, output_path)
    for problem in problems:
        _log("合并提醒:%s" % problem)
    return path

###############################################################################
# Module-level shortcuts (调用模块)                     (yingdao_module/api.py)
###############################################################################
# Module-level shortcuts: what ShadowBot's 调用模块 block calls.
#
# Each function resolves settings (argument → ShadowBot global variable → environment →
# default), reuses a Client for the same settings (so a loop keeps its connection alive),
# and does one thing. Parameters typed into 调用模块 arrive as text: "180", "false" and JSON
# text are all understood.

_clients = {}
_clients_lock = threading.Lock()


def _client_for(token=None, bot_id=None, base_url=None, user_id=None, app_id=None, key_id=None, private_key=None):
    """A cached Client for these settings (the cache key holds a hash, never the token or key)."""
    client = Client(token=token, bot_id=bot_id, base_url=base_url, user_id=user_id,
                    app_id=app_id, key_id=key_id, private_key=private_key)
    with _clients_lock:
        return _clients.setdefault(client.settings.fingerprint(), client)


def ask(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
        custom_variables=None, files=None, timeout=_DEFAULT_TIMEOUT, stream=True, app_id=None, key_id=None,
        private_key=None, tools=None, workflow_id=None, parameters=None):
    """问扣子智能体一个问题,返回回答的文本。

    question          要问的内容(文本)
    bot_id            智能体 ID:智能体编辑页网址 /bot/ 后面的数字;不填则用全局变量 coze_bot_id
    token             个人访问令牌 pat_...;不填则用全局变量 coze_token / 环境变量 COZE_API_TOKEN
    base_url          https://api.coze.cn(默认,国内)或 https://api.coze.com(国际版)
    user_id           终端用户标识,不填则用本机名
    conversation_id   会话 ID(new_conversation() 得到),填了智能体就记得之前的对话
    custom_variables  自定义变量,字典或 JSON 文本,键值都是文本
    files             图片/文件路径(或 upload_file 得到的文件 ID),一个或列表
    timeout           最多等多少秒(默认 180),超时会取消这次对话
    stream            True 流式(默认,最快);False 轮询(网络会掐断长连接时用)
    app_id            服务类应用(OAuth JWT)的应用 ID:与 key_id、private_key 一起代替 token,机器人长期无人值守时用它
                      (个人访问令牌最长 30 天就过期);不填用全局变量 coze_app_id 或环境变量 COZE_APP_ID
    key_id            该应用公钥的指纹(公钥 ID);不填用全局变量 coze_key_id 或环境变量 COZE_KEY_ID
    private_key       私钥:PEM 文本或 .pem 文件路径;建议放在密码类型的全局变量 coze_private_key 里
    tools             本地工具(端插件):{"工具名": Python 函数或影刀子流程名};影刀「调用模块」里填 JSON 文本,
                      例如 {"查询库存": "查询库存"}(子流程的输入参数和工具参数同名,输出参数叫 output)
    workflow_id       对话流(Chatflow)ID:填了就问这个对话流,不需要 bot_id
    parameters        对话流开始节点的参数:字典或 JSON 文本
    """
    return chat(question, bot_id=bot_id, token=token, base_url=base_url, user_id=user_id,
                conversation_id=conversation_id, custom_variables=custom_variables, files=files,
                timeout=timeout, stream=stream, app_id=app_id, key_id=key_id, private_key=private_key,
                tools=tools, workflow_id=workflow_id, parameters=parameters)["answer"]


def chat(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
         custom_variables=None, files=None, timeout=_DEFAULT_TIMEOUT, stream=True, app_id=None, key_id=None,
         private_key=None, tools=None, workflow_id=None, parameters=None):
    """和 ask 一样提问,但返回字典:answer(回答)、conversation_id、chat_id、usage(用量)、
    follow_ups(推荐追问)、reasoning(思考过程)、logid、tool_calls(本地工具调用)、elapsed(秒)。

    question          要问的内容(文本)
    bot_id            智能体 ID(智能体编辑页网址 /bot/ 后面的数字),不填用全局变量 coze_bot_id
    token             个人访问令牌 pat_...,不填用全局变量 coze_token 或环境变量 COZE_API_TOKEN
    base_url          API 地址:国内 https://api.coze.cn(默认),国际版 https://api.coze.com
    user_id           终端用户标识,不填则用本机名
    conversation_id   会话 ID:填上次结果里的 conversation_id,智能体就接着聊
    custom_variables  自定义变量:字典或 JSON 文本,例如 {"城市": "杭州"}
    files             图片或文件:本机路径或文件 ID,一个或一个列表
    timeout           最多等待的秒数(默认 180),到时取消这次对话并报错
    stream            是否流式:True(默认)流式,False 轮询
    app_id            服务类应用(OAuth JWT)的应用 ID:与 key_id、private_key 一起代替 token,机器人长期无人值守时用它
                      (个人访问令牌最长 30 天就过期);不填用全局变量 coze_app_id 或环境变量 COZE_APP_ID
    key_id            该应用公钥的指纹(公钥 ID);不填用全局变量 coze_key_id 或环境变量 COZE_KEY_ID
    private_key       私钥:PEM 文本或 .pem 文件路径;建议放在密码类型的全局变量 coze_private_key 里
    tools             本地工具(端插件):{"工具名": Python 函数或影刀子流程名};影刀「调用模块」里填 JSON 文本,
                      例如 {"查询库存": "查询库存"}(子流程的输入参数和工具参数同名,输出参数叫 output)
    workflow_id       对话流(Chatflow)ID:填了就问这个对话流,不需要 bot_id
    parameters        对话流开始节点的参数:字典或 JSON 文本
    """
    client = _client_for(token, None if workflow_id else bot_id, base_url, user_id, app_id, key_id, private_key)
    return client.chat(question, conversation_id=conversation_id, custom_variables=custom_variables,
                       files=files, stream=stream, timeout=timeout, tools=tools, workflow_id=workflow_id,
                       parameters=parameters, bot_id=bot_id if workflow_id else None)


def new_conversation(bot_id=None, token=None, base_url=None, timeout=60, app_id=None, key_id=None, private_key=None):
    """新建一个会话,返回会话 ID。之后提问时把它填进 conversation_id,智能体就记得前面的对话。

    bot_id       智能体 ID,不填用全局变量 coze_bot_id
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 60)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    """
    client = _client_for(token, bot_id, base_url, None, app_id, key_id, private_key)
    return client.new_conversation(timeout=timeout)


def run_workflow(workflow_id, parameters=None, bot_id=None, token=None, base_url=None, timeout=_DEFAULT_TIMEOUT,
                 stream=True, app_id=None, key_id=None, private_key=None, answers=None, is_async=None):
    """运行一个扣子工作流,返回结束节点的输出(输出是 JSON 时返回字典,否则返回文本)。

    workflow_id  工作流 ID:工作流编辑页网址里 workflow= 后面的数字
    parameters   输入参数:字典或 JSON 文本,例如 {"input": "你好"}
    bot_id       工作流里用到智能体相关节点时才需要填
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 180;超过 600 且没填 is_async 时自动异步运行)
    stream       True(默认)流式运行;False 等工作流整体跑完再返回(约 90 秒后会被断开)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    answers      问答节点的回答:列表(按提问顺序)、函数 f(问题) -> 回答,或 JSON 列表文本 ["杭州"]
    is_async     True:在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它,需付费版)
    """
    return run_workflow_full(workflow_id, parameters, bot_id, token, base_url, timeout, stream, app_id, key_id,
                             private_key, answers, is_async)["output"]


def run_workflow_full(workflow_id, parameters=None, bot_id=None, token=None, base_url=None, timeout=_DEFAULT_TIMEOUT,
                      stream=True, app_id=None, key_id=None, private_key=None, answers=None, is_async=None):
    """和 run_workflow 一样运行工作流,但返回字典:output(结束节点输出)、messages(消息节点的文本)、
    questions(问答节点问了什么、答了什么)、execute_id、debug_url(调试页)、usage(用量)、logid、elapsed(秒)。

    workflow_id  工作流 ID:工作流编辑页网址里 workflow= 后面的数字
    parameters   输入参数:字典或 JSON 文本,例如 {"input": "你好"}
    bot_id       工作流里用到智能体相关节点时才需要填
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 180;超过 600 且没填 is_async 时自动异步运行)
    stream       True(默认)流式运行;False 等工作流整体跑完再返回(约 90 秒后会被断开)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    answers      问答节点的回答:列表(按提问顺序)、函数 f(问题) -> 回答,或 JSON 列表文本 ["杭州"]
    is_async     True:在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它,需付费版)
    """
    client = _client_for(token, None, base_url, None, app_id, key_id, private_key)
    return client.run_workflow_full(workflow_id, parameters, bot_id, timeout, stream, answers, is_async)


def upload_file(path, token=None, base_url=None, timeout=120, app_id=None, key_id=None, private_key=None):
    """把图片或文件上传到扣子,返回文件 ID(可以填进 ask / chat 的 files)。

    path         本机文件路径,例如 C:\\报表\\图片.png
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 120)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    """
    client = _client_for(token, None, base_url, None, app_id, key_id, private_key)
    return client.upload_file(path, timeout=timeout)

###############################################################################
# ShadowBot Code flow: main(args)                 (yingdao_module/shadowbot.py)
###############################################################################
# The ShadowBot Code-flow entry point: main(args).
#
# ShadowBot passes the flow's input parameters in `args` (None when the module runs on its
# own) and reads output parameters back from the same dict. Expected errors are written to
# args["error"] and logged as one Chinese line, never as a traceback, so the flow can branch
# on `error` instead of crashing.

# The flow's input parameters main(args) reads: the one list that templates, docs and tests use.
_CONNECTION_INPUTS = ("bot_id", "token", "base_url", "app_id", "key_id", "private_key", "timeout", "stream")
_CHAT_INPUTS = ("user_id", "conversation_id", "custom_variables")
_WORKFLOW_INPUTS = ("workflow_id", "parameters", "workflow_answers", "is_async")
_CODE_FLOW_INPUTS = ("question",) + _CHAT_INPUTS + _WORKFLOW_INPUTS + _CONNECTION_INPUTS
_CODE_FLOW_OUTPUTS = ("answer", "conversation_id", "chat_id", "usage", "error")
_STANDALONE_QUESTION = "你好,请用一句话介绍你自己。"


def _code_flow_arg(args, name, default=None):
    """An input parameter; an empty text field counts as not given."""
    value = args.get(name)
    return default if value is None or value == "" else value


def main(args):
    """影刀 Code 流程的入口:回答 args["question"](填了 workflow_id 就运行工作流),返回回答。

    args   流程的输入参数字典(影刀自动传入;单独运行本模块时是 None,会用配置问一句自我介绍)。
           读取 question、user_id、conversation_id、custom_variables、workflow_id、parameters、
           workflow_answers(问答节点的回答,JSON 列表)、is_async、bot_id、token、base_url、app_id、key_id、
           private_key、timeout、stream(都可不填,
           不填的用全局变量 / 环境变量 / 默认值);写回 answer、conversation_id、chat_id、usage、
           error(出错时是中文说明,其余为空)。
    """
    standalone = args is None
    if standalone:  # run on its own: a quick check of the configured token and bot
        args = {"question": _STANDALONE_QUESTION}
        _log("coze 模块独立运行:用全局变量 / 环境变量里的配置提问「%s」" % _STANDALONE_QUESTION)
    if not (hasattr(args, "get") and hasattr(args, "__setitem__")):
        _log("扣子调用失败:main(args) 需要影刀传入的参数字典,现在是 %s:请在 Code 流程里直接调用 main(args)"
            % type(args).__name__)
        return ""
    args["error"] = ""
    try:
        answer = _code_flow_answer(args)
    except CozeError as err:
        return _code_flow_failure(args, str(err))
    except Exception as err:  # a surprise must still end as args["error"], never as a traceback
        return _code_flow_failure(args, "模块内部错误(%s):%s。请把这行文字和所用的参数(不要带令牌)发给维护者"
                                 % (type(err).__name__, _redact(str(err))[:300]))
    args["answer"] = answer
    if standalone:
        _log("扣子回答:%s" % (answer,))
    return answer


def _code_flow_answer(args):
    """Run the chat or workflow `args` asks for; returns the answer (outputs written to args)."""
    common = dict((name, _code_flow_arg(args, name)) for name in _CONNECTION_INPUTS)
    common["timeout"] = _code_flow_arg(args, "timeout", _DEFAULT_TIMEOUT)
    common["stream"] = _code_flow_arg(args, "stream", True)
    if _code_flow_arg(args, "workflow_id"):
        return run_workflow(args["workflow_id"], _code_flow_arg(args, "parameters"),
                            answers=_code_flow_arg(args, "workflow_answers"), is_async=_code_flow_arg(args, "is_async"),
                            **common)
    common.update((name, _code_flow_arg(args, name)) for name in _CHAT_INPUTS)
    result = chat(_code_flow_arg(args, "question"), **common)
    for name in ("conversation_id", "chat_id", "usage"):
        args[name] = result[name]
    return result["answer"]


def _code_flow_failure(args, message):
    """Write a failure where the flow reads it (redacted: it may end up in a shared log)."""
    message = _redact(message)
    args["error"] = message
    args["answer"] = ""
    _log("扣子调用失败:%s" % message)
    return ""

###############################################################################
# Command line, only when run as a script      (yingdao_module/command_line.py)
###############################################################################
# Command line: python dist/coze.py (or python -m yingdao_module) ask | workflow | batch | merge.
#
# This module goes into dist/coze.py, so the single file is a command line too: it runs when
# started as a script (`__name__ == "__main__"`, never on a paste into ShadowBot). Answers go
# to stdout, everything else to stderr. Errors speak in flags (--answer, --async), not in the
# Python parameters of the functions behind the commands. The offline demo and `serve` need
# the repository's simulator: cli.py adds them for `python -m yingdao_module`.

_NO_TOKEN_HERE = ("没有配置扣子令牌:加 --token pat_... --bot-id 数字,或设置环境变量 COZE_API_TOKEN 和 COZE_BOT_ID"
                 "(令牌在 https://www.coze.cn/open/oauth/pats 创建)。不用令牌的离线演示在项目源码里:"
                 "python -m yingdao_module ask 你好")
# Python parameter -> command-line flag, for error texts written for the functions behind the commands
_PARAMETER_FLAGS = {"answers": "--answer", "is_async": "--async", "output_path": "--output", "report_path": "--report",
                   "input_path": "表格", "stream=True": "不加 --no-stream", "stream=False": "--no-stream",
                   'answers=["杭州"]': "--answer 杭州"}
_PARAMETER_IN_TEXT = r"(?<![A-Za-z0-9_.-])%s(?:=True)?(?![A-Za-z0-9_])"  # restart=True is the flag --restart too
_FLAG_SAID_TWICE = re.compile("(--[a-z-]+)[(\uff08]命令行 \\1[)\uff09]")  # "--wait(命令行 --wait)": said once


def _add_connection_arguments(parser):
    parser.add_argument("--bot-id", metavar="数字", help="智能体 ID(默认取环境变量 COZE_BOT_ID)")
    parser.add_argument("--token", metavar="pat_...", help="个人访问令牌(默认取环境变量 COZE_API_TOKEN)")
    parser.add_argument("--base-url", metavar="网址", help="https://api.coze.cn(默认)或 https://api.coze.com;"
                        "不写协议时按 https,本机 127.0.0.1:端口 按 http")
    parser.add_argument("--app-id", metavar="应用ID", help="服务类应用(OAuth JWT)的应用 ID,与 --key-id、--private-key "
                                                         "一起代替令牌(默认取环境变量 COZE_APP_ID)")
    parser.add_argument("--key-id", metavar="公钥指纹", help="服务类应用公钥的指纹(公钥 ID)(默认取环境变量 COZE_KEY_ID)")
    parser.add_argument("--private-key", metavar="私钥.pem", help="私钥 .pem 文件的路径(默认取环境变量 COZE_PRIVATE_KEY,"
                                                              "它可放 PEM 文本或路径)")


@contextlib.contextmanager
def _demo_if_no_token(ns):
    """Yield True inside the offline demo (ns.demo, from cli.py) when no token or service app is
    configured anywhere, False with real credentials; without a demo, say how to configure them."""
    if _setting("token", ns.token) or _setting("app_id", ns.app_id):
        yield False
        return
    if ns.demo is None:
        raise InputError(_NO_TOKEN_HERE)
    with ns.demo(ns):
        yield True


def _check_ask(ns):
    """What the user typed, checked before anything else (the demo notice comes after)."""
    _clean_question(ns.question)
    _clean_timeout(ns.timeout)
    _clean_bot_id(_setting("bot_id", ns.bot_id), required=False)
    if ns.base_url:
        _clean_base_url(ns.base_url)


def _in_flags(err, flags):
    """The error with every Python parameter its text names replaced by the command-line flag."""
    message = err.message
    for name in sorted(flags, key=len, reverse=True):  # stream=True before stream
        message = re.sub(_PARAMETER_IN_TEXT % re.escape(name), flags[name], message)
    return err.reworded(_FLAG_SAID_TWICE.sub(r"\1", message))


def _command_flags(parser):
    """{parameter: flag} of one command: every option's dest as its flag, then PARAMETER_FLAGS."""
    flags = {}
    for action in parser._actions:
        long_names = [o for o in action.option_strings if o.startswith("--")]
        if long_names and action.dest not in ("help", "json"):
            flags[action.dest] = long_names[0]
    flags.update(_PARAMETER_FLAGS)
    return flags


def _error_json(err):
    """What `--json` prints when a command fails: the Chinese message and the ids support asks for."""
    return {"error": _redact(err.message), "type": type(err).__name__, "code": err.code, "logid": err.logid,
            "chat_id": err.chat_id, "conversation_id": err.conversation_id}


def _print_json(value):
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _run_ask(ns):
    _check_ask(ns)
    with _demo_if_no_token(ns) as demo:
        client = Client(token=ns.token, bot_id=ns.bot_id, base_url=ns.base_url, timeout=ns.timeout,
                        app_id=ns.app_id, key_id=ns.key_id, private_key=ns.private_key)
        result = client.chat(ns.question, conversation_id=ns.conversation_id, stream=not ns.no_stream,
                             workflow_id=ns.workflow_id)
    if ns.json:
        _print_json(dict(result, demo=_DEMO_SAYS) if demo else result)
    else:
        print(result["answer"])
    return 0


def _run_workflow_command(ns):
    with _demo_if_no_token(ns) as demo:
        result = run_workflow_full(ns.workflow_id, ns.parameters, bot_id=ns.bot_id, token=ns.token,
                                   base_url=ns.base_url, timeout=ns.timeout, stream=not ns.no_stream,
                                   app_id=ns.app_id, key_id=ns.key_id, private_key=ns.private_key,
                                   answers=ns.answer or None, is_async=True if ns.is_async else None)
    output = (dict(result, demo=_DEMO_SAYS) if demo else result) if ns.json else result["output"]
    if isinstance(output, str):
        print(output)
    else:
        _print_json(output)
    return 0


# argparse's own messages, in Chinese (the rest of its text is set in Parser)
_ARGPARSE_MESSAGES = [
    (r"^the following arguments are required: (.*)$", "缺少参数:\\1"),
    (r"^unrecognized arguments: (.*)$", "不认识的参数:\\1(用 -h 查看可用的参数)"),
    (r"^argument (\S+): invalid \w+ value: (.*)$", "参数 \\1 的值 \\2 无效:应该是数字"),
    (r"^argument (\S+): invalid choice: (.*?) \(choose from (.*)\)$", "参数 \\1 的值 \\2 无效,可选:\\3"),
    (r"^argument (\S+): expected one argument$", "参数 \\1 后面要跟一个值"),
    (r"^argument (\S+): not allowed with argument (\S+)$", "参数 \\1 和 \\2 只能用一个"),
    (r"^ambiguous option: (\S+) could match (.*)$", "参数 \\1 不明确,可能是:\\2"),
]


class _HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        return argparse.HelpFormatter.add_usage(self, usage, actions, groups, "用法:" if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse in Chinese: help, headings and errors; errors never print a token."""

    def __init__(self, *args, **kwargs):
        kwargs.update(add_help=False, formatter_class=_HelpFormatter)
        argparse.ArgumentParser.__init__(self, *args, **kwargs)
        self._positionals.title, self._optionals.title = "位置参数", "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示这段帮助并退出")

    def error(self, message):
        for pattern, chinese in _ARGPARSE_MESSAGES:
            message = re.sub(pattern, chinese, message)
        # "unrecognized arguments: --tokn pat_..." must not print the token
        self.print_usage(sys.stderr)
        self.exit(2, "%s:错误:%s\n" % (self.prog, _redact(message)))


def _build_command_parser(prog, more_commands=None, demo=False):
    """The parser of every command; more_commands(subparsers) adds those that need the repository;
    demo: the help mentions the offline demo (only python -m yingdao_module has it)."""
    offline = "(没配置令牌时用本机模拟器演示)" if demo else ""
    parser = _Parser(prog=prog, description="在命令行里使用扣子(Coze)智能体和工作流;在影刀里请粘贴 dist/coze.py。",
                    epilog="例子:%s ask 你好 --token pat_... --bot-id 数字" % prog)
    commands = parser.add_subparsers(dest="command", title="命令", metavar="命令",
                                     help="选一个;命令后面加 -h 查看它的参数")

    ask = commands.add_parser("ask", help="问智能体一个问题" + offline,
                              description="问扣子智能体一个问题,回答打印到标准输出;其他信息和错误写到标准错误。"
                                          + offline)
    ask.add_argument("question", metavar="问题", help="要问的内容")
    _add_connection_arguments(ask)
    ask.add_argument("--conversation-id", metavar="会话ID", help="沿用的会话 ID:智能体记得这个会话里之前的对话")
    ask.add_argument("--workflow-id", metavar="对话流ID", help="对话流(Chatflow)ID:问这个对话流而不是智能体")
    ask.add_argument("--timeout", type=float, default=_DEFAULT_TIMEOUT, metavar="秒",
                     help="最多等待的秒数,到时取消这次对话(默认 %d)" % _DEFAULT_TIMEOUT)
    ask.add_argument("--no-stream", action="store_true", help="用轮询代替流式(网络会掐断长连接时用)")
    ask.add_argument("--json", action="store_true",
                     help="输出完整结果的 JSON(回答、会话 ID、用量…);失败时输出含 error、code、logid 的 JSON")
    ask.set_defaults(command_parser=ask, run=_run_ask)

    workflow = commands.add_parser("workflow", help="运行一个扣子工作流,打印结束节点的输出",
                                   description="运行扣子工作流,把结束节点的输出打印到标准输出;"
                                               "问答节点按 --answer 的顺序自动回答。" + offline)
    workflow.add_argument("workflow_id", metavar="工作流ID", help="工作流编辑页网址里 workflow= 后面的数字")
    workflow.add_argument("--parameters", metavar="JSON", help='输入参数 JSON,例如 \'{"input": "你好"}\'')
    workflow.add_argument("--answer", action="append", default=[], metavar="回答",
                          help="问答节点的回答,按提问顺序,可重复:--answer 杭州 --answer 明天")
    workflow.add_argument("--async", dest="is_async", action="store_true",
                          help="在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它;需付费版)")
    _add_connection_arguments(workflow)
    workflow.add_argument("--timeout", type=float, default=_DEFAULT_TIMEOUT, metavar="秒",
                          help="最多等待的秒数(默认 %d;超过 600 自动改为异步运行)" % _DEFAULT_TIMEOUT)
    workflow.add_argument("--no-stream", action="store_true", help="非流式同步运行(约 90 秒后会被断开,慎用)")
    workflow.add_argument("--json", action="store_true",
                          help="输出完整结果的 JSON(output、messages、questions、execute_id、debug_url、usage)")
    workflow.set_defaults(command_parser=workflow, run=_run_workflow_command)

    if more_commands is not None:
        more_commands(commands)
    batch = commands.add_parser("batch", help="表格批处理:每行问一次,答案写回表格,可断点续跑",
                                description="表格每一行问智能体一次,回答写进新表格;中断后重跑同一命令从断点继续,不重复付费。")
    _add_batch_arguments(batch)
    batch.set_defaults(command_parser=batch, run=_run_batch)
    merge = commands.add_parser("merge", help="按原行号合并多个分片(--shard)的输出",
                                description="合并多台机器人分表(--shard K/N)的输出;缺少或没跑完的分片会提醒并返回非 0。")
    _add_merge_arguments(merge)
    merge.set_defaults(command_parser=merge, run=_run_merge)
    return parser


def _add_batch_arguments(parser):
    """Every batch() keyword as an option whose dest is that keyword's name."""
    parser.add_argument("input_path", metavar="表格", help="输入表格 .xlsx 或 .csv(原表格不会被修改)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--prompt", help="提问模板,用 {列名} 引用列,例如 \"为{商品名}写一句广告语\";{{ 和 }} 表示字面的大括号")
    how.add_argument("--question-column", help="不用模板,直接用这一列作为问题")
    how.add_argument("--workflow-id", metavar="工作流ID",
                     help="每行运行一次这个工作流(代替智能体):参数来自同名的列,结束节点输出的 JSON 字段一列一个;"
                          "已开始的运行绝不重跑")
    parser.add_argument("--parameters", metavar="JSON",
                        help='工作流参数的改名与常量,例如 \'{"city": "{城市}", "lang": "zh"}\'(其余参数来自同名的列)')
    parser.add_argument("--answers-column", metavar="列名", help="工作流问答节点的回答所在的列(JSON 列表或一段文字)")
    parser.add_argument("--files-column", metavar="列名",
                        help="每行要带上的文件所在的列:本地路径(相对输入表格所在文件夹)或 http(s) 网址,多个用 ; 分开")
    parser.add_argument("--download", action="store_true",
                        help="把回答里链接的图片和文件下载到 <输出名>_文件 文件夹,路径写进「文件」列")
    parser.add_argument("--output", dest="output_path", help="输出文件(默认 <名字>_coze.<扩展名>)")
    parser.add_argument("--sheet", help="工作表名(默认 Excel 打开时显示的那个工作表)")
    parser.add_argument("--header-row", type=int, help="列名在第几行(默认在前 10 行里找含有模板各列的那一行;"
                                                         "上面的标题行原样保留)")
    parser.add_argument("--answer-column", help="回答列的列名(默认「回答」)")
    parser.add_argument("--concurrency", type=int, help="同时进行的对话数(默认 2)")
    parser.add_argument("--qps", help="每秒最多发起多少次对话(按账号计,重启后也记得);auto = 读取账号的限额;"
                        "加 --shard 时 --qps/--qpm/--qpd 是整个账号的上限,每台机器人自动取一份")
    parser.add_argument("--qpm", type=float, help="每分钟最多发起多少次对话")
    parser.add_argument("--qpd", type=int, help="每天最多发起多少次对话(按账号计,当天多次运行合计,本地时间 0 点清零)")
    parser.add_argument("--max-rows", type=int, help="只做前 N 行(试跑)")
    parser.add_argument("--max-tokens", type=int, help="累计用掉这么多 token 就停止(花费上限)")
    parser.add_argument("--timeout", type=float, help="每行最多等多少秒(默认 180)")
    parser.add_argument("--retry-failed", action="store_true", help="续跑时也重试之前失败的行")
    parser.add_argument("--chat-retries", metavar="N",
                        help="扣子那边失败的对话(例如错误码 5000)在本次运行里再问几次(默认 2,0 = 不再问;每次多付一次对话)")
    parser.add_argument("--estimate", nargs="?", const="是", metavar="N",
                        help="只估算花费:均匀挑 N 行试问(默认 3),打印整张表的 token、对话次数和用时;试问的行正式运行不再付费")
    parser.add_argument("--cache", action="store_true",
                        help="答案缓存:同一账号同一智能体问过同样的问题就直接用那次的回答,不花钱(状态写「成功(缓存)」)")
    parser.add_argument("--cache-days", metavar="N", help="缓存只认 N 天内的回答(默认一直认)")
    parser.add_argument("--review", action="store_true",
                        help="按审核重问:输出表格「审核」列写「驳回:意见」的行在原会话里带着意见再问;「通过」和空着的不再问")
    parser.add_argument("--json-columns", action="store_true", help="回答是 JSON 对象时,一键一列")
    parser.add_argument("--dedupe", action="store_true", help="完全相同的问题只问一次,其他行沿用回答")
    parser.add_argument("--json-fields", help="回答必须是含这些键的 JSON 对象,例如 标题,卖点;每个键一列,"
                        "不合格时在同一会话里追问一次")
    parser.add_argument("--ask-blank", action="store_true", help="模板用到的列全空的行也提问(默认跳过,不花钱)")
    parser.add_argument("--report", dest="report_path", help="报告网页(默认 <输出名>_报告.html,放在输出旁边)")
    parser.add_argument("--shard", help="K/N:N 台机器人分一张表时,本机做第 K 份,例如 2/3")
    parser.add_argument("--restart", action="store_true",
                        help="输出的日志属于另一个提示词/智能体/表格时,把旧日志改名存档,重新开始")
    parser.add_argument("--wait", action="store_true",
                        help="另一个批处理正在写同一个输出时,等它结束再接着做(默认立即停止并说明是谁在跑)")
    parser.add_argument("--tools", metavar="JSON",
                        help='智能体的本地工具(端插件)由哪个 Python 函数回答,例如 \'{"查询库存": "stock:query"}\''
                             "(stock.py 里的 query 函数,工具参数按名字传入)")
    _add_connection_arguments(parser)


def _run_batch(ns):
    defaults = _batch_defaults()

    def given():
        return dict((name, getattr(ns, name)) for name, _ in defaults if getattr(ns, name, None) is not None)
    _checked_table(_BatchOptions(ns.input_path, defaults, **given()))  # mistakes first, then the offline-demo notice
    try:
        with _demo_if_no_token(ns):  # the demo's token marks the run as a demo (log, summary, report)
            summary = batch(ns.input_path, **given())
    except KeyboardInterrupt:
        return 130  # batch has said what is saved and how to resume
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["stopped_reason"] else 0


def _add_merge_arguments(parser):
    parser.add_argument("outputs", nargs="+", metavar="分片输出",
                        help="各分片的输出文件,或 batch 打印的汇总 JSON(可以多个)")
    parser.add_argument("--output", help="合并后的文件(默认去掉文件名里的 .shardKofN);已有更完整的合并结果时不覆盖")


def _run_merge(ns):
    path, problems = _merge_shards(ns.outputs, ns.output)
    for problem in problems:
        _log("合并提醒:%s" % problem)
    print(path)
    return 1 if problems else 0


def _run_command_line(argv=None, prog=None, demo=None, more_commands=None):
    """Run one command; the exit code (0 done, 1 failed, 2 usage, 130 interrupted). Never a traceback
    for a CozeError: its Chinese text, with flags for parameters (as JSON with --json)."""
    for stream in (sys.stdout, sys.stderr):  # a GBK console must not crash on an answer's emoji
        try:
            stream.reconfigure(errors="replace")
        except Exception:
            pass
    _set_log_sink(_log_to_stderr)
    parser = _build_command_parser(prog or "python " + os.path.basename(sys.argv[0] or "coze.py"), more_commands,
                                  demo is not None)
    ns = parser.parse_args(argv)
    if not getattr(ns, "run", None):
        parser.print_help()
        return 2
    ns.demo = demo
    try:
        return ns.run(ns) or 0
    except CozeError as err:
        _in_flags(err, _command_flags(getattr(ns, "command_parser", parser)))
        if getattr(ns, "json", False):
            _print_json(_error_json(err))
        _log("错误:%s" % err)
        return 1
    except KeyboardInterrupt:
        _log("已中断")
        return 130


if __name__ == "__main__":
    sys.exit(_run_command_line())

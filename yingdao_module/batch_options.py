"""Batch options: every batch() parameter, checked once before a table is read or a call paid for.

Values typed into ShadowBot's 调用模块 arrive as text ("2", "否", ""), the command line
gives None for what was not typed: both are cleaned here, so the engine sees clean values.
"""
import os
import re

from .config import DEFAULT_TIMEOUT, clean_bool, clean_timeout
from .errors import InputError
from .tools import clean_tools

# name -> default, in the order of batch()'s keyword parameters
BATCH_DEFAULTS = (
    ("prompt", None), ("question_column", None), ("output_path", None), ("sheet", None),
    ("answer_column", "回答"), ("bot_id", None), ("token", None), ("base_url", None),
    ("concurrency", 2), ("qps", None), ("qpm", None), ("qpd", None), ("max_rows", None),
    ("max_tokens", None), ("retry_failed", False), ("shard", None), ("json_columns", False),
    ("dedupe", False), ("timeout", DEFAULT_TIMEOUT), ("restart", False), ("wait", False),
    ("app_id", None), ("key_id", None), ("private_key", None),
    ("json_fields", None), ("ask_blank", False), ("report_path", None), ("tools", None),
)
BATCH_OPTION_NAMES = tuple(name for name, _ in BATCH_DEFAULTS)


def clean_count(value, name, allow_float=False):
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


def parse_shard(shard):
    """'K/N' -> (K, N), 1-based; None when not sharding."""
    if shard is None or str(shard).strip() == "":
        return None
    match = re.match(r"^\s*(\d+)\s*/\s*(\d+)\s*$", str(shard))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise InputError("shard 应该写成「第几份/共几份」,例如 1/3、2/3、3/3(从 1 开始,不能超过总份数),现在是 %r" % (shard,))
    return int(match.group(1)), int(match.group(2))


def default_output(input_path, shard):
    stem, ext = os.path.splitext(input_path)
    suffix = ".shard%dof%d" % shard if shard else ""
    return "%s_coze%s%s" % (stem, suffix, ext if ext.lower() in (".xlsx", ".csv") else ".csv")


def clean_json_fields(value):
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


class BatchOptions(object):
    """The cleaned options of one batch run (see batch() for what each one means).
    Its repr never shows the token or the private key."""

    def __repr__(self):
        return "BatchOptions(input_path=%r, output_path=%r, 令牌和私钥已隐藏)" % (self.input_path, self.output_path)

    def __init__(self, input_path, **values):
        unknown = sorted(set(values) - set(BATCH_OPTION_NAMES))
        if unknown:
            raise InputError("batch 没有参数 %s。可用的参数:%s" % ("、".join(unknown), "、".join(BATCH_OPTION_NAMES)))
        given = dict(BATCH_DEFAULTS)
        given.update((name, value) for name, value in values.items() if value is not None and value != "")
        self.input_path = os.path.abspath(str(input_path or "").strip().strip('"'))
        self.prompt, self.question_column = _option_text(given["prompt"]), _option_text(given["question_column"])
        self.sheet, self.answer_column = _option_text(given["sheet"]), _option_text(given["answer_column"]) or "回答"
        self.bot_id, self.token, self.base_url = given["bot_id"], given["token"], given["base_url"]
        self.app_id, self.key_id, self.private_key = given["app_id"], given["key_id"], given["private_key"]
        self.concurrency = clean_count(given["concurrency"], "concurrency") or 2
        self.qps = clean_count(given["qps"], "qps", allow_float=True)
        self.qpm = clean_count(given["qpm"], "qpm", allow_float=True)
        self.qpd = clean_count(given["qpd"], "qpd")
        self.max_rows = clean_count(given["max_rows"], "max_rows")
        self.max_tokens = clean_count(given["max_tokens"], "max_tokens")
        self.shard = parse_shard(given["shard"])
        self.timeout = clean_timeout(given["timeout"])
        self.tools = clean_tools(given["tools"])
        for name in ("retry_failed", "json_columns", "dedupe", "restart", "wait", "ask_blank"):
            setattr(self, name, clean_bool(given[name], name, False))
        self.json_fields = clean_json_fields(given["json_fields"])
        output = _option_text(given["output_path"])
        self.output_path = os.path.abspath(output.strip('"')) if output else \
            default_output(self.input_path, self.shard)
        if self.output_path == self.input_path:
            raise InputError("输出文件不能和输入文件相同:输入表格不会被修改,请换一个 output_path")
        if not os.path.isdir(os.path.dirname(self.output_path)):
            raise InputError("输出文件夹不存在:%s。请先建好这个文件夹,或换一个 output_path" % os.path.dirname(self.output_path))
        report = _option_text(given["report_path"])
        self.report_path = os.path.abspath(report.strip('"')) if report else \
            os.path.splitext(self.output_path)[0] + "_报告.html"

    @property
    def journal_path(self):
        return self.output_path + ".journal.jsonl"

    @property
    def shard_text(self):
        return "%d/%d" % self.shard if self.shard else ""

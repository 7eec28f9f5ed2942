"""Batch options: every batch() parameter, checked once before a table is read or a call paid for.

Values typed into ShadowBot's 调用模块 arrive as text ("2", "否", ""), the command line
gives None for what was not typed: both are cleaned here, so the engine sees clean values.
"""
import json
import os
import re

from .account_limits import is_auto
from .config import clean_bool, clean_json_dict, clean_timeout, clean_workflow_id, refuse_token
from .errors import InputError
from .journal import journal_path_for
from .tools import clean_tools

ESTIMATE_SAMPLES = 3  # rows asked by estimate=True, spread over the table
CHAT_RETRIES_MAX = 5


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


def clean_chat_retries(value):
    """How often a chat that failed on Coze's side is asked again in the same run: 0 to CHAT_RETRIES_MAX."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= CHAT_RETRIES_MAX:
        raise InputError("chat_retries 应该是 0 到 %d 的整数(扣子那边失败的对话在本次运行里再问几次,每次多付一次对话),"
                         "现在是 %r" % (CHAT_RETRIES_MAX, value))
    return number


def clean_estimate(value):
    """How many sample rows estimate asks: 0 (no estimate), ESTIMATE_SAMPLES for yes, or a number."""
    if value is True or (isinstance(value, str) and value.strip().lower() in ("是", "true", "yes", "y", "1", "对")):
        return ESTIMATE_SAMPLES
    no = ("否", "false", "no", "n", "0")
    if value in (None, False, "") or (isinstance(value, str) and value.strip().lower() in no):
        return 0
    number = clean_count(value, "estimate")
    if number > 50:
        raise InputError("estimate 是试问的行数(默认 3),最多 50,现在是 %r" % (value,))
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
    return "%s_coze%s%s" % (stem, suffix, ext if ext.lower() in (".xlsx", ".csv", ".txt") else ".csv")


def same_file(first, second):
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


def refuse_same_file(path, name, protected):
    """InputError when `path` (the option `name`) is one of the protected files [(path, label)]."""
    for other, label in protected:
        if same_file(path, other):
            raise InputError("%s(%s)和%s(%s)是同一个文件(可能是另一种写法、链接或大小写不同):写入会覆盖%s。"
                             "请换一个 %s" % (name, path, label, other, label, name))


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
        self.concurrency = clean_count(given["concurrency"], "concurrency") or 2
        try:
            self.qps = "auto" if is_auto(given["qps"]) else clean_count(given["qps"], "qps", allow_float=True)
        except InputError as err:
            raise InputError("%s;或者填 auto,读取账号自己的限额" % err)
        self.qpm = clean_count(given["qpm"], "qpm", allow_float=True)
        self.qpd = clean_count(given["qpd"], "qpd")
        self.max_rows = clean_count(given["max_rows"], "max_rows")
        self.header_row = clean_count(given["header_row"], "header_row")  # None: found in the top rows
        if self.header_row and self.header_row > 1048576:
            raise InputError("header_row 应该是列名所在的行号(1 到 1048576),现在是 %r" % (given["header_row"],))
        self.table_header_row = self.header_row or 1  # the header row actually used (checked_table sets it)
        self.max_tokens = clean_count(given["max_tokens"], "max_tokens")
        self.shard = parse_shard(given["shard"])
        self.timeout = clean_timeout(given["timeout"])
        self.tools = clean_tools(given["tools"])
        self.chat_retries = clean_chat_retries(given["chat_retries"])
        self.clean_rows_through(given)
        self.estimate = clean_estimate(given["estimate"])
        self.cache_days = clean_count(given["cache_days"], "cache_days", allow_float=True)
        for name in ("retry_failed", "json_columns", "dedupe", "restart", "wait", "ask_blank", "download", "cache",
                     "review"):
            setattr(self, name, clean_bool(given[name], name, False))
        self.json_fields = clean_json_fields(given["json_fields"])
        if self.estimate and self.review:
            raise InputError("estimate(估算花费)和 review(按审核意见重问)不能同时用:估算请在正式运行前单独做")
        if self.review and self.workflow_id:
            raise InputError("review(按审核意见重问)用于问智能体的行:智能体在原会话里记得上文;"
                             "工作流的行没有会话,要重跑请改参数列后加 --retry-failed 或换一个 output_path")
        if self.cache_days and not self.cache:
            raise InputError("cache_days 只在用答案缓存时有效:请同时加 cache=True(命令行 --cache)")
        output = _option_text(given["output_path"])
        self.output_path = os.path.abspath(output.strip('"')) if output else \
            default_output(self.input_path, self.shard)
        refuse_same_file(self.output_path, "output_path", [(self.input_path, "输入表格")])
        refuse_same_file(self.journal_path, "output_path", [(self.input_path, "输入表格")])
        if not os.path.isdir(os.path.dirname(self.output_path)):
            raise InputError("输出文件夹不存在:%s。请先建好这个文件夹,或换一个 output_path" % os.path.dirname(self.output_path))
        report = _option_text(given["report_path"])
        self.report_path = os.path.abspath(report.strip('"')) if report else \
            os.path.splitext(self.output_path)[0] + "_报告.html"
        refuse_same_file(self.report_path, "report_path", [(self.input_path, "输入表格"), (self.output_path, "输出表格")])
        if self.download:
            self.check_downloads_folder()

    def clean_rows_through(self, given):
        """A workflow per row (workflow_id, parameters, answers_column) instead of a bot; files_column."""
        workflow_id = _option_text(given["workflow_id"])
        self.workflow_id = clean_workflow_id(workflow_id) if workflow_id else None
        self.parameters = clean_json_dict(given["parameters"], "parameters", '{"city": "{城市}", "lang": "zh"}')
        refuse_token(json.dumps(self.parameters, ensure_ascii=False), "parameters")  # any key or value, nested too
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
        refuse_same_file(folder, "下载文件夹", [(self.input_path, "输入表格")])
        inside = os.path.normcase(os.path.realpath(self.input_path)).startswith(
            os.path.normcase(os.path.realpath(folder)) + os.sep)
        if inside or (os.path.exists(folder) and not os.path.isdir(folder)):
            raise InputError("下载文件夹 %s %s:请换一个 output_path(下载文件夹是「<输出名>_文件」)"
                             % (folder, "里有输入表格,下载的文件可能覆盖它" if inside else "已经是一个文件"))

    @property
    def journal_path(self):
        return journal_path_for(self.output_path)

    @property
    def shard_text(self):
        return "%d/%d" % self.shard if self.shard else ""

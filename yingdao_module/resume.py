"""The command that continues a batch run, printed in the log, the summary and the report.

Run as printed (in the same folder, the token in the environment) it continues the same run on
the same server: every option that shapes the run goes in, driven by RESUME_OPTIONS (a new
batch option is one entry there; one that BatchOptions does not have is left out). Secrets
never go in: the text says where the token or private key is read from instead. Arguments are
quoted for the shells of the platform (shell_quote.py).
"""
import json
import os
import sys

from .batch_options import default_output
from .log import redact
from .shell_quote import printable_commands

DEMO_TOKEN = "demo-token"  # the offline demo (cli.py) signs in to the local simulator with this
RESUME_PROGRAM = ("python", "-m", "yingdao_module", "batch")
# (BatchOptions attribute, command-line flag), in the order they are printed
RESUME_OPTIONS = (
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
UNQUOTABLE = {
    "posix": "",
    "cmd": "路径、提示词或其他参数里有 %、!、双引号或换行,cmd 会改动它们;请用 PowerShell 那一条,或在影刀里再次运行同一个流程",
    "powershell": "参数里有双引号或以反斜杠结尾,Windows PowerShell 会把它传错;请用 cmd 那一条,或在影刀里再次运行同一个流程",
}


def option_value(options, name):
    """The value of one option as the command line takes it; None when it is the default."""
    if name == "output_path":
        default = default_output(options.input_path, options.shard)
        return None if options.output_path == default else options.output_path
    if name == "report_path":
        return None if options.report_path == os.path.splitext(options.output_path)[0] + "_报告.html" \
            else options.report_path
    if name == "shard":
        return options.shard_text or None
    if name == "tools":
        return tools_text(options.tools)
    if name == "parameters":
        # constants of the user's: a secret among them is never printed (the run refused token-shaped ones)
        return redact(json.dumps(options.parameters, ensure_ascii=False)) if options.parameters else None
    if name == "answer_column" and getattr(options, "workflow_id", None) and options.answer_column == "输出":
        return None  # a workflow run's default
    value = getattr(options, name, None)
    return None if value == options.defaults.get(name) else value


def tools_text(tools):
    """{"tool": "module:function"} as JSON (how the command line names Python functions)."""
    if not tools:
        return None
    return json.dumps(dict((name, handler if isinstance(handler, str) else
                            "%s:%s" % (getattr(handler, "__module__", "?"), getattr(handler, "__name__", "?")))
                           for name, handler in tools.items()), ensure_ascii=False)


def option_words(flag, value):
    if value is None or value is False or value in ("", [], ()):
        return []
    if value is True:
        return [flag]
    if isinstance(value, float) and value == int(value):
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    return [flag, str(value)]


def resume_program():
    """How the command line was started: `python /path/to/coze.py batch` when dist/coze.py itself runs
    as the script (its module is __main__ only then; pasted into ShadowBot it never is), else the
    package. The script's full path, so the command runs from any folder."""
    if __name__ == "__main__":
        return ["python", os.path.abspath(sys.argv[0] or "coze.py"), "batch"]
    return list(RESUME_PROGRAM)


def resume_args(options, bot_id, base_url, app_id=None, key_id=None, demo=False, retry_failed=False):
    """The argument list of the resume command (no secrets)."""
    args = resume_program() + [options.input_path]
    for name, flag in RESUME_OPTIONS:
        args += option_words(flag, option_value(options, name))
    args += option_words("--bot-id", bot_id)
    if not demo:  # the demo's simulator port changes: without a token the command finds the demo again
        args += option_words("--base-url", base_url)
    args += option_words("--app-id", app_id) + option_words("--key-id", key_id)
    return args + option_words("--retry-failed", bool(retry_failed))


def credential_note(app_id, demo):
    if demo:
        return "这是离线演示:命令里没有令牌,不设置令牌时它同样用本机模拟器继续"
    if app_id:
        return ("私钥没有写进命令:运行前把私钥(PEM 文本或 .pem 文件路径)放进环境变量 COZE_PRIVATE_KEY"
                "(在影刀里是密码类型的全局变量 coze_private_key),命令会从那里读取")
    return "令牌没有写进命令:运行前设置环境变量 COZE_API_TOKEN(在影刀里是全局变量 coze_token),命令会从那里读取"


def resume_text(options, bot_id, base_url, app_id=None, key_id=None, demo=False, retry_failed=False,
                platform_name=None):
    """The lines telling how to continue this run, for the log, the summary and the report."""
    args = resume_args(options, bot_id, base_url, app_id, key_id, demo, retry_failed)
    lines = ["在同一文件夹运行下面的命令继续(已完成的行不会再付费):"]
    lines += printable_commands(args, platform_name or sys.platform, UNQUOTABLE)
    lines += [credential_note(app_id, demo), "在影刀里:再次运行同一个流程即可,参数不变"]
    return "\n".join(lines)

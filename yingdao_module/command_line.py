"""Command line: python dist/coze.py (or python -m yingdao_module) ask | workflow | batch | merge.

This module goes into dist/coze.py, so the single file is a command line too: it runs when
started as a script (`__name__ == "__main__"`, never on a paste into ShadowBot). Answers go
to stdout, everything else to stderr. Errors speak in flags (--answer, --async), not in the
Python parameters of the functions behind the commands. The offline demo and `serve` need
the repository's simulator: cli.py adds them for `python -m yingdao_module`.
"""
import argparse
import contextlib
import json
import os
import re
import sys

from .api import run_workflow_full
from .batch import batch, batch_defaults
from .batch_output import DEMO_SAYS
from .batch_plan import checked_table
from .batch_options import BatchOptions
from .client import Client
from .config import DEFAULT_TIMEOUT, clean_base_url, clean_bot_id, clean_question, clean_timeout, setting
from .errors import CozeError, InputError
from .log import log, log_to_stderr, redact, set_log_sink
from .merge import merge_shards

NO_TOKEN_HERE = ("没有配置扣子令牌:加 --token pat_... --bot-id 数字,或设置环境变量 COZE_API_TOKEN 和 COZE_BOT_ID"
                 "(令牌在 https://www.coze.cn/open/oauth/pats 创建)。不用令牌的离线演示在项目源码里:"
                 "python -m yingdao_module ask 你好")
# Python parameter -> command-line flag, for error texts written for the functions behind the commands
PARAMETER_FLAGS = {"answers": "--answer", "is_async": "--async", "output_path": "--output", "report_path": "--report",
                   "input_path": "表格", "stream=True": "不加 --no-stream", "stream=False": "--no-stream",
                   'answers=["杭州"]': "--answer 杭州"}
PARAMETER_IN_TEXT = r"(?<![A-Za-z0-9_.-])%s(?:=True)?(?![A-Za-z0-9_])"  # restart=True is the flag --restart too
FLAG_SAID_TWICE = re.compile("(--[a-z-]+)[(\uff08]命令行 \\1[)\uff09]")  # "--wait(命令行 --wait)": said once


def add_connection_arguments(parser):
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
def demo_if_no_token(ns):
    """Yield True inside the offline demo (ns.demo, from cli.py) when no token or service app is
    configured anywhere, False with real credentials; without a demo, say how to configure them."""
    if setting("token", ns.token) or setting("app_id", ns.app_id):
        yield False
        return
    if ns.demo is None:
        raise InputError(NO_TOKEN_HERE)
    with ns.demo(ns):
        yield True


def check_ask(ns):
    """What the user typed, checked before anything else (the demo notice comes after)."""
    clean_question(ns.question)
    clean_timeout(ns.timeout)
    clean_bot_id(setting("bot_id", ns.bot_id), required=False)
    if ns.base_url:
        clean_base_url(ns.base_url)


def in_flags(err, flags):
    """The error with every Python parameter its text names replaced by the command-line flag."""
    message = err.message
    for name in sorted(flags, key=len, reverse=True):  # stream=True before stream
        message = re.sub(PARAMETER_IN_TEXT % re.escape(name), flags[name], message)
    return err.reworded(FLAG_SAID_TWICE.sub(r"\1", message))


def command_flags(parser):
    """{parameter: flag} of one command: every option's dest as its flag, then PARAMETER_FLAGS."""
    flags = {}
    for action in parser._actions:
        long_names = [o for o in action.option_strings if o.startswith("--")]
        if long_names and action.dest not in ("help", "json"):
            flags[action.dest] = long_names[0]
    flags.update(PARAMETER_FLAGS)
    return flags


def error_json(err):
    """What `--json` prints when a command fails: the Chinese message and the ids support asks for."""
    return {"error": redact(err.message), "type": type(err).__name__, "code": err.code, "logid": err.logid,
            "chat_id": err.chat_id, "conversation_id": err.conversation_id}


def print_json(value):
    print(json.dumps(value, ensure_ascii=False, indent=2))


def run_ask(ns):
    check_ask(ns)
    with demo_if_no_token(ns) as demo:
        client = Client(token=ns.token, bot_id=ns.bot_id, base_url=ns.base_url, timeout=ns.timeout,
                        app_id=ns.app_id, key_id=ns.key_id, private_key=ns.private_key)
        result = client.chat(ns.question, conversation_id=ns.conversation_id, stream=not ns.no_stream,
                             workflow_id=ns.workflow_id)
    if ns.json:
        print_json(dict(result, demo=DEMO_SAYS) if demo else result)
    else:
        print(result["answer"])
    return 0


def run_workflow_command(ns):
    with demo_if_no_token(ns) as demo:
        result = run_workflow_full(ns.workflow_id, ns.parameters, bot_id=ns.bot_id, token=ns.token,
                                   base_url=ns.base_url, timeout=ns.timeout, stream=not ns.no_stream,
                                   app_id=ns.app_id, key_id=ns.key_id, private_key=ns.private_key,
                                   answers=ns.answer or None, is_async=True if ns.is_async else None)
    output = (dict(result, demo=DEMO_SAYS) if demo else result) if ns.json else result["output"]
    if isinstance(output, str):
        print(output)
    else:
        print_json(output)
    return 0


# argparse's own messages, in Chinese (the rest of its text is set in Parser)
ARGPARSE_MESSAGES = [
    (r"^the following arguments are required: (.*)$", "缺少参数:\\1"),
    (r"^unrecognized arguments: (.*)$", "不认识的参数:\\1(用 -h 查看可用的参数)"),
    (r"^argument (\S+): invalid \w+ value: (.*)$", "参数 \\1 的值 \\2 无效:应该是数字"),
    (r"^argument (\S+): invalid choice: (.*?) \(choose from (.*)\)$", "参数 \\1 的值 \\2 无效,可选:\\3"),
    (r"^argument (\S+): expected one argument$", "参数 \\1 后面要跟一个值"),
    (r"^argument (\S+): not allowed with argument (\S+)$", "参数 \\1 和 \\2 只能用一个"),
    (r"^ambiguous option: (\S+) could match (.*)$", "参数 \\1 不明确,可能是:\\2"),
]


class HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        return argparse.HelpFormatter.add_usage(self, usage, actions, groups, "用法:" if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """argparse in Chinese: help, headings and errors; errors never print a token."""

    def __init__(self, *args, **kwargs):
        kwargs.update(add_help=False, formatter_class=HelpFormatter)
        argparse.ArgumentParser.__init__(self, *args, **kwargs)
        self._positionals.title, self._optionals.title = "位置参数", "选项"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示这段帮助并退出")

    def error(self, message):
        for pattern, chinese in ARGPARSE_MESSAGES:
            message = re.sub(pattern, chinese, message)
        # "unrecognized arguments: --tokn pat_..." must not print the token
        self.print_usage(sys.stderr)
        self.exit(2, "%s:错误:%s\n" % (self.prog, redact(message)))


def build_command_parser(prog, more_commands=None, demo=False):
    """The parser of every command; more_commands(subparsers) adds those that need the repository;
    demo: the help mentions the offline demo (only python -m yingdao_module has it)."""
    offline = "(没配置令牌时用本机模拟器演示)" if demo else ""
    parser = Parser(prog=prog, description="在命令行里使用扣子(Coze)智能体和工作流;在影刀里请粘贴 dist/coze.py。",
                    epilog="例子:%s ask 你好 --token pat_... --bot-id 数字" % prog)
    commands = parser.add_subparsers(dest="command", title="命令", metavar="命令",
                                     help="选一个;命令后面加 -h 查看它的参数")

    ask = commands.add_parser("ask", help="问智能体一个问题" + offline,
                              description="问扣子智能体一个问题,回答打印到标准输出;其他信息和错误写到标准错误。"
                                          + offline)
    ask.add_argument("question", metavar="问题", help="要问的内容")
    add_connection_arguments(ask)
    ask.add_argument("--conversation-id", metavar="会话ID", help="沿用的会话 ID:智能体记得这个会话里之前的对话")
    ask.add_argument("--workflow-id", metavar="对话流ID", help="对话流(Chatflow)ID:问这个对话流而不是智能体")
    ask.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="秒",
                     help="最多等待的秒数,到时取消这次对话(默认 %d)" % DEFAULT_TIMEOUT)
    ask.add_argument("--no-stream", action="store_true", help="用轮询代替流式(网络会掐断长连接时用)")
    ask.add_argument("--json", action="store_true",
                     help="输出完整结果的 JSON(回答、会话 ID、用量…);失败时输出含 error、code、logid 的 JSON")
    ask.set_defaults(command_parser=ask, run=run_ask)

    workflow = commands.add_parser("workflow", help="运行一个扣子工作流,打印结束节点的输出",
                                   description="运行扣子工作流,把结束节点的输出打印到标准输出;"
                                               "问答节点按 --answer 的顺序自动回答。" + offline)
    workflow.add_argument("workflow_id", metavar="工作流ID", help="工作流编辑页网址里 workflow= 后面的数字")
    workflow.add_argument("--parameters", metavar="JSON", help='输入参数 JSON,例如 \'{"input": "你好"}\'')
    workflow.add_argument("--answer", action="append", default=[], metavar="回答",
                          help="问答节点的回答,按提问顺序,可重复:--answer 杭州 --answer 明天")
    workflow.add_argument("--async", dest="is_async", action="store_true",
                          help="在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它;需付费版)")
    add_connection_arguments(workflow)
    workflow.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="秒",
                          help="最多等待的秒数(默认 %d;超过 600 自动改为异步运行)" % DEFAULT_TIMEOUT)
    workflow.add_argument("--no-stream", action="store_true", help="非流式同步运行(约 90 秒后会被断开,慎用)")
    workflow.add_argument("--json", action="store_true",
                          help="输出完整结果的 JSON(output、messages、questions、execute_id、debug_url、usage)")
    workflow.set_defaults(command_parser=workflow, run=run_workflow_command)

    if more_commands is not None:
        more_commands(commands)
    batch = commands.add_parser("batch", help="表格批处理:每行问一次,答案写回表格,可断点续跑",
                                description="表格每一行问智能体一次,回答写进新表格;中断后重跑同一命令从断点继续,不重复付费。")
    add_batch_arguments(batch)
    batch.set_defaults(command_parser=batch, run=run_batch)
    merge = commands.add_parser("merge", help="按原行号合并多个分片(--shard)的输出",
                                description="合并多台机器人分表(--shard K/N)的输出;缺少或没跑完的分片会提醒并返回非 0。")
    add_merge_arguments(merge)
    merge.set_defaults(command_parser=merge, run=run_merge)
    return parser


def add_batch_arguments(parser):
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
    add_connection_arguments(parser)


def run_batch(ns):
    defaults = batch_defaults()

    def given():
        return dict((name, getattr(ns, name)) for name, _ in defaults if getattr(ns, name, None) is not None)
    checked_table(BatchOptions(ns.input_path, defaults, **given()))  # mistakes first, then the offline-demo notice
    try:
        with demo_if_no_token(ns):  # the demo's token marks the run as a demo (log, summary, report)
            summary = batch(ns.input_path, **given())
    except KeyboardInterrupt:
        return 130  # batch has said what is saved and how to resume
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["stopped_reason"] else 0


def add_merge_arguments(parser):
    parser.add_argument("outputs", nargs="+", metavar="分片输出",
                        help="各分片的输出文件,或 batch 打印的汇总 JSON(可以多个)")
    parser.add_argument("--output", help="合并后的文件(默认去掉文件名里的 .shardKofN);已有更完整的合并结果时不覆盖")


def run_merge(ns):
    path, problems = merge_shards(ns.outputs, ns.output)
    for problem in problems:
        log("合并提醒:%s" % problem)
    print(path)
    return 1 if problems else 0


def run_command_line(argv=None, prog=None, demo=None, more_commands=None):
    """Run one command; the exit code (0 done, 1 failed, 2 usage, 130 interrupted). Never a traceback
    for a CozeError: its Chinese text, with flags for parameters (as JSON with --json)."""
    for stream in (sys.stdout, sys.stderr):  # a GBK console must not crash on an answer's emoji
        try:
            stream.reconfigure(errors="replace")
        except Exception:
            pass
    set_log_sink(log_to_stderr)
    parser = build_command_parser(prog or "python " + os.path.basename(sys.argv[0] or "coze.py"), more_commands,
                                  demo is not None)
    ns = parser.parse_args(argv)
    if not getattr(ns, "run", None):
        parser.print_help()
        return 2
    ns.demo = demo
    try:
        return ns.run(ns) or 0
    except CozeError as err:
        in_flags(err, command_flags(getattr(ns, "command_parser", parser)))
        if getattr(ns, "json", False):
            print_json(error_json(err))
        log("错误:%s" % err)
        return 1
    except KeyboardInterrupt:
        log("已中断")
        return 130


if __name__ == "__main__":
    sys.exit(run_command_line())

"""Command line: python -m yingdao_module ask | serve | batch | merge.

With no token configured, `ask` and `batch` run against the local simulator and say so:
the zero-setup demo. Answers go to stdout, everything else to stderr.
"""
import argparse
import contextlib
import json
import sys

from .config import setting
from .errors import CozeError
from .log import log, log_to_stderr, redact, set_log_sink

DEMO_BOT_ID = "7000000000000000001"
DEMO_NOTICE = ("【离线演示】没有配置扣子令牌,这个回答来自本机的扣子模拟器,不是真实的智能体。\n"
               "  要问真实智能体:加 --token pat_... --bot-id 数字,或设置环境变量 COZE_API_TOKEN 和 COZE_BOT_ID。")


def add_connection_arguments(parser):
    parser.add_argument("--bot-id", help="智能体 ID(默认取环境变量 COZE_BOT_ID)")
    parser.add_argument("--token", help="个人访问令牌(默认取环境变量 COZE_API_TOKEN)")
    parser.add_argument("--base-url", help="https://api.coze.cn(默认)或 https://api.coze.com")


@contextlib.contextmanager
def demo_if_no_token(ns):
    """Point `ns` at an in-process simulator when no token is configured anywhere."""
    if setting("token", ns.token):
        yield False
        return
    from .simulator import Simulator
    with Simulator(latency=0.3) as sim:
        ns.token, ns.base_url = "demo-token", sim.url
        ns.bot_id = ns.bot_id or setting("bot_id") or DEMO_BOT_ID
        log(DEMO_NOTICE)
        yield True


def run_ask(ns):
    from .client import Client
    with demo_if_no_token(ns):
        client = Client(token=ns.token, bot_id=ns.bot_id, base_url=ns.base_url, timeout=ns.timeout)
        result = client.chat(ns.question, conversation_id=ns.conversation_id, stream=not ns.no_stream)
    if ns.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(result["answer"])
    return 0


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # "unrecognized arguments: --tokn pat_..." must not print the token
        argparse.ArgumentParser.error(self, redact(message))


def build_parser():
    parser = Parser(prog="python -m yingdao_module",
                                     description="在命令行里使用扣子(Coze)智能体;影刀里请粘贴 dist/coze.py。")
    commands = parser.add_subparsers(dest="command")

    ask = commands.add_parser("ask", help="问智能体一个问题(没配置令牌时用本机模拟器演示)")
    ask.add_argument("question", help="问题")
    add_connection_arguments(ask)
    ask.add_argument("--conversation-id", help="沿用的会话 ID(多轮记忆)")
    ask.add_argument("--timeout", type=float, default=180, help="最多等待秒数(默认 180)")
    ask.add_argument("--no-stream", action="store_true", help="用轮询代替流式")
    ask.add_argument("--json", action="store_true", help="输出完整结果(JSON)")
    ask.set_defaults(run=run_ask)

    from .simulator import add_serve_arguments, run_serve
    serve = commands.add_parser("serve", help="启动本机扣子模拟器(Coze V3 接口)")
    add_serve_arguments(serve)
    serve.set_defaults(run=run_serve)

    batch = commands.add_parser("batch", help="表格批处理:每行问一次,答案写回表格,可断点续跑",
                                description="表格每一行问智能体一次,回答写进新表格;中断后重跑同一命令从断点继续,不重复付费。")
    add_batch_arguments(batch)
    batch.set_defaults(run=lambda ns: run_with_demo(ns, run_batch))
    merge = commands.add_parser("merge", help="按原行号合并多个分片(--shard)的输出",
                                description="合并多台机器人分表(--shard K/N)的输出;缺少或没跑完的分片会提醒并返回非 0。")
    add_merge_arguments(merge)
    merge.set_defaults(run=run_merge)
    return parser


def add_batch_arguments(parser):
    """Every batch() keyword as an option whose dest is that keyword's name."""
    parser.add_argument("input_path", metavar="表格", help="输入表格 .xlsx 或 .csv(原表格不会被修改)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--prompt", help="提问模板,用 {列名} 引用列,例如 \"为{商品名}写一句广告语\";{{ 和 }} 表示字面的大括号")
    how.add_argument("--question-column", help="不用模板,直接用这一列作为问题")
    parser.add_argument("--output", dest="output_path", help="输出文件(默认 <名字>_coze.<扩展名>)")
    parser.add_argument("--sheet", help="工作表名(默认第一个)")
    parser.add_argument("--answer-column", help="回答列的列名(默认「回答」)")
    parser.add_argument("--concurrency", type=int, help="同时进行的对话数(默认 2)")
    parser.add_argument("--qps", type=float, help="每秒最多发起多少次对话(按账号计,重启后也记得)")
    parser.add_argument("--qpm", type=float, help="每分钟最多发起多少次对话")
    parser.add_argument("--qpd", type=int, help="每天最多发起多少次对话(按账号计,当天多次运行合计,本地时间 0 点清零)")
    parser.add_argument("--max-rows", type=int, help="只做前 N 行(试跑)")
    parser.add_argument("--max-tokens", type=int, help="累计用掉这么多 token 就停止(花费上限)")
    parser.add_argument("--timeout", type=float, help="每行最多等多少秒(默认 180)")
    parser.add_argument("--retry-failed", action="store_true", help="续跑时也重试之前失败的行")
    parser.add_argument("--json-columns", action="store_true", help="回答是 JSON 对象时,一键一列")
    parser.add_argument("--dedupe", action="store_true", help="完全相同的问题只问一次,其他行沿用回答")
    parser.add_argument("--shard", help="K/N:N 台机器人分一张表时,本机做第 K 份,例如 2/3")
    parser.add_argument("--restart", action="store_true",
                        help="输出的日志属于另一个提示词/智能体/表格时,把旧日志改名存档,重新开始")
    parser.add_argument("--wait", action="store_true",
                        help="另一个批处理正在写同一个输出时,等它结束再接着做(默认立即停止并说明是谁在跑)")
    add_connection_arguments(parser)


def run_batch(ns):
    from .batch import batch
    from .batch_options import BATCH_OPTION_NAMES
    options = dict((name, getattr(ns, name)) for name in BATCH_OPTION_NAMES if getattr(ns, name, None) is not None)
    try:
        summary = batch(ns.input_path, **options)
    except KeyboardInterrupt:
        return 130  # batch has said what is saved and how to resume
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if summary["stopped_reason"] else 0


def add_merge_arguments(parser):
    parser.add_argument("outputs", nargs="+", metavar="分片输出",
                        help="各分片的输出文件,或 batch 打印的汇总 JSON(可以多个)")
    parser.add_argument("--output", help="合并后的文件(默认去掉文件名里的 .shardKofN)")


def run_merge(ns):
    from .merge import merge_shards
    path, problems = merge_shards(ns.outputs, ns.output)
    for problem in problems:
        log("合并提醒:%s" % problem)
    print(path)
    return 1 if problems else 0


def run_with_demo(ns, run):
    with demo_if_no_token(ns):
        return run(ns)


def main(argv=None):
    for stream in (sys.stdout, sys.stderr):  # a GBK console must not crash on an answer's emoji
        try:
            stream.reconfigure(errors="replace")
        except Exception:
            pass
    set_log_sink(log_to_stderr)
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not getattr(ns, "run", None):
        parser.print_help()
        return 2
    try:
        return ns.run(ns) or 0
    except CozeError as err:
        log("错误:%s" % err)
        return 1
    except KeyboardInterrupt:
        log("已中断")
        return 130

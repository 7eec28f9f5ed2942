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

    from .batch import add_batch_arguments, add_merge_arguments, run_batch_cli, run_merge_cli
    batch = commands.add_parser("batch", help="表格批处理:每行问一次,答案写回表格,可断点续跑")
    add_batch_arguments(batch)
    batch.set_defaults(run=lambda ns: run_with_demo(ns, run_batch_cli))
    merge = commands.add_parser("merge", help="按原行号合并多个分片(--shard)的输出")
    add_merge_arguments(merge)
    merge.set_defaults(run=run_merge_cli)
    return parser


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

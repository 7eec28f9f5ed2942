"""`python -m yingdao_module`: the command line of dist/coze.py plus what needs the repository.

The commands and their options live in command_line.py (they go into dist/coze.py, so
`python dist/coze.py ask ...` is the same command line). Here they gain the offline demo
(no token configured: the answers come from the local simulator, and say so) and `serve`.
"""
import contextlib

from .command_line import build_command_parser, run_command_line
from .config import setting
from .log import log
from .resume import DEMO_TOKEN
from .simulator import Simulator, add_serve_arguments, run_serve

PROG = "python -m yingdao_module"
DEMO_BOT_ID = "7000000000000000001"
DEMO_NOTICE = ("【离线演示】没有配置扣子令牌,这个回答来自本机的扣子模拟器,不是真实的智能体。\n"
               "  要问真实智能体:加 --token pat_... --bot-id 数字,或设置环境变量 COZE_API_TOKEN 和 COZE_BOT_ID。")


@contextlib.contextmanager
def offline_demo(ns):
    """Point `ns` at an in-process simulator (called only when no token or service app is configured)."""
    with Simulator(latency=0.3) as sim:
        ns.token, ns.base_url = DEMO_TOKEN, sim.url  # the token marks a batch as the demo
        ns.bot_id = ns.bot_id or setting("bot_id") or DEMO_BOT_ID
        log(DEMO_NOTICE)
        yield True


def add_serve_command(commands):
    serve = commands.add_parser("serve", help="启动本机扣子模拟器(Coze V3 接口)")
    add_serve_arguments(serve)
    serve.set_defaults(run=run_serve)


def build_parser():
    return build_command_parser(PROG, add_serve_command, demo=True)


def main(argv=None):
    return run_command_line(argv, PROG, offline_demo, add_serve_command)

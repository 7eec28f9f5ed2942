"""`python -m yingdao_module serve`: the simulator as a standalone server.

The URL goes to stdout first (scripts read it); mistakes in the options get one Chinese
line on stderr and exit code 2, never a traceback.
"""
import signal
import sys
import threading

from .service import Simulator


def add_serve_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="监听地址(默认 127.0.0.1,只有本机能连)")
    parser.add_argument("--port", type=int, default=0, help="端口;0 表示任选一个空闲端口(默认)")
    parser.add_argument("--latency", type=float, default=0.5, help="对话从创建到回答完成的秒数(默认 0.5)")
    parser.add_argument("--token", help="只接受这个令牌(默认接受任何非空令牌)")
    parser.add_argument("--qps", type=float, help="每秒最多几次提问/工作流运行,超过返回 4020")
    parser.add_argument("--qpm", type=float, help="每分钟最多几次,超过返回 4020")
    parser.add_argument("--qpd", type=float, help="每天最多几次,超过返回 4008")
    parser.add_argument("--quota", type=int, help="免费额度:第 N 次之后的对话以 4028 失败")
    parser.add_argument("--unpublished", action="append", default=[],
                        help="这个 bot_id 视为未发布为 API(返回 4015),可重复")
    parser.add_argument("--max-prompt-chars", type=int, default=100000, help="问题最长字数,超过返回 4010")
    parser.add_argument("--fault", action="append", default=[],
                        help="按比例注入故障 KIND:比例,可重复,例如 http500:0.1、cut:0.2、slow:2:0.1;"
                             "KIND 可为 http500 http502 http429 reset malformed cut 4009 4020 5000 fail stuck slow")
    parser.add_argument("--seed", type=int, default=0, help="故障随机数种子(同一种子同样的故障序列)")
    parser.add_argument("--stuck-cap", type=float, default=30.0, help="stuck 故障的对话多少秒后失败(默认 30)")
    parser.add_argument("--question-workflow", action="append", default=[], metavar="ID[:N]",
                        help="这个工作流有问答节点:先问「请问要查询哪个城市?」再中断(Interrupt),"
                             "用 stream_resume 回答后继续;:N 表示依次问 N 个问题(1 到 3),可重复")
    parser.add_argument("--slow-workflow", action="append", default=[], metavar="ID:SECONDS",
                        help="这个工作流要运行这么多秒,例如 7402:120;非流式同步运行超过 --sync-limit 秒会被断开,"
                             "is_async 异步运行立即返回 execute_id,用 run_histories 查结果;可重复")
    parser.add_argument("--tool-bot", action="append", default=[], metavar="BOT_ID:TOOL_NAME[:ROUNDS]",
                        help="这个智能体会调用端插件 TOOL_NAME:对话停在 requires_action,"
                             "用 submit_tool_outputs 交回结果后继续;:ROUNDS 表示要调用几轮(默认 1),可重复")
    parser.add_argument("--no-async", action="store_true",
                        help="像免费版一样不支持异步运行工作流(is_async 返回 6003)")
    parser.add_argument("--sync-limit", type=float, default=90.0,
                        help="非流式同步运行工作流最多等多少秒,超过就断开(默认 90,和真实服务一样)")
    parser.add_argument("--image-answers", action="store_true",
                        help="回答(和工作流输出的「图片」字段)里带一张图片的链接,图片由模拟器自己在本机提供(测试 --download)")
    parser.add_argument("--ping-interval", type=float, default=1.0, help="流式回复空闲时每隔几秒发一个 PING(默认 1)")
    parser.add_argument("--oauth-app-id", metavar="应用ID",
                        help="模拟一个服务类应用(OAuth JWT)的应用 ID;给了它就只接受本模拟器发出的访问令牌")
    parser.add_argument("--oauth-key-id", metavar="公钥指纹", help="该应用公钥的指纹(公钥 ID),JWT 头里的 kid 必须等于它")
    parser.add_argument("--oauth-public-key", metavar="公钥.pem", help="该应用的 RSA 公钥 PEM 文件路径(用来验 JWT 签名)")
    parser.add_argument("--oauth-token-life", type=float, metavar="秒",
                        help="发出的访问令牌最多活多少秒(默认按客户端申请的 duration_seconds);调小可测试刷新")


def simulator_from(ns):
    """A Simulator configured from parsed `serve` options (ValueError on a bad fault)."""
    return Simulator(latency=ns.latency, token=ns.token, qps=ns.qps, qpm=ns.qpm, qpd=ns.qpd, quota=ns.quota,
                     unpublished=ns.unpublished, max_prompt_chars=ns.max_prompt_chars, faults=ns.fault,
                     seed=ns.seed, stuck_cap=ns.stuck_cap, host=ns.host, port=ns.port,
                     question_workflows=ns.question_workflow, slow_workflows=ns.slow_workflow,
                     tool_bots=ns.tool_bot, async_workflows=not ns.no_async, sync_limit=ns.sync_limit,
                     ping_interval=ns.ping_interval, oauth_app_id=ns.oauth_app_id, oauth_key_id=ns.oauth_key_id,
                     oauth_public_key=ns.oauth_public_key, oauth_token_life=ns.oauth_token_life,
                     image_answers=ns.image_answers)


def run_serve(ns):
    try:
        sim = simulator_from(ns).start()
    except ValueError as err:
        sys.stderr.write("模拟器参数错误:%s\n" % err)
        return 2
    except OSError as err:
        sys.stderr.write("模拟器无法监听 %s:%s(%s):端口可能已被占用,换一个 --port,或用 --port 0 自动选择\n"
                         % (ns.host, ns.port, err.strerror or type(err).__name__))
        return 2
    print(sim.url, flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    while not stopped.wait(0.2):
        pass
    sim.stop()
    return 0

"""A local Coze Open API simulator: the zero-setup demo, the test bed, the fault injector.

    with Simulator(latency=0.2) as sim:          # in-process, from tests
        ask("你好", token="any", bot_id="7000000000000000001", base_url=sim.url)

    python -m yingdao_module serve --port 8080   # standalone, for trying ShadowBot flows

Standard library only, never part of dist/coze.py. One file per service, like moto:

    service.py     Simulator: the in-memory state, settings, stats, faults and rate limits
    server.py      the HTTP plumbing: envelope, auth, body parsing, faults, routing, SSE framing
    chat.py        /v3/chat (stream and poll), retrieve, message list, cancel, tool outputs, conversations
    files.py       /v1/files/upload
    workflows.py   /v1/workflow/run and /v1/workflow/stream_run
    oauth.py       /api/permission/oauth2/token: the JWT flow of a service app, verified for real
    benefits.py    /v1/commerce/benefit/benefits/get: the account's limits (its --qps)
    cli.py         `serve` options and the standalone server loop

See docs/simulator.md for the answer format and every option.
"""
from .cli import add_serve_arguments, run_serve
from .service import Simulator

__all__ = ["Simulator", "add_serve_arguments", "run_serve"]

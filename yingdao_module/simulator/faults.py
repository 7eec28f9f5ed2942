"""Faults the simulator can play, per request: from a seeded RNG (`--fault KIND:RATE`) or
forced with `Simulator.inject(kind, count, path)`.

Transport faults (reset, HTTP errors, a garbled body, busy codes) are played before the
request is even authenticated, like a flaky proxy or an overloaded gateway would. Run
faults (cut, fail, stuck) shape a chat or a workflow run that was really created, so they
apply only to requests that start one (RUN_FAULTS_BY_PATH: which of them each path can play);
cutcreate creates the chat, then drops the connection before its
created event (the gap where a client cannot know the chat exists); badjson makes the answer to a chat question asking for JSON invalid JSON, as a model sometimes does.
"""
import socket

FAULT_KINDS = ("http500", "http502", "http429", "reset", "malformed", "cut", "4009", "4020", "5000",
               "fail", "stuck", "slow", "badjson", "cutcreate")
RUN_FAULTS = ("cut", "fail", "stuck", "badjson", "cutcreate")
RUN_FAULTS_BY_PATH = {
    "/v3/chat": ("cut", "fail", "stuck", "badjson", "cutcreate"),
    "/v1/workflows/chat": ("cut", "fail", "stuck", "cutcreate"),
    "/v1/workflow/stream_run": ("cut", "fail"),
    "/v1/workflow/stream_resume": ("cut", "fail"),
    "/v1/workflow/run": ("fail",),
}


def parse_faults(faults):
    """{kind: rate} from a dict or from ["KIND:RATE", "slow:SECONDS:RATE", ...].

    Raises ValueError with a Chinese message naming the mistake (the CLI prints it)."""
    if not faults:
        return {}
    items = faults.items() if isinstance(faults, dict) else (str(item).rpartition(":")[::2] for item in faults)
    parsed = {}
    for kind, rate in items:
        kind = str(kind)
        if kind.split(":")[0] not in FAULT_KINDS:
            raise ValueError("未知的故障类型 %r:可用的有 %s(写法 KIND:比例,例如 http500:0.1)"
                             % (kind or rate, "、".join(FAULT_KINDS)))
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError("故障 %s 的比例应该是 0 到 1 之间的数字,例如 %s:0.1" % (kind, kind))
        if not 0 <= rate <= 1:
            raise ValueError("故障 %s 的比例应该在 0 到 1 之间,现在是 %s" % (kind, rate))
        parsed[kind] = rate
    return parsed


def pick_fault(forced, rates, rng, path):
    """The fault for one request, or None. Forced faults come first (and are used up)."""
    playable = RUN_FAULTS_BY_PATH.get(path, ())
    for entry in forced:
        kind, count, prefix = entry
        if prefix and not path.startswith(prefix):
            continue
        if kind in RUN_FAULTS and kind not in playable:
            continue
        entry[1] -= 1
        if entry[1] <= 0:
            forced.remove(entry)
        return kind
    for kind, rate in rates.items():
        if kind.split(":")[0] in RUN_FAULTS and kind not in playable:
            continue
        if rng.random() < rate:
            return kind
    return None


def slow_seconds(fault):
    """How long a `slow` or `slow:SECONDS` fault holds the request (capped)."""
    return min(30.0, float(fault.split(":")[1]) if ":" in fault else 1.0)


def play_transport_fault(handler, fault):
    """Answer the request with a transport fault; True when the request is finished."""
    if fault == "reset":
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True
    if fault in ("http500", "http502", "http429"):
        status = int(fault[4:])
        headers = {"Retry-After": "1"} if status == 429 else None
        handler.send_json(None, status, headers, raw=("<html>%d</html>" % status).encode())
        return True
    if fault == "malformed":
        handler.send_json(None, raw=b'{"code": 0, "data": {"id": ')
        return True
    if fault in ("4009", "4020", "5000"):
        handler.error(int(fault), "simulated fault %s" % fault)
        return True
    return False


def drop_before_created(handler, stream):
    """The cutcreate fault, played once the chat exists: a stream's headers (or nothing) then the
    connection drops."""
    handler.close_connection = True
    if stream:
        handler.start_stream()  # no chunk follows: the client sees a broken stream
        return
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

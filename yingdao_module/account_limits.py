"""The account's own caps (qps="auto") and one robot's share of them (shard K/N).

Coze tells an account its QPS in force: GET /v1/commerce/benefit/benefits/get answers
`data.benefit_info[].effective.item_info.total` (official SDK, cozepy/benefits). When it is
refused (some editions may not call it) we fall back to the published free-edition figures and
say so. With shard K/N the caps given are the ACCOUNT's: robots cannot see each other, so each
takes a fixed share with a margin, small enough that N robots together are never refused.
"""
from .errors import CozeError
from .log import log

BENEFITS_PATH = "/v1/commerce/benefit/benefits/get"
DEFAULT_ACCOUNT_QPS = {"chat": 20.0, "workflow": 50.0}  # coze.cn free edition (2025), used when refused
SHARE_MARGIN = 0.9  # a robot plans for 90 % of its share: clocks and networks jitter
SHARD_JITTER = 0.5  # seconds added to a robot's windows: a call delayed that long still fits the account's
# (0.25 s left 2-4 refusals in 3,000 soak rows on a loaded machine, 0.5 s none: docs/reliability.md)
SLOT_WIDTH = 2.05   # seconds: below one call per second each, robots take turns in slots this wide


def is_auto(value):
    return isinstance(value, str) and value.strip().lower() in ("auto", "自动")


def effective_qps(data, resource):
    """The QPS in force for `resource` in a benefits answer's data, or None when it has none."""
    infos = data.get("benefit_info") if isinstance(data, dict) else None
    for info in infos if isinstance(infos, list) else []:
        if not isinstance(info, dict) or info.get("resource_id") not in (None, "", resource):
            continue
        if info.get("benefit_type") not in (None, "", "api_run_qps"):
            continue
        item = (info.get("effective") or {}).get("item_info") if isinstance(info.get("effective"), dict) else None
        total = item.get("total") if isinstance(item, dict) else None
        try:
            total = float(total)
        except (TypeError, ValueError):
            continue
        if total > 0:
            return total
    return None


def read_account_qps(transport, resource="chat", deadline=None):
    """(qps, how it was found) for `resource` ("chat" or "workflow"); never raises for a refusal."""
    default = DEFAULT_ACCOUNT_QPS[resource]
    try:
        envelope = transport.call("GET", BENEFITS_PATH, {"benefit_type_list": "api_run_qps", "resource_id": resource},
                                  deadline=deadline, what="读取账号限额")
    except CozeError as err:
        note = ("扣子没有告诉这个账号的限额(%s):按免费版公开的 %s QPS=%g 运行;知道自己的套餐限额时请用 --qps 直接填"
                % (err.message, "对话" if resource == "chat" else "工作流", default))
        log(note)
        return default, note
    qps = effective_qps(envelope.get("data"), resource)
    if qps is None:
        note = "扣子的限额回答里没有 %s 的 QPS:按免费版公开的 QPS=%g 运行" % (resource, default)
    else:
        note = "账号的%s限额:QPS=%g(扣子接口读取)" % ("对话" if resource == "chat" else "工作流", qps)
    log(note)
    return (qps if qps is not None else default), note


def robot_share(account_cap, shard, whole=False):
    """One robot's part of an account cap when N robots split a table (None stays None).

    qps and qpm: a whole number of calls per window, floor(cap x margin / N), so however the
    robots' calls line up, their sum stays under the cap; 0 means below one call per window,
    handled by slots (see slot_plan). qpd: floor(cap / N)."""
    if not account_cap or not shard:
        return account_cap
    if whole:
        return max(1, int(account_cap // shard[1]))
    return int(account_cap * SHARE_MARGIN // shard[1])


def slot_plan(account_qps, shard):
    """(slot index, slot count, width) when a robot's qps share is below one call per second:
    time (the wall clock, the same on every robot within NTP's milliseconds) is cut into slots;
    robot K starts at most one call per slot of its index, in the slot's first second. At most
    floor(cap x margin) robots share an index, so any second holds at most that many calls."""
    per_slot = max(1, int(account_qps * SHARE_MARGIN))
    count = -(-shard[1] // per_slot)  # ceil(N / per_slot)
    width = SLOT_WIDTH if account_qps >= 1 else SLOT_WIDTH / account_qps
    return (shard[0] - 1) % count, count, width


def describe_share(qps, qpm, qpd, shard, shares):
    """One log line: the account's caps and this robot's share."""
    parts = []
    for name, cap, mine in (("qps", qps, shares[0]), ("qpm", qpm, shares[1]), ("qpd", qpd, shares[2])):
        if cap:
            parts.append("%s %g → 本机 %s" % (name, cap, ("%g" % mine) if mine else "轮流(每几秒 1 次)"))
    return "分片 %d/%d:限速按整个账号计算,%d 台机器人各取一份并留 10%% 余量,合起来不会被扣子拒绝:%s" % (
        shard[0], shard[1], shard[1], ";".join(parts))


def apply_limits(limiter, transport, qps, qpm, qpd, shard, resource="chat"):
    """Set `limiter`'s caps from a run's options: qps "auto" is read from the account; with a
    shard the caps are the account's and this robot takes its share. Returns the qps in force
    for the whole account (for the estimate), or None."""
    if is_auto(qps):
        qps = read_account_qps(transport, resource)[0] if transport is not None else DEFAULT_ACCOUNT_QPS[resource]
    if not shard or shard[1] == 1:
        limiter.configure(qps, qpm, qpd)
        return qps
    shares = (robot_share(qps, shard), robot_share(qpm, shard), robot_share(qpd, shard, whole=True))
    # below one call per minute each, a robot still makes one: a qpm that low is not a batch's
    qpm_share = max(1, shares[1]) if qpm else None
    slots = slot_plan(qps, shard) if qps and not shares[0] else None
    limiter.configure(shares[0] or None, qpm_share, shares[2], slots, margin=SHARD_JITTER)
    log(describe_share(qps, qpm, qpd, shard, shares))
    return qps

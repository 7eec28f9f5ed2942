"""Rate limits: sliding windows for qps / qpm and a daily count for qpd, per Coze account.

The service counts the calls it received in the last second / minute and today; we count the
calls we started, with a small margin for the network, so a batch runs at the cap without
being rejected (4020) and without wasting retries. Every rated request goes through the
limiter — first attempts, a row's second try and the transport's own retries alike — because
the transport calls `before_request` before it sends anything.

The recent starts and today's count live in a small JSON file per account (a hash of token
and base URL, never the token) under a per-user folder, shared by every process through a
file lock: a run restarted right after a kill waits for the window it already used, and a
second run on the same day, even on another table, stops at qpd without paying.
"""
import datetime
import hashlib
import json
import os
import threading
import time

from .errors import CozeError, QuotaError
from .filelock import FileLock
from .log import log

WINDOW_MARGIN = 0.025  # seconds added to each window: arrival times jitter a little
RATED_PATHS = ("/v3/chat", "/v1/workflow/run", "/v1/workflow/stream_run")  # what Coze counts against qps/qpd
REMEMBERED_STARTS = 61.0  # seconds of call starts kept in the state file (the longest window, qpm)
MAX_REMEMBERED = 5000
SLOT_OPEN = 1.0  # a slotted call starts only in its slot's first second (slots are > 2 s wide)


def state_folder():
    """COZE_STATE_DIR, else %LOCALAPPDATA%\\yingdao-coze on Windows, else ~/.cache/yingdao-coze."""
    folder = os.environ.get("COZE_STATE_DIR")
    if not folder:
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("XDG_CACHE_HOME") or \
            os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "yingdao-coze")
    return folder


def account_state_path(account, base_url, kind="ratelimit", extension=".json"):
    """A state file of one account (its token or app id) at one base URL: named by a hash,
    never the token."""
    digest = hashlib.sha256(("%s\n%s" % (account, base_url)).encode("utf-8")).hexdigest()[:24]
    return os.path.join(state_folder(), "%s-%s%s" % (kind, digest, extension))


def account_of(settings):
    """Who a Client's settings sign in as: an OAuth app, or a token (only ever hashed)."""
    return "app:%s" % settings.app[0] if settings.app is not None else "token:%s" % settings.token


def slot_wait(slots, now, last_start):
    """Seconds until a call may start in this robot's slot (0: now); see RateLimiter.configure."""
    index, count, width = slots
    number = int(now // width)
    if number % count == index and now - number * width < SLOT_OPEN and \
            (last_start is None or int(last_start // width) != number):
        return 0.0
    ahead = (index - number % count) % count or count  # slots until the next one of this index
    return max(0.001, (number + ahead) * width - now)


class CallNotStarted(CozeError):
    """The batch is stopping: a call waiting for the rate limit is not started."""
    fatal = True


class RateLimiter(object):
    """acquire() blocks until one more call may start; False once qpd is used up or stopped.

    With `state_path` the window and the day's count are shared with every process of the
    same account; without it they live in this process only."""

    def __init__(self, qps=None, qpm=None, qpd=None, state_path=None, slots=None):
        self.state_path = state_path
        self.used_today = 0
        self._memory = {"day": "", "count": 0, "starts": []}
        self._lock = threading.Lock()
        self.configure(qps, qpm, qpd, slots)

    def configure(self, qps=None, qpm=None, qpd=None, slots=None, margin=WINDOW_MARGIN):
        """Set the caps (before the first call). `slots` (index, count, width): start at most one
        call per slot of this index, in its first SLOT_OPEN seconds (shards below 1 call/s).
        `margin`: seconds added to each window, the arrival jitter it absorbs (wider for shards:
        another robot's calls fill what a late call of ours overlaps)."""
        self.windows, self.slots = [], slots
        for limit, seconds in ((qps, 1.0), (qpm, 60.0)):
            if limit:
                whole = max(1, int(limit))  # 0.5 per second = 1 per 2 s; 2.5 per second = 2 per 0.8 s
                self.windows.append((whole, seconds * whole / float(limit) + margin))
        # qps calls are spread evenly over the second instead of sent as one burst: a burst's
        # requests reach the service up to tens of milliseconds apart, eating the margin
        self.spacing = self.windows[0][1] / self.windows[0][0] if qps else 0.0
        self.qpd = int(qpd) if qpd else None
        if not self.limited:
            self.state_path = None

    @property
    def calls_per_second(self):
        """The steady rate the caps allow (None: no cap but qpd); for the estimate."""
        rates = [whole / seconds for whole, seconds in self.windows]
        if self.slots is not None:
            rates.append(1.0 / (self.slots[1] * self.slots[2]))
        return min(rates) if rates else None

    @property
    def limited(self):
        return bool(self.windows or self.qpd is not None or self.slots)

    def share_with_account(self, settings, shard_text="", kind=""):
        """Keep the window and the day's count in the state file of the account that `settings`
        (a Client's) signs in as — a token, or an OAuth app — shared by every process. A shard
        keeps its own (its caps are its share of the account's, see account_limits.py); `kind`
        "workflow": workflow runs have caps of their own, apart from chats."""
        if self.limited:
            who = account_of(settings) + ("\nshard:%s" % shard_text if shard_text else "")
            who = "%s:%s" % (kind, who) if kind else who
            self.state_path = account_state_path(who, settings.base_url)

    def acquire(self, stop=None):
        if not self.limited:
            return True
        while True:
            with self._lock:
                wait = self._take_slot()
            if wait == 0:
                return True
            if wait is None:
                return False
            if stop is not None and stop.wait(min(wait, 0.5)):
                return False
            if stop is None:
                time.sleep(wait)

    def hook(self, stop=None):
        """A `before_request(method, path)` for the transport: rated requests wait for a slot."""
        def before_request(method, path):
            if method == "POST" and path in RATED_PATHS and not self.acquire(stop):
                if stop is not None and stop.is_set():
                    raise CallNotStarted("批处理正在停止:这一行没有发出请求,不计费;重跑同一命令时会再问")
                raise self.daily_cap_error()
        return before_request

    def daily_cap_error(self):
        tomorrow = datetime.date.today() + datetime.timedelta(days=1)
        return QuotaError("今日额度已用完:这个账号今天已发起 %d 次对话,达到 qpd=%d 的上限(同一账号的所有运行、所有表格合计)。"
                          "额度在本地时间 %s 0 点重置,之后重跑同一命令即可从断点继续,已完成的行不会重复付费"
                          % (self.used_today, self.qpd, tomorrow.strftime("%Y-%m-%d")))

    # -- the shared state ------------------------------------------------------------------------------
    def _take_slot(self):
        """0 when a call may start now (and it is counted), seconds to wait, or None at the daily cap."""
        lock = FileLock(self.state_path + ".lock") if self.state_path else None
        state = None
        try:
            if lock is not None:
                if not os.path.isdir(os.path.dirname(self.state_path)):
                    os.makedirs(os.path.dirname(self.state_path))
                lock.acquire()
            state = self._load()
            now, today = time.time(), time.strftime("%Y-%m-%d")
            if state["day"] != today:
                state["day"], state["count"] = today, 0
            self.used_today = state["count"]
            if self.qpd is not None and state["count"] >= self.qpd:
                return None
            starts = [t for t in state["starts"] if 0 <= now - t < REMEMBERED_STARTS][-MAX_REMEMBERED:]
            wait = self.spacing - (now - starts[-1]) if starts else 0.0
            if self.slots is not None:
                wait = max(wait, slot_wait(self.slots, now, starts[-1] if starts else None))
            for limit, seconds in self.windows:
                recent = [t for t in starts if now - t < seconds]
                if len(recent) >= limit:
                    wait = max(wait, seconds - (now - recent[len(recent) - limit]))
            if wait > 0:
                return wait
            starts.append(now)
            state["starts"], state["count"] = starts, state["count"] + 1
            self.used_today = state["count"]
            self._save(state)
            return 0
        except OSError as err:  # no lock, folder or disk for the state: limit this process alone
            if state is not None:
                self._memory = state  # what was read still counts: a full disk must not forget the window
            log("限速状态文件 %s 无法使用(%s):本次只在这个进程里限速" % (self.state_path, err.strerror or err))
            self.state_path = None
            return self._take_slot()
        finally:
            if lock is not None:
                lock.release()

    def _load(self):
        if self.state_path is None:
            return self._memory
        try:
            with open(self.state_path, "rb") as handle:
                state = json.loads(handle.read().decode("utf-8"))
            if isinstance(state, dict) and isinstance(state.get("starts"), list):
                return {"day": str(state.get("day") or ""), "count": int(state.get("count") or 0),
                        "starts": [float(t) for t in state["starts"]]}
        except (OSError, ValueError, TypeError):
            pass  # missing or damaged: start from nothing rather than refuse to run
        return {"day": "", "count": 0, "starts": []}

    def _save(self, state):
        if self.state_path is None:
            self._memory = state
            return
        temporary = "%s.%d.tmp" % (self.state_path, os.getpid())
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"day": state["day"], "count": state["count"],
                       "starts": [round(t, 4) for t in state["starts"]]}, handle)
        os.replace(temporary, self.state_path)  # atomic: a reader sees the old file or the new one

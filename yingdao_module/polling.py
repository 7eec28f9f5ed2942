"""When to ask a non-stream chat for its status: never more often than the official SDK, at better moments.

The official SDK (cozepy `create_and_poll`) checks once a second, so a chat that ends after
t seconds costs it ceil(t) checks and reaches the caller up to a second late. Here the k-th
check never comes earlier than k seconds after the chat was created, so no chat ever costs
more checks than with the SDK, whatever its length. Within that budget the checks go where
the same bot's recent chats ended (CompletionClock): a bot whose chats take 2.5 s is checked
once, just after 2.5 s, instead of at 1, 2 and 3 s.
"""
import threading

POLL_PACE = 1.0      # the official SDK checks once a second: the k-th check waits for k x this
POLL_FIRST = 0.1     # once the expected moments have passed (or after a stream cut), the gap between
POLL_GROWTH = 1.5    # checks starts here and grows by this factor ...
POLL_MAX = 1.0       # ... up to once a second
POLL_SETTLED = 0.1   # a completion time known this precisely (seconds) is not probed any further
POLL_MARGIN = 0.02   # a check this long after the known end catches a chat a little late (jitter)


class PollPlan(object):
    """The status checks of one chat, as offsets in seconds from its creation.

    `expected`: increasing offsets at which the chat is likely to have ended; after them the
    gaps grow from POLL_FIRST to POLL_MAX. `budget`: the k-th check waits for k seconds (the
    SDK's pace, POLL_PACE); off when recovering a chat whose stream broke, where no SDK call compares.
    """

    def __init__(self, expected=(), budget=True):
        self.expected = list(expected)
        self.budget = budget
        self.checks = 0
        self.gap = POLL_FIRST

    def next_check(self, now):
        """The offset of the next check, `now` being the current offset (the previous check is done)."""
        self.checks += 1
        if self.expected:
            wanted = self.expected.pop(0)
        else:
            wanted = now + self.gap
            self.gap = min(POLL_MAX, self.gap * POLL_GROWTH)
        earliest = self.checks * POLL_PACE if self.budget else 0.0
        return max(wanted, earliest, now)


class CompletionClock(object):
    """When one bot's chats end, learnt from its recent chats: after `low`, by `high` seconds.

    Each polled chat narrows (low, high]: it was still running at one check and done at the
    next. While the window is wide, the next chat is first checked a quarter of the way below
    `high` (a probe that may find it done earlier); once it is narrow, checked just after `high`.
    A chat outside the window (the bot got faster or slower) starts a new window.
    """

    def __init__(self):
        self.low, self.high = 0.0, None
        self._lock = threading.Lock()  # a batch shares one Client between threads

    def expected(self):
        """Offsets at which to check the next chat (see PollPlan); none before the first chat."""
        with self._lock:
            low, high = self.low, self.high
        if high is None:
            return []
        if high - low > POLL_SETTLED:
            return [high - (high - low) / 4.0, high]
        if high + POLL_MARGIN >= 2 * POLL_PACE:  # a second check may follow at once: first try `high` itself
            return [high, high + POLL_MARGIN]
        return [high + POLL_MARGIN]  # one check only before the SDK's second: make it a sure one

    def learn(self, running, done, server_bound=None):
        """A chat was still running at offset `running` and done at offset `done`. `server_bound`
        (completed_at - created_at + 1, whole seconds from the service) also bounds its length:
        it is how a bot that became much faster shows when its first check already finds it done."""
        if server_bound is not None and running < server_bound < done:
            done = server_bound
        with self._lock:
            if self.high is None or done <= self.low or running >= self.high:
                # the first chat, or one outside the window: a new window, wide enough to probe again
                self.low, self.high = min(running, done - 2 * POLL_SETTLED), done
            else:
                self.low, self.high = max(self.low, running), min(self.high, done)


def server_length_bound(chat):
    """Seconds a finished chat surely took less than, from the service's own whole-second
    created_at / completed_at (no clock of ours involved); None when they are missing."""
    try:
        return float(int(chat["completed_at"]) - int(chat["created_at"]) + 1)
    except (KeyError, TypeError, ValueError):
        return None

"""Timeouts and retries as objects (after urllib3's Timeout and Retry).

A Transport is given a RetryPolicy and its backend a Timeouts; left out, they use DEFAULT_RETRY and
DEFAULT_TIMEOUTS. A field left at None reads the module-level default (BACKOFF_BASE, ...) when it is
used, so a test or a user may change one default, or replace a default policy object, or pass
their own policy to one Client.
"""
CONNECT_TIMEOUT = 10.0   # seconds to open a connection
READ_TIMEOUT = 60.0      # seconds of silence we accept while waiting for bytes
CLOSE_GRACE = 0.05       # a stream left at its terminal event may finish this fast: its connection is reused
MAX_RETRIES = 4          # retries after the first attempt
BACKOFF_BASE = 0.5       # first retry waits about this long, then doubles
BACKOFF_CAP = 8.0        # no single wait is longer (unless the server's Retry-After says so)
RETRY_AFTER_CAP = 30.0   # a server's Retry-After is followed up to this many seconds


class Timeouts(object):
    """connect: seconds to open a connection; read: seconds of silence accepted between bytes
    (the caller's deadline also bounds every wait); close_grace: how long a stream left at its
    terminal event may read on so its connection can be reused."""

    def __init__(self, connect=None, read=None, close_grace=None):
        self._connect, self._read, self._close_grace = connect, read, close_grace

    @property
    def connect(self):
        return CONNECT_TIMEOUT if self._connect is None else self._connect

    @property
    def read(self):
        return READ_TIMEOUT if self._read is None else self._read

    @property
    def close_grace(self):
        return CLOSE_GRACE if self._close_grace is None else self._close_grace

    def __repr__(self):
        return "Timeouts(connect=%r, read=%r, close_grace=%r)" % (self.connect, self.read, self.close_grace)


class RetryPolicy(object):
    """max_retries: retries after the first attempt; backoff_base: the first wait, doubling up to
    backoff_cap, each with jitter; retry_after_cap: the longest Retry-After we follow."""

    def __init__(self, max_retries=None, backoff_base=None, backoff_cap=None, retry_after_cap=None):
        self._max_retries, self._base = max_retries, backoff_base
        self._cap, self._after_cap = backoff_cap, retry_after_cap

    @property
    def max_retries(self):
        return MAX_RETRIES if self._max_retries is None else self._max_retries

    def with_max_retries(self, max_retries):
        """The same policy with another number of retries (None keeps this one's)."""
        return self if max_retries is None else self.replace(max_retries=max_retries)

    def replace(self, max_retries=None, backoff_base=None, backoff_cap=None, retry_after_cap=None):
        """A copy with the given fields changed."""
        def pick(new, old):
            return old if new is None else new
        return RetryPolicy(pick(max_retries, self._max_retries), pick(backoff_base, self._base),
                           pick(backoff_cap, self._cap), pick(retry_after_cap, self._after_cap))

    def delay(self, attempt, retry_after=None):
        """Exponential backoff with jitter; the server's Retry-After wins when it is longer."""
        import random  # imported on first use: keeps importing the module fast
        base = BACKOFF_BASE if self._base is None else self._base
        cap = BACKOFF_CAP if self._cap is None else self._cap
        delay = min(cap, base * (2 ** attempt)) * random.uniform(0.5, 1.0)
        if retry_after:
            after_cap = RETRY_AFTER_CAP if self._after_cap is None else self._after_cap
            try:
                delay = max(delay, min(float(retry_after), after_cap))
            except (TypeError, ValueError):
                pass
        return delay

    def __repr__(self):
        return "RetryPolicy(max_retries=%r)" % self.max_retries


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()

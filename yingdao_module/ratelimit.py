"""Rate limits: sliding windows for qps / qpm and a daily count for qpd.

The service counts the calls it received in the last second / minute; we count the calls
we started, with a small margin for the network, so a batch runs at the cap without being
rejected (4020) and without wasting retries.
"""
import collections
import threading
import time

WINDOW_MARGIN = 0.025  # seconds added to each window: arrival times jitter a little


class RateLimiter(object):
    """acquire() blocks until one more call may start; False once qpd is used up or stopped."""

    def __init__(self, qps=None, qpm=None, qpd=None):
        self.windows = []
        for limit, seconds in ((qps, 1.0), (qpm, 60.0)):
            if limit:
                whole = max(1, int(limit))  # 0.5 per second = 1 per 2 s; 2.5 per second = 2 per 0.8 s
                self.windows.append((whole, seconds * whole / float(limit) + WINDOW_MARGIN, collections.deque()))
        self.qpd = int(qpd) if qpd else None
        self.started_today = 0
        self._lock = threading.Lock()

    def acquire(self, stop=None):
        while True:
            with self._lock:
                if self.qpd is not None and self.started_today >= self.qpd:
                    return False
                now = time.monotonic()
                wait = 0.0
                for limit, seconds, starts in self.windows:
                    while starts and now - starts[0] >= seconds:
                        starts.popleft()
                    if len(starts) >= limit:
                        wait = max(wait, seconds - (now - starts[len(starts) - limit]))
                if wait <= 0:
                    for _, _, starts in self.windows:
                        starts.append(now)
                    self.started_today += 1
                    return True
            if stop is not None and stop.wait(min(wait, 0.5)):
                return False
            if stop is None:
                time.sleep(wait)

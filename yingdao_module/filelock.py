"""File locks between processes: fcntl.flock on POSIX, msvcrt.locking on Windows.

The operating system drops a lock when its process dies (even kill -9 or a power cut), so a
crash never leaves a table or a rate-limit state locked. The lock file stays on disk; it
holds a line saying who locked it last (pid, computer, start time), never a secret.
"""
import json
import os
import time

WINDOWS_LOCK_OFFSET = 1 << 30  # msvcrt locks bytes: lock one far past the owner text, so it stays readable


def _lock(handle, blocking):
    """Lock an open file; OSError when another process holds it and blocking is False."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        handle.seek(WINDOWS_LOCK_OFFSET)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                if not blocking:
                    raise
                time.sleep(0.5)
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def _unlock(handle):
    try:
        import fcntl
    except ImportError:
        import msvcrt
        handle.seek(WINDOWS_LOCK_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class FileLock(object):
    """An exclusive lock held through `path`; also usable as a context manager (blocking)."""

    def __init__(self, path):
        self.path = path
        self._handle = None

    def acquire(self, blocking=True):
        """True once held; False when another process holds it and blocking is False."""
        handle = open(self.path, "a+b")
        try:
            _lock(handle, blocking)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self):
        if self._handle is not None:
            try:
                _unlock(self._handle)
            except OSError:
                pass
            self._handle.close()
            self._handle = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    # -- who holds it (for messages) -------------------------------------------------------------
    def write_owner(self):
        """Record this process as the holder: pid, computer name, start time."""
        import socket  # on first use: importing the module stays fast
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.write(json.dumps(owner, ensure_ascii=False).encode("utf-8"))
            self._handle.flush()
        except OSError:
            pass  # only used in messages: a full disk must not stop the lock from working

    def owner(self):
        """{pid, host, started} of the holder as it wrote them, or {} when not (yet) known."""
        for _ in range(10):  # the holder writes its line right after locking
            try:
                with open(self.path, "rb") as handle:
                    owner = json.loads(handle.read(4096).decode("utf-8"))
                if isinstance(owner, dict):
                    return owner
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        return {}

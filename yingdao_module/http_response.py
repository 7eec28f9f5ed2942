"""One HTTP response read within the caller's deadline, without a helper thread.

A socket timeout bounds each receive, not their sum: a server trickling its headers a byte at a
time would outlast any timeout. So the response reads its socket through DeadlineReader, which
sets the time left before the deadline as the socket's timeout before every receive: the status
line, the headers and every body read together end at the deadline. Both backends have an
http.client response underneath whose class is deadline_response_class().
"""
import io
import threading
import time
import zlib

from .errors import CozeTimeoutError, NetworkError
from .policy import DEFAULT_TIMEOUTS

READ_SIZE = 65536        # at most this much per read; a read returns whatever has arrived
SEND_BLOCK = 16384       # a body is sent in blocks of this much (one TLS record), each within the time left
_sending = threading.local()  # .deadline and .idle of the request this thread is sending now
_response_classes = []   # the http.client response class, made on first use


def deadline_error(logid=None):
    return CozeTimeoutError("等待扣子回复超时(超过 timeout 设定的秒数):可把 timeout 调大", logid=logid)


def time_left(deadline, logid=None, idle=None):
    """Seconds we may still wait for one read; raises CozeTimeoutError once the deadline passed."""
    idle = DEFAULT_TIMEOUTS.read if idle is None else idle
    if deadline is None:
        return idle
    left = deadline - time.monotonic()
    if left <= 0:
        raise deadline_error(logid)
    return min(idle, left)


def is_timeout(exc):
    return "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()


def body_decoder(encoding):
    """A function bytes -> pieces of bytes (each at most READ_SIZE: a compressed chunk can inflate
    1000 times) undoing Content-Encoding (b"" flushes), or None for identity."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)

        def decode(data):
            if not data:
                yield inflater.flush()
                return
            while data:
                yield inflater.decompress(data, READ_SIZE)
                data = inflater.unconsumed_tail
        return decode
    return None


class DeadlineReader(io.RawIOBase):
    """A socket read so that no receive waits past `deadline` (time.monotonic()) or longer than
    `idle` seconds; the socket's own timeout is put back after each receive (the connection
    sends its next request with it)."""

    def __init__(self, sock, deadline=None, idle=None):
        io.RawIOBase.__init__(self)
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)  # keeps the socket open while this response reads
        self.deadline = deadline
        self.idle = idle

    def readable(self):
        return True

    def readinto(self, buffer):
        idle = DEFAULT_TIMEOUTS.read if self.idle is None else self.idle
        wait = idle if self.deadline is None else min(idle, self.deadline - time.monotonic())
        if wait <= 0:
            import socket  # only here: importing the module stays fast
            raise socket.timeout("deadline passed")
        previous = self._sock.gettimeout()
        self._sock.settimeout(wait)
        try:
            return self._io.readinto(buffer)
        finally:
            try:
                self._sock.settimeout(previous)
            except OSError:
                pass  # the connection was closed meanwhile

    def close(self):
        if not self.closed:
            self._io.close()
        io.RawIOBase.close(self)


def send_within(connection, data, send):
    """http.client's `send` (the unbound method) for the request this thread is sending, in blocks
    each bounded by the time left: a socket timeout bounds a whole sendall, so the connection's own
    timeout (its connect timeout, or a short deadline of an earlier request) would cap a large
    upload. Both backends' connections send through here."""
    if connection.sock is None and getattr(connection, "auto_open", 0):
        connection.connect()  # http.client connects on the first send
    deadline = getattr(_sending, "deadline", None)
    idle = getattr(_sending, "idle", None)
    idle = DEFAULT_TIMEOUTS.read if idle is None else idle
    sized = isinstance(data, (bytes, bytearray))
    view = memoryview(data) if sized and len(data) > SEND_BLOCK else None
    for at in range(0, len(view), SEND_BLOCK) if view is not None else (0,):
        wait = idle if deadline is None else min(idle, deadline - time.monotonic())
        if wait <= 0:
            import socket
            raise socket.timeout("deadline passed")
        if connection.sock is not None:
            connection.sock.settimeout(wait)
        send(connection, view[at:at + SEND_BLOCK] if view is not None else data)


def deadline_response_class():
    """http.client.HTTPResponse reading through a DeadlineReader set from the request this
    thread is sending (sending_with); made on first use, as http.client costs import time."""
    if not _response_classes:
        import http.client

        class DeadlineResponse(http.client.HTTPResponse):
            def __init__(self, sock, *args, **kwargs):
                http.client.HTTPResponse.__init__(self, sock, *args, **kwargs)
                self.fp.close()
                self.fp = io.BufferedReader(DeadlineReader(sock, getattr(_sending, "deadline", None),
                                                           getattr(_sending, "idle", None)))
        _response_classes.append(DeadlineResponse)
    return _response_classes[0]


def current_deadline():
    """The deadline of the request this thread is sending (None: none, or not sending)."""
    return getattr(_sending, "deadline", None)


class sending_with(object):
    """`with sending_with(deadline, idle):` the responses this thread opens meanwhile read within them."""

    def __init__(self, deadline, idle):
        self.values = (deadline, idle)

    def __enter__(self):
        _sending.deadline, _sending.idle = self.values

    def __exit__(self, *exc_info):
        _sending.deadline = _sending.idle = None


class HttpResponse(object):
    """Status, lower-cased headers, and a body read as it arrives within the deadline.

    `raw` is the http.client response (a DeadlineResponse) under both backends; `finish(complete)`
    hands the connection back (complete) or closes it. `grace`: how long close() may read on to
    finish the body so the connection can be reused.
    """

    def __init__(self, status, headers, raw, deadline, finish, grace=0.0, idle=None):
        self.status = status
        self.headers = headers
        self._raw = raw
        self._deadline = deadline
        self._finish = finish
        self._grace = grace
        self._idle = DEFAULT_TIMEOUTS.read if idle is None else idle
        self._complete = False
        self._closed = False

    @property
    def logid(self):
        return self.headers.get("x-tt-logid")

    @property
    def is_event_stream(self):
        return "text/event-stream" in self.headers.get("content-type", "")

    def _read_some(self):
        """One read of whatever has arrived (b"" at the end), bounded by the time left."""
        time_left(self._deadline, self.logid, self._idle)
        reader = getattr(getattr(self._raw, "fp", None), "raw", None)
        if isinstance(reader, DeadlineReader):
            reader.deadline, reader.idle = self._deadline, self._idle
        try:
            return self._raw.read1(READ_SIZE)
        except Exception as exc:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise deadline_error(self.logid)
            if is_timeout(exc):
                raise NetworkError("扣子 %d 秒没有发来任何数据,连接已放弃:会自动重试" % self._idle, logid=self.logid)
            raise NetworkError("读取扣子的回复时连接中断(%s):会自动重试" % type(exc).__name__, logid=self.logid)

    def chunks(self):
        """The body in pieces as they arrive (decoded when the server compressed it)."""
        decode = body_decoder(self.headers.get("content-encoding"))
        while True:
            data = self._read_some()
            if not data:
                break
            if decode is None:
                yield data
                continue
            for piece in self._decoded(decode, data):
                yield piece
        self._complete = True
        if decode is not None:
            for piece in self._decoded(decode, b""):
                yield piece

    def _decoded(self, decode, data):
        """The non-empty pieces of `data` decoded, one at a time."""
        try:
            for piece in decode(data):
                if piece:
                    yield piece
        except zlib.error:
            raise NetworkError("扣子返回的压缩内容无法解压:会自动重试", logid=self.logid)

    def read(self):
        return b"".join(self.chunks())

    def close(self):
        if self._closed:
            return
        self._closed = True
        if not self._complete and self._grace:  # e.g. the `done` after chat.completed: usually already here
            self._deadline = min(self._deadline or float("inf"), time.monotonic() + self._grace)
            try:
                for _ in self.chunks():
                    pass
            except Exception:
                pass  # a server holding the stream open: the connection is closed, not waited for
        try:
            self._finish(self._complete)
        except Exception:
            pass

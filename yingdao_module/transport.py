"""HTTP transport: `requests` when it is importable, the standard library's urllib when not.

Both backends share one base class and behave the same: the caller's deadline bounds the wait
for the response head and every socket read of the body (a server that trickles bytes cannot
hold a call past its `timeout`), bodies are read as bytes arrive (no 8 KB buffering of event
streams), an unrequested gzip body is decoded, redirects never carry the token to another host,
and a certificate failure says so.
Above them, Transport builds the Authorization header (in one place), adds the Coze envelope
({code, msg, data, detail.logid}), retries with backoff and jitter what is worth retrying,
and opens event streams (`open_stream`) for chats and workflows.
"""
import json
import os
import random
import threading
import time
import urllib.parse
import zlib

from .errors import AuthError, BadResponseError, CertificateError, CozeError, CozeTimeoutError, NetworkError, error_for_code, error_for_http_status
from .log import log
from .sse import iter_sse_events, sse_json

_requests_module = []  # filled on first use: importing requests costs ~100 ms, too much at import time


def optional_requests():
    """The `requests` module when importable (a ShadowBot venv may not have it), else None."""
    if not _requests_module:
        try:
            import requests
        except Exception:
            requests = None
        _requests_module.append(requests)
    return _requests_module[0]

USER_AGENT = "yingdao-coze/0.1"
CONNECT_TIMEOUT = 10.0   # seconds to open a connection
READ_TIMEOUT = 60.0      # seconds of silence we accept while waiting for bytes
MAX_RETRIES = 4          # retries after the first attempt
BACKOFF_BASE = 0.5       # first retry waits about this long, then doubles
BACKOFF_CAP = 8.0        # no single wait is longer (unless the server's Retry-After says so)
RETRY_AFTER_CAP = 30.0
REJECTED_TOKEN_CODES = (4100, 700012006)  # the service no longer accepts this access token
MAX_REDIRECTS = 3        # Coze does not redirect its API; a few same-host hops are tolerated
READ_SIZE = 65536        # at most this much per read; a read returns whatever has arrived
CLOSE_GRACE = 0.05       # a stream left at its terminal event may finish this fast: its connection is reused
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CA_FILE_VARIABLES = ("COZE_CA_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def ca_file():
    """The PEM bundle to trust instead of the default one, from the environment (or None)."""
    for name in CA_FILE_VARIABLES:
        value = (os.environ.get(name) or "").strip()
        if value:
            return value
    return None


def origin(url):
    """(scheme, host, port) of a URL, the default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def deadline_error(logid=None):
    return CozeTimeoutError("等待扣子回复超时(超过 timeout 设定的秒数):可把 timeout 调大", logid=logid)


def time_left(deadline, logid=None):
    """Seconds we may still wait for one read; raises CozeTimeoutError once the deadline passed."""
    if deadline is None:
        return READ_TIMEOUT
    left = deadline - time.monotonic()
    if left <= 0:
        raise deadline_error(logid)
    return min(READ_TIMEOUT, left)


def body_decoder(encoding):
    """A function bytes -> bytes undoing Content-Encoding (b"" flushes), or None for identity."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)
        return lambda data: inflater.decompress(data) if data else inflater.flush()
    return None


class HttpResponse(object):
    """Status, lower-cased headers, and a body read as it arrives within the deadline.

    `raw` is the standard library's http.client.HTTPResponse (both backends have one
    underneath); `finish(complete)` hands the connection back (complete) or closes it.
    `grace`: how long close() may read on to finish the body so the connection can be reused.
    """

    def __init__(self, status, headers, raw, deadline, finish, grace=0.0):
        self.status = status
        self.headers = headers
        self._raw = raw
        self._deadline = deadline
        self._finish = finish
        self._grace = grace
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
        wait = time_left(self._deadline, self.logid)
        fp = getattr(self._raw, "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)  # the socket under the buffered reader
        if sock is not None:
            sock.settimeout(max(0.01, wait))
        try:
            return self._raw.read1(READ_SIZE)
        except Exception as exc:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise deadline_error(self.logid)
            if is_timeout(exc):
                raise NetworkError("扣子 %d 秒没有发来任何数据,连接已放弃:会自动重试" % READ_TIMEOUT, logid=self.logid)
            raise NetworkError("读取扣子的回复时连接中断(%s):会自动重试" % type(exc).__name__, logid=self.logid)

    def chunks(self):
        """The body in pieces as they arrive (decoded when the server compressed it)."""
        decode = body_decoder(self.headers.get("content-encoding"))
        while True:
            data = self._read_some()
            if not data:
                break
            if decode is not None:
                data = self._decoded(decode, data)
            if data:
                yield data
        self._complete = True
        if decode is not None:
            tail = self._decoded(decode, b"")
            if tail:
                yield tail

    def _decoded(self, decode, data):
        try:
            return decode(data)
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


def is_timeout(exc):
    return "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()


def exception_chain(exc, limit=8):
    """`exc` and what it wraps (reason, args[0], cause, context): requests and urllib nest the ssl error."""
    seen = 0
    while exc is not None and seen < limit:
        yield exc
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            args = getattr(exc, "args", ())
            inner = args[0] if args and isinstance(args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
        seen += 1


def is_certificate_failure(exc):
    """True when `exc` (or what it wraps) is a failed TLS certificate check."""
    for inner in exception_chain(exc):
        text = "%s %r" % (inner, inner)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
            return True
        if type(inner).__name__ == "SSLCertVerificationError":
            return True
    return False


# what OpenSSL says when the other side answers a TLS hello in plain HTTP
PLAIN_HTTP_MARKERS = ("WRONG_VERSION_NUMBER", "wrong version number", "packet length too long", "RECORD_LAYER_FAILURE")


def is_plain_http_reply(exc, url):
    """True when an https:// request failed because the server speaks plain HTTP."""
    if not url.lower().startswith("https://"):
        return False
    return any(marker in "%s %r" % (inner, inner) for inner in exception_chain(exc) for marker in PLAIN_HTTP_MARKERS)


def network_error_for(exc, url):
    """Turn a failure to get an answer into a NetworkError whose text names no secret."""
    name = type(exc).__name__
    if is_certificate_failure(exc):
        host = origin(url)[1]
        return CertificateError(
            "证书校验失败:连接 %s 时对方的 HTTPS 证书不被信任(%s)。公司网络的代理常会替换证书:向 IT 要代理的根证书"
            "(PEM 格式),把文件路径设到环境变量 COZE_CA_FILE 后重新运行(证书问题重试也没用,所以这次没有重试)"
            % (host, name))
    if is_plain_http_reply(exc, url):
        host = urllib.parse.urlsplit(url).netloc
        err = NetworkError("地址 %s 是普通 http,不是 https:请把 base_url 写成 http://%s(本机模拟器、私有部署常是这样);"
                           "如果用了代理,检查 HTTPS_PROXY(这个问题重试也没用,所以这次没有重试)" % (host, host))
        err.retryable, err.fatal = False, True
        return err
    if is_timeout(exc):
        return NetworkError("连接扣子超时(%s):检查网络或代理,会自动重试" % name)
    return NetworkError("连接扣子失败(%s):检查网络、代理或 base_url,会自动重试" % name)


# ---- helper threads ---------------------------------------------------------------------------
# A request waits for its response head on a helper thread (see HttpBackend._open_by). Starting a
# thread costs about a millisecond, so finished helpers park and take the next request; a helper
# idle for HELPER_IDLE seconds ends. One abandoned on a hostile server simply never parks again.

HELPER_IDLE = 30.0
_parked_helpers = []  # the inboxes (queue.Queue) of helpers waiting for work
_parked_lock = threading.Lock()


def run_on_helper(job):
    """Run job() on a parked helper thread, or on a new one when none is free."""
    with _parked_lock:
        inbox = _parked_helpers.pop() if _parked_helpers else None
    if inbox is None:
        import queue
        inbox = queue.Queue()
        threading.Thread(target=_helper_loop, args=(inbox,), name="coze-http", daemon=True).start()
    inbox.put(job)


def _helper_loop(inbox):
    import queue
    while True:
        try:
            job = inbox.get(timeout=HELPER_IDLE)
        except queue.Empty:
            with _parked_lock:
                if inbox in _parked_helpers:
                    _parked_helpers.remove(inbox)
                    return
            continue  # handed a job just as the wait ended: it is in the inbox now
        job()
        with _parked_lock:
            _parked_helpers.append(inbox)


class HttpBackend(object):
    """What both backends share: deadlines, redirects, error mapping. A subclass only opens
    one request and returns (status, headers, raw http.client response, finish)."""
    name = "?"
    keeps_connections = False  # a finished response hands its connection back for the next request

    def send(self, method, url, headers, body, deadline=None):
        """An HttpResponse; same-origin redirects are followed a few times, others refused."""
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send_once(method, url, headers, body, deadline)
            if resp.status not in REDIRECT_STATUSES:
                return resp
            target = urllib.parse.urljoin(url, resp.headers.get("location") or "")
            resp.close()
            if origin(target) != origin(url):
                err = NetworkError("扣子的地址把请求重定向到了另一个地址 %s;为保护令牌没有跟过去:检查 base_url 是否"
                                   "填对(https://api.coze.cn 或 https://api.coze.com),以及代理是否改写了地址"
                                   % target, logid=resp.logid)
                err.retryable = False
                raise err
            url = target
        err = NetworkError("扣子的地址重定向次数太多(超过 %d 次):检查 base_url 和代理设置" % MAX_REDIRECTS)
        err.retryable = False
        raise err

    def _send_once(self, method, url, headers, body, deadline):
        wait = time_left(deadline)
        try:
            status, response_headers, raw, finish = self._open_by(deadline, method, url, headers, body,
                                                                  min(CONNECT_TIMEOUT, wait), wait)
        except CozeError:
            raise
        except Exception as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise deadline_error()
            raise network_error_for(exc, url)
        headers = dict((k.lower(), v) for k, v in response_headers.items())
        return HttpResponse(status, headers, raw, deadline, finish, CLOSE_GRACE if self.keeps_connections else 0.0)

    def _open_by(self, deadline, *request):
        """_open, given up at the deadline. A socket timeout bounds each read of the status line
        and headers, not their sum: a server sending them a byte at a time would outlast any
        timeout. So the request waits on a helper thread; a response that comes too late is closed."""
        if deadline is None:
            return self._open(*request)
        lock, ready, outcome = threading.Lock(), threading.Event(), {}

        def run():
            try:
                result = (True, self._open(*request))
            except BaseException as exc:  # handed to the caller below
                result = (False, exc)
            with lock:
                if "abandoned" in outcome:
                    if result[0]:
                        try:
                            result[1][3](False)  # nobody will read it: close the connection
                        except Exception:
                            pass  # closing a connection nobody uses: nothing to report
                    return
                outcome["result"] = result
            ready.set()

        run_on_helper(run)
        try:
            ready.wait(max(0.0, deadline - time.monotonic()))
        finally:
            with lock:
                if "result" not in outcome:
                    outcome["abandoned"] = True
        if "result" not in outcome:
            raise deadline_error()
        ok, value = outcome["result"]
        if not ok:
            raise value
        return value

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        raise NotImplementedError

    def close(self):
        """Release pooled connections."""


class RequestsBackend(HttpBackend):
    """Keep-alive sessions from `requests`, one per thread (batch runs threads). Proxies come
    from the environment (HTTPS_PROXY, NO_PROXY) through requests' trust_env."""
    name = "requests"
    keeps_connections = True

    def __init__(self):
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = optional_requests().Session()
            session.trust_env = True
            with self._lock:
                self._sessions.append(session)
        return session

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        resp = self._session().request(method, url, headers=headers, data=body, stream=True,
                                       timeout=(connect_timeout, read_timeout), allow_redirects=False,
                                       verify=ca_file() or True)
        raw = resp.raw._fp  # urllib3 keeps the http.client response here; we read it ourselves

        def finish(complete):
            if complete:
                raw.read()  # lets http.client mark the exchange done so the connection is reusable
                resp.raw.release_conn()
            else:
                resp.close()  # unread bytes remain: this connection must not be reused
        return resp.status_code, resp.headers, raw, finish

    def close(self):
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            try:
                session.close()
            except Exception:
                pass


class UrllibBackend(HttpBackend):
    """The standard library only: works in any ShadowBot venv. Proxies from the environment
    (ProxyHandler honours HTTPS_PROXY and NO_PROXY), redirects left to HttpBackend.send."""
    name = "urllib"

    def __init__(self):
        self._opener = None
        self._opener_for = None  # (CA file, proxies) the opener was built with

    def _current_opener(self):
        """An opener for the CA file and proxies the environment names now (they may be set late)."""
        import urllib.request
        key = (ca_file(), tuple(sorted(urllib.request.getproxies().items())))
        if key != self._opener_for:
            self._opener, self._opener_for = self._build_opener(), key
        return self._opener

    def _build_opener(self):
        import ssl  # imported on first use: keeps importing the module fast
        import urllib.request

        class RefuseRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None  # HttpBackend.send decides: the token never follows to another host

        context = ssl.create_default_context(cafile=ca_file())
        return urllib.request.build_opener(urllib.request.ProxyHandler(),
                                           urllib.request.HTTPSHandler(context=context), RefuseRedirects())

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        import urllib.error
        import urllib.request
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            resp = self._current_opener().open(request, timeout=read_timeout)
            raw = resp
        except urllib.error.HTTPError as err:  # 4xx/5xx/30x still carry a body worth reading
            resp, raw = err, err.fp
        status = getattr(resp, "status", None) or resp.getcode()
        return status, resp.headers, raw, lambda complete: resp.close()


def choose_backend(name=None):
    """'requests' or 'urllib'; default: requests when importable (env COZE_HTTP_BACKEND overrides)."""
    name = name or os.environ.get("COZE_HTTP_BACKEND") or "requests"
    if name == "requests" and optional_requests() is not None:
        return RequestsBackend()
    return UrllibBackend()


def backoff_delay(attempt, retry_after=None):
    """Exponential backoff with jitter; the server's Retry-After wins when it is longer."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt)) * random.uniform(0.5, 1.0)
    if retry_after:
        try:
            delay = max(delay, min(float(retry_after), RETRY_AFTER_CAP))
        except (TypeError, ValueError):
            pass
    return delay


def with_retries(action, what, deadline=None, max_retries=MAX_RETRIES):
    """Run `action()`; on a retryable CozeError wait and try again, never past `deadline`."""
    attempt = 0
    while True:
        try:
            return action()
        except CozeError as err:
            if not err.retryable:
                raise
            if attempt >= max_retries:
                raise err.after_retries("已自动重试 %d 次仍失败,请稍后再试" % attempt if attempt else "请稍后再试")
            delay = backoff_delay(attempt, err.retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise err.after_retries("等待时间 timeout 已用完,不再重试")
            attempt += 1
            log("%s失败:%s;%.1f 秒后第 %d 次重试" % (what, err.message, delay, attempt))
            time.sleep(delay)


def json_object_of(resp, base_url):
    """The JSON object a response carries; an empty or garbled body raises the right CozeError."""
    raw = resp.read()
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if resp.status >= 400:
            raise error_for_http_status(resp.status, resp.logid, base_url, resp.headers.get("retry-after"))
        raise NetworkError("扣子返回的内容无法解析(HTTP %s,不是 JSON):会自动重试" % resp.status, logid=resp.logid)
    return body


def envelope_of(resp, base_url):
    """Parse a Coze JSON envelope; raise the matching CozeError when it carries an error."""
    body = json_object_of(resp, base_url)
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    logid = resp.logid or detail.get("logid")
    code = body.get("code", 0)
    if code not in (0, None, "0"):
        err = error_for_code(code, body.get("msg") if isinstance(body.get("msg"), str) else "", logid, base_url)
        err.retry_after = resp.headers.get("retry-after")
        raise err
    if resp.status >= 400:
        raise error_for_http_status(resp.status, logid, base_url, resp.headers.get("retry-after"))
    body["logid"] = logid
    return body


def id_of(envelope, what):
    """`data.id` of an envelope as text; a missing id is a wrong-shaped body, never the text "None"."""
    data = envelope.get("data")
    value = data.get("id") if isinstance(data, dict) else None
    if value in (None, ""):
        raise BadResponseError("扣子返回的%s结果里没有 id(格式不对):请稍后重试,反复出现请把 logid 发给扣子客服" % what,
                               logid=envelope.get("logid"))
    return str(value)


class EventStream(object):
    """One open event stream: iterate for (event, data) pairs, data JSON-decoded when it is
    JSON. Stop iterating at the terminal event and close (or leave the `with` block): the
    rest of the stream is never waited for."""

    def __init__(self, resp):
        self._resp = resp
        self.logid = resp.logid

    def __iter__(self):
        for event, text in iter_sse_events(self._resp.chunks()):
            yield event, sse_json(text)

    def close(self):
        self._resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Transport(object):
    """Sends requests to one Coze host. The Authorization header comes from `auth` (a static
    token or a JWT service app, see auth.py); its repr never shows the token."""

    def __init__(self, base_url, auth, backend=None, max_retries=MAX_RETRIES, before_request=None):
        self.base_url = base_url
        self.auth = auth
        self.backend = backend if hasattr(backend, "send") else choose_backend(backend)
        self.max_retries = max_retries
        self.before_request = before_request  # called as (method, path) before every request: a rate limiter

    def __repr__(self):
        return "Transport(base_url=%r, backend=%r, token=<隐藏>)" % (self.base_url, self.backend.name)

    def open(self, method, path, params=None, body=None, content_type="application/json",
             accept="application/json", deadline=None):
        """One HTTP request (no retry). `body` is a dict (sent as JSON) or bytes."""
        if self.before_request is not None:
            self.before_request(method, path)
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(dict((k, v) for k, v in params.items() if v is not None))
        headers = {"Authorization": self.auth.authorization(self, deadline), "User-Agent": USER_AGENT, "Accept": accept,
                   "Accept-Encoding": "identity"}
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if body is not None:
            headers["Content-Type"] = content_type
        return self.backend.send(method, url, headers, body, deadline)

    def open_stream(self, method, path, params=None, body=None, deadline=None, what="流式回复"):
        """Send a request answered by server-sent events; an EventStream to iterate.

        An error answered before the stream starts (a JSON envelope) raises here; a refused
        access token is renewed once, as in call()."""
        def start():
            resp = self.open(method, path, params, body, accept="text/event-stream, application/json",
                             deadline=deadline)
            if resp.status < 400 and resp.is_event_stream:
                return EventStream(resp)
            try:
                envelope_of(resp, self.base_url)
            finally:
                resp.close()
            raise NetworkError("扣子没有返回%s:会自动重试" % what, logid=resp.logid)
        return self.with_fresh_auth(start)

    def call(self, method, path, params=None, body=None, content_type="application/json",
             deadline=None, retry=True, what="请求扣子"):
        """Request + envelope, with retries for network errors, 429/5xx and busy codes."""
        def once():
            resp = self.open(method, path, params, body, content_type, deadline=deadline)
            try:
                return envelope_of(resp, self.base_url)
            finally:
                resp.close()

        def attempt():
            return self.with_fresh_auth(once)
        if not retry:
            return attempt()
        return with_retries(attempt, what, deadline, self.max_retries)

    def with_fresh_auth(self, action):
        """Run `action()`. When the service refuses an exchanged access token (revoked, clock
        skew), exchange a new one and run `action()` once more; a second refusal is final."""
        try:
            return action()
        except AuthError as err:
            if not self.auth.renewable or err.code not in REJECTED_TOKEN_CODES:
                raise
            log("扣子不再接受当前的访问令牌(错误码 %s):重新换取令牌后再试一次" % err.code)
            self.auth.invalidate()
        try:
            return action()
        except AuthError as err:
            if err.code in REJECTED_TOKEN_CODES:
                raise self.auth.still_rejected(err)
            raise

    def close(self):
        self.backend.close()

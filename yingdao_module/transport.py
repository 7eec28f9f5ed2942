"""HTTP transport: `requests` when it is importable, the standard library's urllib when not.

Both backends behave the same: same timeouts, same errors (NetworkError for anything that
is not a usable HTTP answer), same line-by-line reading of event streams. Above them,
Transport adds the Coze envelope ({code, msg, data, detail.logid}) and retries with
exponential backoff and jitter for what is worth retrying.
"""
import json
import os
import random
import threading
import time
import urllib.parse

from .errors import AuthError, CozeError, NetworkError, error_for_code, error_for_http_status
from .log import log

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


class HttpResponse(object):
    """What both backends return: status, lower-cased headers, body or lines."""

    def __init__(self, status, headers, read, chunks, close):
        self.status = status
        self.headers = headers
        self._read = read
        self._chunks = chunks
        self._close = close

    @property
    def logid(self):
        return self.headers.get("x-tt-logid")

    @property
    def is_event_stream(self):
        return "text/event-stream" in self.headers.get("content-type", "")

    def read(self):
        try:
            return self._read()
        except Exception as exc:
            raise NetworkError("读取扣子的回复时连接中断(%s):会自动重试" % type(exc).__name__, logid=self.logid)

    def iter_lines(self):
        """Decoded lines without line endings; a broken connection raises NetworkError."""
        pending = b""
        try:
            for chunk in self._chunks():
                pending += chunk
                while True:
                    cut = pending.find(b"\n")
                    if cut < 0:
                        break
                    line, pending = pending[:cut], pending[cut + 1:]
                    yield line.rstrip(b"\r").decode("utf-8", "replace")
        except Exception as exc:
            raise NetworkError("扣子的流式回复中途断开(%s)" % type(exc).__name__, logid=self.logid)
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")

    def close(self):
        try:
            self._close()
        except Exception:
            pass


class RequestsBackend(object):
    """Keep-alive sessions from `requests`, one per thread (batch runs threads)."""
    name = "requests"

    def __init__(self):
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = optional_requests().Session()
            session.trust_env = True
        return session

    def send(self, method, url, headers, body, timeout, stream):
        try:
            resp = self._session().request(method, url, headers=headers, data=body, stream=stream,
                                           timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                                           allow_redirects=False)
        except Exception as exc:
            raise network_error_for(exc)
        return HttpResponse(
            resp.status_code, dict((k.lower(), v) for k, v in resp.headers.items()),
            read=lambda: resp.content,
            chunks=lambda: resp.iter_content(chunk_size=8192),
            close=resp.close)


class UrllibBackend(object):
    """The standard library only: works in any ShadowBot venv."""
    name = "urllib"

    def send(self, method, url, headers, body, timeout, stream):
        import urllib.error  # imported on first use: keeps importing the module fast
        import urllib.request
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            resp = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry a body worth reading
            resp = err
        except Exception as exc:
            raise network_error_for(exc)
        status = getattr(resp, "status", None) or resp.getcode()
        return HttpResponse(
            status, dict((k.lower(), v) for k, v in resp.headers.items()),
            read=resp.read,
            chunks=lambda: iter(resp.readline, b""),
            close=resp.close)


def network_error_for(exc):
    """Turn any low-level failure into a NetworkError whose text names no secret."""
    name = type(exc).__name__
    text = str(exc)
    if "timed out" in text.lower() or "timeout" in name.lower():
        return NetworkError("连接扣子超时(%s):检查网络或代理,会自动重试" % name)
    return NetworkError("连接扣子失败(%s):检查网络、代理或 base_url,会自动重试" % name)


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
        err = error_for_code(code, body.get("msg") or "", logid, base_url)
        err.retry_after = resp.headers.get("retry-after")
        raise err
    if resp.status >= 400:
        raise error_for_http_status(resp.status, logid, base_url, resp.headers.get("retry-after"))
    body["logid"] = logid
    return body


class Transport(object):
    """Sends requests to one Coze host. The Authorization header comes from `auth` (a static
    token or a JWT service app, see auth.py); its repr never shows the token."""

    def __init__(self, base_url, auth, backend=None, max_retries=MAX_RETRIES):
        self.base_url = base_url
        self.auth = auth
        self.backend = backend if hasattr(backend, "send") else choose_backend(backend)
        self.max_retries = max_retries

    def __repr__(self):
        return "Transport(base_url=%r, backend=%r, token=<隐藏>)" % (self.base_url, self.backend.name)

    def open(self, method, path, params=None, body=None, content_type="application/json",
             stream=False, deadline=None):
        """One HTTP request (no retry). `body` is a dict (sent as JSON) or bytes."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(dict((k, v) for k, v in params.items() if v is not None))
        headers = {"Authorization": self.auth.authorization(self), "User-Agent": USER_AGENT,
                   "Accept": "text/event-stream, application/json" if stream else "application/json"}
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if body is not None:
            headers["Content-Type"] = content_type
        timeout = READ_TIMEOUT
        if deadline is not None:
            timeout = max(0.5, min(READ_TIMEOUT, deadline - time.monotonic() + 0.5))
        return self.backend.send(method, url, headers, body, timeout, stream)

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

    def open_stream(self, method, path, params=None, body=None, deadline=None, what="流式回复"):
        """Open an event stream. An error answered before the stream starts (a JSON envelope)
        raises; a refused access token is renewed once, as in call()."""
        def start():
            resp = self.open(method, path, params, body, stream=True, deadline=deadline)
            if resp.is_event_stream:
                return resp
            try:
                envelope_of(resp, self.base_url)
            finally:
                resp.close()
            raise NetworkError("扣子没有返回%s:会自动重试" % what, logid=resp.logid)
        return self.with_fresh_auth(start)

    def with_fresh_auth(self, action):
        """Run `action()`. When the service refuses an exchanged access token (revoked, clock
        skew), exchange a new one and run `action()` once more; a second refusal is final."""
        started = time.monotonic()
        try:
            return action()
        except AuthError as err:
            if not self.auth.renewable or err.code not in REJECTED_TOKEN_CODES:
                raise
            log("扣子不再接受当前的访问令牌(错误码 %s):重新换取令牌后再试一次" % err.code)
            self.auth.invalidate(started)
        try:
            return action()
        except AuthError as err:
            if err.code in REJECTED_TOKEN_CODES:
                raise self.auth.still_rejected(err)
            raise

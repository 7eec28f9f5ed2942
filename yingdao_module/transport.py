"""The Coze layer above raw HTTP (http_backends.py, http_stdlib.py): Transport builds the
Authorization header (in one place), adds the Coze envelope ({code, msg, data, detail.logid}),
retries with backoff and jitter what is worth retrying (a RetryPolicy, policy.py), and opens
event streams (`open_stream`) for chats and workflows.
"""
import json
import os
import time
import urllib.parse

from .errors import AuthError, BadResponseError, CozeError, NetworkError, error_for_code, error_for_http_status
from .http_backends import RequestsBackend, optional_requests
from .http_stdlib import UrllibBackend
from .log import log
from .policy import DEFAULT_RETRY, RetryPolicy
from .sse import iter_sse_events, sse_json

USER_AGENT = "yingdao-coze/0.1"
MAX_JSON_BODY = 64 << 20  # bytes: a JSON answer larger than this is refused
REJECTED_TOKEN_CODES = (4100, 700012006)  # the service no longer accepts this access token


def choose_backend(name=None):
    """'requests' or 'urllib'; default: requests when importable (env COZE_HTTP_BACKEND overrides)."""
    name = name or os.environ.get("COZE_HTTP_BACKEND") or "requests"
    if name == "requests" and optional_requests() is not None:
        return RequestsBackend()
    return UrllibBackend()


def retry_policy(retry=None):
    """A RetryPolicy from a policy, a number of retries, or None (DEFAULT_RETRY, read now)."""
    if isinstance(retry, RetryPolicy):
        return retry
    return DEFAULT_RETRY.with_max_retries(retry)


def backoff_delay(attempt, retry_after=None):
    """The default policy's wait before retry number attempt + 1."""
    return DEFAULT_RETRY.delay(attempt, retry_after)


def with_retries(action, what, deadline=None, retry=None):
    """Run `action()`; on a retryable CozeError wait and try again, never past `deadline`.
    `retry`: a RetryPolicy or the number of retries (None: DEFAULT_RETRY)."""
    policy = retry_policy(retry)
    attempt = 0
    while True:
        try:
            return action()
        except CozeError as err:
            if not err.retryable:
                raise
            if attempt >= policy.max_retries:
                raise err.after_retries("已自动重试 %d 次仍失败,请稍后再试" % attempt if attempt else "请稍后再试")
            delay = policy.delay(attempt, err.retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise err.after_retries("等待时间 timeout 已用完,不再重试")
            attempt += 1
            log("%s失败:%s;%.1f 秒后第 %d 次重试" % (what, err.message, delay, attempt))
            time.sleep(delay)


def read_capped(resp, limit=None):
    """The whole body, refused (BadResponseError, not retried) once it passes `limit` bytes
    (MAX_JSON_BODY): no Coze JSON answer comes near it, a captive portal or a broken proxy might."""
    limit = MAX_JSON_BODY if limit is None else limit
    if not hasattr(resp, "chunks"):
        return resp.read()
    pieces, size = [], 0
    for piece in resp.chunks():
        size += len(piece)
        if size > limit:
            raise BadResponseError("扣子返回的内容超过 %d MB,不像是扣子的回复:检查 base_url 和代理设置(重试也没用,所以这次没有重试)"
                                   % (limit >> 20), logid=resp.logid)
        pieces.append(piece)
    return b"".join(pieces)


def json_object_of(resp, base_url):
    """The JSON object a response carries; an empty or garbled body raises the right CozeError."""
    raw = read_capped(resp)
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

    def __init__(self, base_url, auth, backend=None, max_retries=None, before_request=None):
        self.base_url = base_url
        self.auth = auth
        self.backend = backend if hasattr(backend, "send") else choose_backend(backend)
        self._max_retries = max_retries
        self.before_request = before_request  # called as (method, path) before every request: a rate limiter

    @property
    def retry(self):
        """This transport's RetryPolicy: DEFAULT_RETRY read at each use, with its own max_retries."""
        return retry_policy().with_max_retries(self._max_retries)

    @property
    def max_retries(self):
        return self.retry.max_retries

    def __repr__(self):
        return "Transport(base_url=%r, backend=%r, token=<隐藏>)" % (self.base_url, self.backend.name)

    def open(self, method, path, params=None, body=None, content_type="application/json",
             accept="application/json", deadline=None):
        """One HTTP request (no retry). `body` is a dict (sent as JSON) or bytes."""
        if self.before_request is not None:
            # a token exchange due now happens before the rate-limit slot is taken, not between the
            # slot and the send (the request would reach the service late, on top of later ones)
            self.auth.authorization(self, deadline)
            self.before_request(method, path)
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(dict((k, v) for k, v in params.items() if v is not None))
        headers = {"Authorization": self.auth.authorization(self, deadline), "User-Agent": USER_AGENT,
                   "Accept": accept, "Accept-Encoding": "identity"}
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
        return with_retries(attempt, what, deadline, self.retry)

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

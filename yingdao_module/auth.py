"""Who we are to Coze: a static token, or an OAuth JWT service app (服务类应用).

The transport asks its auth provider for the Authorization header of each request, and
tells it when the service rejected that header. A static token (a PAT) is what it is. A
service app signs a JWT with its private key and exchanges it for a short-lived access
token: one token per (app, key, base URL) per process, shared by every thread and client,
exchanged by one thread at a time while the others wait, and refreshed ahead of expiry so
no request goes out with an expired token. The key, the JWT and the access token never
appear in a log, an error or a repr.
"""
import base64
import json
import os
import re
import threading
import time
import urllib.parse

from .errors import AuthError, CozeTimeoutError, NetworkError, error_for_code, error_for_http_status
from .log import log
from .transport import USER_AGENT, json_object_of, with_retries

TOKEN_PATH = "/api/permission/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_SECONDS = 3600  # the life we ask for (Coze allows up to 86399)
JWT_SECONDS = 3600           # the JWT is used once; its exp only needs to cover clock skew
REFRESH_EARLY = 60.0         # refresh this many seconds before the token expires ...
SHORT_LIFE = 120.0           # ... or halfway through its life when it lives less than this
EXCHANGE_DEADLINE = 60.0     # all attempts of one exchange (network retries included)
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
APP_PAGE_HINT = ("请在扣子开发者平台「OAuth 应用」页面核对:应用类型是「服务类应用」(JWT 授权),app_id 是该应用的 ID,"
                 "key_id 是该应用下公钥的指纹(公钥 ID),私钥与这个公钥是同一对;国内扣子的应用只能用 https://api.coze.cn,"
                 "国际版只能用 https://api.coze.com;另请确认电脑时间准确")


class SignInTimeoutError(CozeTimeoutError):
    """The caller's deadline passed while signing in (the OAuth token exchange): no chat exists."""


class ExchangeAttemptTimeout(NetworkError):
    """One attempt of a token exchange outlasted its own share of the time (EXCHANGE_DEADLINE / 2)
    while the caller's deadline still leaves time: retried like any network failure."""


def sign_in_timeout(base_url, waited_for_other):
    how = "另一个线程正在换取访问令牌,等到 timeout 用完仍没有换到" if waited_for_other else \
        "扣子的令牌接口(%s%s)在 timeout 用完前没有回复" % (base_url, TOKEN_PATH)
    return SignInTimeoutError(
        "登录扣子超时:服务类应用用 JWT 换取访问令牌时%s。还没有创建对话,没有花钱。请检查:电脑能否访问 %s(网络、代理、防火墙),"
        "base_url 是否和应用所在的扣子一致(国内 https://api.coze.cn,国际版 https://api.coze.com);稍后重试,或把 timeout 调大。"
        "下次调用会重新换取" % (how, base_url))


class StaticToken(object):
    """A personal (pat_) or service (sat_) access token: nothing to renew."""
    renewable = False

    def __init__(self, token):
        self._header = "Bearer " + token

    def authorization(self, transport, deadline=None):
        return self._header

    def invalidate(self):
        pass

    def __repr__(self):
        return "StaticToken(<隐藏>)"


class JWTApp(object):
    """An OAuth service app: signs JWTs and keeps one fresh access token for everyone."""
    renewable = True

    def __init__(self, app_id, key_id, private_key, base_url):
        self.app_id, self.key_id, self.base_url = app_id, key_id, base_url
        self.audience = urllib.parse.urlsplit(base_url).netloc  # the API host, as cozepy sends it
        self._key = private_key
        self._lock = threading.Lock()
        self._token = None
        self._sent = threading.local()  # .token: the access token this thread last sent
        self._refresh_at = 0.0  # monotonic time after which _token is not used any more
        self._refused = None    # (monotonic time, AuthError) of the last refused exchange
        self.exchanges = 0

    def __repr__(self):
        return "JWTApp(app_id=%r, key_id=%r, base_url=%r, 私钥和令牌已隐藏)" % (self.app_id, self.key_id, self.base_url)

    def authorization(self, transport, deadline=None):
        """'Bearer <access token>', exchanging first when there is none or it is due. Each caller
        gives up at its own deadline, also while another thread's exchange holds the lock."""
        asked = time.monotonic()
        # one exchange at a time; the other threads wait (each until its own deadline) and reuse its token
        if not self._lock.acquire(timeout=-1 if deadline is None else max(0.0, deadline - asked)):
            raise sign_in_timeout(self.base_url, waited_for_other=True)
        try:
            if self._refused is not None and self._refused[0] >= asked:
                raise self._refused[1]  # refused while this thread waited: asking again would be refused too
            if self._token is None or time.monotonic() >= self._refresh_at:
                try:
                    self._exchange(transport, deadline)
                except AuthError as err:
                    self._refused = (time.monotonic(), err)
                    raise
                except (CozeTimeoutError, ExchangeAttemptTimeout):  # no token: the next call tries a fresh exchange
                    raise sign_in_timeout(self.base_url, waited_for_other=False)
            self._sent.token = self._token
            return "Bearer " + self._token
        finally:
            self._lock.release()

    def invalidate(self):
        """This thread's last request was refused: drop the token it carried, unless another
        thread has already replaced it (then that newer token is the one to retry with)."""
        with self._lock:
            if self._token is not None and self._token == getattr(self._sent, "token", None):
                self._token = None

    def still_rejected(self, err):
        return AuthError("扣子拒绝了服务类应用换来的访问令牌,重新换取后仍被拒绝:确认这个 OAuth 应用已被授权访问智能体所在的空间,"
                         "并有对话、工作流、文件等权限(扣子原话:%s)" % err.message, code=err.code, logid=err.logid)

    # -- the exchange --------------------------------------------------------------------------
    def _exchange(self, transport, deadline=None):
        started = time.monotonic()
        end = started + EXCHANGE_DEADLINE if deadline is None else min(deadline, started + EXCHANGE_DEADLINE)
        body = json.dumps({"duration_seconds": ACCESS_TOKEN_SECONDS, "grant_type": JWT_GRANT}).encode("utf-8")

        def attempt():
            headers = {"Authorization": "Bearer " + self.signed_jwt(), "User-Agent": USER_AGENT,
                       "Content-Type": "application/json", "Accept": "application/json"}
            try:
                resp = transport.backend.send("POST", self.base_url + TOKEN_PATH, headers, body,
                                              min(end, time.monotonic() + EXCHANGE_DEADLINE / 2))
                try:
                    return token_answer(resp, self.base_url)
                finally:
                    resp.close()
            except CozeTimeoutError:
                if time.monotonic() >= end:
                    raise  # the caller's time is up: SignInTimeoutError
                raise ExchangeAttemptTimeout("扣子的令牌接口 %d 秒没有回复这次换取:会自动重试" % (EXCHANGE_DEADLINE / 2))

        token, expires_at = with_retries(attempt, "换取扣子访问令牌", end, transport.max_retries)
        life = expires_at - time.time()  # expires_in is a unix timestamp, not a duration
        if life > ACCESS_TOKEN_SECONDS + REFRESH_EARLY:  # this clock is behind: never longer than asked
            life = ACCESS_TOKEN_SECONDS
        elif life <= 0:  # this clock is ahead: the real life is unknown, so refresh soon
            log("扣子访问令牌的到期时间早于本机时间(相差 %d 秒):请校准电脑时间" % int(-life))
            life = SHORT_LIFE
        self._token = token
        self._refresh_at = started + (life - REFRESH_EARLY if life >= SHORT_LIFE else life / 2)
        self.exchanges += 1

    def signed_jwt(self):
        """A fresh RS256 JWT (new jti every time) for one token exchange."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        payload = {"iss": self.app_id, "aud": self.audience, "iat": now, "exp": now + JWT_SECONDS,
                   "jti": os.urandom(16).hex()}
        signing_input = b64url_json(header) + "." + b64url_json(payload)
        return signing_input + "." + b64url(self._key.sign_rs256(signing_input.encode("ascii")))


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_json(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def token_answer(resp, base_url):
    """(access_token, expires_at) from the exchange's answer; the right CozeError otherwise."""
    body = json_object_of(resp, base_url)
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
    logid = resp.logid or detail.get("logid")
    code = body.get("code")
    if data.get("access_token") and code in (0, None, "0"):
        try:
            return str(data["access_token"]), float(data.get("expires_in"))
        except (TypeError, ValueError):
            raise NetworkError("换取访问令牌时扣子的回复缺少到期时间:会自动重试", logid=logid)
    if resp.status == 429 or resp.status >= 500 or code in (4009, 4020, 5000):
        err = error_for_code(code, body.get("msg") or "", logid, base_url) if code else \
            error_for_http_status(resp.status, logid, base_url, resp.headers.get("retry-after"))
        if err.retryable:
            raise err
    reason = body.get("error_message") or body.get("msg") or body.get("error_code") or body.get("error") or ""
    reason = _JWT_SHAPE.sub("<隐藏>", str(reason))[:300]
    where = "HTTP %s" % resp.status + ("、错误码 %s" % code if code not in (None, 0, "0") else "")
    raise AuthError("扣子拒绝了服务类应用的登录(JWT 换取访问令牌失败,%s,扣子原话:%s)。%s"
                    % (where, reason or "无", APP_PAGE_HINT), logid=logid)


# ---- one JWTApp per (app, key, base URL) per process ---------------------------------------

_jwt_apps = {}
_jwt_apps_lock = threading.Lock()


def jwt_app_for(app_id, key_id, private_key, base_url):
    """The process-wide JWTApp for these settings (the cache key holds a hash, never the key)."""
    cache_key = (app_id, key_id, private_key.fingerprint, base_url)
    with _jwt_apps_lock:
        app = _jwt_apps.get(cache_key)
        if app is None:
            app = _jwt_apps[cache_key] = JWTApp(app_id, key_id, private_key, base_url)
        return app


def auth_for(settings):
    """The auth provider for resolved Settings: the service app when configured, else the token."""
    if settings.app is not None:
        app_id, key_id, private_key = settings.app
        return jwt_app_for(app_id, key_id, private_key, settings.base_url)
    return StaticToken(settings.token)

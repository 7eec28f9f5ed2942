"""Raw HTTP: `requests` when it is importable, the standard library's http.client when not.

Both backends share one base class and behave the same: the caller's deadline bounds the wait
for the response head and every read of the body (http_response.py: no helper thread), bodies are
read as bytes arrive (no 8 KB buffering of event streams), connections are kept alive per thread,
redirects never carry the token to another host, and a certificate failure says so. Proxies and
the CA file come from the environment.
"""
import os
import threading
import time
import urllib.parse
import weakref

from .errors import CertificateError, CozeError, NetworkError
from .http_connect import addresses_within, bound_to_deadline, connect_wait
from .http_response import (HttpResponse, current_deadline, deadline_error, deadline_response_class, is_timeout,
                            send_within, sending_with, time_left)
from .policy import DEFAULT_TIMEOUTS

MAX_REDIRECTS = 3        # Coze does not redirect its API; a few same-host hops are tolerated
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
CA_FILE_VARIABLES = ("COZE_CA_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
# what the proxy for a host depends on: reading these few is microseconds, while urllib's getproxies()
# scans the whole environment (about a millisecond per request on a machine with many variables)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                   "NO_PROXY", "REQUEST_METHOD")
_proxy_memo = {}
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


def ca_file():
    """The PEM bundle to trust instead of the default one, from the environment (or None)."""
    for name in CA_FILE_VARIABLES:
        value = (os.environ.get(name) or "").strip()
        if value:
            return value
    return None


def remembered_proxy(kind, where, find):
    """find() once per host and proxy environment (a changed HTTPS_PROXY / NO_PROXY is seen at once;
    on Windows the registry's proxy is read once per process)."""
    key = (kind, where, tuple(os.environ.get(name) for name in PROXY_VARIABLES))
    try:
        return _proxy_memo[key]
    except KeyError:
        if len(_proxy_memo) > 256:
            _proxy_memo.clear()
        found = _proxy_memo[key] = find()
        return found


def origin(url):
    """(scheme, host, port) of a URL, the default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


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


def refused_redirect(message, logid=None):
    err = NetworkError(message, logid=logid)
    err.retryable = False
    return err


class HttpBackend(object):
    """What both backends share: deadlines, redirects, error mapping. A subclass only opens
    one request and returns (status, headers, raw http.client response, finish)."""
    name = "?"

    def __init__(self):
        self.timeouts = DEFAULT_TIMEOUTS  # its fields read policy.py's settings at each use

    def send(self, method, url, headers, body, deadline=None):
        """An HttpResponse; same-origin redirects are followed a few times, others refused."""
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send_once(method, url, headers, body, deadline)
            if resp.status not in REDIRECT_STATUSES:
                return resp
            target = urllib.parse.urljoin(url, resp.headers.get("location") or "")
            resp.close()
            if origin(target) != origin(url):
                raise refused_redirect("扣子的地址把请求重定向到了另一个地址 %s;为保护令牌没有跟过去:检查 base_url 是否"
                                       "填对(https://api.coze.cn 或 https://api.coze.com),以及代理是否改写了地址"
                                       % target, resp.logid)
            url = target
        raise refused_redirect("扣子的地址重定向次数太多(超过 %d 次):检查 base_url 和代理设置" % MAX_REDIRECTS)

    def _send_once(self, method, url, headers, body, deadline):
        idle = self.timeouts.read
        wait = time_left(deadline, idle=idle)
        try:
            with sending_with(deadline, idle):
                status, response_headers, raw, finish = self._open(method, url, headers, body,
                                                                   min(self.timeouts.connect, wait), wait)
        except CozeError:
            raise
        except Exception as exc:
            if deadline is not None and time.monotonic() >= deadline:
                raise deadline_error()
            raise network_error_for(exc, url)
        headers = dict((k.lower(), v) for k, v in response_headers.items())
        return HttpResponse(status, headers, raw, deadline, finish, self.timeouts.close_grace, idle)

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        raise NotImplementedError

    def close(self):
        """Release pooled connections."""


class RequestsBackend(HttpBackend):
    """Keep-alive sessions from `requests`, one per thread (batch runs threads). Proxies come
    from the environment (HTTPS_PROXY, NO_PROXY) as requests reads them, looked up once per host
    and environment instead of on every request (trust_env off; never a ~/.netrc password)."""
    name = "requests"

    def __init__(self):
        HttpBackend.__init__(self)
        self._local = threading.local()
        self._sessions = weakref.WeakSet()  # every thread's session, for close(); a finished thread's goes with it
        self._lock = threading.Lock()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = optional_requests().Session()
            session.trust_env = False  # proxies are given per request; the CA file is ca_file()
            adapter = deadline_adapter_class()
            session.mount("http://", adapter())
            session.mount("https://", adapter())
            with self._lock:
                self._sessions.add(session)
        return session

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        requests = optional_requests()
        proxies = remembered_proxy("requests", origin(url), lambda: requests.utils.get_environ_proxies(url))
        # prepared here and sent as is: Session.request would merge session headers, cookies and
        # environment settings on every request (a third of our per-answer CPU); we send our own headers
        prepared = requests.Request(method, url, headers=headers, data=body).prepare()
        resp = self._session().send(prepared, stream=True, proxies=proxies, timeout=(connect_timeout, read_timeout),
                                    allow_redirects=False, verify=ca_file() or True)
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
            sessions = list(self._sessions)
            self._sessions.clear()
        for session in sessions:
            try:
                session.close()
            except Exception:
                pass


_adapter_classes = []


def new_conn_within(conn, base):
    """urllib3's _new_conn with the name lookup bounded by the deadline: each address in turn, each
    given only the time left (urllib3 connects to _dns_host; the certificate is still checked
    against the host name); the connected socket's timeout is the time left (bound_to_deadline)."""
    host, timeout, deadline = conn._dns_host, conn.timeout, current_deadline()
    failure = None
    try:
        for _, sockaddr in addresses_within(host, conn.port):
            wait = connect_wait(timeout, deadline)
            if wait is None:
                import socket
                raise socket.timeout("connecting to %s took past the deadline" % host)
            conn._dns_host, conn.timeout = sockaddr[0], wait
            try:
                return bound_to_deadline(base._new_conn(conn), deadline)
            except Exception as exc:
                failure = exc
    finally:
        conn._dns_host, conn.timeout = host, timeout
    raise failure or OSError("no address for %s" % host)


def deadline_adapter_class():
    """A requests HTTPAdapter whose urllib3 connections make deadline responses (made on first use)."""
    if not _adapter_classes:
        from requests.adapters import HTTPAdapter
        from requests.packages.urllib3 import connection, connectionpool  # requests's own urllib3

        def within_deadline(base):
            """urllib3's connection class `base`, connecting, sending and answering within the deadline."""
            class Connection(base):
                response_class = deadline_response_class()

                def _new_conn(self):
                    return new_conn_within(self, base)

                def send(self, data):
                    send_within(self, data, base.send)
            return Connection

        pools = {"http": type("HttpPool", (connectionpool.HTTPConnectionPool,),
                              {"ConnectionCls": within_deadline(connection.HTTPConnection)}),
                 "https": type("HttpsPool", (connectionpool.HTTPSConnectionPool,),
                               {"ConnectionCls": within_deadline(connection.HTTPSConnection)})}

        def ours(manager):
            if type(manager).__name__ in ("PoolManager", "ProxyManager"):  # a SOCKS manager keeps its own
                manager.pool_classes_by_scheme = pools
            return manager

        class DeadlineAdapter(HTTPAdapter):
            def init_poolmanager(self, *args, **kwargs):
                HTTPAdapter.init_poolmanager(self, *args, **kwargs)
                ours(self.poolmanager)

            def proxy_manager_for(self, *args, **kwargs):
                return ours(HTTPAdapter.proxy_manager_for(self, *args, **kwargs))
        _adapter_classes.append(DeadlineAdapter)
    return _adapter_classes[0]

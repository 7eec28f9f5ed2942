"""The standard-library backend: http.client connections kept alive, one per thread and host.

Works in any ShadowBot venv (no `requests`). Each thread keeps one connection per (host, proxy,
CA file); a connection in use is out of the pool, so threads never share one, and an idle one the
server has closed is noticed before it is used (as urllib3 does), so a request is never sent twice.
Proxies from the environment (HTTP(S)_PROXY, NO_PROXY), as urllib's ProxyHandler reads them.
"""
import base64
import select
import threading
import urllib.parse
import weakref

from .http_backends import HttpBackend, ca_file, origin, remembered_proxy
from .http_connect import connect_within
from .http_response import deadline_response_class, send_within

_connection_classes = {}  # "http" / "https" -> http.client connection class, made on first use


def connection_class(scheme):
    """http.client's connection class for `scheme` whose sends are bounded by the deadline (send_within)."""
    if not _connection_classes:
        import http.client
        for name, base in (("http", http.client.HTTPConnection), ("https", http.client.HTTPSConnection)):
            def send(self, data, base=base):
                send_within(self, data, base.send)
            _connection_classes[name] = type("Deadline" + base.__name__, (base,), {
                "send": send, "response_class": deadline_response_class()})
    return _connection_classes[scheme]


def proxy_for(scheme, host):
    """The proxy URL the environment names for this scheme and host, or None (NO_PROXY, none set)."""
    return remembered_proxy("stdlib", (scheme, host), lambda: environment_proxy(scheme, host))


def environment_proxy(scheme, host):
    import urllib.request
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def proxy_authorization(proxy):
    """{"Proxy-Authorization": ...} for a proxy URL carrying user:password, else {}."""
    parts = urllib.parse.urlsplit(proxy)
    if not parts.username:
        return {}
    pair = "%s:%s" % (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def is_dropped(connection):
    """True when an idle kept-alive connection has been closed by the server (its socket reads)."""
    sock = connection.sock
    if sock is None:
        return False  # not connected: http.client connects on the next request
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class UrllibBackend(HttpBackend):
    """The standard library only. Redirects are left to HttpBackend.send."""
    name = "urllib"

    def __init__(self):
        HttpBackend.__init__(self)
        self._local = threading.local()
        self._connections = weakref.WeakSet()  # every pooled connection, for close()
        self._lock = threading.Lock()
        self._tls = {}  # CA file -> ssl context

    def _pool(self):
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _tls_context(self, cafile):
        with self._lock:
            if cafile not in self._tls:
                import ssl  # imported on first use: keeps importing the module fast
                self._tls[cafile] = ssl.create_default_context(cafile=cafile)
            return self._tls[cafile]

    def _connection(self, key, timeout):
        """A kept-alive connection for `key` taken out of this thread's pool, or a new one."""
        connection = self._pool().pop(key, None)
        if connection is not None and not is_dropped(connection):
            connection.timeout = timeout  # were it to reconnect: this request's, not the first one's
            return connection
        if connection is not None:
            connection.close()
        scheme, host, port, proxy, cafile = key
        where = urllib.parse.urlsplit(proxy) if proxy else None
        address = (where.hostname, where.port or 80) if where else (host, port)
        if scheme == "https":
            connection = connection_class("https")(address[0], address[1], timeout=timeout,
                                                   context=self._tls_context(cafile))
            if proxy:
                connection.set_tunnel(host, port, headers=proxy_authorization(proxy))
        else:
            connection = connection_class("http")(address[0], address[1], timeout=timeout)
        connection._create_connection = connect_within  # the name lookup within the deadline too
        with self._lock:
            self._connections.add(connection)
        return connection

    def _open(self, method, url, headers, body, connect_timeout, read_timeout):
        scheme, host, port = origin(url)
        proxy = proxy_for(scheme, host)
        key = (scheme, host, port, proxy, ca_file() if scheme == "https" else None)
        connection = self._connection(key, connect_timeout)
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if proxy and scheme == "http":
            target, headers = url, dict(headers, **proxy_authorization(proxy))  # absolute form to a proxy
        try:
            connection.request(method, target, body=body, headers=headers)
            resp = connection.getresponse()
        except BaseException:
            connection.close()
            raise

        def finish(complete):
            pool = self._pool()
            if complete and key not in pool:
                resp.read()  # already at its end: lets http.client mark the exchange done
                resp.close()
                pool[key] = connection
            else:
                resp.close()
                connection.close()  # unread bytes remain: this connection must not be reused
        return resp.status, resp.headers, resp, finish

    def close(self):
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass

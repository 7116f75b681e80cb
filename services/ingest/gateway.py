"""The HTTP gateway: POST /v1/events, one event or a JSONL batch, same validation as Kafka.

Agencies authenticate with an API key (stored hashed); each is limited in body size, events
per request and events per second (429 with Retry-After).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from kafka import KafkaProducer
from pydantic import BaseModel

from schemas import DlqError, StandardisedEvent
from services.ingest.outputs import accepted_outgoing
from services.ingest.ratelimit import AgencyLimiter
from services.ingest.settings import IngestSettings
from services.ingest.validate import Rejection, validate
from signpost.auth import verify_api_key
from signpost.crypto import KeyStore, keystore_for
from signpost.http import add_health_routes

__all__ = ["Accepted", "CurrentAgency", "LineRejection", "create_app"]

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0  # the 202 means the broker has the events; wait for its ack


class Accepted(BaseModel):
    event_ids: list[str]


class LineRejection(BaseModel):
    line: int
    reason: str
    errors: list[DlqError]


class Rejected(BaseModel):
    detail: str
    rejections: list[LineRejection]


def _split_body(body: bytes, content_type: str) -> list[bytes]:
    """One JSON event, or JSONL (one event per non-empty line)."""
    if "ndjson" in content_type or "jsonl" in content_type:
        return [line for line in body.split(b"\n") if line.strip()]
    return [body]


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def current_agency(request: Request,
                   authorization: Annotated[str | None, Header()] = None) -> str:
    """The agency whose API key is presented as 'Authorization: Bearer <key>'."""
    scheme, _, key = (authorization or "").partition(" ")
    hashes = _settings(request).agency_key_hashes
    agency = verify_api_key(key, hashes) if key else None
    if scheme.lower() != "bearer" or agency is None:
        raise HTTPException(401, "a valid agency API key is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return agency


CurrentAgency = Annotated[str, Depends(current_agency)]


async def post_events(request: Request, agency: CurrentAgency) -> Accepted | JSONResponse:
    """One event (application/json) or a JSONL batch (application/x-ndjson); all or none."""
    return await _accept(request, agency, correction=False)


async def post_corrections(request: Request, agency: CurrentAgency) -> Accepted | JSONResponse:
    """An agency corrects its own record: each event (the record as it should read) supersedes
    the earlier events of the same agency record, so the wrong value is no longer held."""
    return await _accept(request, agency, correction=True)


async def _accept(request: Request, agency: str, *, correction: bool) -> Accepted | JSONResponse:
    settings = _settings(request)
    body = await _read_limited(request, settings.max_body_bytes)
    lines = _split_body(body, request.headers.get("content-type", ""))
    if len(lines) > settings.max_batch_events:
        raise HTTPException(413, f"at most {settings.max_batch_events} events per request")
    _limit_rate(request, agency, len(lines))
    now = datetime.now(UTC)
    outcomes = [validate(line, now) for line in lines]
    rejections = [LineRejection(line=i + 1, reason=o.reason.value, errors=list(o.errors))
                  for i, o in enumerate(outcomes) if isinstance(o, Rejection)]
    if rejections or not lines:
        detail = "no event in body" if not lines else "events rejected; none accepted"
        return JSONResponse(Rejected(detail=detail, rejections=rejections).model_dump(
            mode="json"), status_code=422)
    accepted = [o.model_copy(update={"correction": correction})
                for o in outcomes if isinstance(o, StandardisedEvent)]
    if any(e.event.agency.id != agency for e in accepted):
        raise HTTPException(403, "events must carry the agency id of the API key")
    await run_in_threadpool(_publish, request.app.state.producer, request.app.state.keystore,
                            settings, accepted)
    return Accepted(event_ids=[str(e.event.event_id) for e in accepted])


def _limit_rate(request: Request, agency: str, events: int) -> None:
    """429 with Retry-After (whole seconds) when the agency is over its rate."""
    limiter: AgencyLimiter = request.app.state.limiter
    wait_s = limiter.take(agency, max(events, 1))
    if wait_s > 0:
        logger.info("gateway: agency %s over its rate", agency)
        raise HTTPException(429, "too many events; retry later",
                            headers={"Retry-After": str(max(1, math.ceil(wait_s)))})


def create_app(settings: IngestSettings, producer: KafkaProducer) -> FastAPI:
    app = add_health_routes(FastAPI(title="Signpost ingest gateway"), "ingest")
    app.state.settings = settings
    app.state.producer = producer
    app.state.keystore = keystore_for(settings)
    app.state.limiter = AgencyLimiter(settings.gateway_events_per_s,
                                      settings.gateway_burst_events)
    for path, endpoint in (("/v1/events", post_events), ("/v1/corrections", post_corrections)):
        app.add_api_route(path, endpoint, methods=["POST"], status_code=202,
                          response_model=Accepted,
                          responses={422: {"model": Rejected}, 429: {}, 413: {}, 403: {},
                                     401: {}})
    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _publish(producer: KafkaProducer, keystore: KeyStore, settings: IngestSettings,
             events: list[StandardisedEvent]) -> None:
    futures = []
    for std in events:
        out = accepted_outgoing(std, settings, keystore)
        futures.append(producer.send(out.topic, value=out.value, key=out.key))
    producer.flush(timeout=PUBLISH_TIMEOUT_S)
    for f in futures:
        f.get(timeout=PUBLISH_TIMEOUT_S)

"""Probes and metrics for whoever runs the service: /healthz (liveness), /readyz (database), /metrics."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, TimeoutError as ProbeTimeout

from flask import Blueprint, Response, current_app, jsonify, request

from .http import services
from .problems import RETRY_AFTER_SECONDS, problem

READY_TIMEOUT_SECONDS = 2.0

blp = Blueprint("ops", __name__)
# Probes run in a thread so a database that hangs cannot hang the probe; two stuck probes at most,
# after which further probes wait in the queue and time out, which is the right answer then.
_probes: ThreadPoolExecutor | None = None
_probes_lock = threading.Lock()


@blp.get("/healthz")
def healthz():
    """The process answers requests; nothing else is checked, so a database outage restarts nothing."""
    return _no_store(jsonify(status="ok"))


@blp.get("/readyz")
def readyz():
    """Ready for traffic when the database answers `SELECT 1` within READY_TIMEOUT_SECONDS."""
    try:
        _executor().submit(_select_one, services().store.engine).result(timeout=READY_TIMEOUT_SECONDS)
    except ProbeTimeout:
        return _unready(f"the database did not answer within {READY_TIMEOUT_SECONDS:g} s")
    except Exception as error:  # any failure to reach the database means: not ready
        return _unready(f"the database is unreachable ({error.__class__.__name__})")
    return _no_store(jsonify(status="ready", database="ok"))


@blp.get("/metrics")
def metrics():
    """Prometheus exposition (text, or OpenMetrics when the scraper asks for it)."""
    body, content_type = current_app.extensions["roadworks_metrics"].exposition(request.headers.get("Accept"))
    return _no_store(Response(body, content_type=content_type))


def _select_one(engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def _executor() -> ThreadPoolExecutor:
    global _probes
    with _probes_lock:
        if _probes is None:
            _probes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")
        return _probes


def _unready(detail: str) -> Response:
    return problem(503, f"not ready: {detail}", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response

"""Request logs (one JSON line per request) and Prometheus metrics for the HTTP API."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("newsqa.access")

# Latency buckets in seconds: queries take milliseconds to a second on a CPU.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Merge buckets in seconds: a merge of small segments takes a fraction of a second, a rewrite
# of a large one minutes.
MERGE_BUCKETS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
UNMATCHED = "unmatched"  # the route label of requests no route matched (keeps label values bounded)
METRICS_PATH = "/metrics"


class Metrics:
    """The app's own Prometheus registry (one per app, so several apps in a process never clash)."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "newsqa_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsqa_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "newsqa_index_reloads",
            "Index versions swapped in (outcome ok) or refused (failed), by trigger: admin "
            "(POST /admin/reload), auto (the index directory's current version moved), write, "
            "merge (segments merged in the background).",
            ["trigger", "outcome"],
            registry=self.registry,
        )
        self.merges = Histogram(
            "newsqa_merge_duration_seconds",
            "Background merges of segments committed: seconds from the start to the commit.",
            buckets=MERGE_BUCKETS,
            registry=self.registry,
        )
        # Read at scrape time from whatever index is loaded, so they follow reloads.
        documents = Gauge("newsqa_index_documents", "Documents in the loaded index.", registry=self.registry)
        passages = Gauge("newsqa_index_passages", "Passages in the loaded index.", registry=self.registry)
        segments = Gauge("newsqa_index_segments", "Segments of the loaded index.", registry=self.registry)
        documents.set_function(lambda: _count(app, "documents"))
        passages.set_function(lambda: _count(app, "passages"))
        segments.set_function(lambda: _count(app, "segments"))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)


def _count(app: FastAPI, what: str) -> float:
    index = getattr(app.state, "index", None)
    if index is None:
        return 0
    counts: dict[str, int] = {
        "documents": len(index.documents),
        "passages": index.passage_count,
        "segments": len(index.stored.segments),
    }
    return counts[what]


def annotate(request: Request, **fields: Any) -> None:
    """Add fields (e.g. mode, top_k) to this request's log line."""
    request.state.log_fields = {**getattr(request.state, "log_fields", {}), **fields}


class ObservabilityMiddleware:
    """Times every request, counts it in `metrics` and logs one JSON line for it.

    The line holds the route template (never the raw path, which may carry ids), method,
    status, latency and what the route added with `annotate`. Query text is left out
    unless `log_queries` is on. A plain ASGI middleware, so streaming is untouched.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, log_queries: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.log_queries = log_queries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # where `annotate` leaves its fields
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path_format", None) or UNMATCHED
            method = scope["method"]
            self.metrics.observe(template, method, status, seconds)
            if template != METRICS_PATH:  # scrapes would drown the log
                self._log(scope, template, method, status, seconds)

    def _log(self, scope: Scope, template: str, method: str, status: int, seconds: float) -> None:
        record: dict[str, Any] = {
            "route": template,
            "method": method,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
        }
        fields = dict(scope.get("state", {}).get("log_fields", {}))
        query = fields.pop("query", None)
        record.update(fields)
        if self.log_queries and query is not None:
            record["query"] = query
        access_log.info(json.dumps(record, ensure_ascii=False), extra={"request": record})


def instrument(app: FastAPI, log_queries: bool = False) -> Metrics:
    """Add the request log and metrics middleware and a `/metrics` endpoint (kept out of the
    OpenAPI schema: it is for Prometheus, not an API operation)."""
    metrics = app.state.metrics = Metrics(app)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, log_queries=log_queries)

    @app.get(METRICS_PATH, include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def configure_access_log() -> None:
    """Print request lines to stderr as bare JSON (not behind the CLI's `newsqa: LEVEL:` prefix)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False

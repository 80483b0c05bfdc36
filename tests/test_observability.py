"""Request logs and Prometheus metrics, through the HTTP API over the real index."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from indexer.embed import Embedder
from indexer.settings import Settings
from service.core.index import Index
from service.http.api import create_app

QUESTION = "How many communes in Son La met the new rural standards?"


@pytest.fixture
def fresh_client(bundled: Index, bundled_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    """A client over a new app, so its metrics count only this test's requests."""
    with TestClient(create_app(bundled_settings, embedder)) as test_client:
        yield test_client


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    lines = [record for record in caplog.records if record.name == "newsqa.access"]
    parsed = [json.loads(record.getMessage()) for record in lines]
    assert parsed == [record.request for record in lines]  # type: ignore[attr-defined]
    return parsed


def test_metrics_count_requests_by_route_and_status(fresh_client):
    for _ in range(2):
        assert fresh_client.post("/ask", json={"question": QUESTION, "top_k": 3}).status_code == 200
    assert fresh_client.get("/search", params={"q": "pineapple", "mode": "lexical"}).status_code == 200
    assert fresh_client.get("/search", params={"q": ""}).status_code == 422
    assert fresh_client.get("/documents/002_2e08b7f49c7a1252").status_code == 200
    assert fresh_client.get("/documents/no-such-id").status_code == 404
    assert fresh_client.get("/nowhere/123").status_code == 404

    found = samples(fresh_client)

    def count(route: str, method: str, status: str) -> float:
        labels = frozenset({"route": route, "method": method, "status": status}.items())
        return found.get(("newsqa_http_requests_total", labels), 0)

    assert count("/ask", "POST", "200") == 2
    assert count("/search", "GET", "200") == 1
    assert count("/search", "GET", "422") == 1
    # Routes are labelled by template, never by raw path, so ids cannot explode the label set.
    assert count("/documents/{doc_id}", "GET", "200") == 1
    assert count("/documents/{doc_id}", "GET", "404") == 1
    assert count("unmatched", "GET", "404") == 1

    ask = frozenset({"route": "/ask", "method": "POST"}.items())
    assert found[("newsqa_http_request_duration_seconds_count", ask)] == 2
    assert found[("newsqa_http_request_duration_seconds_sum", ask)] > 0
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in found.items()
        if name == "newsqa_http_request_duration_seconds_bucket" and dict(labels)["route"] == "/ask"
    }
    assert {"0.005", "0.1", "1.0", "10.0", "+Inf"} <= set(buckets)
    assert buckets["+Inf"] == 2
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative

    health = fresh_client.get("/health").json()
    found = samples(fresh_client)
    assert found[("newsqa_index_documents", frozenset())] == health["documents"] == 5
    assert found[("newsqa_index_passages", frozenset())] == health["passages"]


def test_metrics_stay_out_of_the_api_schema(fresh_client):
    paths = set(fresh_client.get("/openapi.json").json()["paths"])
    assert "/metrics" not in paths
    reads = {"/ask", "/search", "/documents/{doc_id}", "/health"}
    assert paths == reads | {"/documents", "/documents/batch", "/admin/reload"}


def test_one_json_log_line_per_request_without_the_query(fresh_client, caplog):
    caplog.set_level(logging.INFO, logger="newsqa.access")
    fresh_client.post("/ask", json={"question": QUESTION, "top_k": 2, "mode": "dense"})
    fresh_client.get("/search", params={"q": "Pú Nhung pineapple"})
    fresh_client.get("/documents/002_2e08b7f49c7a1252")
    fresh_client.post("/ask", json={"question": ""})
    fresh_client.get("/metrics")  # scrapes are counted, not logged

    ask, search, document, bad_ask = request_lines(caplog)
    assert ask.keys() == {"route", "method", "status", "latency_ms", "mode", "top_k"}
    assert ask["route"] == "/ask" and ask["method"] == "POST" and ask["status"] == 200
    assert (ask["mode"], ask["top_k"]) == ("dense", 2)
    assert isinstance(ask["latency_ms"], float) and ask["latency_ms"] > 0
    assert (search["route"], search["status"], search["mode"], search["top_k"]) == (
        "/search",
        200,
        "hybrid",
        5,
    )
    assert document == {**document, "route": "/documents/{doc_id}", "method": "GET", "status": 200}
    assert "mode" not in document
    assert (bad_ask["route"], bad_ask["status"]) == ("/ask", 422)
    logged = caplog.text
    assert "Son La" not in logged and "pineapple" not in logged and "002_2e08b7f49c7a1252" not in logged


def test_queries_are_logged_only_when_asked(bundled, bundled_settings, embedder, caplog):
    caplog.set_level(logging.INFO, logger="newsqa.access")
    settings = bundled_settings.model_copy(update={"log_queries": True})
    with TestClient(create_app(settings, embedder)) as client:
        client.post("/ask", json={"question": QUESTION})
        client.get("/search", params={"q": "Pú Nhung pineapple"})
    ask, search = request_lines(caplog)
    assert ask["query"] == QUESTION
    assert search["query"] == "Pú Nhung pineapple"

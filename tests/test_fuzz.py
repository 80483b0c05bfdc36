"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis, in process).

Valid and invalid requests are generated for every operation; none may get a 5xx, and every
response must have a documented status, content type and body shape. Schema-valid requests
may still be refused (a blank question; `6.0` for an integer top_k, which JSON Schema calls an
integer but the API's strict validation does not), so "valid data is accepted" is not checked.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Invalid requests exist only where the schema constrains something: a body, or query parameters.
OPERATIONS = [
    ("/ask", "POST", POSITIVE),
    ("/ask", "POST", NEGATIVE),
    ("/search", "GET", POSITIVE),
    ("/search", "GET", NEGATIVE),
    ("/documents", "GET", POSITIVE),
    ("/documents", "GET", NEGATIVE),
    ("/documents/{doc_id}", "GET", POSITIVE),
    ("/health", "GET", POSITIVE),
]


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> schemathesis.BaseSchema:
    # `client` has run the app's lifespan, so the index is loaded on `client.app`.
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


@pytest.mark.parametrize(
    ("path", "method", "generation"), OPERATIONS, ids=[f"{m} {p} {g.value}" for p, m, g in OPERATIONS]
)
def test_the_api_answers_every_request_as_documented(api_schema, path, method, generation):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=generation))
    @settings(
        max_examples=25,
        deadline=timedelta(seconds=10),  # a question takes milliseconds; this only catches a hang
        derandomize=True,  # the same examples on every run, so CI cannot flake
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    answers_as_documented()

"""The HTTP contract, through FastAPI's test client over the real index."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from indexer.settings import load_settings
from service.http.api import create_app

CITATION_KEYS = {"rank", "doc_id", "title", "chunk_id", "text", "start", "end", "score", "language"}


def test_ask_contract_and_exact_citations(client):
    response = client.post(
        "/ask", json={"question": "How many communes in Son La met the new rural standards?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer", "abstained", "citations", "took_ms"}
    assert body["abstained"] is False
    assert set(body["answer"]) == {
        "text",
        "doc_id",
        "start",
        "end",
        "score",
        "type",
        "sentence",
        "language",
        "gloss",
    }
    assert body["answer"]["language"] == "en" and body["answer"]["gloss"] is None
    assert (body["answer"]["text"], body["answer"]["type"]) == ("65 communes", "number")
    sentence = {**body["answer"]["sentence"], "doc_id": body["answer"]["doc_id"]}
    assert sentence["start"] <= body["answer"]["start"] < body["answer"]["end"] <= sentence["end"]
    assert len(body["citations"]) == 5
    for item in [body["answer"], sentence, *body["citations"]]:
        document = client.get(f"/documents/{item['doc_id']}").json()
        assert document["text"][item["start"] : item["end"]] == item["text"]
    for citation in body["citations"]:
        assert set(citation) == CITATION_KEYS
    assert [c["rank"] for c in body["citations"]] == [1, 2, 3, 4, 5]


def test_ask_abstains_on_off_topic_questions(client):
    body = client.post("/ask", json={"question": "What is the boiling point of mercury?", "top_k": 2}).json()
    assert body["answer"] is None and body["abstained"] is True
    assert len(body["citations"]) == 2


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_search_contract(client, mode):
    response = client.get("/search", params={"q": "Pú Nhung pineapple", "top_k": 3, "mode": mode})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"query", "results", "took_ms"}
    assert body["query"] == "Pú Nhung pineapple"
    assert 1 <= len(body["results"]) <= 3
    assert all(set(result) == CITATION_KEYS for result in body["results"])
    assert body["results"][0]["doc_id"] == "003_af987519a968d492"


def test_document_and_health(client):
    document = client.get("/documents/002_2e08b7f49c7a1252").json()
    assert document["language"] == "no"
    assert document["url"].startswith("https://baolangson.vn/")
    assert {"doc_id", "title", "url", "language", "text"} <= set(document)
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert (health["documents"], health["model"]) == (5, "sentence-transformers/all-MiniLM-L6-v2")
    assert health["passages"] == health["index"]["counts"]["passages"] > 5
    assert health["index"]["format"] == "newsqa-index"


@pytest.mark.parametrize(
    ("request_args", "status", "detail"),
    [
        ({"json": {"question": ""}}, 422, "question: must not be blank"),
        ({"json": {"question": "   \n"}}, 422, "question: must not be blank"),
        ({"json": {"question": "x" * 1001}}, 422, "question: String should have at most 1000 characters"),
        ({"json": {}}, 422, "question: Field required"),
        ({"json": {"question": 42}}, 422, "question: Input should be a valid string"),
        ({"json": {"question": "ok", "top_k": "5"}}, 422, "top_k: Input should be a valid integer"),
        ({"json": {"question": "ok", "top_k": 0}}, 422, "top_k: Input should be greater than or equal to 1"),
        ({"json": {"question": "ok", "top_k": 51}}, 422, "top_k: Input should be less than or equal to 50"),
        (
            {"json": {"question": "ok", "mode": "fuzzy"}},
            422,
            "mode: Input should be 'hybrid', 'dense' or 'lexical'",
        ),
        ({"json": ["question"]}, 422, "request body: Input should be a valid dictionary"),
        (
            {"content": '{"question": "ok",', "headers": {"content-type": "application/json"}},
            422,
            "malformed JSON: Expecting property name enclosed in double quotes",
        ),
        ({}, 422, "request body is required"),
    ],
)
def test_bad_ask_requests_are_4xx_with_a_reason(client, request_args, status, detail):
    response = client.post("/ask", **request_args)
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "q: Field required"),
        ({"q": ""}, "q: String should have at least 1 character"),
        ({"q": "  "}, "question must not be blank"),
        ({"q": "x" * 1001}, "q: String should have at most 1000 characters"),
        ({"q": "ok", "top_k": 99}, "top_k: Input should be less than or equal to 50"),
        ({"q": "ok", "top_k": "many"}, "top_k: Input should be a valid integer"),
        ({"q": "ok", "mode": "fuzzy"}, "mode: Input should be 'hybrid', 'dense' or 'lexical'"),
    ],
)
def test_bad_searches_are_422_with_a_reason(client, params, detail):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_unknown_document_and_route_are_404(client):
    response = client.get("/documents/no-such-id")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown document id 'no-such-id'"}
    assert client.get("/nowhere").status_code == 404


def test_without_an_index_the_service_says_how_to_build_one(tmp_path, embedder):
    settings = load_settings(index_dir=tmp_path / "missing")
    with TestClient(create_app(settings, embedder)) as client:
        for response in (
            client.post("/ask", json={"question": "anything"}),
            client.get("/search", params={"q": "anything"}),
            client.get("/health"),
        ):
            assert response.status_code == 503
            assert response.json()["detail"] == (
                f"no index in {tmp_path / 'missing'}: build one with "
                f"`newsqa index --index-dir {tmp_path / 'missing'}`"
            )


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/documents/{doc_id}", "/health"} <= set(paths)
    assert client.get("/docs").status_code == 200

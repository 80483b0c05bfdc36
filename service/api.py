"""The HTTP API: a FastAPI app factory whose index loads in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from indexer.embed import Embedder
from indexer.errors import (
    DocumentNotFoundError,
    IndexFormatError,
    IndexNotFoundError,
    NewsqaError,
    QueryError,
)
from indexer.settings import Mode, Settings, load_settings
from service.index import Index
from service.models import (
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    AskRequest,
    AskResponse,
    DocumentResponse,
    ErrorResponse,
    HealthResponse,
    SearchResponse,
    ValidationErrorResponse,
)
from service.observability import annotate, instrument
from service.page import router as page_router
from service.security import protect, require_reader

log = logging.getLogger(__name__)


class IndexUnavailableError(NewsqaError):
    """The service has no usable index loaded."""


def get_index(request: Request) -> Index:
    index: Index | None = request.app.state.index
    if index is None:
        raise IndexUnavailableError(request.app.state.index_error)
    return index


IndexDep = Annotated[Index, Depends(get_index)]
router = APIRouter()
# The read endpoints: open unless NEWSQA_API_TOKEN is set. /health and /metrics stay open for probes.
READER = [Depends(require_reader)]

# The error bodies the handlers below really send (FastAPI would otherwise document its own 422).
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "No index is loaded; `detail` says how to build one."}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorResponse, "description": "The request is invalid; `detail` says why."}
}
UNREADABLE: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be parsed (not UTF-8, say)."}
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "NEWSQA_API_TOKEN is set and the token is missing or wrong."}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such document."}
}


@router.post(
    "/ask",
    response_model=AskResponse,
    dependencies=READER,
    responses={**UNAUTHORIZED, **UNREADABLE, **INVALID, **UNAVAILABLE},
)
def ask(body: AskRequest, index: IndexDep, request: Request) -> AskResponse:
    """Answer a question: the best sentence from the archive, and the passages it came from."""
    annotate(request, mode=body.mode, top_k=body.top_k, query=body.question)
    return index.ask(body.question, top_k=body.top_k, mode=body.mode)


@router.get(
    "/search",
    response_model=SearchResponse,
    dependencies=READER,
    responses={**UNAUTHORIZED, **INVALID, **UNAVAILABLE},
)
def search(
    index: IndexDep,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="the query")],
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    mode: Mode = "hybrid",
) -> SearchResponse:
    """The passages that best match a query, best first."""
    annotate(request, mode=mode, top_k=top_k, query=q)
    return index.search(q, top_k=top_k, mode=mode)


@router.get(
    "/documents/{doc_id:path}",
    response_model=DocumentResponse,
    dependencies=READER,
    responses={**UNAUTHORIZED, **NOT_FOUND, **INVALID, **UNAVAILABLE},
)
def document(doc_id: str, index: IndexDep) -> DocumentResponse:
    """A stored article; citations' `start`/`end` are offsets into its `text`."""
    found = index.document(doc_id)
    return DocumentResponse(**found.to_dict())  # type: ignore[arg-type]


@router.get("/health", response_model=HealthResponse, responses=UNAVAILABLE)
def health(index: IndexDep) -> HealthResponse:
    """Liveness and what is loaded: counts, model and the index manifest."""
    return HealthResponse(
        status="ok",
        documents=len(index.documents),
        passages=len(index.passages),
        model=index.embedder.name,
        index=index.manifest,
    )


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """The API over the index in `settings.index_dir`, loaded when the app starts.

    Without an index the app still starts and answers 503 with how to build one.
    Pass `embedder` to share an already loaded model (tests do).
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.index, app.state.index_error = None, None
        model = embedder or Embedder.from_settings(settings)
        try:
            app.state.index = Index.load(settings, model)
        except (IndexNotFoundError, IndexFormatError) as exc:
            log.error("%s", exc)
            app.state.index_error = str(exc)
        yield

    app = FastAPI(
        title="newsqa",
        version=version("newsqa"),
        description="Semantic search and extractive question answering over a news archive, "
        "with every answer cited by document id and exact character offsets.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    app.include_router(page_router)
    protect(app, settings)
    instrument(app, log_queries=settings.log_queries)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (QueryError, 422),
        (DocumentNotFoundError, 404),
        (IndexUnavailableError, 503),
        (NewsqaError, 500),
    ]
    for error_type, status in statuses:

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status, content={"detail": str(exc)})

        app.add_exception_handler(error_type, handler)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_describe(error) for error in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={"detail": "; ".join(errors), "errors": [_summary(error) for error in exc.errors()]},
        )

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error; see the server log"})

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)


def _describe(error: Any) -> str:
    """One readable line per validation error, without echoing the input back."""
    if error["type"] == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"
    where = ".".join(str(part) for part in error["loc"] if part not in ("body", "query", "path"))
    if error["type"] == "missing" and not where:
        return "request body is required"
    return f"{where or 'request body'}: {error['msg']}"


def _summary(error: Any) -> dict[str, Any]:
    return {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}

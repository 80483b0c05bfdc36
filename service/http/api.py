"""The HTTP API: a FastAPI app factory whose index loads in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from indexer.embed import Embedder
from indexer.errors import IndexBusyError, IndexWriteError, NewsqaError
from indexer.settings import Mode, Settings, load_settings
from indexer.shards import is_sharded
from service.core import temporal
from service.core.browse import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT, DocumentPage
from service.core.errors import DocumentNotFoundError, QueryError
from service.core.index import Index
from service.core.results import MAX_QUESTION_CHARS, MAX_TOP_K, AskResponse, SearchResponse
from service.core.shards import ShardClient
from service.http.documents import ArticleError
from service.http.documents import router as documents_router
from service.http.observability import annotate, instrument
from service.http.page import docs_router
from service.http.page import router as page_router
from service.http.params import FilterParams, SearchParams
from service.http.reload import ConflictError, IndexUnavailableError, Reloader, version_of
from service.http.reload import router as admin_router
from service.http.schemas import (
    INVALID,
    NOT_FOUND,
    TOO_LARGE,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNREADABLE,
    AskRequest,
    DocumentResponse,
    HealthResponse,
)
from service.http.security import protect, require_reader
from service.http.sharded import ShardedReloader

log = logging.getLogger(__name__)


async def get_index(request: Request, response: Response) -> Index:
    """The index this request uses from start to end, whatever reloads happen meanwhile;
    `X-Index-Version` names it. Async: it never blocks, so it runs on the event loop."""
    index: Index | None = request.app.state.index
    if index is None:
        raise IndexUnavailableError(request.app.state.index_error)
    response.headers["X-Index-Version"] = version_of(index)
    return index


IndexDep = Annotated[Index, Depends(get_index)]
router = APIRouter()
# The read endpoints: open unless NEWSQA_API_TOKEN is set. /health and /metrics stay open for probes.
READER = [Depends(require_reader)]


# `/ask` and `/search` are coroutines that hand the index work to the thread pool themselves:
# FastAPI runs a plain `def` endpoint there too, but then validates its response in a second
# trip to the pool. One trip instead of two.
@router.post(
    "/ask",
    response_model=AskResponse,
    dependencies=READER,
    responses={**UNAUTHORIZED, **UNREADABLE, **TOO_LARGE, **INVALID, **UNAVAILABLE},
)
async def ask(body: AskRequest, index: IndexDep, request: Request) -> AskResponse:
    """Answer a question: the best sentence from the archive, and the passages it came from."""
    annotate(request, mode=body.mode, top_k=body.top_k, query=body.question)
    return await run_in_threadpool(
        index.ask, body.question, top_k=body.top_k, mode=body.mode, filters=body.filters(), sort=body.sort
    )


@router.get(
    "/search",
    response_model=SearchResponse,
    dependencies=READER,
    responses={**UNAUTHORIZED, **INVALID, **UNAVAILABLE},
)
async def search(
    index: IndexDep,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="the query")],
    params: Annotated[SearchParams, Query()],
    top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = 5,
    mode: Mode = "hybrid",
) -> SearchResponse:
    """The passages that best match a query, best first, among the documents the filters keep
    (`top_k` of them whenever that many match)."""
    annotate(request, mode=mode, top_k=top_k, query=q)
    return await run_in_threadpool(
        index.search, q, top_k=top_k, mode=mode, filters=params.filters(), sort=params.sort
    )


@router.get(
    "/documents",
    response_model=DocumentPage,
    dependencies=READER,
    responses={**UNAUTHORIZED, **INVALID, **UNAVAILABLE},
)
def list_documents(
    index: IndexDep,
    params: Annotated[FilterParams, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="documents per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the page before")
    ] = None,
) -> DocumentPage:
    """The archive's documents, newest first (undated last), a page at a time, among those the
    filters keep; pass a page's `next_cursor` as `cursor` for the next. A page continues
    exactly after the last document shown, even when documents are added or deleted between pages."""
    return index.listing.page(params.filters(), limit=limit, cursor=cursor)


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
    """Liveness and what is loaded: counts, model and the index manifest, less what tells an
    attacker more than a probe needs (library versions, file hashes, the paths of skipped inputs,
    the segments with the ids of the documents deleted from them)."""
    manifest = {key: value for key, value in index.manifest.items() if key not in PRIVATE_MANIFEST}
    if isinstance(skipped := index.manifest.get("skipped"), dict):
        manifest["skipped"] = {"count": skipped.get("count", 0)}
    return HealthResponse(
        status="ok",
        documents=len(index.documents),
        passages=index.passage_count,
        model=index.embedder.name,
        index=manifest,
        crosslingual=index.crosslingual_status(),
    )


# Manifest sections /health leaves out: it answers anyone, tokens or not.
PRIVATE_MANIFEST = ("libraries", "sha256", "files", "skipped", "segments")


def create_app(
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    shards: Sequence[ShardClient] | None = None,
) -> FastAPI:
    """The API over the index in `settings.index_dir`, loaded when the app starts.

    Without an index the app still starts and answers 503 with how to build one.
    Pass `embedder` to share an already loaded model (tests do). A sharded index directory
    (indexer/shards.py) is served the same way, its shards in this process unless `shards`
    gives the clients of shards served elsewhere (Ray Serve: service/http/cluster.py).
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = embedder or Embedder.from_settings(settings)
        model.warm_up()  # compiles the query path for each question length now, not in a question
        temporal.warm_up()
        metrics = getattr(app.state, "metrics", None)  # set by `instrument`
        if shards is not None or is_sharded(settings.index_dir):
            reloader: Reloader = ShardedReloader(app.state, settings, model, metrics, shards)
        else:
            reloader = Reloader(app.state, settings, model, metrics)
        app.state.reloader = reloader
        reloader.start()
        watcher = asyncio.create_task(reloader.watch()) if settings.reload_interval > 0 else None
        yield
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await run_in_threadpool(reloader.stop_merging)  # a merge half done is lost work, not harm

    app = FastAPI(
        title="newsqa",
        version=version("newsqa"),
        description="Semantic search and extractive question answering over a news archive, "
        "with every answer cited by document id and exact character offsets.",
        lifespan=lifespan,
        # /docs and /redoc are served from installed files (service/http/page.py), not a CDN.
        docs_url=None,
        redoc_url=None,
        # No redirect from `/search/` to `/search`: Starlette builds it from the request's Host
        # header, which a client controls.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.index, app.state.index_error = None, None
    app.include_router(router)
    app.include_router(documents_router)
    app.include_router(admin_router)
    app.include_router(page_router)
    if settings.docs:
        app.include_router(docs_router)
    protect(app, settings)
    instrument(app, log_queries=settings.log_queries)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (QueryError, 422),
        (ArticleError, 422),
        (DocumentNotFoundError, 404),
        (ConflictError, 409),
        (IndexUnavailableError, 503),
        (IndexBusyError, 503),
        (IndexWriteError, 503),
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

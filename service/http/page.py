"""The search page, the article view and the API docs: small hand-written HTML, CSS and JS over
the JSON API, and Swagger UI and ReDoc from the bundles fastapi-offline ships (no CDN)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from string import Template
from urllib.parse import urlencode

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from indexer.clean import Document
from indexer.fields import is_web_url
from service.core.errors import DocumentNotFoundError
from service.http.security import check_reader

STATIC_DIR = Path(__file__).parent / "static"
DOCS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSET_TYPES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "auth.js": "text/javascript; charset=utf-8",
    "read.js": "text/javascript; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
DOCS_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# Swagger UI and ReDoc set styles inline (ReDoc adds <style> elements) and ReDoc runs its search
# in a worker it makes from a blob; scripts still come only from this origin.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
MODES = ("hybrid", "dense", "lexical")

# Pages are HTML, not API operations: none of them belongs in the OpenAPI schema.
router = APIRouter(include_in_schema=False)


# The API docs (/docs, /redoc), included unless NEWSQA_DOCS is off.
docs_router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str


@cache
def _asset(name: str, folder: Path = STATIC_DIR) -> Asset:
    body = (folder / name).read_bytes()
    return Asset(body, f'"{hashlib.sha256(body).hexdigest()[:16]}"')


@router.get("/", response_class=HTMLResponse)
def search_page() -> HTMLResponse:
    """The search page; it asks the API from the browser, so it loads even without an index."""
    return HTMLResponse(_asset("index.html").body)


@router.get("/static/{name}")
def static_asset(name: str, request: Request) -> Response:
    """A stylesheet or script, revalidated by ETag so an edit shows up on the next load."""
    return _serve(name, request, ASSET_TYPES, STATIC_DIR)


@docs_router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return HTMLResponse(_asset("docs.html").body, headers={"Content-Security-Policy": DOCS_POLICY})


@docs_router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    """ReDoc over /openapi.json."""
    return HTMLResponse(_asset("redoc.html").body, headers={"Content-Security-Policy": DOCS_POLICY})


@docs_router.get("/static/docs/{name}")
def docs_asset(name: str, request: Request) -> Response:
    """Swagger UI's and ReDoc's files, as the installed fastapi-offline ships them."""
    return _serve(name, request, DOCS_ASSET_TYPES, DOCS_DIR)


def _serve(name: str, request: Request, types: dict[str, str], folder: Path) -> Response:
    if name not in types:
        return Response("no such file", status_code=404, media_type="text/plain")
    asset = _asset(name, folder)
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=types[name], headers=headers)


@router.get("/read/{doc_id:path}", response_class=HTMLResponse)
def read_page(
    request: Request,
    doc_id: str,
    start: str | None = None,
    end: str | None = None,
    q: str | None = None,
    mode: str | None = None,
) -> HTMLResponse:
    """A whole article with `text[start:end]` marked; `q` and `mode` make the link back.

    Offsets that are not integers or fall outside the article leave it unmarked, with a note,
    rather than failing: the article is still worth showing.
    """
    back = _back_link(q, mode)
    try:
        check_reader(request)
    except HTTPException:
        # A link followed in the browser carries no token: read.js asks again with it.
        main = (
            '<section id="locked" class="problem"><h1>This archive needs an access token</h1>'
            '<p class="locked-status">Asking for the article with your access token…</p>'
            f"<p>{back}</p></section>"
        )
        return _page("Access token needed", main, status_code=401)
    index = getattr(request.app.state, "index", None)
    if index is None:
        detail = getattr(request.app.state, "index_error", None) or "No index is loaded."
        main = (
            '<section class="problem"><h1>The archive is not loaded</h1>'
            f"<p>The service has no index to read articles from.</p><p><code>{escape(detail)}</code></p>"
            f"<p>{back}</p></section>"
        )
        return _page("Archive not loaded", main, status_code=503)
    try:
        document = index.document(doc_id)
    except DocumentNotFoundError:
        main = (
            '<section class="problem"><h1>Article not found</h1>'
            f"<p>The archive has no article with the id <code>{escape(doc_id)}</code>.</p>"
            f"<p>{back}</p></section>"
        )
        return _page("Article not found", main, status_code=404)
    span = _span(start, end, len(document.text))
    return _page(document.title, _article(document, span, back, asked=(start, end) != (None, None)))


def _article(document: Document, span: tuple[int, int] | None, back: str, asked: bool) -> str:
    facts = [("Language", escape(document.language))]
    if document.url:
        url = escape(document.url)
        # Only an http(s) URL becomes a link, also in an index written before fields.py's
        # rules: a `javascript:` one would run on this origin when clicked.
        link = f'<a href="{url}" rel="noopener noreferrer">{url}</a>' if is_web_url(document.url) else url
        facts.append(("Source", link))
    if document.date:
        facts.append(("Date", _date(document)))
    if document.site:
        facts.append(("Site", escape(document.site)))
    facts.append(("Document", f"<code>{escape(document.doc_id)}</code>"))
    text = document.text
    if span is None:
        body = escape(text)
        notice = (
            '<p class="notice">The cited passage is not within this article; it is shown whole.</p>'
            if asked
            else ""
        )
    else:
        start, end = span
        body = (
            f'{escape(text[:start])}<span id="cited" class="cited" tabindex="-1">'
            f"{_marked(text[start:end])}</span>{escape(text[end:])}"
        )
        notice = ""
    fact_rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return (
        f'<p class="crumbs">{back}</p>'
        f'<article class="article" aria-labelledby="article-title">'
        f'<header class="article-head"><h1 id="article-title">{escape(document.title)}</h1>'
        f'<dl class="facts">{fact_rows}</dl></header>{notice}'
        f'<div class="card article-text">{body}</div></article>'
    )


def _date(document: Document) -> str:
    """The publication day, said to be the file's modification day where no other was found."""
    day = escape(document.date or "")
    shown = f'<time datetime="{day}">{day}</time>'
    if document.date_source == "file":
        shown += ' <span class="hint">(the file\'s date: no publication date was found)</span>'
    return shown


def _marked(span: str) -> str:
    """`span` escaped, each paragraph in its own <mark>: one mark across a blank line would
    leave a stray sliver of highlight on the empty line."""
    pieces = re.split(r"(\n+)", span)
    return "".join(
        piece if piece.startswith("\n") or not piece else f"<mark>{escape(piece)}</mark>" for piece in pieces
    )


def _span(start: str | None, end: str | None, length: int) -> tuple[int, int] | None:
    try:
        first, last = int(start or ""), int(end or "")
    except ValueError:
        return None
    return (first, last) if 0 <= first < last <= length else None


def _back_link(question: str | None, mode: str | None) -> str:
    if not question or not question.strip():
        return '<a href="/">← Search the archive</a>'
    params = {"q": question, **({"mode": mode} if mode in MODES and mode != "hybrid" else {})}
    return f'<a href="/?{escape(urlencode(params))}">← Back to results</a>'


def _page(title: str, main: str, status_code: int = 200) -> HTMLResponse:
    shell = Template(_asset("page.html").body.decode())
    return HTMLResponse(shell.substitute(title=escape(title), main=main), status_code=status_code)

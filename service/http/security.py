"""Access control and limits: bearer tokens, a request body size limit, CORS and safe headers.

`NEWSQA_ADMIN_TOKEN` guards every endpoint that changes the archive; while it is unset
those endpoints are disabled (403). `NEWSQA_API_TOKEN`, when set, guards the read
endpoints too (the admin token reads as well). Tokens are compared in constant time. Bodies
over `NEWSQA_MAX_BODY_BYTES` are refused with 413; browsers may call the API from other
origins only when `NEWSQA_CORS_ORIGINS` names them. Every response carries a
Content-Security-Policy and the other headers of `SECURITY_HEADERS`; HEAD and OPTIONS are
answered for every route. SECURITY.md has the threat model.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.settings import Settings


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check(request: Request, accepted: list[SecretStr], what: str) -> None:
    given = _bearer(request)
    if given is None:
        raise HTTPException(
            status_code=401,
            detail=f"{what} requires `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Every accepted token is compared, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(given.encode(), token.get_secret_value().encode()) for token in accepted]
    if not any(matches):
        raise HTTPException(
            status_code=401, detail=f"invalid token for {what}", headers={"WWW-Authenticate": "Bearer"}
        )


async def require_admin(request: Request) -> None:
    """Dependency of every endpoint that changes the archive or the loaded index. Async (it
    never blocks), so FastAPI runs it on the event loop, not in a thread of its pool."""
    token = _settings(request).admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status_code=403,
            detail="write endpoints are disabled: set NEWSQA_ADMIN_TOKEN when starting the service",
        )
    _check(request, [token], "this endpoint")


async def require_reader(request: Request) -> None:
    """Dependency of the read endpoints: open unless `NEWSQA_API_TOKEN` is set. Async, like
    `require_admin`: a thread hop per dependency cost /ask about half a millisecond."""
    check_reader(request)


def check_reader(request: Request) -> None:
    """Raise 401 unless the request may read: no `NEWSQA_API_TOKEN` set, or it or the admin
    token given (an admin may read what they may change)."""
    settings = _settings(request)
    token = settings.api_token
    if token is not None and token.get_secret_value():
        admin = settings.admin_token
        accepted = [token] + ([admin] if admin is not None and admin.get_secret_value() else [])
        _check(request, accepted, "this endpoint (NEWSQA_API_TOKEN is set)")


# The pages' policy: scripts, styles and requests only from this origin, nothing inline, no
# plugins, no framing. The page and the article view are built for it (service/http/static).
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Everything else (JSON, scripts, styles) is never a document: it may load nothing at all.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


def protect(app: FastAPI, settings: Settings) -> None:
    """Add the body size limit, the security headers, HEAD and OPTIONS for every route and,
    when `settings.cors_origins` is set, CORS to `app`."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MethodsForEveryRoute)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:  # added last, so it also answers for the limit's 413
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )


class SecurityHeaders:
    """Add `SECURITY_HEADERS` to every response, and a Content-Security-Policy where the route
    set none: `PAGE_POLICY` for HTML, `DATA_POLICY` for anything else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("content-security-policy", PAGE_POLICY if html else DATA_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MethodsForEveryRoute:
    """HEAD wherever GET is served (the GET response's headers, no body), and OPTIONS on every
    route: 204 with `Allow` naming its methods. A CORS preflight, when CORS is on, is answered
    by the CORS middleware before it reaches this.

    Both learn what a route serves from the router itself: HEAD runs as GET, and OPTIONS turns
    the router's 405 (whose `Allow` lists the route's methods) into the 204.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if method == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            return
        answered = False

        async def options(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] == 405 and "allow" in headers:
                    methods = {part.strip() for part in headers["allow"].split(",")}
                    methods |= {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
                    response = Response(status_code=204, headers={"Allow": ", ".join(sorted(methods))})
                    await response(scope, receive, send)
                    answered = True
                    return
            if not answered:
                await send(message)

        await self.app(scope, receive, options)


def _without_body(send: Send) -> Send:
    """`send` for a HEAD request: the response's start (its headers) and an empty body."""

    async def headers_only(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
        elif not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return headers_only


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413 and a JSON `detail`.

    A declared Content-Length over the limit is refused before any of the body is read;
    a body without one (chunked) is counted as it streams in and refused once it passes the
    limit, whatever the app was doing with it. A plain ASGI middleware, so nothing is buffered.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the app's answer to a body it could not finish reading: 413 goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
        if refused and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body is larger than the limit of {self.max_bytes} bytes (NEWSQA_MAX_BODY_BYTES)"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)

"""Access control and limits: bearer tokens, a request body size limit, and CORS.

`NEWSQA_ADMIN_TOKEN` guards every endpoint that changes the archive; while it is unset
those endpoints are disabled (403). `NEWSQA_API_TOKEN`, when set, guards the read
endpoints too. Tokens are compared in constant time. Bodies over `NEWSQA_MAX_BODY_BYTES`
are refused with 413; browsers may call the API from other origins only when
`NEWSQA_CORS_ORIGINS` names them.
"""

from __future__ import annotations

import hmac

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.settings import Settings


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check(request: Request, expected: SecretStr, what: str) -> None:
    given = _bearer(request)
    if given is None:
        raise HTTPException(
            status_code=401,
            detail=f"{what} requires `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
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
    _check(request, token, "this endpoint")


async def require_reader(request: Request) -> None:
    """Dependency of the read endpoints: open unless `NEWSQA_API_TOKEN` is set. Async, like
    `require_admin`: a thread hop per dependency cost /ask about half a millisecond."""
    check_reader(request)


def check_reader(request: Request) -> None:
    """Raise 401 unless the request may read (no `NEWSQA_API_TOKEN` set, or its token given)."""
    token = _settings(request).api_token
    if token is not None and token.get_secret_value():
        _check(request, token, "this endpoint (NEWSQA_API_TOKEN is set)")


def protect(app: FastAPI, settings: Settings) -> None:
    """Add the body size limit and, when `settings.cors_origins` is set, CORS to `app`."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:  # added last, so it also answers for the limit's 413
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )


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

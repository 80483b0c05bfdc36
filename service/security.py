"""Access control: bearer tokens for the write endpoints and, optionally, the read ones.

`NEWSQA_ADMIN_TOKEN` guards every endpoint that changes the archive; while it is unset
those endpoints are disabled (403). `NEWSQA_API_TOKEN`, when set, guards the read
endpoints too. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from pydantic import SecretStr

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


def require_admin(request: Request) -> None:
    """Dependency of every endpoint that changes the archive or the loaded index."""
    token = _settings(request).admin_token
    if token is None or not token.get_secret_value():
        raise HTTPException(
            status_code=403,
            detail="write endpoints are disabled: set NEWSQA_ADMIN_TOKEN when starting the service",
        )
    _check(request, token, "this endpoint")


def require_reader(request: Request) -> None:
    """Dependency of the read endpoints: open unless `NEWSQA_API_TOKEN` is set."""
    token = _settings(request).api_token
    if token is not None and token.get_secret_value():
        _check(request, token, "this endpoint (NEWSQA_API_TOKEN is set)")

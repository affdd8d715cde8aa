"""Bearer-token check in front of every web endpoint but health, readiness and metrics."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

# liveness and readiness probes and Prometheus scrapes carry no token; they reveal no annotator
OPEN_PATHS = frozenset({"/healthz", "/ready", "/metrics"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """aiohttp middleware: 401 unless `Authorization: Bearer <token>` (compared in constant time)."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            detail = "send the header Authorization: Bearer <ALPHAWATCH_WEB_TOKEN>"
            return web.json_response({"error": "unauthorized", "detail": detail}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="alphawatch"'})
        return await handler(request)

    return require_token

"""Bearer-token check in front of every web endpoint but health, readiness, metrics and the page's files."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from stream.webpage.assets import ASSETS

# liveness and readiness probes and Prometheus scrapes carry no token; they reveal no annotator.
# The live page's HTML, script and style are the package's own code with no data in them: a
# browser cannot send a header when it opens a URL, so the page loads and then asks for the token
OPEN_PATHS = frozenset({"/healthz", "/ready", "/metrics", *ASSETS})

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

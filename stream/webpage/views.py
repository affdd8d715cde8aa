"""GET / (the live page), its script and style, and GET /config (the settings the page draws with)."""

from __future__ import annotations

from typing import Any

import faust

from stream.context import Context
from stream.webpage.assets import ASSETS, CONTENT_SECURITY_POLICY, page_config, read


def register(app: faust.App, ctx: Context) -> None:
    """The page's files at /, /static/livepage.js and /static/livepage.css; its settings at /config."""
    # Faust mounts a placeholder {"status": "OK"} at "/" when the web server starts: the page takes "/"
    app.web.production_blueprints = []  # type: ignore[misc]  # this worker's web only
    for path in ASSETS:
        serve(app, path)
    config = page_config(ctx.settings)

    @app.page("/config")
    async def settings(web: Any, request: Any) -> Any:
        return web.json(config)


def serve(app: faust.App, path: str) -> None:
    """One static file, read once: the package's files do not change while the worker runs."""
    body, content_type = read(path), ASSETS[path][1]
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}

    @app.page(path, name=f"livepage:{ASSETS[path][0]}")
    async def asset(web: Any, request: Any) -> Any:
        return web.bytes(body, content_type=content_type, headers=headers)

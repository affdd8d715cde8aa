"""Open flags over HTTP: GET /flags, tailed from qa-flags on every worker, each with its explanation."""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.context import Context
from stream.flags.policy import flag_key
from stream.web import tail_view


class FlagView:
    """The open flag of each dimension|slice|window size: a raise opens it, the recovery naming it
    closes it. qa-flags is what webhooks and consumers see, so the page shows the same flags."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, Any]] = {}
        self.cleared = 0  # recoveries read, for the page's "cleared so far"

    def apply(self, value: bytes) -> None:
        flag = orjson.loads(value)
        key = flag_key(flag)
        if flag["kind"] == "agreement_low":
            self.open[key] = flag
        elif flag["kind"] == "agreement_recovered":
            self.cleared += 1
            # a recovery of an older raise (read again after a restart) leaves the newer one open
            if self.open.get(key, {}).get("flag_id") == flag["opened_flag_id"]:
                del self.open[key]
        else:
            raise ValueError(f"unknown flag kind {flag['kind']!r}")

    def select(self) -> dict[str, Any]:
        """Open flags, the newest raise first."""
        flags = sorted(self.open.values(), key=lambda f: (str(f["raised_at"]), f["flag_id"]), reverse=True)
        return {"open": flags, "cleared": self.cleared}


def register(app: faust.App, ctx: Context) -> None:
    """GET /flags on every worker, from the qa-flags topic."""
    view = FlagView()
    tail_view(app, ctx, ctx.topics.flags, view.apply)

    @app.page("/flags")
    async def flags(web: Any, request: Any) -> Any:
        return web.json(view.select())

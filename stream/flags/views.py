"""Open flags over HTTP: GET /flags, tailed from qa-flags on every worker, each with its explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

import faust
import orjson

from stream.context import Context
from stream.flags.policy import FlagKind, flag_key
from stream.web import tail_view

KINDS = get_args(FlagKind)


class FlagView:
    """Which flags are open, with their explanation, from qa-flags: per dimension|slice|window size
    the newest decision wins, a raise (open) or a recovery (closed). qa-flags is keyed by flag id, so
    a raise and its recovery sit on different partitions and the tail may read the recovery first:
    "newest" is the time the merge stage decided (`raised_at`; one owner decides a key's changes one
    after the other, through Redis), never the order read. A record read again changes nothing."""

    def __init__(self) -> None:
        self.newest: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self.cleared: set[str] = set()  # recovery ids read: "cleared so far" on the page

    def apply(self, value: bytes) -> None:
        flag = orjson.loads(value)
        if flag["kind"] not in KINDS:
            raise ValueError(f"unknown flag kind {flag['kind']!r}")
        decided = datetime.fromisoformat(flag["raised_at"])
        key = flag_key(flag)
        if flag["kind"] == "agreement_recovered":
            self.cleared.add(flag["flag_id"])
        known = self.newest.get(key)
        if known is None or decided > known[0]:
            self.newest[key] = (decided, flag)

    def select(self) -> dict[str, Any]:
        """Open flags, the newest raise first, and how many recoveries were read."""
        open_ = [(decided, f) for decided, f in self.newest.values() if f["kind"] == "agreement_low"]
        open_.sort(key=lambda item: (item[0], item[1]["flag_id"]), reverse=True)
        return {"open": [f for _, f in open_], "cleared": len(self.cleared)}


def register(app: faust.App, ctx: Context) -> None:
    """GET /flags on every worker, from the qa-flags topic."""
    view = FlagView()
    tail_view(app, ctx, ctx.topics.flags, view.apply)

    @app.page("/flags")
    async def flags(web: Any, request: Any) -> Any:
        return web.json(view.select())

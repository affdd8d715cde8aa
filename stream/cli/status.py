"""`alphawatch status` and the `--wait` of produce, replay and report: are the workers caught up?"""

from __future__ import annotations

import asyncio

import orjson
from rich.console import Console
from rich.table import Table

from stream.ops.status import TopicStatus, caught_up, read_status, wait_caught_up
from stream.settings import Settings


def table(rows: list[TopicStatus]) -> Table:
    out = Table(title="consumer group progress")
    for column in ("input topic", "stages", "records", "committed", "lag"):
        out.add_column(column, justify="left" if column in ("input topic", "stages") else "right")
    for row in rows:
        out.add_row(row.topic, ", ".join(row.stages), str(row.end), str(row.committed), str(row.lag))
    return out


def verdict(settings: Settings, rows: list[TopicStatus]) -> str:
    if not rows:
        return f"nothing produced yet for app {settings.app_id} (no input topic exists)"
    if caught_up(rows):
        return "caught up: every stage has committed everything on its inputs"
    behind = ", ".join(f"{r.topic} {r.lag}" for r in rows if r.lag)
    return f"behind: {behind} record(s) not committed yet (is `alphawatch worker` running with this app id?)"


def show(settings: Settings, console: Console, as_json: bool) -> list[TopicStatus]:
    rows = asyncio.run(read_status(settings))
    if as_json:
        print(orjson.dumps({"caught_up": caught_up(rows), "topics": [
            {"topic": r.topic, "stages": list(r.stages), "records": r.end, "committed": r.committed,
             "lag": r.lag} for r in rows]}).decode())
    else:
        if rows:
            console.print(table(rows))
        console.print(verdict(settings, rows), highlight=False)
    return rows


def wait(settings: Settings, console: Console, timeout_s: float) -> bool:
    """Wait until caught up (printing the lag as it shrinks); False if `timeout_s` passed first."""
    def progress(rows: list[TopicStatus]) -> None:
        console.print(f"waiting for the workers: {sum(r.lag for r in rows)} record(s) to go", highlight=False)

    rows = asyncio.run(wait_caught_up(settings, timeout_s, progress=progress))
    console.print(verdict(settings, rows), highlight=False)
    return caught_up(rows)

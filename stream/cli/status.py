"""`alphawatch status` and the `--wait` of produce, replay and report: are the workers caught up?"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
from rich.console import Console
from rich.table import Table

from stream.ops.status import TopicStatus, caught_up, read_status, wait_caught_up, worker_watermark
from stream.settings import Settings


def stamp(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def table(rows: list[TopicStatus]) -> Table:
    out = Table(title="consumer group progress")
    for column in ("input topic", "stages", "records", "committed", "lag", "last committed record at"):
        out.add_column(column, justify="right" if column in ("records", "committed", "lag") else "left")
    for row in rows:
        out.add_row(row.topic, ", ".join(row.stages), str(row.end), str(row.committed), str(row.lag),
                    stamp(row.last_at) or "-")
    return out


def watermark_line(settings: Settings, mark: float | None) -> str:
    where = f"http://{settings.web_host}:{settings.web_port}/metrics"
    if mark is None:
        return f"event-time watermark: unknown (no worker with a watermark answers at {where})"
    return (f"event-time watermark: {stamp(mark)} (worker at {where}; windows and batches that end "
            "before it are closed)")


def verdict(settings: Settings, rows: list[TopicStatus]) -> str:
    if not rows:
        return f"nothing produced yet for app {settings.app_id} (no input topic exists)"
    if caught_up(rows):
        return "caught up: every stage has committed everything on its inputs"
    behind = ", ".join(f"{r.topic} {r.lag}" for r in rows if r.lag)
    return f"behind: {behind} record(s) not committed yet (is `alphawatch worker` running with this app id?)"


def show(settings: Settings, console: Console, as_json: bool) -> list[TopicStatus]:
    rows = asyncio.run(read_status(settings))
    mark = worker_watermark(settings)
    if as_json:
        print(orjson.dumps({"caught_up": caught_up(rows), "watermark": stamp(mark), "topics": [
            {"topic": r.topic, "stages": list(r.stages), "records": r.end, "committed": r.committed,
             "lag": r.lag, "last_committed_at": stamp(r.last_at)} for r in rows]}).decode())
    else:
        if rows:
            console.print(table(rows))
            console.print(watermark_line(settings, mark), highlight=False)
        console.print(verdict(settings, rows), highlight=False)
    return rows


def wait(settings: Settings, console: Console, timeout_s: float) -> bool:
    """Wait until caught up (printing the lag as it shrinks); False if `timeout_s` passed first."""
    def progress(rows: list[TopicStatus]) -> None:
        console.print(f"waiting for the workers: {sum(r.lag for r in rows)} record(s) to go", highlight=False)

    rows = asyncio.run(wait_caught_up(settings, timeout_s, progress=progress))
    console.print(verdict(settings, rows), highlight=False)
    return caught_up(rows)

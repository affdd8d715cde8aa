"""The campaign commands behind the CLI: simulate, produce / replay (with a progress bar) and report."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stream.io.produce import ProduceStats, Schedule, count_lines, last_batch_closed_by, send_file
from stream.settings import Settings
from stream.topics import ANNOTATIONS


def progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def publish(settings: Settings, path: Path, topic: str | None, schedule: Schedule, close_windows: bool,
            console: Console, per_record: int = 1) -> ProduceStats:
    """Send a JSONL file with a progress bar, then print sent / failed counts (and the watermark)."""
    name = topic or settings.topic(ANNOTATIONS)
    with progress_bar(console) as bar:
        task = bar.add_task(f"-> {name}", total=count_lines(path))

        def advance(sent: int) -> None:
            bar.update(task, completed=sent)

        stats, mark = asyncio.run(send_file(settings, path, name, schedule, close_windows, advance,
                                            per_record))
    console.print(f"sent {stats.sent}, failed {stats.failed}, {stats.seconds:.1f}s")
    if mark:
        console.print(f"sent watermark {mark}: every window ends before it, so does batch "
                      f"{last_batch_closed_by(mark, settings)} (and every earlier batch)", highlight=False)
    return stats


def simulate(settings: Settings, name: str, out: Path | None, to_kafka: bool, rate: float | None,
             console: Console, **knobs: Any) -> None:
    """Write a scenario's events, gold key and ground truth; with `to_kafka`, also load the key and
    produce the events at `rate`."""
    from stream.campaign.scenarios import paths_for, scenario, write

    campaign = scenario(name, **knobs)
    if out is not None:
        written = write(campaign, name, out)
        console.print(f"wrote {written.count} annotations to {written.events}, gold key {written.gold_key}, "
                      f"ground truth {written.truth}")
    if to_kafka:
        from stream.io.produce import rate_schedule

        events = out if out is not None else Path(_scratch(campaign, name))
        paths = paths_for(events)
        asyncio.run(_load_key(settings, paths.gold_key))
        publish(settings, paths.events, None, rate_schedule(rate), False, console)


def _scratch(campaign: Any, name: str) -> str:
    import tempfile

    from stream.campaign.scenarios import write

    folder = Path(tempfile.mkdtemp(prefix="alphawatch-sim-"))
    write(campaign, name, folder)
    return str(folder)


async def _load_key(settings: Settings, path: Path) -> None:
    from stream.qualification.goldkey import publish_gold_key, read_key_file

    await publish_gold_key(settings, read_key_file(path, settings))


def file_dimensions(lines: list[bytes]) -> list[str]:
    """Dimension names a pilot file uses (scores and preferences), in order of first use."""
    seen: dict[str, None] = {}
    for raw in lines:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            for answers in (event.get("scores"), event.get("preferences")):
                if isinstance(answers, dict):
                    seen.update(dict.fromkeys(str(k) for k in answers))
    return list(seen)


def report(settings: Settings, events: Path | None, gold_key: Path | None, out: Path,
           console: Console) -> Path:
    """From a JSONL file of events (offline; dimensions taken from the file), else from the topics."""
    from stream.agreement.offline import read_lines
    from stream.report.build import build, write

    key = [orjson.loads(line) for line in read_lines(gold_key)] if gold_key else None
    if events is not None:
        lines = list(read_lines(events))
        found = file_dimensions(lines)
        if found and set(found) != set(settings.dimensions):
            settings = settings.model_copy(update={"dimensions": found})
        data = build(lines, settings, None, key)
    else:
        from stream.io.observe import read_all

        observed = asyncio.run(read_all(settings))
        console.print(f"read {len(observed.annotations)} annotation messages, {len(observed.windows)} "
                      f"agreement windows, {len(observed.flags)} flags, {len(observed.status)} annotators, "
                      f"{len(observed.batch_records)} batch records from {settings.broker_url}")
        if not observed.windows:
            console.print("[yellow]no agreement records yet[/]: is a worker running with these settings "
                          "(ALPHAWATCH_BROKER_URL, ALPHAWATCH_TOPIC_PREFIX)?")
        data = build(observed.annotations, settings, observed, key)
    html = write(data, out)
    # piped output keeps whole cells rather than the 80 columns Rich assumes without a terminal
    print_ranking(data.pilot, Console(width=None if sys.stdout.isatty() else 160))
    return html


def print_ranking(rows: list[dict[str, Any]], console: Console,
                  fmt: Callable[[Any], str] = lambda v: "-" if v is None else f"{v:.3f}") -> None:
    table = Table("rank", "dimension", "alpha", "95% CI", "pairable values", ">= 0.667", ">= 0.800",
                  "verdict", title="pilot ranking (whole file, slice all)")
    for i, r in enumerate(rows, 1):
        reach = [{True: "yes", False: "no", None: "?"}[r["reaches"][b]] for b in ("0.667", "0.800")]
        table.add_row(str(i), r["dimension"], fmt(r["alpha"]), f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                      f"{r['n_pairable_values']:.0f}", *reach, r["verdict"])
    console.print(table)

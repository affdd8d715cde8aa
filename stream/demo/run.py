"""`alphawatch demo`: a believable campaign through the real pipeline, watched live, then a report."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, RenderableType
from rich.live import Live

from schemas.gold import GoldKeyRow
from stream.campaign.scenarios import scenario
from stream.campaign.simulate import Campaign, generate, gold_key, ground_truth
from stream.core import vocabulary
from stream.demo import liveview
from stream.demo import stack as demostack
from stream.io.observe import Observed, follow
from stream.io.produce import ProduceStats, closing_watermark, produce, send_watermark
from stream.qualification.goldkey import publish_gold_key
from stream.settings import Settings
from stream.topics import ANNOTATIONS


def demo_campaign(seed: int = 7) -> Campaign:
    """ambiguous-guideline (text_alignment from clip 1200 of 2400, 5% gold) plus a careless speeder:
    of 20 annotators, ann-0019 works 2.5 times the others' pace, qualifies on gold, answers at random
    from clip 400 and is benched from clip 650 (the platform's answer to retraining, which the
    offline replay puts at clip 537). Low noise (alpha about 0.85): the careless stretch dents every
    dimension, but only the guideline sinks one below 0.667."""
    return scenario("ambiguous-guideline", clips=2400, annotators=20, seed=seed, careless=1,
                    careless_weight=2.5, careless_from=400, careless_until=650, noise_sd=(0.4, 0.65))


@dataclass
class Run:
    """One demo run's inputs, and what the pipeline said about them."""

    campaign: Campaign
    settings: Settings
    duration_s: float
    events: list[bytes]
    observed: Observed = field(default_factory=Observed)
    sent: int = 0
    phase: str = "starting"
    started: float = field(default_factory=time.monotonic)
    stats: ProduceStats | None = None
    rate: float = 0.0  # ingested events per second, smoothed
    counted: tuple[float, float] = (0.0, 0.0)  # (monotonic time, ingested total) of the last poll


def settings_for(stack: demostack.Stack) -> Settings:
    """The worker's settings, for the demo's own clients and the report."""
    return Settings(broker_url=stack.broker_url, redis_url=stack.redis_url, **demostack.DEMO)


def progress(run: Run, counters: dict[str, float]) -> liveview.Progress:
    """Where the run is, with the ingest rate smoothed over the last few polls."""
    now, total = time.monotonic(), counters.get("valid", 0.0) + counters.get("invalid", 0.0)
    then, before = run.counted
    if then:
        run.rate = 0.7 * run.rate + 0.3 * (total - before) / max(now - then, 1e-3)
    run.counted = (now, total)
    return liveview.Progress(run.sent, len(run.events), now - run.started, run.duration_s,
                             counters, run.rate, run.phase)


class Screen:
    """A live view on a terminal; elsewhere (CI, pipes) a status line every 10 seconds."""

    def __init__(self, console: Console, run: Run):
        self.console, self.run = console, run
        self.live = Live(console=console, refresh_per_second=2) if console.is_terminal else None
        self.printed = 0.0
        self.last: RenderableType | None = None

    def show(self, view: liveview.Progress) -> None:
        dims = vocabulary.all_dimensions(self.run.settings.dimensions)
        self.last = liveview.render(self.run.observed, view, min(self.run.settings.window_seconds), dims)
        if self.live is not None:
            self.live.update(self.last)
        elif time.monotonic() - self.printed >= 10.0:
            self.console.print(liveview.status_line(self.run.observed, view))
            self.printed = time.monotonic()


async def watch(run: Run, port: int, screen: Screen, until: Callable[[], bool], timeout: float) -> bool:
    """Redraw every half second until `until()` holds; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            counts = await asyncio.to_thread(demostack.counters, port)
            screen.show(progress(run, counts))
        if until():
            return True
        await asyncio.sleep(0.5)
    return False


def all_final(run: Run) -> bool:
    """Every window of every rating dimension (slice all) has its final record."""
    size = min(run.settings.window_seconds)
    rows = [r for d in run.settings.dimensions for r in run.observed.series(d, size)]
    return bool(rows) and all(r["final"] for r in rows)


async def drive(run: Run, stack: demostack.Stack, screen: Screen) -> None:
    """Load the key, produce the campaign at the demo's pace, let the pipeline catch up, close windows."""
    s = run.settings
    await publish_gold_key(s, [GoldKeyRow.model_validate(r) for r in gold_key(run.campaign)])
    stop = asyncio.Event()
    follower = asyncio.create_task(follow(s, run.observed, stop))
    sender = asyncio.create_task(produce(s.broker_url, s.topic(ANNOTATIONS), run.events,
                                         rate=len(run.events) / run.duration_s,
                                         progress=lambda n: setattr(run, "sent", n)))
    try:
        run.phase = "annotating"
        await watch(run, stack.port, screen, sender.done, run.duration_s * 3 + 60)
        run.stats = await sender
        run.phase = "closing windows"
        mark = closing_watermark(run.events, s)
        await send_watermark(s.broker_url, s.topic(ANNOTATIONS), mark, s.partitions)
        await watch(run, stack.port, screen, lambda: all_final(run), 180.0)
        run.phase = "done"
        await watch(run, stack.port, screen, lambda: True, 5.0)
    finally:
        sender.cancel()  # a no-op once it is done; on Ctrl-C it stops producing at once
        stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(follower, 10.0)


def summary(run: Run, stack: demostack.Stack, report: Path | None, interrupted: bool) -> dict[str, Any]:
    """What happened, for the closing lines and summary.json (the demo test reads it)."""
    raised = [f for f in run.observed.flags.values() if f["kind"] == "agreement_low"]
    states = run.observed.states()
    return {
        "interrupted": interrupted, "sent": run.stats.sent if run.stats else run.sent,
        "failed": run.stats.failed if run.stats else None, "planned": len(run.events),
        "flags": sorted({f"{f['dimension']} [{f['slice']}]" for f in raised}),
        "flagged_dimensions": sorted({f["dimension"] for f in raised if f["slice"] == "all"}),
        "retraining": states["retraining"], "qualified": len(states["qualified"]),
        "final_windows": sum(1 for (_, name, _, _), r in run.observed.windows.items()
                             if name == "all" and r["final"]),
        "batch_records": len(run.observed.batch_records), "batches_closed": sorted(run.observed.manifests),
        "planted": ground_truth(run.campaign), "report": str(report) if report else None,
        "pids": stack.pids, "out": str(stack.out),
    }


def closing_lines(facts: dict[str, Any]) -> list[str]:
    flagged = ", ".join(facts["flagged_dimensions"]) or "none"
    planted = facts["planted"]
    return [
        f"sent {facts['sent']} of {facts['planned']} annotation events; "
        f"final windows: {facts['final_windows']}",
        f"planted: {planted['ambiguous']['dimension']} ambiguous from {planted['ambiguous']['from'][11:16]}, "
        f"careless {', '.join(planted['careless'])} from {str(planted['careless_from'])[11:16]}",
        f"found: flags on {flagged} ({len(facts['flags'])} incl. slices); sent to retraining: "
        f"{', '.join(facts['retraining']) or 'nobody'}; qualified: {facts['qualified']}",
        f"batches: {facts['batch_records']} records; closed {len(facts['batches_closed'])} "
        f"({', '.join(facts['batches_closed']) or 'none'})",
        f"report: {facts['report'] or '(not written)'}",
    ]


def write_report(run: Run, out: Path) -> Path:
    from stream.report.build import build, write

    key = gold_key(run.campaign)
    return write(build(run.events, run.settings, run.observed, key), out / "report")


def export_view(screen: Screen, out: Path) -> None:
    """The last frame as plain text (liveview.txt): what the README's excerpt is taken from."""
    if screen.last is None:
        return
    record = Console(file=io.StringIO(), record=True, width=118, color_system=None)
    record.print(screen.last)
    (out / "liveview.txt").write_text(record.export_text(), encoding="utf-8")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the demo the way Ctrl-C does: everything stopped


def run_demo(duration: float, out: Path | None = None) -> int:
    """0 on a complete run, 130 when interrupted; every process started here is stopped on return."""
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that the table does not wrap
        console = Console(width=118)
    out = out or Path("var/demo") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stack = demostack.Stack(out.resolve())
    previous = signal.signal(signal.SIGTERM, _interrupt)
    run, screen, report, interrupted = None, None, None, False
    try:
        console.print(f"starting the embedded broker, Redis and a worker (logs in {stack.out}) ...")
        demostack.start(stack)
        demostack.wait_ready(stack)
        console.print(f"live page, while the demo runs: {stack.page_url}")
        campaign = demo_campaign()
        run = Run(campaign, settings_for(stack), duration, [orjson.dumps(e) for e in generate(campaign)])
        screen = Screen(console, run)
        with screen.live or contextlib.nullcontext():
            asyncio.run(drive(run, stack, screen))
        run.phase = "writing the report"
        report = write_report(run, stack.out)
    except KeyboardInterrupt:
        interrupted = True
        console.print("interrupted: stopping the worker, Redis and the broker ...")
    except (RuntimeError, TimeoutError, OSError) as exc:  # e.g. the worker exited: its log says why
        console.print(f"[red]demo failed[/]: {exc}")
        report, run = None, None
    finally:
        pids = stack.pids
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
    return _finish(console, run, screen, stack, report, interrupted, pids)


def _finish(console: Console, run: Run | None, screen: Screen | None, stack: demostack.Stack,
            report: Path | None, interrupted: bool, pids: list[int]) -> int:
    if run is None or screen is None:
        (stack.out / "summary.json").write_bytes(orjson.dumps({"interrupted": interrupted, "pids": pids}))
        return 130 if interrupted else 1
    if screen.last is not None and screen.live is None:
        console.print(screen.last)
    export_view(screen, stack.out)
    facts = {**summary(run, stack, report, interrupted), "pids": pids}
    (stack.out / "summary.json").write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))
    for line in closing_lines(facts):
        console.print(line)
    return 130 if interrupted else 0

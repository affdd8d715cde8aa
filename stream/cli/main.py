"""The `alphawatch` command: worker, embedded services, alpha, simulate, produce, replay, report, demo."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from stream.settings import Settings, parse_duration

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment; bad configuration stops here with the setting named."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = "ALPHAWATCH_" + "_".join(str(p) for p in error["loc"]).upper()
            console.print(f"[red]configuration error[/] {name or 'ALPHAWATCH_*'}: {error['msg']}")
        raise typer.Exit(2) from None


@cli.command()
def worker() -> None:
    """Run a stream worker (settings from ALPHAWATCH_* variables)."""
    import faust

    from stream.app import create_app

    settings = load_settings()
    app = create_app(settings)
    # the units tables hold millions of small objects: with the default thresholds the collector
    # rescans them every few thousand allocations and dominates a busy worker's CPU
    gc.set_threshold(100_000, 50, 1000)
    sys.argv = [sys.argv[0], "worker"]
    runner = faust.Worker(app, loglevel=settings.log_level)
    # Faust's terminal spinner sets the root logger to DEBUG at level warn and above, so every
    # aiokafka send builds a log record nobody reads (~8% of a worker's CPU): switch it off
    runner.spinner = None
    runner.execute_from_commandline()


@cli.command()
def embedded(
    kafka_port: Annotated[int, typer.Option(help="0 picks a free port")] = 9092,
    redis_port: Annotated[int, typer.Option(help="0 picks a free port")] = 6380,
) -> None:
    """Start the embedded Kafka-protocol broker (Tansu) and a private Redis; print their URLs."""
    from stream.ops.embedded import start_redis, start_tansu

    kafka = start_tansu(port=kafka_port or None)
    redis = start_redis(port=redis_port or None)
    print(f"ALPHAWATCH_BROKER_URL={kafka.url}")
    print(f"ALPHAWATCH_REDIS_URL={redis.url}", flush=True)
    try:
        # sigwait only receives blocked signals: unblocked, SIGTERM would end this process at once
        # and leave the broker and Redis running (blocked after the start: children inherit masks)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        redis.stop()
        kafka.stop()


@cli.command()
def alpha(
    file: Path,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    by: Annotated[str, typer.Option(help="'dimension' or 'slice'")] = "dimension",
    window: Annotated[str | None, typer.Option(help="group units by event-time window, e.g. 1h")] = None,
) -> None:
    """Krippendorff's alpha per dimension (and slice) of a JSONL file of annotation events."""
    from stream.agreement.offline import report

    if by not in ("dimension", "slice"):
        raise typer.BadParameter("--by takes 'dimension' or 'slice'")
    settings = load_settings()
    result = report(file, settings, by == "slice", parse_duration(window) if window else None)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table("dimension", "slice", "window", "level", "alpha", "nominal", "ordinal",
                  "interval", "ratio", "units", "pairable values")
    for row in result["rows"]:
        levels = row["alpha_by_level"]
        table.add_row(row["dimension"], row["slice"], str(row["window_start"] or "-"), row["level"],
                      _fmt(row["alpha"], row["alpha_reason"]),
                      *(_fmt(levels.get(lv)) for lv in ("nominal", "ordinal", "interval", "ratio")),
                      str(row["n_units"]), f"{row['n_pairable_values']:.0f}")
    # piped output keeps whole cells rather than the 80 columns Rich assumes without a terminal
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if result["invalid"]:
        console.print(f"invalid lines skipped: {result['invalid']}")


def _fmt(value: float | None, reason: str | None = None) -> str:
    return f"{value:.3f}" if value is not None else (reason or "-")


@cli.command()
def simulate(
    out: Annotated[Path | None, typer.Option(
        help="directory (events.jsonl, gold-key.jsonl, ground-truth.json) or a .jsonl file name")] = None,
    scenario: Annotated[str, typer.Option(help="stationary, ambiguous-guideline, careless-annotator, "
                                          "drifting-annotator or late-events")] = "stationary",
    clips: int = 3000, annotators: int = 30, seed: int = 7,
    gold_share: Annotated[float, typer.Option(help="share of tasks that are gold items")] = 0.05,
    careless: Annotated[int | None, typer.Option(help="careless annotators (overrides the scenario)")] = None,
    kafka: Annotated[bool, typer.Option(help="load the gold key and produce the events to Kafka")] = False,
    rate: Annotated[float | None, typer.Option(help="with --kafka: events per second")] = None,
) -> None:
    """Simulate a seeded annotation campaign (scenarios: stream/campaign/scenarios.py, model: simulate.py)."""
    from stream.cli import campaign as cli_tools

    if out is None and not kafka:
        raise typer.BadParameter("give --out, --kafka or both")
    knobs = {"clips": clips, "annotators": annotators, "seed": seed, "gold_share": gold_share}
    if careless is not None:
        knobs["careless"] = careless
    try:
        cli_tools.simulate(load_settings(), scenario, out, kafka, rate, console,
                           **knobs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


_TOPIC = Annotated[str | None, typer.Option(help="default: the annotations topic")]
_CLOSE = Annotated[bool, typer.Option(
    help="end with a watermark past every window, so all windows emit their final")]
_PER_RECORD = Annotated[int, typer.Option(
    min=1, help="events per Kafka record, sent as a JSON array (1: one event per record)")]


@cli.command()
def produce(
    file: Path,
    rate: Annotated[float | None, typer.Option(help="events per second (default: unlimited)")] = None,
    topic: _TOPIC = None, close_windows: _CLOSE = False, per_record: _PER_RECORD = 500,
) -> None:
    """Publish a JSONL file of annotation events to Kafka (progress bar, sent and failed counts)."""
    from stream.cli import campaign as cli_tools
    from stream.io.produce import rate_schedule

    stats = cli_tools.publish(load_settings(), file, topic, rate_schedule(rate), close_windows, console,
                              per_record)
    if stats.failed:
        raise typer.Exit(1)


@cli.command()
def replay(
    file: Path,
    speed: Annotated[float, typer.Option(help="event-time seconds per wall second (1 = as recorded)")] = 1.0,
    topic: _TOPIC = None, close_windows: _CLOSE = False, per_record: _PER_RECORD = 500,
) -> None:
    """Publish a JSONL file keeping the events' own spacing in event time (`speed` times faster)."""
    from stream.cli import campaign as cli_tools
    from stream.io.produce import replay_schedule

    if speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    stats = cli_tools.publish(load_settings(), file, topic, replay_schedule(speed), close_windows, console,
                              per_record)
    if stats.failed:
        raise typer.Exit(1)


@cli.command()
def report(
    events: Annotated[Path | None, typer.Argument(
        help="JSONL of annotation events (offline); default: read the output topics")] = None,
    out: Annotated[Path, typer.Option(help="directory for report.html, PNGs, report.json")] = Path("report"),
    gold_key: Annotated[Path | None, typer.Option(help="gold key (JSONL) for offline gold agreement")] = None,
) -> None:
    """Agreement report (HTML + PNG charts) and the pilot ranking of dimensions by alpha."""
    from stream.cli import campaign as cli_tools

    html = cli_tools.report(load_settings(), events, gold_key, out, console)
    console.print(f"report: {html}")


@cli.command()
def demo(
    duration: Annotated[float, typer.Option(help="seconds of simulated annotation")] = 180.0,
    out: Annotated[Path | None, typer.Option(help="where the report and logs go (default: a new "
                                             "directory under var/demo)")] = None,
) -> None:
    """Embedded broker + Redis + a worker + a simulated fleet, with live agreement in the terminal."""
    from stream.demo.run import run_demo

    raise typer.Exit(run_demo(duration, out))


@cli.command()
def export(
    batch: Annotated[str, typer.Option(help="batch id, e.g. 2026-W47")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, trl or videoalign")] = "jsonl",
    out: Annotated[Path, typer.Option(help="output directory")] = Path("export"),
    video_root: Annotated[str, typer.Option(help="videoalign paths: ROOT/<clip_id>.mp4")] = "videos",
) -> None:
    """Read a closed batch from rlhf-batches, verify it against its manifest, write it for trainers."""
    from rich.progress import Progress

    from stream.batches.export import FORMATS, export_batch

    if fmt not in FORMATS:
        console.print(f"[red]--format must be one of {', '.join(FORMATS)}[/]")
        raise typer.Exit(2)
    settings = load_settings()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("reading rlhf-batches", total=None)
        written, problems = asyncio.run(export_batch(
            settings, batch, fmt, out, video_root, lambda done, total: bar.update(task, completed=done,
                                                                                total=total)))
    if problems:
        for problem in problems:
            console.print(f"[red]batch {batch} not exported[/]: {problem}")
        raise typer.Exit(1)
    for name, count in sorted(written.counts.items()):
        console.print(f"{name}: {count}")
    console.print("wrote " + ", ".join(str(f) for f in written.files))


gold_cli = typer.Typer(no_args_is_help=True, help="Gold key (known-answer items) management.")
cli.add_typer(gold_cli, name="gold")


@gold_cli.command("load")
def gold_load(file: Path) -> None:
    """Publish a JSONL or CSV gold key (updates and deletions) to gold-items and mirror it to Redis."""
    from stream.qualification.goldkey import KeyFileError, publish_gold_key, read_key_file

    settings = load_settings()
    try:
        rows = read_key_file(file, settings)
    except (KeyFileError, OSError) as exc:
        console.print(f"[red]gold key rejected[/], nothing published:\n{exc}")
        raise typer.Exit(2) from None
    count = asyncio.run(publish_gold_key(settings, rows))
    deleted = sum(row.deleted for row in rows)
    console.print(f"published {count} gold key rows ({deleted} deletions) to {settings.topic('gold-items')}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

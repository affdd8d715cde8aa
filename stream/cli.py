"""The `alphawatch` command: worker, embedded services, offline alpha, simulator, producer, demo."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import orjson
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
    from stream.embedded import start_redis, start_tansu

    kafka = start_tansu(port=kafka_port or None)
    redis = start_redis(port=redis_port or None)
    print(f"ALPHAWATCH_BROKER_URL={kafka.url}")
    print(f"ALPHAWATCH_REDIS_URL={redis.url}", flush=True)
    try:
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
    from stream.offline import report

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
    out: Annotated[Path, typer.Option(help="JSONL file to write")],
    clips: int = 1000, annotators: int = 30, careless: int = 0, seed: int = 7,
) -> None:
    """Write a seeded simulated campaign as JSONL (see stream/simulate.py for the model)."""
    from stream.simulate import Campaign, generate

    campaign = Campaign(seed=seed, n_clips=clips, n_annotators=annotators, careless=careless)
    with out.open("wb") as handle:
        count = 0
        for event in generate(campaign):
            handle.write(orjson.dumps(event) + b"\n")
            count += 1
    console.print(f"wrote {count} events to {out}")


@cli.command()
def produce(
    file: Path,
    rate: Annotated[float | None, typer.Option(help="events per second (default: unlimited)")] = None,
    topic: Annotated[str | None, typer.Option(help="default: the annotations topic")] = None,
    close_windows: Annotated[bool, typer.Option(
        help="end with a watermark past every window, so all windows emit their final")] = False,
) -> None:
    """Publish a JSONL file of annotation events to Kafka."""
    from stream.offline import read_lines
    from stream.produce import closing_watermark, send_watermark
    from stream.produce import produce as send_all
    from stream.security import aiokafka_auth
    from stream.topics import ANNOTATIONS

    settings = load_settings()
    name = topic or settings.topic(ANNOTATIONS)
    auth = aiokafka_auth(settings)
    stats = asyncio.run(send_all(settings.broker_url, name, read_lines(file), rate, auth=auth))
    console.print(f"sent {stats.sent}, failed {stats.failed}, {stats.seconds:.1f}s")
    if close_windows:
        mark = closing_watermark(read_lines(file), settings)
        asyncio.run(send_watermark(settings.broker_url, name, mark, settings.partitions, auth=auth))
        console.print(f"sent watermark {mark}")
    if stats.failed:
        raise typer.Exit(1)


@cli.command()
def demo(
    duration: Annotated[float, typer.Option(help="seconds of simulated annotation")] = 120.0,
) -> None:
    """Embedded broker + Redis + a worker + a simulated fleet, with live agreement in the terminal."""
    from stream.demo import run_demo

    raise typer.Exit(run_demo(duration))


gold_cli = typer.Typer(no_args_is_help=True, help="Gold key (known-answer items) management.")
cli.add_typer(gold_cli, name="gold")


@gold_cli.command("load")
def gold_load(file: Path) -> None:
    """Publish a JSONL or CSV gold key (updates and deletions) to gold-items and mirror it to Redis."""
    from stream.goldkey import KeyFileError, publish_gold_key, read_key_file

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

"""The `alphawatch` command: worker, embedded services, pilot alpha, campaigns, status, gold, bridges."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from stream.settings import ConfigError, Settings, parse_duration


def _flags_show_no_type() -> None:
    """typer's rich help prints `<bool>` after every flag (`--ci <bool>`, `--help <bool>`) as if it
    took a value; a flag takes none, so its type column stays empty (options keep `<int>`, ...)."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None:  # typer before 0.2x printed no type for flags
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_bool_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()
cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment; bad configuration stops here with the setting named."""
    try:
        return Settings.load()
    except ConfigError as exc:
        config_exit(exc)


def config_exit(exc: ConfigError) -> NoReturn:
    """One line naming the variable, exit code 2."""
    console.print(f"[red]configuration error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


@cli.command()
def worker() -> None:
    """Run a stream worker (settings from ALPHAWATCH_* variables)."""
    from stream.app import create_app
    from stream.io.preflight import check_partitions, check_web_port, partition_counts
    from stream.ops.bounded import BoundedWorker

    settings = load_settings()
    try:
        check_web_port(settings)
        check_partitions(settings, asyncio.run(partition_counts(settings)))
    except ConfigError as exc:
        config_exit(exc)
    # Faust creates only the last directory of its data dir
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # the units tables hold millions of small objects: with the default thresholds the collector
    # rescans them every few thousand allocations and dominates a busy worker's CPU
    gc.set_threshold(100_000, 50, 1000)
    sys.argv = [sys.argv[0], "worker"]
    runner = BoundedWorker(app, loglevel=settings.log_level, shutdown_timeout_s=settings.shutdown_timeout_s)
    # Faust's terminal spinner sets the root logger to DEBUG at level warn and above, so every
    # aiokafka send builds a log record nobody reads (~8% of a worker's CPU): switch it off
    runner.spinner = None
    runner.execute_from_commandline()


@cli.command()
def embedded(
    kafka_port: Annotated[int | None, typer.Option(
        help="default: the port of ALPHAWATCH_BROKER_URL (9092); 0 picks a free port")] = None,
    redis_port: Annotated[int | None, typer.Option(
        help="default: the port of ALPHAWATCH_REDIS_URL (6379); 0 picks a free port")] = None,
) -> None:
    """Start the embedded Kafka-protocol broker (Tansu) and a private Redis where the settings point
    (refused if something listens there); print their URLs."""
    from stream.ops.embedded import PortInUse, port_of, start_redis, start_tansu

    settings = load_settings()
    # the defaults are the settings' own ports, so a shell without ALPHAWATCH_* variables reaches
    # these services and never someone else's Redis on the default port
    kafka_port = port_of(settings.broker_url, 9092) if kafka_port is None else kafka_port
    redis_port = port_of(settings.redis_url, 6379) if redis_port is None else redis_port
    try:
        kafka = start_tansu(port=kafka_port or None)
    except PortInUse as exc:
        raise busy(exc, "--kafka-port") from None
    try:
        redis = start_redis(port=redis_port or None)
    except PortInUse as exc:
        kafka.stop()
        raise busy(exc, "--redis-port") from None
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


def busy(exc: OSError, option: str) -> typer.Exit:
    console.print(f"[red]error[/] {escape(str(exc))}.\nStop it, or pass {option} 0 (a free port) and "
                  "export the URL this command prints.", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@cli.command()
def alpha(
    file: Path,
    fmt: Annotated[str, typer.Option("--format", help="auto, events (the product's annotation events), "
                                     "long (unit,annotator[,dimension],value as CSV/TSV/JSONL) or wide "
                                     "(annotators x units, blanks missing)")] = "auto",
    level: Annotated[str | None, typer.Option(help="nominal, ordinal, interval or ratio (default: "
                                              "ALPHAWATCH_DEFAULT_LEVEL, or ALPHAWATCH_LEVELS per "
                                              "dimension)")] = None,
    ci: Annotated[bool, typer.Option("--ci", help="95% bootstrap interval and the pilot verdict")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    unit_col: Annotated[str | None, typer.Option(help="long tables: the unit column")] = None,
    annotator_col: Annotated[str | None, typer.Option(help="long tables: the annotator column")] = None,
    value_col: Annotated[str | None, typer.Option(help="long tables: the value column")] = None,
    dimension_col: Annotated[str | None, typer.Option(help="long tables: the dimension column")] = None,
    by: Annotated[str, typer.Option(help="events: 'dimension' or 'slice'")] = "dimension",
    window: Annotated[str | None, typer.Option(
        help="events: group units by event-time window, e.g. 1h")] = None,
) -> None:
    """Krippendorff's alpha per dimension of annotation events, a long table or a reliability matrix."""
    from stream.agreement.tables import Columns
    from stream.cli.pilot import fail, run

    if by not in ("dimension", "slice"):
        raise fail("--by takes 'dimension' or 'slice'", 2)
    try:
        window_s = parse_duration(window) if window else None
    except ValueError:
        raise fail(f"--window takes a duration such as 30m, 1h or 1d, not {window!r}", 2) from None
    run(file, load_settings(), fmt, level, ci, as_json,
        Columns(unit_col, annotator_col, value_col, dimension_col), by == "slice", window_s)


@cli.command()
def simulate(
    out: Annotated[Path | None, typer.Option(
        help="directory (events.jsonl, gold-key.jsonl, ground-truth.json) or a .jsonl file name")] = None,
    scenario: Annotated[str, typer.Option(help="stationary, ambiguous-guideline, careless-annotator, "
                                          "drifting-annotator or late-events")] = "stationary",
    clips: int = 3000, annotators: int = 30, seed: int = 7,
    gold_share: Annotated[float, typer.Option(help="share of tasks that are gold items")] = 0.05,
    careless: Annotated[int | None, typer.Option(help="careless annotators (overrides the scenario)")] = None,
    onboarding: Annotated[int | None, typer.Option(
        min=0, help="gold items each annotator answers before the campaign, a qualification test "
        "(default: ALPHAWATCH_GOLD_MIN_ANSWERS, so annotators can qualify before production work)")] = None,
    kafka: Annotated[bool, typer.Option(help="load the gold key and produce the events to Kafka")] = False,
    rate: Annotated[float | None, typer.Option(help="with --kafka: events per second")] = None,
) -> None:
    """Simulate a seeded annotation campaign (scenarios: stream/campaign/scenarios.py, model: simulate.py)."""
    from stream.cli import campaign as cli_tools

    if out is None and not kafka:
        raise typer.BadParameter("give --out, --kafka or both")
    settings = load_settings()
    knobs = {"clips": clips, "annotators": annotators, "seed": seed, "gold_share": gold_share,
             "onboarding_gold": settings.gold_min_answers if onboarding is None else onboarding}
    if careless is not None:
        knobs["careless"] = careless
    try:
        cli_tools.simulate(settings, scenario, out, kafka, rate, console, **knobs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


_TOPIC = Annotated[str | None, typer.Option(help="default: the annotations topic")]
_CLOSE = Annotated[bool, typer.Option(
    help="end with a watermark past every window, so all windows emit their final")]
_PER_RECORD = Annotated[int, typer.Option(
    min=1, help="events per Kafka record, sent as a JSON array (1: one event per record)")]
_WAIT = Annotated[float, typer.Option(
    min=0, help="then wait up to this many seconds until the workers have caught up (0: do not wait)")]


def wait_for_workers(settings: Settings, seconds: float) -> None:
    """`--wait`: exit 1 if the workers did not catch up in time."""
    from stream.cli import status

    if seconds and not status.wait(settings, console, seconds):
        raise typer.Exit(1)


@cli.command()
def produce(
    file: Path,
    rate: Annotated[float | None, typer.Option(help="events per second (default: unlimited)")] = None,
    topic: _TOPIC = None, close_windows: _CLOSE = False, per_record: _PER_RECORD = 500, wait: _WAIT = 0.0,
) -> None:
    """Publish a JSONL file of annotation events to Kafka (progress bar, sent and failed counts)."""
    from stream.cli import campaign as cli_tools
    from stream.io.produce import rate_schedule

    settings = load_settings()
    stats = cli_tools.publish(settings, file, topic, rate_schedule(rate), close_windows, console, per_record)
    if stats.failed:
        raise typer.Exit(1)
    wait_for_workers(settings, wait)


@cli.command()
def replay(
    file: Path,
    speed: Annotated[float, typer.Option(help="event-time seconds per wall second (1 = as recorded)")] = 1.0,
    topic: _TOPIC = None, close_windows: _CLOSE = False, per_record: _PER_RECORD = 500, wait: _WAIT = 0.0,
) -> None:
    """Publish a JSONL file keeping the events' own spacing in event time (`speed` times faster)."""
    from stream.cli import campaign as cli_tools
    from stream.io.produce import replay_schedule

    if speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    settings = load_settings()
    stats = cli_tools.publish(settings, file, topic, replay_schedule(speed), close_windows, console,
                              per_record)
    if stats.failed:
        raise typer.Exit(1)
    wait_for_workers(settings, wait)


@cli.command()
def report(
    events: Annotated[Path | None, typer.Argument(
        help="JSONL of annotation events (offline); default: read the output topics")] = None,
    out: Annotated[Path, typer.Option(help="directory for report.html, PNGs, report.json")] = Path("report"),
    gold_key: Annotated[Path | None, typer.Option(help="gold key (JSONL) for offline gold agreement")] = None,
    wait: Annotated[float, typer.Option(min=0, help="first wait up to this many seconds until the workers "
                                        "have caught up (0: report what is there now)")] = 0.0,
) -> None:
    """Agreement report (HTML + PNG charts) and the pilot ranking of dimensions by alpha."""
    from stream.cli import campaign as cli_tools

    settings = load_settings()
    if events is None:
        wait_for_workers(settings, wait)
    html = cli_tools.report(settings, events, gold_key, out, console)
    console.print(f"report: {html}")


@cli.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    wait: Annotated[float, typer.Option(min=0, help="wait up to this many seconds until caught up; exit 1 "
                                        "if not")] = 0.0,
) -> None:
    """Per input topic: records, what the workers committed, lag; whether every stage has caught up."""
    from stream.cli import status as cli_status

    settings = load_settings()
    wait_for_workers(settings, wait)
    cli_status.show(settings, console, as_json)


def stdout_console() -> Console:
    """Tables for the terminal; piped output keeps whole cells rather than the 80 columns Rich assumes."""
    return Console(width=None if sys.stdout.isatty() else 160)


@cli.command()
def batches(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """RLHF batches in rlhf-batches: id, open or closed (manifest out), records, answers included."""
    from stream.cli.inventory import show_batches

    show_batches(load_settings(), stdout_console(), as_json)


@cli.command()
def dlq(
    limit: Annotated[int, typer.Option(min=1, help="how many of the newest dead letters")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The newest dead letters in annotations-dlq: time, reason, detail, origin, payload excerpt."""
    from stream.cli.inventory import show_dlq

    show_dlq(load_settings(), stdout_console(), limit, as_json)


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
    import redis.exceptions

    from stream.qualification.goldkey import KeyFileError, publish_gold_key, read_key_file

    settings = load_settings()
    try:
        rows = read_key_file(file, settings)
    except (KeyFileError, OSError) as exc:
        console.print(f"[red]gold key rejected[/], nothing published:\n{exc}")
        raise typer.Exit(2) from None
    try:
        count = asyncio.run(publish_gold_key(settings, rows))
    except redis.exceptions.RedisError as exc:  # raised by the mirror, after the publish succeeded
        why = escape(str(exc).rstrip("."))
        console.print(f"[red]error[/] published {len(rows)} rows to {settings.topic('gold-items')} (workers "
                      f"read the key there), but the Redis mirror was not written: {why}.\n"
                      "Run the same command again once ALPHAWATCH_REDIS_URL answers (publishing twice "
                      "changes nothing).", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    deleted = sum(row.deleted for row in rows)
    console.print(f"published {count} gold key rows ({deleted} deletions) to {settings.topic('gold-items')}")


def _add_bridges() -> None:
    """`alphawatch bridge ...` and `alphawatch import ...` (stream/cli/bridge.py)."""
    from stream.cli.bridge import bridge_cli, import_cli

    cli.add_typer(bridge_cli, name="bridge")
    cli.add_typer(import_cli, name="import")


_add_bridges()


@cli.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="show an error's full traceback instead of its summary")] = False) -> None:
    """Options before the command (`main` reads `--debug` itself, before any command runs)."""


def main() -> None:
    """Run the CLI; an error a user can act on is one or two lines and exit code 1 (`--debug`:
    the traceback)."""
    import logging

    from stream.cli.errors import EXIT_FAILED, explain

    if sys.argv[1:2] != ["worker"] and "--debug" not in sys.argv[1:]:
        # the client logs every failed connection attempt; the error below says it in one line
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        cli(standalone_mode=True)
    except Exception as exc:
        message = None if "--debug" in sys.argv[1:] else explain(exc)
        if message is None:
            raise
        console.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()

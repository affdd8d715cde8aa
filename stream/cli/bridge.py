"""`alphawatch bridge label-studio` (webhook receiver) and `alphawatch import label-studio` (exports)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from stream.bridge.labelstudio import convert
from stream.bridge.labelstudio.mapping import Mapping, MappingError, load
from stream.settings import ConfigError, Settings

bridge_cli = typer.Typer(no_args_is_help=True,
                         help="Bridges from annotation tools into the annotations topic.")
import_cli = typer.Typer(no_args_is_help=True, help="Annotation tool exports -> annotation events.")
console = Console(stderr=True)

_MAPPING = Annotated[Path | None, typer.Option(
    help="mapping file (TOML); default ALPHAWATCH_BRIDGE_MAPPING (deploy/label-studio/mapping.toml)")]


def _fail(message: str, code: int) -> NoReturn:
    console.print(f"[red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        _fail(f"configuration error {exc}", 2)


def _mapping(settings: Settings, path: Path | None) -> Mapping:
    """The mapping, validated against the settings; exit 2 naming every bad key."""
    try:
        return load(path or Path(settings.bridge_mapping), settings.dimensions, settings.score_min,
                     settings.score_max)
    except MappingError as exc:
        _fail(f"mapping refused:\n{exc}", 2)


@bridge_cli.command("label-studio")
def bridge_label_studio(mapping: _MAPPING = None) -> None:
    """Receive Label Studio webhooks on ALPHAWATCH_BRIDGE_HOST:ALPHAWATCH_BRIDGE_PORT and produce
    their annotations to the annotations topic (POST /webhook, GET /healthz, GET /metrics)."""
    settings = _settings()
    if not settings.bridge_secret.get_secret_value():
        _fail("set ALPHAWATCH_BRIDGE_SECRET (e.g. `openssl rand -hex 32`); Label Studio sends it in the "
              "webhook's header `Authorization: Bearer <secret>`", 2)
    chosen = _mapping(settings, mapping)
    asyncio.run(_serve(settings, chosen))


async def _serve(settings: Settings, mapping: Mapping) -> None:
    from aiokafka import AIOKafkaProducer

    from stream.bridge.labelstudio.server import Bridge, app, kafka_sender, serve
    from stream.bridge.labelstudio.store import AnnotationStore
    from stream.io.kafka import bootstrap_servers, start
    from stream.io.rediskeys import RedisKeys
    from stream.io.security import aiokafka_auth, redis_client
    from stream.metrics import BridgeMetrics
    from stream.topics import ANNOTATIONS, DLQ

    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(settings.broker_url), acks="all",
                                request_timeout_ms=int(settings.producer_request_timeout_s * 1000),
                                **aiokafka_auth(settings))
    redis = redis_client(settings)
    await redis.ping()
    await start(producer)
    check = convert.checker(settings.dimensions, settings.score_min, settings.score_max,
                            settings.max_payload_bytes)
    store = AnnotationStore(redis, RedisKeys(settings.app_id), mapping.source)
    bridge = Bridge(mapping, check, store, kafka_sender(producer), BridgeMetrics(),
                    settings.topic(ANNOTATIONS), settings.topic(DLQ), settings.dlq_max_payload_bytes)
    url = f"http://{settings.bridge_host}:{settings.bridge_port}"

    def ready() -> None:
        print(f"alphawatch bridge ready: webhook {url}/webhook, health {url}/healthz, metrics {url}/metrics "
              f"-> {settings.topic(ANNOTATIONS)}", file=sys.stderr, flush=True)

    try:
        await serve(app(bridge, settings.bridge_secret.get_secret_value(), settings.bridge_max_body_bytes),
                    settings.bridge_host, settings.bridge_port, ready)
    except asyncio.CancelledError:
        pass
    finally:
        await producer.stop()
        await redis.aclose()


@import_cli.command("label-studio")
def import_label_studio(
    export: Annotated[Path, typer.Argument(help="Label Studio JSON export (Export -> JSON)")],
    mapping: _MAPPING = None,
    out: Annotated[Path | None, typer.Option(help="write the events here as JSONL")] = None,
    kafka: Annotated[bool, typer.Option(help="produce the events to the annotations topic")] = False,
) -> None:
    """Map a Label Studio JSON export to annotation events: JSONL for `alpha` and `report`, or
    --kafka to backfill the annotations topic (later deletions then retract them)."""
    if out is None and not kafka:
        raise typer.BadParameter("give --out FILE.jsonl, --kafka or both")
    settings = _settings()
    chosen = _mapping(settings, mapping)
    answers = _answers(settings, chosen, _read_export(export))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"".join(orjson.dumps(a.event) + b"\n" for a in answers))
        console.print(f"wrote {len(answers)} events to {out}")
    if kafka:
        asyncio.run(_backfill(settings, chosen, answers))


def _read_export(path: Path) -> list[Any]:
    try:
        tasks = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        _fail(f"{path} is not JSON ({exc}); export the project as JSON (Export -> JSON)", 1)
    if not isinstance(tasks, list):
        _fail(f"{path} is not a Label Studio JSON export (a list of tasks)", 1)
    return tasks


def _answers(settings: Settings, mapping: Mapping, tasks: list[Any]) -> list[convert.Answer]:
    """Every mappable annotation, in event-time order; the others listed on stderr."""
    check = convert.checker(settings.dimensions, settings.score_min, settings.score_max,
                            settings.max_payload_bytes)
    answers, problems = [], []
    for answer, problem in convert.export_answers(mapping, tasks, check):
        if answer is not None:
            answers.append(answer)
        elif problem is not None:
            problems.append(problem)
    for problem in problems[:20]:
        console.print(f"skipped: {escape(str(problem))}", highlight=False, soft_wrap=True)
    if problems:
        console.print(f"{len(problems)} annotation(s) could not be mapped")
    if not answers and problems:
        _fail("no annotation could be mapped; check the mapping's control tags and task fields", 1)
    return sorted(answers, key=lambda a: (_when(a), a.event_id))


def _when(answer: convert.Answer) -> datetime:
    return convert.timestamp(answer.event["submitted_at"], "submitted_at")


async def _backfill(settings: Settings, mapping: Mapping, answers: list[convert.Answer]) -> None:
    """Produce keyed by unit, then remember each annotation as the bridge would (deletions)."""
    from stream.bridge.labelstudio.server import record_of
    from stream.bridge.labelstudio.store import AnnotationStore
    from stream.io.produce import produce
    from stream.io.rediskeys import RedisKeys
    from stream.io.security import aiokafka_auth, redis_client
    from stream.topics import ANNOTATIONS

    topic = settings.topic(ANNOTATIONS)
    stats = await produce(settings.broker_url, topic, [orjson.dumps(a.event) for a in answers],
                          auth=aiokafka_auth(settings))
    console.print(f"sent {stats.sent} events to {topic}, failed {stats.failed}")
    if stats.failed:
        raise typer.Exit(1)
    redis = redis_client(settings)
    try:
        store = AnnotationStore(redis, RedisKeys(settings.app_id), mapping.source)
        await store.put([record_of(a) for a in answers])
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()

"""Gold key: read key files, publish to the compacted gold-items topic + Redis, tail it in workers."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pydantic import ValidationError

from schemas.gold import GoldKeyRow
from stream.io.kafka import bootstrap_servers, load_and_tail, start
from stream.io.rediskeys import RedisKeys
from stream.io.security import aiokafka_auth, redis_client
from stream.qualification.rules import KeyRow
from stream.settings import Settings
from stream.topics import GOLD

log = logging.getLogger(__name__)


class KeyFileError(ValueError):
    """A key file with invalid rows; nothing of it is published."""


def redis_key(settings: Settings) -> str:
    """HASH gold_item_id -> row JSON: the Redis mirror of the key, for readers outside Kafka."""
    return RedisKeys(settings.app_id).gold_items


def _context(settings: Settings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    return {"dimensions": settings.dimensions, "scale": (settings.score_min, settings.score_max)}


def read_key_file(path: Path | str, settings: Settings | None = None) -> list[GoldKeyRow]:
    """Rows of a JSONL or CSV key file (by extension), in file order. With settings, dimension names
    and the score scale are checked too. Any invalid row rejects the file, naming every bad line."""
    path = Path(path)
    records = _csv_records(path) if path.suffix.lower() == ".csv" else _jsonl_records(path)
    rows: list[GoldKeyRow] = []
    errors: list[str] = []
    for line, record in records:
        try:
            if isinstance(record, Exception):
                raise record
            rows.append(GoldKeyRow.model_validate(record, context=_context(settings)))
        except (ValidationError, ValueError) as exc:
            errors.append(f"{path.name}:{line}: {_first_error(exc)}")
    if errors:
        more = f"\n... {len(errors) - 20} more" if len(errors) > 20 else ""
        raise KeyFileError("\n".join(errors[:20]) + more)
    return rows


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield number, ValueError(f"not JSON: {exc}")


def _csv_records(path: Path) -> Iterator[tuple[int, Any]]:
    """gold_item_id, kind, one column per dimension (empty = no answer), optional tolerance.<dim>
    and deleted columns; scores are converted for rating rows, A/B/tie kept for pairwise ones."""
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), 2):
            try:
                yield number, _csv_row(row)
            except ValueError as exc:
                yield number, exc


def _csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    cells = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
    if cells.pop("deleted", "").lower() in ("true", "1", "yes"):
        return {"gold_item_id": cells.get("gold_item_id", ""), "deleted": True}
    kind = cells.pop("kind", "")
    out: dict[str, Any] = {"gold_item_id": cells.pop("gold_item_id", ""), "kind": kind or None,
                           "answers": {}, "tolerance": {}}
    for column, cell in cells.items():
        if not cell:
            continue
        if column.startswith("tolerance."):
            out["tolerance"][column.removeprefix("tolerance.")] = _int(cell, column)
        else:
            out["answers"][column] = _int(cell, column) if kind == "rating" else cell
    return out


def _int(cell: str, column: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise ValueError(f"{column}: {cell!r} is not an integer") from None


def row_value(row: GoldKeyRow) -> bytes | None:
    """The topic value: the row as JSON, or None (a tombstone) for a deletion."""
    return None if row.deleted else row.model_dump_json(exclude={"deleted"}).encode()


async def ensure_topic(settings: Settings) -> None:
    """Create gold-items as a compacted topic if missing: auto-creation would not compact it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(settings.broker_url),
                                **aiokafka_auth(settings))
    await admin.start()
    try:
        topic = NewTopic(settings.topic(GOLD), settings.partitions, settings.replication_factor,
                         topic_configs={"cleanup.policy": "compact"})
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([topic])
    finally:
        await admin.close()


async def publish_gold_key(settings: Settings, rows: list[GoldKeyRow]) -> int:
    """Publish rows (updates and tombstones) keyed by gold_item_id, then mirror them into Redis.
    Returns the number of rows published. The topic is the source of truth for workers."""
    await ensure_topic(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(settings.broker_url), acks="all",
                                **aiokafka_auth(settings))
    await start(producer)
    try:
        futures = [await producer.send(settings.topic(GOLD), row_value(row),
                                       key=row.gold_item_id.encode()) for row in rows]
        await producer.flush()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    await mirror(settings, rows)
    return len(rows)


async def mirror(settings: Settings, rows: list[GoldKeyRow]) -> None:
    """Apply rows to the Redis hash in file order (a later row for the same item wins)."""
    client = redis_client(settings)
    try:
        async with client.pipeline(transaction=True) as pipe:
            for row in rows:
                value = row_value(row)
                if value is None:
                    pipe.hdel(redis_key(settings), row.gold_item_id)
                else:
                    pipe.hset(redis_key(settings), row.gold_item_id, value.decode())
            await pipe.execute()
    finally:
        await client.aclose()


class GoldKeyView:
    """The key as a worker sees it: the compacted topic tailed into memory from the beginning.

    `ready` is set once everything present at start was read, so no answer is scored against a
    half-loaded key; `changed` collects the items updated or deleted since it was last drained.
    """

    def __init__(self, settings: Settings, on_invalid: Callable[[], None] | None = None):
        self.settings = settings
        self.rows: dict[str, KeyRow] = {}
        self.changed: set[str] = set()
        self.ready = asyncio.Event()
        self.on_invalid = on_invalid

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the topic; bad records are counted and logged, never fatal."""
        gold_id = key.decode(errors="replace") if key else ""
        try:
            if value is None:
                self.rows.pop(gold_id, None)
            else:
                row = GoldKeyRow.model_validate_json(value, context=_context(self.settings))
                if row.gold_item_id != gold_id:
                    raise ValueError(f"key {gold_id!r} differs from gold_item_id {row.gold_item_id!r}")
                s = self.settings
                self.rows[gold_id] = KeyRow.of(row.model_dump(), s.dimensions, s.gold_tolerance,
                                               s.gold_tolerance_pairwise)
            self.changed.add(gold_id)
        except (ValidationError, ValueError) as exc:
            log.warning("invalid gold-items record %r skipped: %s", gold_id, exc)
            if self.on_invalid is not None:
                self.on_invalid()

    def drain(self) -> set[str]:
        out, self.changed = self.changed, set()
        return out

    async def run(self) -> None:
        await load_and_tail(self.settings, self.settings.topic(GOLD), self.apply, self.ready,
                            lambda: log.info("gold key loaded: %d items", len(self.rows)))

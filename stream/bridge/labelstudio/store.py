"""What the bridge remembers per annotation, in Redis: deletions carry only an id, redeliveries repeat."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from stream.io.rediskeys import RedisKeys


@dataclass(frozen=True)
class Record:
    """The current event of one Label Studio annotation, and its deletion time once deleted."""

    annotation_id: int
    event_id: str
    annotator: str
    unit_kind: str
    unit_id: str
    submitted_at: str
    deleted_at: str = ""


class AnnotationStore:
    """One Redis hash per annotation under `<app_id>:bridge:<source>:annotation:<id>`."""

    def __init__(self, client: Any, keys: RedisKeys, source: str):
        self.client, self.keys, self.source = client, keys, source

    def _key(self, annotation_id: int) -> str:
        return self.keys.bridge_annotation(self.source, annotation_id)

    async def get(self, annotation_id: int) -> Record | None:
        fields = await self.client.hgetall(self._key(annotation_id))
        if not fields:
            return None
        return Record(**{**fields, "annotation_id": annotation_id})

    async def put(self, records: list[Record]) -> None:
        if not records:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for record in records:
                fields = {k: v for k, v in asdict(record).items() if k != "annotation_id"}
                pipe.hset(self._key(record.annotation_id), mapping=fields)
            await pipe.execute()


class MemoryStore:
    """The same interface in memory (one-off imports without Redis, unit tests)."""

    def __init__(self) -> None:
        self.records: dict[int, Record] = {}

    async def get(self, annotation_id: int) -> Record | None:
        return self.records.get(annotation_id)

    async def put(self, records: list[Record]) -> None:
        self.records.update((r.annotation_id, r) for r in records)

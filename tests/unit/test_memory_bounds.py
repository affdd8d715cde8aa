"""Memory per distinct id stays flat: 100,000 clips and 10,100 annotator ids through the stages that
keep state per clip or per annotator (units and their windows, peer pairing, annotators' records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stream.agreement.stage import UnitStage
from stream.config import qualification_config, units_config
from stream.core.ticks import tick_message
from stream.metrics import Metrics
from stream.qualification.goldkey import GoldKeyView
from stream.qualification.rekey import Rekey
from stream.qualification.stage import AnnotatorStage
from stream.settings import Settings

N_CLIPS, POOL, CLIPS_PER_TRIAL = 100_000, 100, 10  # 10,000 trial ids that answer for ten minutes
STEP_S, FLUSH_EVERY, CHECK_EVERY = 60.0, 500, 10_000
START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
DIMS = ["motion_quality"]  # one dimension: the state per id is the same shape, the test 4x faster


class Store:
    """Redis as the annotator stage sees it: hashes written by pushes, deleted by forgets."""

    def __init__(self) -> None:
        self.hashes: set[str] = set()

    async def forget(self, annotator_id: str) -> None:
        self.hashes.discard(annotator_id)


def _rating(clip: int, annotator: str, ts: float, gold: str | None) -> bytes:
    score = 3 if gold else 1 + (clip * 7 + len(annotator)) % 5
    return orjson.dumps({
        "schema_version": 1, "event_id": f"e-{clip}-{annotator}", "project_id": "p",
        "annotator_id": annotator, "submitted_at": datetime.fromtimestamp(ts, UTC).isoformat(),
        "kind": "rating", "clip_id": f"clip-{clip}", "scores": dict.fromkeys(DIMS, score),
        "confidence": "medium", "gold_item_id": gold,
        "clip": {"source_category": "curated", "modality": "t2v", "model_id": "cfg-00", "prompt": "x",
                 "duration_s": 4.0}})


def _campaign() -> Iterator[tuple[int, float, list[tuple[bytes, bytes]]]]:
    """Per clip: its time and three ratings, two by a vetted pool (who also answer gold items
    correctly and qualify), one by a trial id that never comes back."""
    for clip in range(N_CLIPS):
        ts = START + clip * STEP_S
        gold = f"g{clip % 40}" if clip % 7 == 0 else None  # 7: every pool member meets gold
        raters = [f"pool-{clip % POOL}", f"pool-{(clip + 37) % POOL}", f"trial-{clip // CLIPS_PER_TRIAL}"]
        key = f"c:clip-{clip}".encode()
        yield clip, ts, [(key, _rating(clip, a, ts, gold if a.startswith("pool") else None)) for a in raters]


class Stages:
    def __init__(self) -> None:
        self.settings = Settings(broker_url="kafka://localhost:1", windows=["1h"], slices=["all"],
                                 dimensions=DIMS, partitions=1, unit_retention="2h", annotator_retention="7d",
                                 gold_min_answers=5, gold_window=10, peer_cache_units=5_000)
        metrics = Metrics()
        self.units: dict[str, Any] = {}
        self.unit_stage = UnitStage(units_config(self.settings), metrics, self.units, {})
        self.rekey = Rekey(DIMS, self.settings.peer_cache_units, {"c": 1, "p": 0})
        key = GoldKeyView(self.settings)
        for i in range(40):
            key.apply(f"g{i}".encode(), orjson.dumps({"gold_item_id": f"g{i}", "kind": "rating",
                                                       "answers": dict.fromkeys(DIMS, 3)}))
        self.table: dict[str, Any] = {}
        self.store = Store()
        self.annotators = AnnotatorStage(qualification_config(self.settings), metrics, self.table, key,
                                         self.store)  # type: ignore[arg-type]
        self.annotators.owned = {0}

    def rate(self, key: bytes, raw: bytes, now: float) -> None:
        agg, _ = self.unit_stage.agg_for(0)
        self.unit_stage.on_event(key.decode(), raw, 0, agg)
        gold = self.rekey.on_event(key, raw)
        if gold is not None:
            self.annotate(orjson.loads(gold[1]), now)

    def annotate(self, message: dict[str, Any], now: float) -> None:
        ann, _ = self.annotators.on_message(message, 0, now)
        if ann is not None:
            self.table[ann.id] = ann.to_state()
            self.store.hashes.add(ann.id)

    async def flush(self, now: float) -> None:
        """What the timers do: watermark tick, closures and sweep; counts; forgetting idle annotators."""
        agg, _ = self.unit_stage.agg_for(0)
        agg.flush()
        moved = agg.advance(self.unit_stage.tick(tick_message(now, 0), 0))
        if moved:
            self.unit_stage.closing_messages(0, agg, moved)
            self.unit_stage.sweep(0, agg.watermark)
        for message in self.rekey.counts.take():
            self.annotate(dict(message), now)
        for annotator_id in self.annotators.expired(now):
            await self.annotators.forget(annotator_id, now)

    def sizes(self) -> dict[str, int]:
        agg, _ = self.unit_stage.agg_for(0)
        return {"units": len(self.units), "windows": len(agg.open), "annotators": len(self.table),
                "redis": len(self.store.hashes), "peer cache": len(self.rekey.cache.units)}


@pytest.mark.timeout(300)
async def test_state_per_distinct_id_stays_flat_over_a_long_campaign() -> None:
    stages = Stages()
    seen: set[str] = set()
    checks: list[dict[str, int]] = []
    for clip, ts, ratings in _campaign():
        for key, raw in ratings:
            stages.rate(key, raw, ts)
        seen.update(orjson.loads(raw)["annotator_id"] for _, raw in ratings)
        if clip % FLUSH_EVERY == FLUSH_EVERY - 1:
            await stages.flush(ts)
        if clip % CHECK_EVERY == CHECK_EVERY - 1:
            checks.append(stages.sizes())
    assert len(seen) == POOL + N_CLIPS // CLIPS_PER_TRIAL  # 10,100 distinct annotator ids
    assert sum(1 for s in stages.table.values() if s["st"] == "qualified") == POOL  # the check is not empty
    # after the first retention (7 days: about 10,000 clips) nothing grows with the campaign
    warm = checks[1]
    for later in checks[2:]:
        for name, size in later.items():
            assert size <= 1.1 * warm[name] + 10, (name, checks)
    # trial ids of the last 7 days and the pool; units of the last 2 hours (retention) and of the
    # clips since the last flush
    assert checks[-1]["annotators"] <= POOL + (7 * 86_400 / STEP_S + FLUSH_EVERY) / CLIPS_PER_TRIAL, checks
    assert checks[-1]["redis"] == checks[-1]["annotators"]
    assert checks[-1]["units"] <= FLUSH_EVERY + 3 * 3600 / STEP_S, checks
    assert max(c["peer cache"] for c in checks) == 5_000  # its cap

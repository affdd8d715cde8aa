"""Internal messages stay under the size bound: a day of windows closing at once with 1,000 annotators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from stream.agreement.aggregate import MAX_MESSAGE_BYTES, chunks, snapshot_messages
from stream.agreement.merge import Merger
from stream.agreement.stage import UnitStage
from stream.config import merge_config, units_config
from stream.metrics import Metrics
from stream.settings import Settings

SETTINGS = Settings(partitions=1, windows=["1h", "24h"], bootstrap_samples=0)
START = datetime(2026, 11, 2, tzinfo=UTC)


def _event(unit: int, annotator: int, hour: int) -> bytes:
    return orjson.dumps({
        "schema_version": 1, "event_id": f"e{unit}-{annotator}", "kind": "rating", "project_id": "p",
        "clip_id": f"c{unit}", "annotator_id": f"annotator-{annotator:04d}",
        "submitted_at": (START + timedelta(hours=hour, seconds=annotator % 3000)).isoformat(),
        "scores": {d: 1 + (unit + annotator) % 5 for d in SETTINGS.dimensions},
        "clip": {"source_category": ["cinematic", "street", "curated"][unit % 3], "modality": "t2v",
                 "model_id": "m", "prompt": "p"}})


def _stage_with_a_day_open() -> UnitStage:
    stage = UnitStage(units_config(SETTINGS), Metrics(), {}, {})
    agg, _ = stage.agg_for(0)
    for hour in range(24):  # 24 hourly windows, 1,000 annotators, each answering in every hour
        for annotator in range(1000):
            unit = hour * 400 + annotator % 400
            stage.on_event(f"c{unit}", _event(unit, annotator, hour), 0, agg)
    agg.flush()
    return stage


def test_a_day_closing_at_once_fits_the_message_bound_and_merges_to_the_same_finals() -> None:
    stage = _stage_with_a_day_open()
    agg = stage.aggs[0]
    snapshots = snapshot_messages(0, agg.take_dirty())
    assert len(snapshots) > 1 and all(len(m) <= MAX_MESSAGE_BYTES for m in snapshots)
    moved = agg.advance((START + timedelta(days=2)).timestamp())
    messages = stage.closing_messages(0, agg, moved)
    assert len(messages) > 2 and all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    merger = Merger(merge_config(SETTINGS), {})
    finals = [key for m in messages for key in merger.on_closed(orjson.loads(m))]
    # 24 hours and 1 day, x 4 dimensions x 5 slices (all, 3 categories, the one modality)
    assert len(finals) == len(set(finals)) == 25 * 20
    units = {key: merger.record(key, final=True).n_units for key in finals}
    for (dim, name, size, start), n in units.items():  # every unit of a window, from all its chunks
        if name in ("all", "modality=t2v"):
            assert n == (400 if size == 3600 else 400 * 24)
        if name == "all":
            assert sum(units[(dim, f"source_category={c}", size, start)]
                       for c in ("cinematic", "street", "curated")) == n


def test_chunks_keep_order_and_bound_and_send_an_oversized_item_alone() -> None:
    items = [b"x" * n for n in (10, 20, 30, 400, 5, 5)]
    runs = chunks(items, limit=64)
    assert [i for run in runs for i in run] == items
    assert all(sum(len(i) + 1 for i in run) <= 64 or len(run) == 1 for run in runs)
    assert [b"x" * 400] in runs
    assert chunks([], limit=64) == [[]]

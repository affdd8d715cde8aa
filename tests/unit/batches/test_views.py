"""BatchView: the newest revision of each closed batch's manifest, newest batches first, bounded."""

from __future__ import annotations

import orjson
import pytest

from stream.batches.views import MAX_LIMIT, SUMMARY, BatchView, limit_from


def manifest(start_hour: int, revision: int = 1, included: int = 10) -> bytes:
    start = f"2026-11-20T{start_hour:02d}:00:00Z"
    body = {"batch_id": f"2026-11-20T{start_hour:02d}:00Z+2h", "batch_start": start,
            "batch_end": f"2026-11-20T{start_hour + 2:02d}:00:00Z", "revision": revision,
            "record_counts": {"clip_rating.v1": 4}, "answers_received": 12, "answers_included": included,
            "exclusions": {"not_qualified": 12 - included}, "alpha": {}, "record_checksum": "ab",
            "partitions": 4, "closed_at": "2026-12-05T10:00:00Z", "schema_version": 1}
    return orjson.dumps(body)


def test_newest_revision_wins_whatever_the_order_read() -> None:
    view = BatchView()
    view.apply(manifest(0, revision=2, included=11))
    view.apply(manifest(0, revision=1, included=10))  # an older revision read after the newer one
    (batch,) = view.select()
    assert batch["revision"] == 2 and batch["answers_included"] == 11 and batch["state"] == "revised"
    assert set(batch) == {*SUMMARY, "state"}  # the checksum stays on the topic


def test_newest_batches_first_limited_and_bounded() -> None:
    view = BatchView(keep=3)
    for hour in (4, 0, 8, 2):
        view.apply(manifest(hour))
    assert [b["batch_start"][11:13] for b in view.select()] == ["08", "04", "02"]  # 00 forgotten
    assert [b["batch_start"][11:13] for b in view.select(limit=1)] == ["08"]
    assert {b["state"] for b in view.select()} == {"closed"}


@pytest.mark.parametrize(("query", "limit"), [({}, 20), ({"limit": "5"}, 5), ({"limit": "0"}, None),
                                              ({"limit": "x"}, None), ({"limit": str(MAX_LIMIT + 1)}, None)])
def test_limit(query: dict[str, str], limit: int | None) -> None:
    assert limit_from(query) == limit

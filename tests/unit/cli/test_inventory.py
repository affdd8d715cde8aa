"""`alphawatch batches` and `alphawatch dlq` rows from what the topics hold."""

from __future__ import annotations

import base64

import orjson

from stream.cli.inventory import batch_rows, dead_letter_rows, excerpt
from stream.io.observe import Observed


def _record(batch: str, rid: str, version: int = 1) -> bytes:
    return orjson.dumps({"batch_id": batch, "record_id": rid, "version": version})


def test_batches_are_open_until_their_manifest_and_count_records_once() -> None:
    seen = Observed()
    for value in (_record("2026-W47", "a"), _record("2026-W47", "a", 2), _record("2026-W47", "b"),
                  _record("2026-W48", "c")):
        seen.apply("rlhf-batches", value)
    seen.apply("rlhf-batch-manifests", orjson.dumps({
        "batch_id": "2026-W47", "revision": 1, "record_counts": {"clip_rating.v1": 2},
        "answers_received": 10, "answers_included": 6, "exclusions": {"gold_item": 4}}))
    rows = {r["batch_id"]: r for r in batch_rows(seen)}
    assert rows["2026-W47"]["state"] == "closed" and rows["2026-W47"]["records"] == 2
    assert (rows["2026-W47"]["answers_included"], rows["2026-W47"]["answers_received"]) == (6, 10)
    assert rows["2026-W48"]["state"] == "open" and rows["2026-W48"]["records"] == 1
    assert rows["2026-W48"]["answers_received"] is None


def _letter(at: str, payload: bytes, reason: str = "not_json") -> bytes:
    return orjson.dumps({"reason": reason, "detail": "bad", "source_topic": "annotations",
                         "source_partition": 2, "source_offset": 7, "source_index": None,
                         "payload_b64": base64.b64encode(payload).decode(), "received_at": at})


def test_dead_letters_newest_first_with_a_decoded_one_line_excerpt() -> None:
    seen = Observed()
    seen.apply("annotations-dlq", _letter("2026-12-05T10:00:00Z", b"{oops"))
    seen.apply("annotations-dlq", _letter("2026-12-05T11:00:00Z", b'{"kind":\n "rating"}', "invalid_event"))
    rows = dead_letter_rows(seen, limit=1)
    assert len(rows) == 1 and rows[0]["reason"] == "invalid_event"
    assert rows[0]["payload"] == '{"kind": "rating"}' and rows[0]["source"] == "annotations[2]@7"


def test_excerpt_cuts_long_payloads_and_survives_bad_bytes() -> None:
    long = base64.b64encode(b"x" * 500).decode()
    assert len(excerpt(long, width=40)) == 40 and excerpt(long, width=40).endswith("...")
    assert excerpt(base64.b64encode(b"\xff\xfe{").decode()) == "\ufffd\ufffd{"
    assert excerpt("not base64!") == "(payload not base64)"

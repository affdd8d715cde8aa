"""Observed: what the report reads from the topics, including producers' array records."""

from __future__ import annotations

import orjson

from stream.io.observe import Observed
from stream.topics import ANNOTATIONS


def test_array_records_on_the_annotations_topic_give_each_event() -> None:
    events = [{"kind": "rating", "event_id": f"e{i}"} for i in range(3)]
    observed = Observed()
    observed.apply(ANNOTATIONS, orjson.dumps(events))  # `alphawatch replay` sends arrays of 500
    observed.apply(ANNOTATIONS, orjson.dumps({"kind": "rating", "event_id": "e3"}))
    observed.apply(ANNOTATIONS, b"not json")  # kept: the report counts it as not_json
    assert [orjson.loads(raw)["event_id"] for raw in observed.annotations[:4]] == ["e0", "e1", "e2", "e3"]
    assert observed.annotations[4] == b"not json"

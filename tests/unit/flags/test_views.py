"""FlagView: the open flag per dimension, slice and window size, as qa-flags raises and clears them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.flags.views import FlagView


def flag(flag_id: str, at: str, kind: str = "agreement_low", opened: str | None = None,
         slice_: str = "all", dimension: str = "text_alignment") -> bytes:
    body: dict[str, Any] = {"flag_id": flag_id, "kind": kind, "opened_flag_id": opened,
                            "dimension": dimension, "slice": slice_, "window_size_s": 3600,
                            "raised_at": f"2026-11-20T{at}Z", "reason": "alpha below the threshold"}
    return orjson.dumps(body)


def open_ids(view: FlagView) -> list[str]:
    return [f["flag_id"] for f in view.select()["open"]]


def test_a_raise_opens_and_its_recovery_closes() -> None:
    view = FlagView()
    view.apply(flag("a", "05:00:00"))
    view.apply(flag("b", "05:00:01", slice_="modality=t2v"))
    assert open_ids(view) == ["b", "a"]  # the newest raise first
    assert view.select()["open"][0]["reason"] == "alpha below the threshold"  # the explanation kept
    view.apply(flag("a-clear", "05:10:00", kind="agreement_recovered", opened="a"))
    assert open_ids(view) == ["b"]
    assert view.select()["cleared"] == 1


def test_a_recovery_read_before_its_raise_still_closes_it() -> None:
    """qa-flags is keyed by flag id: the tail may read a key's recovery before its raise."""
    view = FlagView()
    view.apply(flag("a-clear", "05:10:00", kind="agreement_recovered", opened="a"))
    view.apply(flag("a", "05:00:00"))
    assert open_ids(view) == []


def test_a_raise_after_a_recovery_opens_again_and_rereads_change_nothing() -> None:
    view = FlagView()
    records = [flag("a", "01:00:00"), flag("a-clear", "01:05:00", kind="agreement_recovered", opened="a"),
               flag("a", "03:00:00")]  # the same window raised again: the same id, a later decision
    for raw in records + records[:2]:  # a restart or a redelivery reads the older ones again
        view.apply(raw)
    assert open_ids(view) == ["a"] and view.select()["open"][0]["raised_at"] == "2026-11-20T03:00:00Z"
    assert view.select()["cleared"] == 1  # one recovery, read twice


def test_keys_are_independent() -> None:
    view = FlagView()
    view.apply(flag("m", "02:00:00", dimension="motion_quality"))
    view.apply(flag("t-clear", "09:00:00", kind="agreement_recovered", opened="t"))
    assert open_ids(view) == ["m"]


@pytest.mark.parametrize("raw", [b"{", b"[]", orjson.dumps({"kind": "agreement_low"}),
                                 flag("x", "01:00:00", kind="agreement_maybe"),
                                 flag("x", "01:00:00").replace(b"2026-11-20T01:00:00Z", b"yesterday")])
def test_a_malformed_record_raises_for_the_tail_to_skip(raw: bytes) -> None:
    view = FlagView()
    with pytest.raises((ValueError, KeyError, TypeError)):
        view.apply(raw)
    assert view.select() == {"open": [], "cleared": 0}

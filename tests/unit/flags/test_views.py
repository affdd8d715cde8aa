"""FlagView: the open flag per dimension, slice and window size, as qa-flags raises and clears them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.flags.views import FlagView


def flag(flag_id: str, kind: str = "agreement_low", opened: str | None = None, slice_: str = "all",
         raised_at: str = "2026-11-20T05:00:00Z", dimension: str = "text_alignment") -> bytes:
    body: dict[str, Any] = {"flag_id": flag_id, "kind": kind, "opened_flag_id": opened,
                            "dimension": dimension, "slice": slice_, "window_size_s": 3600,
                            "raised_at": raised_at, "reason": "alpha below the threshold"}
    return orjson.dumps(body)


def test_a_raise_opens_and_its_recovery_closes() -> None:
    view = FlagView()
    view.apply(flag("a"))
    view.apply(flag("b", slice_="modality=t2v", raised_at="2026-11-20T05:00:01Z"))
    assert [f["flag_id"] for f in view.select()["open"]] == ["b", "a"]
    view.apply(flag("a-clear", kind="agreement_recovered", opened="a"))
    assert [f["flag_id"] for f in view.select()["open"]] == ["b"]
    assert view.select()["cleared"] == 1
    assert view.select()["open"][0]["reason"] == "alpha below the threshold"  # the explanation kept


def test_the_recovery_of_an_older_raise_leaves_the_newer_one_open() -> None:
    view = FlagView()
    view.apply(flag("old", raised_at="2026-11-20T01:00:00Z"))
    view.apply(flag("old-clear", kind="agreement_recovered", opened="old"))
    view.apply(flag("new", raised_at="2026-11-20T05:00:00Z"))
    view.apply(flag("old-clear", kind="agreement_recovered", opened="old"))  # read again after a restart
    assert [f["flag_id"] for f in view.select()["open"]] == ["new"]


def test_newest_raise_first() -> None:
    view = FlagView()
    view.apply(flag("early", dimension="motion_quality", raised_at="2026-11-20T01:00:00Z"))
    view.apply(flag("late", dimension="text_alignment", raised_at="2026-11-20T09:00:00Z"))
    assert [f["flag_id"] for f in view.select()["open"]] == ["late", "early"]


@pytest.mark.parametrize("raw", [b"{", b"[]", orjson.dumps({"kind": "agreement_low"}),
                                 flag("x", kind="agreement_maybe")])
def test_a_malformed_record_raises_for_the_tail_to_skip(raw: bytes) -> None:
    view = FlagView()
    with pytest.raises((ValueError, KeyError, TypeError)):
        view.apply(raw)
    assert view.select() == {"open": [], "cleared": 0}

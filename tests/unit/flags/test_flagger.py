"""The flag agent tests a window once per look: a look spent without a raise is not tested again."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from schemas.outputs import Flag
from stream.agreement.merge import Key, MergeConfig, Merger
from stream.config import flag_policies, flag_policy
from stream.flags.flagger import Flagger
from stream.flags.store import MemoryFlagStore
from stream.metrics import Metrics
from stream.settings import Settings
from stream.stats import Coincidence, UnitDelta

KEY: Key = ("motion_quality", "all", 3600, 0)
# looks at 30, 60, 120... pairable values; look 0 needs 1 - 0.1 * 6 / pi^2 = 0.939, look 1 0.985
SETTINGS = Settings(flag_min_pairable=30, flag_look_growth=2.0, flag_confidence=0.9, bootstrap_seed=3)
AGREE = [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]  # value indices of three raters
DISAGREE = [[0, 4, 0], [4, 0, 4], [0, 4, 4], [4, 0, 0], [0, 0, 4]]


def _merger() -> Merger:
    config = MergeConfig(n_partitions=1, scales={"motion_quality": [1, 2, 3, 4, 5]},
                         levels={"motion_quality": "interval"}, threshold=0.667, n_boot=1000, seed=3)
    return Merger(config, {})


def _add(matrix: Coincidence, units: list[list[int]]) -> dict[str, Any]:
    """Add units of three answers each to the window; returns its partial."""
    for values in units:
        counts = np.bincount(values, minlength=5)
        matrix.apply(UnitDelta.of(np.zeros(5, dtype=np.int64), counts))
    return {"d": KEY[0], "s": KEY[1], "w": KEY[2], "b": KEY[3], "m": matrix.to_state(),
            "a": ["ann-1", "ann-2", "ann-3"], "x": {}, "t": 1.0}


def _send(merger: Merger, units: list[list[int]], matrix: Coincidence) -> None:
    """Deliver the window's live partial after adding `units`."""
    assert merger.on_partials({"t": "partials", "p": 0, "items": [_add(matrix, units)]}) == [KEY]


def _close(merger: Merger, units: list[list[int]], matrix: Coincidence) -> None:
    """Deliver the window's final partial (with its closure) after adding `units`."""
    msg = {"t": "closed", "p": 0, "w": KEY[2], "through": KEY[2], "items": [_add(matrix, units)]}
    assert merger.on_closed(msg) == [KEY]


def _flagger() -> Flagger:
    return Flagger(flag_policies(SETTINGS), SETTINGS.bootstrap_samples, Metrics(), MemoryFlagStore())


def _evaluate(flagger: Flagger, merger: Merger, final: bool = False) -> Flag | None:
    return asyncio.run(flagger.evaluate(merger.record(KEY, final=final), KEY, merger))


def test_a_spent_look_is_not_tested_again() -> None:
    merger, matrix, flagger = _merger(), Coincidence(5), _flagger()
    _send(merger, AGREE * 2, matrix)  # 30 pairable values: look 0, agreement perfect
    assert _evaluate(flagger, merger) is None
    _send(merger, DISAGREE + DISAGREE[:4], matrix)  # 57 values, still look 0, agreement now poor
    assert _evaluate(_flagger(), merger) is not None  # a window seen for the first time would raise
    assert _evaluate(flagger, merger) is None  # this one spent look 0 at 30 values
    _send(merger, DISAGREE * 3, matrix)  # 102 values: look 1
    raised = _evaluate(flagger, merger)
    assert raised is not None and raised.kind == "agreement_low"
    assert raised.required_confidence == flag_policy(SETTINGS, KEY[0]).look_confidence(1)
    assert raised.p_below_threshold is not None and raised.p_below_threshold >= raised.required_confidence


def test_a_final_is_tested_only_at_a_new_look() -> None:
    merger, matrix, flagger = _merger(), Coincidence(5), _flagger()
    _send(merger, AGREE * 2, matrix)
    assert _evaluate(flagger, merger) is None  # look 0 spent
    _close(merger, DISAGREE + DISAGREE[:4], matrix)
    assert _evaluate(_flagger(), merger, final=True) is not None  # would raise on a first look
    assert _evaluate(flagger, merger, final=True) is None  # same look: not tested again
    assert KEY not in flagger.looked  # the final forgets the window
    merger, matrix, flagger = _merger(), Coincidence(5), _flagger()
    _send(merger, AGREE * 2, matrix)
    assert _evaluate(flagger, merger) is None
    _close(merger, DISAGREE * 3, matrix)  # 75 values: look 1, reached only by the final
    assert _evaluate(flagger, merger, final=True) is not None


def test_records_without_a_bootstrap_raise_nothing() -> None:
    merger, matrix = _merger(), Coincidence(5)
    _send(merger, DISAGREE * 8, matrix)
    record = merger.record(KEY, final=False).model_copy(update={"p_below_threshold": None})
    assert asyncio.run(_flagger().evaluate(record, KEY, merger)) is None

"""A flag whose Redis change timed out but still ran is sent once Redis answers again."""

from __future__ import annotations

import asyncio

import numpy as np
from redis.exceptions import TimeoutError as RedisTimeout

from stream.agreement.merge import Key, MergeConfig, Merger
from stream.config import flag_policies
from stream.flags.flagger import Flagger
from stream.flags.pending import Redelivery
from stream.flags.store import MemoryFlagStore
from stream.io.retry import Breaker
from stream.metrics import Metrics
from stream.settings import Settings
from stream.stats import Coincidence, UnitDelta

KEY: Key = ("motion_quality", "all", 3600, 0)
SETTINGS = Settings(flag_min_pairable=30, flag_look_growth=2.0, flag_confidence=0.9, bootstrap_seed=3)
DISAGREE = [[0, 4, 0], [4, 0, 4], [0, 4, 4], [4, 0, 0], [0, 0, 4]]


class LateStore(MemoryFlagStore):
    """Redis paused: the open runs on the server, the client's call times out."""

    async def try_open(self, key: str, flag_id: str, payload: str = "") -> bool:
        await super().try_open(key, flag_id, payload)
        raise RedisTimeout("Timeout reading from socket")


def _poor_window() -> Merger:
    config = MergeConfig(n_partitions=1, scales={"motion_quality": [1, 2, 3, 4, 5]},
                         levels={"motion_quality": "interval"}, threshold=0.667, n_boot=1000, seed=3)
    merger, matrix = Merger(config, {}), Coincidence(5)
    for values in DISAGREE * 8:
        matrix.apply(UnitDelta.of(np.zeros(5, dtype=np.int64), np.bincount(values, minlength=5)))
    item = {"d": KEY[0], "s": KEY[1], "w": KEY[2], "b": KEY[3], "m": matrix.to_state(),
            "a": ["ann-1", "ann-2", "ann-3"], "x": {}, "t": 1.0}
    merger.on_partials({"t": "partials", "p": 0, "items": [item]})
    return merger


async def _scenario() -> None:
    now = [0.0]
    store, merger = LateStore(), _poor_window()
    flagger = Flagger(flag_policies(SETTINGS), SETTINGS.bootstrap_samples, Metrics(), store)
    redelivery = Redelivery(store, flagger, Breaker(5.0, clock=lambda: now[0]))
    assert await redelivery.due() == []  # took over: nothing pending
    try:
        await flagger.evaluate(merger.record(KEY, final=False), KEY, merger)
        raise AssertionError("the store should have timed out")
    except RedisTimeout as exc:
        redelivery.failed(exc, "flag checks skipped")
    assert len(store.unconfirmed) == 1  # open and pending in Redis, never sent
    assert flagger.open is None  # its copy of open flags is read again
    assert await redelivery.due() == []  # held back while the breaker pauses
    now[0] += 5.1
    again = await redelivery.due()
    assert [f.flag_id for f in again] == list(store.unconfirmed) and again[0].kind == "agreement_low"
    assert await redelivery.due() == []  # sent once per recovery
    await redelivery.confirm([f.flag_id for f in again])
    assert store.unconfirmed == {}


def test_a_timed_out_open_that_ran_is_sent_once_redis_answers() -> None:
    asyncio.run(_scenario())


def test_confirmations_wait_while_redis_is_held_back() -> None:
    async def run() -> None:
        now = [0.0]
        store = MemoryFlagStore()
        flagger = Flagger(flag_policies(SETTINGS), SETTINGS.bootstrap_samples, Metrics(), store)
        gate = Breaker(5.0, clock=lambda: now[0])
        redelivery = Redelivery(store, flagger, gate)
        store.unconfirmed["f1"] = "{}"
        gate.trip()
        await redelivery.confirm(["f1"])
        assert store.unconfirmed == {"f1": "{}"}  # kept pending: sent again once Redis answers
        now[0] += 6
        await redelivery.confirm(["f1"])
        assert store.unconfirmed == {}
    asyncio.run(run())

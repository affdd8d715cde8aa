"""Merge stage: sum every partition's partial windows, emit live and final agreement records."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import faust
import orjson
from redis.exceptions import RedisError

from schemas.outputs import AgreementRecord
from stream.agents.flags import Flagger
from stream.flags import flag_key
from stream.flagstore import FlagStore
from stream.merge import Key, MergeConfig, Merger
from stream.security import redis_client
from stream.units import PAIRWISE_SCALE

if TYPE_CHECKING:
    from stream.app import Context

log = logging.getLogger(__name__)


def merge_config(ctx: Context) -> MergeConfig:
    s = ctx.settings
    dims = [*s.dimensions, *(f"pairwise.{d}" for d in s.dimensions)]
    return MergeConfig(
        n_partitions=s.partitions,
        scales={d: PAIRWISE_SCALE if d.startswith("pairwise.") else s.scale for d in dims},
        levels={d: s.level_for(d) for d in dims},
        threshold=s.alpha_threshold, n_boot=s.bootstrap_samples, seed=s.bootstrap_seed,
        thresholds={d: s.threshold_for(d) for d in dims}, margin=s.flag_margin,
        n_boot_live=s.bootstrap_samples_live, draws=s.bootstrap_draws,
    )


class Publisher:
    """Rate-limits live records per window and keeps gauges on each key's newest window."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.last_sent: dict[Key, float] = {}
        self.pending: set[Key] = set()
        self.newest: dict[tuple[str, str, str], int] = {}

    def select(self, changed: Iterable[Key]) -> list[Key]:
        """Windows due a live record: changed now or held back, and past their interval.

        Trailing edge: a change inside the interval goes out with the first message read after the
        interval (the unit stage sends one every interval while anything changes), not with its
        window's next change, which may never come before the window closes.
        """
        now, interval = time.monotonic(), self.ctx.settings.snapshot_interval_s
        self.pending.update(changed)
        ready = sorted(k for k in self.pending if now - self.last_sent.get(k, 0.0) >= interval)
        for key in ready:
            self.last_sent[key] = now
            self.pending.discard(key)
        return ready

    def observe(self, record: AgreementRecord) -> None:
        m, start = self.ctx.metrics, int(record.window_start.timestamp())
        labels = (record.dimension, record.slice, f"{record.window_size_s}s")
        if start < self.newest.get(labels, 0):
            return  # gauges follow each key's newest window only
        self.newest[labels] = start
        if record.alpha is not None:
            m.alpha.labels(*labels).set(record.alpha)
        if record.ci_low is not None and record.ci_high is not None:
            m.alpha_ci.labels(*labels, "low").set(record.ci_low)
            m.alpha_ci.labels(*labels, "high").set(record.ci_high)
        m.pairable.labels(*labels).set(record.n_pairable_values)
        if record.final:
            m.windows_final.labels(labels[2]).inc()
            final_key = (record.dimension, record.slice, record.window_size_s, start)
            self.last_sent.pop(final_key, None)
            self.pending.discard(final_key)


def record_key(record: AgreementRecord) -> bytes:
    return f"{record.dimension}|{record.slice}|{record.window_size_s}".encode()


def register(app: faust.App, ctx: Context) -> None:
    table = app.Table("merge", default=None, partitions=1)
    config = merge_config(ctx)
    publisher = Publisher(ctx)
    agreement, qa_flags = ctx.topics.agreement, ctx.topics.flags
    flagger = Flagger(ctx, FlagStore(redis_client(ctx.settings), f"{ctx.settings.app_id}:",
                                     ctx.settings.flag_cooldown_s))
    for dimension, threshold in config.thresholds.items():
        ctx.metrics.threshold.labels(dimension).set(threshold)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def hand_over(sender: Any, revoked: Any, **_: Any) -> None:
        if any(tp.topic == ctx.topics.partials.get_topic_name() for tp in revoked):
            flagger.release()
            publisher.pending.clear()

    @app.agent(ctx.topics.partials, name="merge")
    async def merge_agent(stream: Any) -> None:
        merger = Merger(config, table)
        async for raw in stream:
            msg = orjson.loads(raw)
            changed = merger.on_partials(msg) if msg["t"] == "partials" else []
            finals = merger.on_closed(msg) if msg["t"] == "closed" else []
            live = [k for k in publisher.select(changed) if k in merger.live and not merger.is_final(k)]
            records = [(k, merger.record(k, final=False)) for k in live]
            records += [(k, merger.record(k, final=True)) for k in finals]
            for key, record in records:
                publisher.observe(record)
                await agreement.send(key=record_key(record), value=record.model_dump_json().encode())
                try:
                    flag = await flagger.evaluate(record, key, merger)
                except RedisError as exc:
                    # no flag without the dedup store; records keep flowing, the metric alerts
                    ctx.metrics.flag_errors.inc()
                    log.warning("flag check skipped, Redis unavailable: %r", exc)
                    flag = None
                flagger.show(flag_key(record.model_dump(include={"dimension", "slice", "window_size_s"})))
                if flag is not None:
                    await qa_flags.send(key=flag.flag_id.encode(), value=flag.model_dump_json().encode())
                if record.final:
                    merger.finish(key)

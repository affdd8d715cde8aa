"""Annotators agent: per-annotator gold state in a table, transitions to annotator-status and Redis."""

from __future__ import annotations

import time
from typing import Any

import faust
import orjson

from stream.config import qualification_config
from stream.context import Context
from stream.io.outbox import Outbox, guarded
from stream.io.rediskeys import RedisKeys
from stream.io.security import redis_client
from stream.qualification.annotator import Annotator
from stream.qualification.goldkey import GoldKeyView
from stream.qualification.rules import Transition
from stream.qualification.stage import KNOWN_TRANSITIONS, AnnotatorStage
from stream.qualification.store import AnnotatorStore


def register(app: faust.App, ctx: Context) -> None:
    """Reads `annotator-events` (and tails `gold-items`); writes `annotator-status` (acknowledged before
    the table moves) and the annotators' Redis hashes and sets. Owns table `annotators`."""
    settings, topics = ctx.settings, ctx.topics
    table = app.Table("annotators", default=None, partitions=settings.partitions)
    key = GoldKeyView(settings, on_invalid=ctx.metrics.gold_key_invalid.inc)
    store = AnnotatorStore(redis_client(settings), RedisKeys(settings.app_id))
    stage = ctx.stages.annotators = AnnotatorStage(qualification_config(settings), ctx.metrics, table, key,
                                                   store)
    for before, after in KNOWN_TRANSITIONS:
        ctx.metrics.annotator_transitions.labels(before, after)

    @app.task
    async def tail_gold_key() -> None:
        await topics.gold.maybe_declare()  # compacted; auto-creation would not compact it
        await key.run()

    @app.agent(topics.annotator_events, name="annotators")
    async def annotators_agent(stream: Any) -> None:
        outbox = Outbox(ctx.fatal)
        await key.ready.wait()  # never score against a half-loaded key
        async for event in stream.events():
            # a send that fails after its resends stops the worker without committing; it must
            # not crash the agent, which Faust restarts after acking the event it was on
            async with guarded(ctx.fatal, "annotators", ctx.work):
                await on_event(event, outbox)

    async def on_event(event: Any, outbox: Outbox) -> None:
        message = orjson.loads(event.value)
        if message["t"] == "x":  # the flush found the annotator idle past the retention
            await stage.forget(message["a"], time.time())
            return
        ann, transitions = stage.on_message(message, event.message.partition, time.time())
        if ann is None:
            return
        ann.seq += 1
        for transition in transitions:
            await send_status(ann, transition, outbox)
        table[ann.id] = ann.to_state()
        stage.dirty.add(ann.id)
        if transitions:  # eligibility changes reach Redis now, statistics with the next flush
            await stage.push([ann.id])

    async def send_status(ann: Annotator, transition: Transition, outbox: Outbox) -> None:
        status = ann.status(transition, key.rows)
        # acknowledged before the table moves on: a record in the table implies one on the topic
        value = status.model_dump_json().encode()
        await outbox.send(topics.annotator_status, key=ann.id.encode(), value=value)
        await outbox.flush()
        ctx.metrics.annotator_transitions.labels(transition.previous or "none", transition.state).inc()

    @app.timer(settings.annotator_flush_s)
    async def flush() -> None:
        changed = key.drain()
        targets = stage.recheck() if stage.rechecking else stage.affected_by(changed) if changed else []
        for annotator_id in targets:
            await topics.annotator_events.send(key=annotator_id.encode(),
                                               value=orjson.dumps({"t": "r", "a": annotator_id}))
        for annotator_id in stage.expired(time.time()):
            await topics.annotator_events.send(key=annotator_id.encode(),
                                               value=orjson.dumps({"t": "x", "a": annotator_id}))
        if stage.dirty:
            await stage.push(sorted(stage.dirty))
        stage.report_states()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def assigned(sender: Any, assigned: Any, **_: Any) -> None:
        name = topics.annotator_events.get_topic_name()
        stage.owned = {tp.partition for tp in assigned if tp.topic == name}

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def reconcile(sender: Any, **_: Any) -> None:
        # tables recovered: Redis may be behind them (a crash between the topic and Redis)
        stage.dirty.update(a for a, _ in stage.owned_records())
        stage.rechecking = True

"""The webhook receiver: authenticates Label Studio, maps each annotation, sends acknowledged, answers."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.bridge.labelstudio import convert
from stream.bridge.labelstudio.convert import Answer, Check, Unmappable
from stream.bridge.labelstudio.mapping import Mapping
from stream.bridge.labelstudio.store import Record
from stream.bridge.labelstudio.webhook import Delete, Unreadable, Upsert, Webhook, parse
from stream.core.validate import Invalid, dead_letter
from stream.metrics import BridgeMetrics

log = logging.getLogger(__name__)

# a dead letter's origin: not a Kafka record, so partition and offset are -1 and the index is the
# annotation's position in the webhook body
WEBHOOK_SOURCE = "label-studio-webhook"
# a retraction must be later than the answer it withdraws, also when clocks differ
_AFTER = timedelta(milliseconds=1)


class Store(Protocol):
    async def get(self, annotation_id: int) -> Record | None: ...
    async def put(self, records: list[Record]) -> None: ...


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes


Send = Callable[[list[Message]], Awaitable[None]]  # returns once the broker acknowledged every one


@dataclass
class Outcome:
    """What one webhook did: messages to send, records to keep once they are on the broker."""

    messages: list[Message] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("produced", "duplicate", "skipped", "dead_lettered"), 0))


@dataclass
class Bridge:
    """Everything a webhook needs; `clock` dates deletions (Label Studio sends no time with them)."""

    mapping: Mapping
    check: Check
    store: Store
    send: Send
    metrics: BridgeMetrics
    annotations_topic: str
    dlq_topic: str
    dlq_keep: int
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    async def handle(self, body: bytes) -> Outcome:
        """Raises Unreadable for a body that is not a webhook; anything else is answered."""
        hook = parse(body)
        outcome = Outcome()
        for item in hook.items:
            if isinstance(item, Upsert):
                await self._upsert(hook, item, body, outcome)
            else:
                await self._delete(hook, item, body, outcome)
        await self.send(outcome.messages)
        await self.store.put(outcome.records)
        for name, count in outcome.counts.items():
            self.metrics.annotations.labels(name).inc(count)
        return outcome

    async def _upsert(self, hook: Webhook, item: Upsert, body: bytes, outcome: Outcome) -> None:
        if convert.skipped(item.annotation):
            outcome.counts["skipped"] += 1
            return
        try:
            answer = convert.to_answer(self.mapping, item.annotation, item.task_data, self.check)
        except Unmappable as exc:
            self._dead_letter(hook, item.index, body, exc, outcome)
            return
        kept = await self.store.get(answer.annotation_id)
        if kept is not None and kept.event_id == answer.event_id:
            outcome.counts["duplicate"] += 1  # a redelivery: the event is on the topic already
            return
        outcome.messages.append(Message(self.annotations_topic, answer.unit_id.encode(),
                                        orjson.dumps(answer.event)))
        outcome.counts["produced"] += 1
        if kept is None or _newer(answer.event["submitted_at"], kept.submitted_at):
            outcome.records.append(record_of(answer))  # an older version arriving late keeps the newer

    async def _delete(self, hook: Webhook, item: Delete, body: bytes, outcome: Outcome) -> None:
        kept = await self.store.get(item.annotation_id)
        if kept is None:
            self._dead_letter(hook, item.index, body, Unmappable(
                "unknown_annotation", f"annotation {item.annotation_id} was deleted, but the bridge never "
                "mapped it (created before the bridge ran, or skipped)"), outcome)
            return
        if kept.deleted_at:
            outcome.counts["duplicate"] += 1
            return
        answered = convert.timestamp(kept.submitted_at, "submitted_at")
        at = max(self.clock(), answered + _AFTER)
        event = convert.retraction(self.mapping, item.annotation_id, kept.annotator, kept.unit_kind,
                                   kept.unit_id, at)
        outcome.messages.append(Message(self.annotations_topic, kept.unit_id.encode(), orjson.dumps(event)))
        outcome.records.append(Record(**{**kept.__dict__, "deleted_at": event["submitted_at"]}))
        outcome.counts["produced"] += 1

    def _dead_letter(self, hook: Webhook, index: int, body: bytes, exc: Unmappable, outcome: Outcome) -> None:
        log.warning("dead-lettered annotation %d of a %s webhook: %s", index, hook.action, exc)
        value = dead_letter(body, None, Invalid(exc.reason, exc.detail), WEBHOOK_SOURCE, -1, -1,
                            self.dlq_keep, index)
        outcome.messages.append(Message(self.dlq_topic, None, value))
        outcome.counts["dead_lettered"] += 1
        self.metrics.dead_letters.labels(exc.reason).inc()


def _newer(stamp: str, than: str) -> bool:
    return convert.timestamp(stamp, "submitted_at") >= convert.timestamp(than, "submitted_at")


def record_of(answer: Answer) -> Record:
    event = answer.event
    return Record(answer.annotation_id, answer.event_id, str(event["annotator_id"]), answer.unit_kind,
                  answer.unit_id, str(event["submitted_at"]))


def authorized(request: web.Request, secret: str) -> bool:
    """`Authorization: Bearer <secret>`, compared in constant time."""
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {secret}".encode())


def app(bridge: Bridge, secret: str, max_body: int) -> web.Application:
    """POST /webhook (Label Studio), GET /healthz, GET /metrics."""

    async def webhook(request: web.Request) -> web.Response:
        if not authorized(request, secret):
            bridge.metrics.requests.labels("unauthorized", "401").inc()
            return web.json_response({"error": "missing or wrong Authorization: Bearer <secret>"}, status=401)
        started = time.perf_counter()
        body = await request.read()
        try:
            outcome = await bridge.handle(body)
        except Unreadable as exc:
            bridge.metrics.requests.labels("unreadable", "400").inc()
            return web.json_response({"error": str(exc)}, status=400)
        except Exception as exc:  # the broker or Redis failed: nothing acknowledged, Label Studio may retry
            log.exception("webhook not delivered")
            bridge.metrics.requests.labels(_action(body), "503").inc()
            return web.json_response({"error": f"not delivered: {exc!r}"[:300]}, status=503)
        bridge.metrics.send_seconds.observe(time.perf_counter() - started)
        bridge.metrics.requests.labels(_action(body), "200").inc()
        return web.json_response(outcome.counts)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(bridge.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    application = web.Application(client_max_size=max_body)
    application.add_routes([web.post("/webhook", webhook), web.get("/healthz", healthz),
                            web.get("/metrics", metrics)])
    return application


def _action(body: bytes) -> str:
    """The action label of a request already parsed once (bounded: Label Studio's action names)."""
    try:
        action = orjson.loads(body).get("action")
    except (orjson.JSONDecodeError, AttributeError):
        return "unreadable"
    return action if isinstance(action, str) and action.isupper() and len(action) < 40 else "other"


async def serve(application: web.Application, host: str, port: int, ready: Callable[[], None]) -> None:
    """Run until cancelled (SIGTERM / Ctrl-C), then stop accepting and finish what is in flight."""
    runner = web.AppRunner(application)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        ready()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def kafka_sender(producer: Any) -> Send:
    """Send through an aiokafka producer (acks=all) and wait for every acknowledgement."""

    async def send(messages: list[Message]) -> None:
        futures = [await producer.send(m.topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*futures)

    return send

"""Webhook delivery of flags: Slack-compatible body, timestamped HMAC signature, retries until delivered."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from redis.exceptions import RedisError

from stream.flags.deliveries import Deliveries, shown

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Alphawatch-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_BACKOFF_S = 300.0


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix time>,v1=<hex>`: HMAC-SHA256 over `<t>.` and the exact body (Stripe's and Slack's
    scheme), so a captured request cannot be replayed later with its signature."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300.0) -> bool:
    """What a receiver does: the signature matches and its time is within `tolerance_s` of now."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, body, stamp)
    return hmac.compare_digest(expected, header.strip()) and abs(now - stamp) <= tolerance_s


def slack_text(flag: dict[str, Any]) -> str:
    """One readable message; the structured flag travels alongside in the same body."""
    window = f"{flag['window_size_s'] // 3600}h window from {flag['window_start']}"
    if flag["kind"] == "agreement_recovered":
        return (f":white_check_mark: Agreement recovered on *{flag['dimension']}* ({flag['slice']}, "
                f"{window}): alpha {flag['alpha']:.3f}.")
    people = ", ".join(f"{a['annotator_id']} (mean disagreement {a['mean_disagreement']})"
                       for a in flag["top_annotators"][:3]) or "no single annotator stands out"
    confused = ", ".join(c["values"] for c in flag["confused_values"]) or "-"
    return (f":warning: Low agreement on *{flag['dimension']}* ({flag['slice']}, {window}): "
            f"alpha {flag['alpha']:.3f} [95% CI {flag['ci_low']:.3f}, {flag['ci_high']:.3f}] below "
            f"{flag['threshold']} with n = {flag['n_pairable_values']:.0f}. Most disagreement: {people}. "
            f"Confused values: {confused}.")


def body_of(flag: dict[str, Any]) -> bytes:
    return orjson.dumps({"text": slack_text(flag), "flag": flag})


class Notifier:
    """One sender task per webhook drains that webhook's queue in Redis (`Deliveries`): a dead URL
    delays only its own flags. A flag is retried with exponential backoff (capped at 5 minutes)
    until delivered or older than `max_age_s`; each request carries the flag id as its
    `Idempotency-Key`, so a receiver can drop the repeat a crash between delivery and its record
    can cause."""

    def __init__(self, deliveries: Deliveries, secret: str, max_age_s: float, backoff_s: float,
                 timeout_s: float, metrics: Any = None, clock: Callable[[], float] = time.time):
        self.deliveries, self.secret, self.max_age_s = deliveries, secret, max_age_s
        self.backoff_s, self.timeout_s, self.metrics, self.clock = backoff_s, timeout_s, metrics, clock
        self.wakeup = {hook: asyncio.Event() for hook in deliveries.hooks}

    def notify(self) -> None:
        """New flags are queued: wake every sender."""
        for event in self.wakeup.values():
            event.set()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as http:
            await asyncio.gather(*(self.run_hook(http, hook) for hook in self.deliveries.hooks))

    async def run_hook(self, http: aiohttp.ClientSession, hook: str) -> None:
        backoff = self.backoff_s
        while True:
            try:
                delivered = await self.drain(http, hook)
            except RedisError as exc:
                url = self.deliveries.hooks[hook]
                log.warning("webhook %s: Redis unavailable, retrying: %r", shown(url), exc)
                delivered = False
            if delivered is None:  # nothing waiting: until new flags, or a poll for a restart's leftovers
                backoff = self.backoff_s
                self.wakeup[hook].clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup[hook].wait(), 1.0)
                continue
            if not delivered:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                backoff = self.backoff_s

    async def drain(self, http: aiohttp.ClientSession, hook: str) -> bool | None:
        """Deliver the waiting flags oldest first; None when none waits, False at the first failure."""
        items = await self.deliveries.pending(hook)
        if not items:
            return None
        url = self.deliveries.hooks[hook]
        for item in items:
            flag = item["flag"]
            if self.clock() - float(item["queued_at"]) > self.max_age_s:
                await self.deliveries.done(hook, flag["flag_id"])
                self._count("failed")
                log.error("webhook %s: gave up on flag %s after %.0f s", shown(url), flag["flag_id"],
                          self.max_age_s)
                continue
            if not await self.post(http, url, flag):
                self._count("retried")
                return False
            await self.deliveries.done(hook, flag["flag_id"])
            self._count("delivered")
        return True

    async def post(self, http: aiohttp.ClientSession, url: str, flag: dict[str, Any]) -> bool:
        body = body_of(flag)
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: str(flag["flag_id"]),
                   SIGNATURE_HEADER: signature(self.secret, body, int(self.clock()))}
        try:
            async with http.post(url, data=body, headers=headers) as response:
                if response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            problem = type(exc).__name__  # its text may hold the URL
        log.warning("webhook %s: flag %s not delivered (%s)", shown(url), flag["flag_id"], problem)
        return False

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook.labels(outcome).inc()

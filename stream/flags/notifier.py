"""Webhook delivery of flags: Slack-compatible body, HMAC signature, retries with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import deque
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Alphawatch-Signature"


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over the exact request body, as receivers should recompute."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
    """A bounded queue drained by one task: the pipeline only enqueues and never waits on HTTP."""

    def __init__(self, urls: list[str], secret: str, capacity: int, attempts: int, backoff_s: float,
                 timeout_s: float, metrics: Any = None):
        self.urls, self.secret, self.attempts = urls, secret, attempts
        self.backoff_s, self.timeout_s = backoff_s, timeout_s
        self.queue: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.wakeup = asyncio.Event()
        self.metrics = metrics

    def submit(self, flag: dict[str, Any]) -> None:
        if len(self.queue) == self.queue.maxlen:
            self._count("dropped")
            log.warning("webhook queue full: dropping oldest flag %s", self.queue[0]["flag_id"])
        self.queue.append(flag)
        self.wakeup.set()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as http:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                while self.queue:
                    flag = self.queue.popleft()
                    await asyncio.gather(*(self.deliver(http, url, flag) for url in self.urls))

    async def deliver(self, http: aiohttp.ClientSession, url: str, flag: dict[str, Any]) -> bool:
        body = body_of(flag)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self.secret, body)}
        for attempt in range(self.attempts):
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        self._count("delivered")
                        return True
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = repr(exc)
            if attempt + 1 < self.attempts:
                self._count("retried")
                await asyncio.sleep(self.backoff_s * 2**attempt)
        self._count("failed")
        log.error("webhook %s: gave up on flag %s after %d attempts (%s)", url, flag["flag_id"],
                  self.attempts, problem)
        return False

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook.labels(outcome).inc()

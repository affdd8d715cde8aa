"""The live page in Debian's headless chromium on a real worker: it loads, shows the open flag with its
explanation and the alpha charts, asks for the token when it has none, and logs no console error."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.campaign.simulate import generate, ground_truth
from stream.demo.run import demo_campaign
from stream.io.produce import closing_watermark, produce, send_watermark
from stream.settings import Settings
from tests.integration.helpers import Worker, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.tool]

TOKEN = "page-token-1"
DEADLINE_MS = 30_000  # for the page to draw what the endpoints already answer


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is missing: `make tools` installs Debian's chromium package")
    return found


def _open_flag(worker: Worker) -> dict[str, Any] | None:
    """The campaign's flag (text_alignment, slice all) once GET /flags lists it."""
    found = [f for f in worker.get("/flags")["open"]
             if f["dimension"] == "text_alignment" and f["slice"] == "all"]
    return found[0] if found else None


def _after_the_onset() -> list[bytes]:
    """The demo's campaign from the first hour after text_alignment turns ambiguous: every window is
    low, so the flag stays open (the whole campaign at once would let an earlier, still open window
    clear it within a second; the demo paces event time, so its windows close in order)."""
    campaign = demo_campaign()
    onset = ground_truth(campaign)["ambiguous"]["from"]  # e.g. 2026-11-20T03:20:00+00:00
    start = f"{onset[:11]}{int(onset[11:13]) + 1:02d}:00"
    return [orjson.dumps(e) for e in generate(campaign) if e["submitted_at"] >= start]


class Watched:
    """A page's console errors, uncaught exceptions, failed requests and HTTP error answers."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))


def _wait_for(page: Any, selector: str, problems: list[str], state: str = "visible") -> None:
    """Wait for `selector`, or fail with what the page said instead (its status line, its problems)."""
    try:
        page.locator(selector).first.wait_for(state=state, timeout=DEADLINE_MS)
    except Exception as exc:  # Playwright's TimeoutError: say what the page showed
        status = page.locator("#status").inner_text()
        flags = page.locator("#flags").inner_text()
        raise AssertionError(f"{selector} not shown: status {status!r}; flags {flags!r}; "
                             f"problems {problems}") from exc


def _shows_the_flag_and_charts(page: Any, flag: dict[str, Any], problems: list[str]) -> None:
    _wait_for(page, f'article.flag[data-flag-id="{flag["flag_id"]}"]', problems)
    card = page.locator(f'article.flag[data-flag-id="{flag["flag_id"]}"]')
    text = card.inner_text()
    assert "text_alignment · all · 1h window" in text
    assert flag["reason"] in text  # the explanation: why, who disagrees most, which values are mixed up
    assert all(a["annotator_id"] in text for a in flag["top_annotators"])
    assert all(v["values"] in text for v in flag["confused_values"])
    assert f"below the threshold {flag['threshold']:.3f}" in text
    chart = page.locator('figure.chart[data-dimension="text_alignment"]')
    _wait_for(page, 'figure.chart[data-dimension="text_alignment"] svg circle.point', problems)
    # the flagged window is marked, points below the threshold are drawn as such, and every rating
    # dimension has its chart
    assert chart.locator("svg rect.flagged").count() >= 1
    assert chart.locator("svg circle.point.below").count() >= 1
    assert chart.locator("svg line.threshold").count() == 1
    for dimension in ("motion_quality", "visual_fidelity", "viewer_interest"):
        assert page.locator(f'figure.chart[data-dimension="{dimension}"] svg circle.point').count() >= 1


def _shows_batches_and_leaderboards(page: Any, batch: dict[str, Any], problems: list[str]) -> None:
    _wait_for(page, f'#batches tr[data-batch-id="{batch["batch_id"]}"]', problems)
    row = page.locator(f'#batches tr[data-batch-id="{batch["batch_id"]}"]').inner_text()
    assert str(batch["answers_included"]) in row and str(batch["answers_received"]) in row
    _wait_for(page, "#rankings table[data-modality] td", problems)
    assert page.locator('#annotators tr[data-state="qualified"]').count() == 1


def _refreshes(page: Any, problems: list[str]) -> None:
    """The status line changes: the page polled again (and drew again) on its own."""
    before = page.locator("#status").inner_text()
    try:
        page.wait_for_function("(before) => document.getElementById('status').textContent !== before",
                               arg=before, timeout=DEADLINE_MS)
    except Exception as exc:  # Playwright's TimeoutError
        raise AssertionError(f"the page did not refresh: {before!r}; problems {problems}") from exc
    assert page.locator("#status").get_attribute("class") == "muted", page.locator("#status").inner_text()


def _produce(env: dict[str, str]) -> None:
    """The events, then a watermark that makes every window final and closes the first batch."""
    broker, topic = env["ALPHAWATCH_BROKER_URL"], env["ALPHAWATCH_TOPIC_PREFIX"] + "annotations"
    events = _after_the_onset()
    asyncio.run(produce(broker, topic, events))
    settings = Settings(windows=["1h"])  # the worker's window and grace
    asyncio.run(send_watermark(broker, topic, closing_watermark(events, settings), settings.partitions))


def test_the_live_page_shows_the_flag_and_alpha(kafka_url: str, redis_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    # two-hour batches as in the demo, so one closes; leaderboards without waiting for gold
    env = worker_env(kafka_url, redis_url, tmp_path, ALPHAWATCH_WINDOWS='["1h"]', ALPHAWATCH_WEB_TOKEN=TOKEN,
                     ALPHAWATCH_BATCH_LENGTH="2h", ALPHAWATCH_RANKING_QUALIFIED_ONLY="false")
    worker = Worker(env, tmp_path / "worker.log").start()
    try:
        wait_until(worker.ready, 120, "worker to join")
        _produce(env)
        flag = wait_until(lambda: _open_flag(worker), 120, "the flag on GET /flags")
        batches = wait_until(lambda: worker.get("/batches")["batches"], 120, "a closed batch on GET /batches")
        batch = batches[0]
        wait_until(lambda: any(worker.get(f"/rankings/{m}") for m in ("t2v", "i2v", "v2v")), 120,
                   "a leaderboard on GET /rankings")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            try:
                page = browser.new_page()
                watched = Watched(page)
                page.goto(f"http://127.0.0.1:{worker.port}/?token={TOKEN}")
                _shows_the_flag_and_charts(page, flag, watched.problems)
                _shows_batches_and_leaderboards(page, batch, watched.problems)
                assert "token" not in page.url  # kept in the tab's sessionStorage, not in the address
                # a slice's flag folds its explanation; one opened stays open across refreshes
                page.locator("#flags details summary").first.click()
                _refreshes(page, watched.problems)
                _shows_the_flag_and_charts(page, flag, watched.problems)
                assert page.locator("#flags details[open]").count() == 1
                assert watched.problems == []
                # a new tab without the token: the page asks for it, then shows the same
                asking = browser.new_page()
                refused = Watched(asking)
                asking.goto(f"http://127.0.0.1:{worker.port}/")
                _wait_for(asking, "#token-form", refused.problems)
                asking.fill("#token-input", TOKEN)
                asking.click("#token-form button")
                _shows_the_flag_and_charts(asking, flag, refused.problems)
                assert asking.locator("#token-form").is_hidden()
            finally:
                browser.close()
    finally:
        worker.stop()

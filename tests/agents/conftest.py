"""One way to build the worker app for agent tests: Faust's test_context, memory store, no broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NoReturn
from unittest.mock import AsyncMock

import faust
import pytest
from prometheus_client import CollectorRegistry

from stream.app import create_app
from stream.settings import Settings

MakeApp = Callable[..., faust.App]


class Stopped(Exception):
    """What `ctx.fatal` raises under test, where the real one would end the process (exit 70)."""


def stop(reason: str) -> NoReturn:
    raise Stopped(reason)


def stopping(ctx: Any) -> list[str]:
    """Make `ctx.fatal` record its reasons (and raise Stopped); returns the list."""
    reasons: list[str] = []

    def fatal(reason: str) -> NoReturn:
        reasons.append(reason)
        raise Stopped(reason)

    ctx.fatal = fatal
    return reasons


async def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0) -> None:
    """Poll `condition` until it holds; fail after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def sender(error: BaseException | None = None) -> AsyncMock:
    """A stand-in for `topic.send`: records its calls and returns the delivery future a real send
    returns, resolved (acknowledged) or failed with `error`."""

    async def send(**kwargs: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
        return future

    return AsyncMock(side_effect=send)


@pytest.fixture
def make_app() -> MakeApp:
    """`make_app(**settings)`: the app over a memory store, with its own metrics registry; the
    broker URL points nowhere, agents are driven through `agent.test_context()`."""

    def make(**overrides: Any) -> faust.App:
        settings = Settings(**{"broker_url": "kafka://localhost:1", **overrides})
        app = create_app(settings, registry=CollectorRegistry())
        app.alphawatch.fatal = stop
        app.finalize()
        app.conf.store = "memory://"
        app.flow_control.resume()
        return app

    return make

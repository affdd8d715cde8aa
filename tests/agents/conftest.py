"""One way to build the worker app for agent tests: Faust's test_context, memory store, no broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
import pytest
from prometheus_client import CollectorRegistry

from stream.app import create_app
from stream.settings import Settings

MakeApp = Callable[..., faust.App]


@pytest.fixture
def make_app() -> MakeApp:
    """`make_app(**settings)`: the app over a memory store, with its own metrics registry; the
    broker URL points nowhere, agents are driven through `agent.test_context()`."""

    def make(**overrides: Any) -> faust.App:
        settings = Settings(**{"broker_url": "kafka://localhost:1", **overrides})
        app = create_app(settings, registry=CollectorRegistry())
        app.finalize()
        app.conf.store = "memory://"
        app.flow_control.resume()
        return app

    return make

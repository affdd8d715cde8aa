"""CLI error summaries: the service, setting or file named, what to do; bugs keep their traceback."""

from __future__ import annotations

import pytest
import redis.exceptions
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from stream.cli.errors import explain, redacted


@pytest.fixture(autouse=True)
def _urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAWATCH_BROKER_URL", "kafka://broker.internal:9092")
    monkeypatch.setenv("ALPHAWATCH_REDIS_URL", "redis://:hunter2@cache.internal:6379/0")


def test_a_password_never_reaches_the_terminal() -> None:
    assert redacted("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redacted("rediss://app:pw@cache/1") == "rediss://app:***@cache/1"
    assert redacted("kafka://b:9092") == "kafka://b:9092"


def test_an_unreachable_broker_names_its_url_and_the_setting() -> None:
    message = explain(KafkaConnectionError("Unable to bootstrap from [('broker.internal', 9092)]"))
    assert message is not None and len(message.splitlines()) == 2
    assert "kafka://broker.internal:9092" in message and "ALPHAWATCH_BROKER_URL" in message
    assert "alphawatch embedded" in message
    other = explain(KafkaTimeoutError())
    assert other is not None and "ALPHAWATCH_BROKER_URL" in other


def test_an_unreachable_redis_names_the_setting_without_the_password() -> None:
    message = explain(redis.exceptions.ConnectionError("Error 111 connecting to cache.internal:6379."))
    assert message is not None and "ALPHAWATCH_REDIS_URL" in message
    assert "hunter2" not in message and "cache.internal" in message


def test_a_missing_file_is_named() -> None:
    message = explain(FileNotFoundError(2, "No such file or directory", "events.jsonl"))
    assert message == "cannot use events.jsonl: No such file or directory."


def test_a_bug_keeps_its_traceback() -> None:
    assert explain(ValueError("unexpected")) is None
    assert explain(KeyError("x")) is None

"""CLI errors in one or two lines: which service, setting or file failed, and what to do."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis.exceptions
from aiokafka.errors import KafkaConnectionError, KafkaError

from stream.settings import ConfigError, Settings

EXIT_FAILED = 1  # a service or an input failed; 2 stays for bad options and configuration


def redacted(url: str) -> str:
    """`url` without its password (Redis and broker URLs may carry credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _settings() -> Settings | None:
    try:
        return Settings.load()
    except ConfigError:
        return None


def explain(exc: BaseException) -> str | None:
    """The message for an error a user can act on; None for a bug (its traceback is shown)."""
    settings = _settings()
    broker = redacted(settings.broker_url) if settings else "ALPHAWATCH_BROKER_URL"
    redis_url = redacted(settings.redis_url) if settings else "ALPHAWATCH_REDIS_URL"
    if isinstance(exc, KafkaConnectionError):
        return (f"cannot reach the Kafka broker at {broker} ({exc}).\n"
                "Start one (`alphawatch embedded` prints its URL) or set ALPHAWATCH_BROKER_URL.")
    if isinstance(exc, KafkaError):
        return (f"the Kafka broker at {broker} failed: {exc!r}.\n"
                "Check that it is up and that ALPHAWATCH_BROKER_URL names it.")
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return (f"cannot reach Redis at {redis_url} ({exc}).\n"
                "Start it (`alphawatch embedded` prints a URL) or set ALPHAWATCH_REDIS_URL.")
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror or exc}."
    if isinstance(exc, TimeoutError):
        return f"timed out: {exc}. Is the worker running, and the broker at {broker} answering?"
    return None

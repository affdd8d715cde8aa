"""Shared fixtures: real Kafka-protocol broker and Redis (external, testcontainers or embedded)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream.ops.embedded import Service, services
from stream.settings import TestServices


@pytest.fixture(scope="session")
def real_services() -> Iterator[tuple[Service, Service]]:
    cfg = TestServices()
    with services(cfg.kafka, cfg.redis, use_docker=cfg.docker) as pair:
        yield pair


@pytest.fixture(scope="session")
def kafka_url(real_services: tuple[Service, Service]) -> str:
    return real_services[0].url


@pytest.fixture(scope="session")
def redis_url(real_services: tuple[Service, Service]) -> str:
    return real_services[1].url

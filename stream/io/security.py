"""Secure connections from settings: Kafka SASL/SCRAM and TLS (Faust and aiokafka), Redis password and TLS."""

from __future__ import annotations

import ssl
from typing import Any

import redis.asyncio as aioredis
from aiokafka.helpers import create_ssl_context
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from stream.settings import Settings


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS context for SSL and SASL_SSL: the system CAs unless a CA file is set, plus a client
    certificate for mutual TLS."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile, certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile)
    return context


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's `broker_credentials`; None for PLAINTEXT."""
    context = kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context, mechanism=settings.kafka_sasl_mechanism,
        )
    return SSLCredentials(context) if context is not None else None


def aiokafka_auth(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for plain aiokafka clients, derived exactly as Faust derives its own."""
    return dict(credentials_to_aiokafka_auth(broker_credentials(settings)))


def redis_client(settings: Settings, decode_responses: bool = True) -> aioredis.Redis:
    """Async Redis client. TLS comes from a rediss:// URL; the password from the setting (a Secret
    in deployments) unless the URL carries one, which redis-py lets win."""
    # without timeouts a blackholed (or SIGSTOPped) Redis hangs its caller for good; with them a
    # call fails with redis.exceptions.TimeoutError, which the stages handle as Redis unavailable
    options: dict[str, Any] = {"decode_responses": decode_responses,
                               "socket_connect_timeout": settings.redis_timeout_s,
                               "socket_timeout": settings.redis_timeout_s}
    password = settings.redis_password.get_secret_value()
    if password:
        options["password"] = password
    if settings.redis_ssl_cafile:
        options["ssl_ca_certs"] = settings.redis_ssl_cafile
    return aioredis.from_url(settings.redis_url, **options)

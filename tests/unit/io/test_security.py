"""Secure-connection settings: validation, Faust broker credentials, aiokafka and Redis client options."""

from __future__ import annotations

import ssl

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import ValidationError

from stream.io.security import aiokafka_auth, broker_credentials, redis_client
from stream.settings import Settings


def test_plaintext_by_default() -> None:
    s = Settings()
    assert broker_credentials(s) is None
    assert aiokafka_auth(s) == {"security_protocol": "PLAINTEXT"}


def test_sasl_scram_over_tls() -> None:
    s = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="aw",
                 kafka_sasl_password="s3cret", kafka_sasl_mechanism="SCRAM-SHA-256")
    creds = broker_credentials(s)
    assert isinstance(creds, SASLCredentials) and isinstance(creds.ssl_context, ssl.SSLContext)
    auth = aiokafka_auth(s)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-256"
    assert auth["sasl_plain_username"] == "aw" and auth["sasl_plain_password"] == "s3cret"
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED and auth["ssl_context"].check_hostname


def test_sasl_without_tls_and_tls_without_sasl() -> None:
    plain = aiokafka_auth(Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="aw",
                                   kafka_sasl_password="x"))
    assert plain["security_protocol"] == "SASL_PLAINTEXT" and plain["ssl_context"] is None
    assert plain["sasl_mechanism"] == "SCRAM-SHA-512"
    tls = Settings(kafka_security_protocol="SSL")
    assert isinstance(broker_credentials(tls), SSLCredentials)
    assert aiokafka_auth(tls)["security_protocol"] == "SSL"


@pytest.mark.parametrize(("env", "needle"), [
    ({"ALPHAWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "ALPHAWATCH_KAFKA_SASL_USERNAME"),
    ({"ALPHAWATCH_KAFKA_SECURITY_PROTOCOL": "SCRAM"}, "SASL_SSL"),
    ({"ALPHAWATCH_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "not a readable file"),
    ({"ALPHAWATCH_KAFKA_SSL_CAFILE": __file__}, "ALPHAWATCH_KAFKA_SECURITY_PROTOCOL"),
    ({"ALPHAWATCH_REDIS_SSL_CAFILE": __file__}, "rediss://"),
])
def test_bad_security_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                needle: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=needle):
        Settings()


def test_redis_password_and_tls() -> None:
    s = Settings(redis_url="rediss://cache.internal:6380/2", redis_password="pw")
    kwargs = redis_client(s).connection_pool.connection_kwargs
    assert kwargs["password"] == "pw" and kwargs["host"] == "cache.internal" and kwargs["db"] == 2
    assert redis_client(s).connection_pool.connection_class.__name__ == "SSLConnection"
    assert "password" not in redis_client(Settings()).connection_pool.connection_kwargs

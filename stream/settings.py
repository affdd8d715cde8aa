"""All configuration, from ALPHAWATCH_* environment variables: the only module that reads the environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from stream.core import vocabulary

Level = Literal["nominal", "ordinal", "interval", "ratio"]
AgentName = Literal["ingest", "units", "merge", "notify", "annotators", "batches", "ranking"]
AGENTS: tuple[AgentName, ...] = ("ingest", "units", "merge", "notify", "annotators", "batches", "ranking")
SLICE_FIELDS = ("all", "source_category", "modality")
DEFAULT_DIMENSIONS = ["motion_quality", "visual_fidelity", "viewer_interest", "text_alignment"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """'10m' -> 600; the format windows and grace use in settings."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 10m, 1h, 1d, 1w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def positive_duration(text: str) -> int:
    """A window or batch length: a duration of at least one second."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration; use e.g. 30s, 10m, 1h, 1d, 1w")
    return seconds


class ConfigError(ValueError):
    """Bad configuration, as one line naming the environment variable and what it allows."""


# list settings read from a JSON list or a comma-separated string (`a,b`, `1h,24h`)
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """alphawatch settings; every field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_", extra="ignore", frozen=True)

    app_id: str = "alphawatch"
    agents: Annotated[list[AgentName], NoDecode] = Field(default_factory=lambda: list(AGENTS))
    broker_url: str = "kafka://127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = Field(5.0, gt=0, le=300)
    store_url: str = "memory://"
    data_dir: str = "var/alphawatch-data"
    # Faust refuses a table whose persisted offset is past the changelog's end; Tansu 0.6 reports
    # end offsets too low (last batch's base offset + 1), so the RocksDB store on it needs false
    recovery_consistency_check: bool = True
    # read past the reported end of each changelog partition before recovery ends: Tansu 0.6 reports
    # end offsets short of the last record batch (harmless on Apache Kafka: one fetch per partition)
    probe_end_offsets: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    # bearer token for every endpoint but /healthz, /ready and /metrics; required off loopback
    web_token: SecretStr = SecretStr("")
    log_level: Literal["debug", "info", "warn", "error"] = "warn"

    topic_prefix: str = ""
    partitions: int = Field(4, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1)
    rebalance_timeout_s: float = Field(5.0, gt=0)
    session_timeout_s: float = Field(30.0, gt=0)
    commit_interval_s: float = Field(0.5, gt=0)
    fetch_max_wait_ms: int = Field(100, ge=1, le=10_000)
    producer_request_timeout_s: float = Field(30.0, gt=0)
    # a stop on SIGTERM/SIGINT that has not finished by then ends the process (exit code 71)
    shutdown_timeout_s: float = Field(30.0, gt=0)
    # each agent handles up to batch_max_events at a time, waiting at most batch_wait_s for more
    batch_max_events: int = Field(1000, ge=1, le=100_000)
    batch_wait_s: float = Field(0.05, gt=0, le=10)

    # secure connections: Kafka SASL/SCRAM and TLS, Redis password and TLS (rediss:// URL)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    redis_password: SecretStr = SecretStr("")
    redis_ssl_cafile: str | None = None

    dimensions: CommaList = Field(default_factory=lambda: list(DEFAULT_DIMENSIONS))
    score_min: int = 1
    score_max: int = 5
    default_level: Level = "ordinal"
    levels: dict[str, Level] = Field(default_factory=dict)
    max_payload_bytes: int = Field(1_048_576, ge=256)
    dlq_max_payload_bytes: int = Field(262_144, ge=0)

    windows: CommaList = Field(default_factory=lambda: ["1h", "24h"])
    grace: str = "10m"
    # how far an event's time (or a watermark event's) may be ahead of the worker's clock
    max_clock_skew: str = "5m"
    slices: CommaList = Field(default_factory=lambda: list(SLICE_FIELDS))
    snapshot_interval_s: float = Field(0.25, gt=0)
    tick_interval_s: float = Field(1.0, gt=0)
    idle_timeout_s: float = Field(30.0, ge=0)
    unit_retention: str = "2d"

    alpha_threshold: float = Field(0.667, gt=-1, lt=1)
    thresholds: dict[str, float] = Field(default_factory=dict)
    flag_confidence: float = Field(0.95, gt=0.5, lt=1)
    flag_margin: float = Field(0.05, ge=0, lt=1)
    flag_min_pairable: int | None = Field(None, ge=2)
    flag_look_growth: float = Field(2.0, gt=1, le=10)
    flag_min_share: float = Field(0.05, gt=0, le=0.5)
    flag_cooldown_s: int = Field(600, ge=0)
    webhooks: CommaList = Field(default_factory=list)
    webhook_secret: SecretStr = SecretStr("")
    webhook_queue: int = Field(1000, ge=1)
    webhook_max_age_s: float = Field(86_400.0, gt=0)
    webhook_allow_http: bool = False
    webhook_backoff_s: float = Field(0.5, gt=0)
    webhook_timeout_s: float = Field(5.0, gt=0)
    bootstrap_samples: int = Field(1000, ge=0, le=100_000)
    bootstrap_samples_live: int = Field(200, ge=0, le=100_000)
    bootstrap_draws: Literal["units", "pairs"] = "units"
    bootstrap_seed: int | None = None

    # gold-standard qualification (stream/qualification/rules.py): rolling window of the last K gold
    # answers per dimension, decisions only from N answers on
    gold_window: int = Field(50, ge=1, le=10_000)
    gold_min_answers: int = Field(20, ge=1)
    gold_threshold: float = Field(0.85, gt=0, le=1)
    gold_tolerance: int = Field(1, ge=0)
    gold_tolerance_pairwise: int = Field(0, ge=0, le=2)
    gold_pending_max: int = Field(100, ge=0)
    gold_rate_target: float = Field(0.05, gt=0, lt=1)
    peer_window: int = Field(200, ge=1)
    peer_cache_units: int = Field(50_000, ge=0)
    annotator_flush_s: float = Field(1.0, gt=0)

    # model rankings (stream/ranking/votes.py, stream/stats/bradley_terry.py) and Swiss pairing
    # (stream/ranking/pairing.py)
    ranking_refit_s: float = Field(10.0, gt=0)
    ranking_bootstrap_samples: int = Field(200, ge=0, le=10_000)
    ranking_anchors: dict[Literal["t2v", "i2v", "v2v"], str] = Field(default_factory=dict)
    ranking_elo_base: float = 1000.0
    ranking_regularization: float = Field(0.01, gt=0, le=100)
    ranking_qualified_only: bool = True
    ranking_metrics_top: int = Field(20, ge=0, le=200)
    ranking_dedup_votes: int = Field(200_000, ge=0)
    ranking_seed: int | None = None
    pairing_random_share: float = Field(0.35, ge=0, lt=1)

    # RLHF batches (stream/batches/rules.py): a unit is emitted once it has `batch_required_ratings`
    # eligible answers, or at its window's close with at least `batch_min_ratings`
    batch_length: str = "1w"
    batch_required_ratings: int = Field(3, ge=1)
    batch_min_ratings: int = Field(2, ge=1)
    batch_require_qualified: bool = True
    batch_include_gold: bool = False
    batch_salt: SecretStr = SecretStr("")

    # the Label Studio bridge (`alphawatch bridge label-studio`, stream/bridge/labelstudio/)
    bridge_host: str = "127.0.0.1"
    bridge_port: int = Field(6070, ge=1, le=65535)
    # Label Studio sends it as `Authorization: Bearer <secret>` (a webhook's custom header)
    bridge_secret: SecretStr = SecretStr("")
    bridge_mapping: str = "deploy/label-studio/mapping.toml"
    bridge_max_body_bytes: int = Field(64 * 1024**2, ge=1024)

    @field_validator("agents", "dimensions", "windows", "slices", "webhooks", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list ({exc.msg}); or give names separated by commas") from None
        return [item.strip() for item in text.split(",") if item.strip()]

    @field_validator("dimensions")
    @classmethod
    def _dimensions_ok(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError("ALPHAWATCH_DIMENSIONS must be a non-empty list of distinct names")
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"dimension {name!r}: use lower_snake_case names")
        return value

    @field_validator("slices")
    @classmethod
    def _slices_ok(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SLICE_FIELDS]
        if unknown or "all" not in value:
            raise ValueError(
                f"ALPHAWATCH_SLICES={value}: allowed values are {list(SLICE_FIELDS)}, "
                "and 'all' must be present"
            )
        return value

    @field_validator("windows")
    @classmethod
    def _windows_ok(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("ALPHAWATCH_WINDOWS needs at least one window, e.g. [\"1h\"]")
        for item in value:
            positive_duration(item)
        return value

    @field_validator("store_url")
    @classmethod
    def _store_ok(cls, value: str) -> str:
        if value.split("://", 1)[0] not in ("memory", "rocksdb"):
            raise ValueError("use memory:// (tests, demo) or rocksdb:// (production, needs a data dir)")
        return value

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", "redis_ssl_cafile")
    @classmethod
    def _file_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"{value!r} is not a readable file")
        return value

    @field_validator("grace", "unit_retention", "max_clock_skew")
    @classmethod
    def _duration_ok(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("batch_length")
    @classmethod
    def _length_ok(cls, value: str) -> str:
        positive_duration(value)
        return value

    @classmethod
    def load(cls) -> Settings:
        """Settings from the environment, or ConfigError with the first problem on one line."""
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from None
        except SettingsError as exc:  # a value the settings source could not even parse as JSON
            field = re.search(r'field "(\w+)"', str(exc))
            name = f"ALPHAWATCH_{field.group(1).upper()}" if field else "an ALPHAWATCH_* variable"
            raise ConfigError(f"{name}: not valid JSON; give a JSON object or list, "
                              'e.g. {"motion_quality": "interval"}') from None

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.score_max <= self.score_min:
            raise ValueError("ALPHAWATCH_SCORE_MAX must be greater than ALPHAWATCH_SCORE_MIN")
        if self.score_min <= 0 and self.level_of_any("ratio"):
            raise ValueError("ratio level needs positive scores (ALPHAWATCH_SCORE_MIN >= 1)")
        known = set(vocabulary.all_dimensions(self.dimensions))
        for name, mapping in (("LEVELS", self.levels), ("THRESHOLDS", self.thresholds)):
            if set(mapping) - known:
                raise ValueError(f"ALPHAWATCH_{name} names unknown dimensions {sorted(set(mapping) - known)}")
        self._webhook_checks()
        if self.gold_min_answers > self.gold_window:
            raise ValueError("ALPHAWATCH_GOLD_MIN_ANSWERS must not exceed ALPHAWATCH_GOLD_WINDOW")
        if self.batch_min_ratings > self.batch_required_ratings:
            raise ValueError("ALPHAWATCH_BATCH_MIN_RATINGS must not exceed ALPHAWATCH_BATCH_REQUIRED_RATINGS")
        if self.retention_s < max(self.window_seconds) + self.grace_s:
            raise ValueError("ALPHAWATCH_UNIT_RETENTION must be at least the longest window + grace")
        self._connection_checks()
        return self

    def _webhook_checks(self) -> None:
        """URLs are never echoed: a Slack webhook URL is a credential."""
        allowed = ("https://", "http://") if self.webhook_allow_http else ("https://",)
        bad = [i for i, url in enumerate(self.webhooks) if not url.startswith(allowed)]
        if bad:
            raise ValueError(f"ALPHAWATCH_WEBHOOKS items {bad} are not https:// URLs "
                             "(plain http only with ALPHAWATCH_WEBHOOK_ALLOW_HTTP=true)")
        if self.webhooks and not self.webhook_secret.get_secret_value():
            raise ValueError("ALPHAWATCH_WEBHOOKS needs ALPHAWATCH_WEBHOOK_SECRET: receivers verify the "
                             "signature with it")

    def _connection_checks(self) -> None:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL") and not (
                self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"ALPHAWATCH_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                             "ALPHAWATCH_KAFKA_SASL_USERNAME and ALPHAWATCH_KAFKA_SASL_PASSWORD")
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if any(tls_files) and not protocol.endswith("SSL"):
            raise ValueError("ALPHAWATCH_KAFKA_SSL_* files need ALPHAWATCH_KAFKA_SECURITY_PROTOCOL "
                             "SSL or SASL_SSL")
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("ALPHAWATCH_KAFKA_SSL_CERTFILE and ALPHAWATCH_KAFKA_SSL_KEYFILE go together")
        if self.redis_ssl_cafile and not self.redis_url.startswith("rediss://"):
            raise ValueError("ALPHAWATCH_REDIS_SSL_CAFILE needs a rediss:// ALPHAWATCH_REDIS_URL")
        if self.web_host not in LOOPBACK and not self.web_token.get_secret_value():
            raise ValueError(f"ALPHAWATCH_WEB_HOST={self.web_host} serves annotator records to the network: "
                             "set ALPHAWATCH_WEB_TOKEN (e.g. `openssl rand -hex 32`) or bind 127.0.0.1")

    def level_of_any(self, level: str) -> bool:
        return self.default_level == level or level in self.levels.values()

    @property
    def window_seconds(self) -> list[int]:
        return sorted({parse_duration(w) for w in self.windows})

    @property
    def grace_s(self) -> int:
        return parse_duration(self.grace)

    @property
    def max_clock_skew_s(self) -> int:
        return parse_duration(self.max_clock_skew)

    @property
    def batch_length_s(self) -> int:
        return parse_duration(self.batch_length)

    @property
    def retention_s(self) -> int:
        return parse_duration(self.unit_retention)

    @property
    def scale(self) -> list[int]:
        return list(range(self.score_min, self.score_max + 1))

    def level_for(self, dimension: str) -> Level:
        """Rating dimensions default to the configured level; pairwise ones are nominal."""
        if dimension in self.levels:
            return self.levels[dimension]
        return "nominal" if vocabulary.is_pairwise(dimension) else self.default_level

    def threshold_for(self, dimension: str) -> float:
        return self.thresholds.get(dimension, self.alpha_threshold)

    def scale_for(self, dimension: str) -> list[int]:
        """The values of a dimension's answers: the rating scale, or the A/B/tie codes."""
        return vocabulary.scale_of(dimension, self.scale)

    def topic(self, name: str) -> str:
        """Full topic name; a prefix lets tests and tenants share one cluster."""
        return f"{self.topic_prefix}{name}"


def describe(exc: ValidationError) -> str:
    """The first error as `ALPHAWATCH_<FIELD>=<value>: <why>`; a cross-field check names its
    variables in its own message."""
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    field, *inner = (str(part) for part in error["loc"])
    value = error.get("input")
    shown = repr(value) if isinstance(value, str | int | float) else ""
    if any(word in field for word in ("password", "secret", "salt")):
        shown = ""
    inside = ".".join(f"item {part}" if part.isdigit() else part for part in inner)
    where = " ".join(part for part in (inside, shown) if part)
    return f"ALPHAWATCH_{field.upper()}{': ' + where if where else ''}: {message}"


class TestServices(BaseSettings):
    """Where the test suite finds Kafka and Redis: ALPHAWATCH_TEST_KAFKA / ALPHAWATCH_TEST_REDIS.

    Unset, the suite uses testcontainers when a Docker engine answers, else the embedded binaries.
    """

    __test__ = False  # not a pytest test class
    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_TEST_", extra="ignore")
    kafka: str | None = None
    redis: str | None = None
    docker: bool | None = None

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
PLACEHOLDERS = ("change-me", "changeme", "secret", "password")  # template values, never real secrets
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
    """alphawatch settings; the docstring under each field is its documentation: docs/settings.md is
    generated from them (`make docs`)."""

    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_", extra="ignore", frozen=True,
                                      use_attribute_docstrings=True)

    app_id: str = "alphawatch"
    """Faust app id: consumer group, internal topic and table names"""
    agents: Annotated[list[AgentName], NoDecode] = Field(default_factory=lambda: list(AGENTS))
    """stages this worker runs (all by default)"""
    broker_url: str = "kafka://127.0.0.1:9092"
    """Kafka bootstrap servers (`;`-separated)"""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis for the annotator registry (later stages)"""
    redis_timeout_s: float = Field(5.0, gt=0, le=300)
    """connect and socket timeout of every Redis call: a blackholed Redis fails the call instead of hanging
    the stage"""
    store_url: str = "memory://"
    """Faust table store: `memory://` or `rocksdb://` (production: tables on disk, restarts read only the
    changelog tail; uses the `rocksdict` wheel)"""
    data_dir: str = "var/alphawatch-data"
    """Faust data directory (one per worker; holds the RocksDB files)"""
    recovery_consistency_check: bool = True
    """Faust's check that no table is ahead of its changelog; `false` only on Tansu 0.6, which under-reports
    end offsets"""
    probe_end_offsets: bool = True
    """before table recovery, read past each changelog partition's reported end (Tansu 0.6 reports the last
    record batch's base offset + 1, so recovery lost that batch's writes); one short fetch per changelog
    partition on Apache Kafka. Other end-offset lookups (the ingest stage's idle check) are not probed"""
    web_host: str = "127.0.0.1"
    """web server bind address"""
    web_port: int = Field(6066, ge=1, le=65535)
    """web server port (views and `/metrics`)"""
    web_token: SecretStr = SecretStr("")
    """bearer token every endpoint but `/healthz`, `/ready` and `/metrics` requires (`Authorization: Bearer
    <token>`, else 401); required unless `ALPHAWATCH_WEB_HOST` is loopback"""
    log_level: Literal["debug", "info", "warn", "error"] = "warn"
    """how much the worker logs"""

    topic_prefix: str = ""
    """prefix of every topic name"""
    partitions: int = Field(4, ge=1, le=1024)
    """partitions of input, internal and output topics (the most workers that share the work)"""
    replication_factor: int = Field(1, ge=1)
    """replication of topics the app creates"""
    rebalance_timeout_s: float = Field(5.0, gt=0)
    """group rebalance timeout (Faust's default makes each join take ~30 s on Tansu)"""
    session_timeout_s: float = Field(30.0, gt=0)
    """how long a dead worker keeps its partitions"""
    commit_interval_s: float = Field(0.5, gt=0)
    """offset commit interval"""
    fetch_max_wait_ms: int = Field(100, ge=1, le=10_000)
    """longest a fetch waits for data (Faust hard-codes 1500; Tansu always waits it out)"""
    producer_request_timeout_s: float = Field(30.0, gt=0)
    """a produce request without answer is retried after this (Faust's default is 1200)"""
    shutdown_timeout_s: float = Field(30.0, gt=0)
    """a stop on SIGTERM or SIGINT that has not finished by then (broker gone, say) ends the process with exit
    code 71; uncommitted input is read again"""
    batch_max_events: int = Field(1000, ge=1, le=100_000)
    """most input records an agent handles as one batch (outputs delivered, then acked)"""
    batch_wait_s: float = Field(0.05, gt=0, le=10)
    """longest an agent waits to fill a batch"""

    # secure connections: Kafka SASL/SCRAM and TLS, Redis password and TLS (rediss:// URL)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """how workers, the `/agreement` tail and `alphawatch produce` connect to Kafka"""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    """SASL mechanism, with the `SASL_*` protocols"""
    kafka_sasl_username: str = ""
    """SASL user; required with `SASL_*`"""
    kafka_sasl_password: SecretStr = SecretStr("")
    """SASL password; required with `SASL_*` (keep it in a Secret)"""
    kafka_ssl_cafile: str | None = None
    """PEM bundle that signs the brokers' certificates (unset: the system CAs)"""
    kafka_ssl_certfile: str | None = None
    """client certificate for mutual TLS (with `..._KEYFILE`)"""
    kafka_ssl_keyfile: str | None = None
    """client key for mutual TLS"""
    redis_password: SecretStr = SecretStr("")
    """Redis password (AUTH); a password inside `ALPHAWATCH_REDIS_URL` takes precedence"""
    redis_ssl_cafile: str | None = None
    """CA for Redis TLS (unset: the system CAs); TLS itself is chosen by a `rediss://` URL"""

    dimensions: CommaList = Field(default_factory=lambda: list(DEFAULT_DIMENSIONS))
    """rating dimensions"""
    score_min: int = 1
    """lowest score"""
    score_max: int = 5
    """highest score"""
    default_level: Level = "ordinal"
    """level of measurement of rating dimensions"""
    levels: dict[str, Level] = Field(default_factory=dict)
    """per-dimension level, e.g. `{"viewer_interest":"interval"}`; `pairwise.*` default to nominal"""
    max_payload_bytes: int = Field(1_048_576, ge=256)
    """larger messages are dead-lettered as `oversized`"""
    dlq_max_payload_bytes: int = Field(262_144, ge=0)
    """original bytes kept in a dead letter"""

    windows: CommaList = Field(default_factory=lambda: ["1h", "24h"])
    """tumbling event-time window sizes"""
    grace: str = "10m"
    """how late (event time) an answer may arrive before its window is final"""
    max_clock_skew: str = "5m"
    """an event (or watermark event) timed further ahead of the worker's clock is dead-lettered as
    `future_timestamp`"""
    slices: CommaList = Field(default_factory=lambda: list(SLICE_FIELDS))
    """slices: alpha is computed for all answers (`all`) and per value of each other field named"""
    snapshot_interval_s: float = Field(0.25, gt=0)
    """live record rate limit per window, and partial snapshot period"""
    tick_interval_s: float = Field(1.0, gt=0)
    """how often ingest announces per-partition progress"""
    idle_timeout_s: float = Field(30.0, ge=0)
    """a caught-up input partition quiet this long is not waited for"""
    unit_retention: str = "2d"
    """unit answers kept (event time) for late revisions; at least longest window + grace"""

    alpha_threshold: float = Field(0.667, gt=-1, lt=1)
    """threshold for `p_below_threshold`"""
    thresholds: dict[str, float] = Field(default_factory=dict)
    """per-dimension thresholds, e.g. `{"viewer_interest": 0.6}` (else `ALPHAWATCH_ALPHA_THRESHOLD`)"""
    flag_confidence: float = Field(0.95, gt=0.5, lt=1)
    """a window raises falsely with at most 1 - this over all its looks (see
    [Flags and alerts](agreement-and-flags.md#flags-and-alerts)); also the one-tailed level of the minimum
    sample"""
    flag_margin: float = Field(0.05, ge=0, lt=1)
    """hysteresis: clear only when confidently above threshold + margin"""
    flag_min_pairable: int | None = Field(None, ge=2)
    """fixed minimum pairable values before any flag; default: Krippendorff's formula per window, for the
    share of its rarest value (96 for 0.667 on an evenly used 1-5 scale, 68 for evenly used A/B/tie)"""
    flag_look_growth: float = Field(2.0, gt=1, le=10)
    """a window is tested for a raise when its pairable values first reach the minimum x this^k (k = 0, 1,
    ...); each look spends a share of 1 - `FLAG_CONFIDENCE`"""
    flag_min_share: float = Field(0.05, gt=0, le=0.5)
    """floor on the rarest value's share in that formula, so a value seen a handful of times does not make the
    minimum unreachable (at 0.05: 330 for 0.667)"""
    flag_cooldown_s: int = Field(600, ge=0)
    """after a recovery, no new flag for the same key for this long"""
    webhooks: CommaList = Field(default_factory=list)
    """URLs that receive flags (Slack-compatible JSON)"""
    webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key for the `X-Alphawatch-Signature` header"""
    webhook_queue: int = Field(1000, ge=1)
    """flags waiting per URL (in Redis); beyond it the oldest is dropped (counted)"""
    webhook_max_age_s: float = Field(86_400.0, gt=0)
    """a flag not delivered to a URL by then is given up (counted `failed`, logged with its id)"""
    webhook_allow_http: bool = False
    """accept plain `http://` webhook URLs (a receiver inside the cluster)"""
    webhook_backoff_s: float = Field(0.5, gt=0)
    """first retry delay; doubles each attempt"""
    webhook_timeout_s: float = Field(5.0, gt=0)
    """per request"""
    bootstrap_samples: int = Field(1000, ge=0, le=100_000)
    """bootstrap replicates per record (0 disables the interval)"""
    bootstrap_samples_live: int = Field(200, ge=0, le=100_000)
    """replicates for live records, recomputed when the window's pairs grew 1%"""
    bootstrap_draws: Literal["units", "pairs"] = "units"
    """pairs drawn per bootstrap replicate: one per pairable unit (effective sample size), or `pairs` (every
    pairable pair, Krippendorff's KALPHA)"""
    bootstrap_seed: int | None = None
    """seed, for reproducible intervals"""

    # gold-standard qualification (stream/qualification/rules.py): rolling window of the last K gold
    # answers per dimension, decisions only from N answers on
    gold_window: int = Field(50, ge=1, le=10_000)
    """K: each annotator's last K gold answers per dimension are judged"""
    gold_min_answers: int = Field(20, ge=1)
    """N: answers in a dimension before it can qualify or fail anyone (at most K)"""
    gold_threshold: float = Field(0.85, gt=0, le=1)
    """gold agreement needed on every dimension"""
    gold_tolerance: int = Field(1, ge=0)
    """a score agrees when |score - gold| <= this (a key row's `tolerance` overrides it per dimension)"""
    gold_tolerance_pairwise: int = Field(0, ge=0, le=2)
    """same for A/B/tie on the line A=-1, tie=0, B=+1 (1 lets a tie match A or B)"""
    gold_pending_max: int = Field(100, ge=0)
    """gold answers per annotator waiting for an unknown key item; beyond it the oldest is dropped (counted,
    logged)"""
    gold_rate_target: float = Field(0.05, gt=0, lt=1)
    """expected share of gold tasks; an annotator below half or above twice it is noted"""
    peer_window: int = Field(200, ge=1)
    """peer agreement follows about this many recent pairs per dimension (exponential weights)"""
    peer_cache_units: int = Field(50_000, ge=0)
    """recent units kept in memory per worker to pair each answer with its co-raters (0 disables peer
    agreement)"""
    annotator_retention: str = "90d"
    """an annotator with no answer for this long (wall clock) is forgotten: table row, Redis hash and
    state sets; one who comes back starts qualifying again (skills are re-checked after a long absence)"""
    annotator_flush_s: float = Field(1.0, gt=0)
    """how often task/peer counts go to the annotator stage, Redis catches up and key changes are applied"""

    # model rankings (stream/ranking/votes.py, stream/stats/bradley_terry.py) and Swiss pairing
    # (stream/ranking/pairing.py)
    ranking_refit_s: float = Field(10.0, gt=0)
    """refit cadence of the leaderboards (and the partitions' vote snapshots); never per event"""
    ranking_bootstrap_samples: int = Field(200, ge=0, le=10_000)
    """bootstrap replicates over votes per leaderboard (0: no interval)"""
    ranking_anchors: dict[Literal["t2v", "i2v", "v2v"], str] = Field(default_factory=dict)
    """reference configuration per modality, fixed at the Elo base, e.g. `{"t2v": "cfg-17"}`; else the
    most-compared one"""
    ranking_elo_base: float = 1000.0
    """score of the anchor"""
    ranking_regularization: float = Field(0.01, gt=0, le=100)
    """alpha of the penalty alpha * sum(theta^2) (a Gaussian prior; keeps an unbeaten configuration finite)"""
    ranking_qualified_only: bool = True
    """count only annotators in `<app_id>:annotators:qualified` at fit time (`false`: every vote)"""
    ranking_metrics_top: int = Field(20, ge=0, le=200)
    """configurations per modality and dimension exported as `model` label values"""
    ranking_dedup_votes: int = Field(200_000, ge=0)
    """(pair, annotator) keys kept in memory per partition to count one vote per annotator and pair"""
    ranking_seed: int | None = None
    """seed of the bootstrap and the random pairs"""
    pairing_random_share: float = Field(0.35, ge=0, lt=1)
    """share of each pairing round drawn at random (0 to <1), so the comparison graph stays connected"""

    # RLHF batches (stream/batches/rules.py): a unit is emitted once it has `batch_required_ratings`
    # eligible answers, or at its window's close with at least `batch_min_ratings`
    batch_length: str = "1w"
    """batch length in event time; `1w` batches are ISO weeks (Monday 00:00 UTC, id `2026-W47`), others align
    to the epoch (id `2026-11-20T00:00Z+1d`)"""
    batch_required_ratings: int = Field(3, ge=1)
    """eligible answers at which a unit's record is first emitted"""
    batch_min_ratings: int = Field(2, ge=1)
    """at the unit's window close, fewer eligible answers than this exclude the unit (`below_min_raters`)"""
    batch_require_qualified: bool = True
    """only answers of annotators `qualified` when they answered (`false`: every annotator)"""
    batch_include_gold: bool = False
    """put answers to gold items into the batches"""
    batch_salt: SecretStr = SecretStr("")
    """key of the HMAC-SHA256 that hashes annotator ids in records; empty: a random salt made once per
    deployment and kept in Redis (`<app_id>:batch-salt`; lost with Redis's data, after which hashes change)"""

    # the Label Studio bridge (`alphawatch bridge label-studio`, stream/bridge/labelstudio/)
    bridge_host: str = "127.0.0.1"
    """address the Label Studio bridge listens on"""
    bridge_port: int = Field(6070, ge=1, le=65535)
    """the bridge's port"""
    bridge_secret: SecretStr = SecretStr("")
    """shared secret Label Studio sends as `Authorization: Bearer <secret>` (a webhook's custom
    header); required by the bridge"""
    bridge_mapping: str = "deploy/label-studio/mapping.toml"
    """the bridge's mapping file (see [Label Studio](label-studio.md); `--mapping` overrides)"""
    bridge_max_body_bytes: int = Field(64 * 1024**2, ge=1024)
    """largest webhook body the bridge accepts"""

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

    @field_validator("batch_length", "annotator_retention")
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
        self._no_placeholder_secrets()
        return self

    def _no_placeholder_secrets(self) -> None:
        """deploy/k8s/secret.yaml ships `change-me`: a worker applied from it unchanged would
        serve annotator records behind a token anyone can read in the repository."""
        for name in ("web_token", "webhook_secret", "batch_salt", "bridge_secret", "redis_password",
                     "kafka_sasl_password"):
            value: SecretStr = getattr(self, name)
            if value.get_secret_value().strip().lower().replace("_", "-") in PLACEHOLDERS:
                raise ValueError(f"ALPHAWATCH_{name.upper()} is the manifests' placeholder: set a "
                                 "secret of your own (e.g. `openssl rand -hex 32`)")

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
    def annotator_retention_s(self) -> int:
        return parse_duration(self.annotator_retention)

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
    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_TEST_", extra="ignore",
                                      use_attribute_docstrings=True)
    kafka: str | None = None
    """a Kafka cluster of yours for the tests, e.g. `kafka://host:9092` (unset: a container or the embedded
    broker)"""
    redis: str | None = None
    """a Redis of yours for the tests, e.g. `redis://host:6379/0` (unset: a container or the embedded
    `redis-server`)"""
    docker: bool | None = None
    """`true` forces testcontainers (Apache Kafka in KRaft mode and Redis), `false` forbids them; unset: used
    when a Docker engine answers"""

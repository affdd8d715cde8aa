"""All configuration, from ALPHAWATCH_* environment variables: the only module that reads the environment."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Level = Literal["nominal", "ordinal", "interval", "ratio"]
AgentName = Literal["ingest", "units", "merge", "notify"]
AGENTS: tuple[AgentName, ...] = ("ingest", "units", "merge", "notify")
SLICE_FIELDS = ("all", "source_category", "modality")
DEFAULT_DIMENSIONS = ["motion_quality", "visual_fidelity", "viewer_interest", "text_alignment"]
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'10m' -> 600; the format windows and grace use in settings."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; use e.g. 30s, 10m, 1h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class Settings(BaseSettings):
    """alphawatch settings; every field is documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_", extra="ignore", frozen=True)

    app_id: str = "alphawatch"
    agents: list[AgentName] = Field(default_factory=lambda: list(AGENTS))
    broker_url: str = "kafka://127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    store_url: str = "memory://"
    data_dir: str = "var/alphawatch-data"
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    log_level: Literal["debug", "info", "warn", "error"] = "warn"

    topic_prefix: str = ""
    partitions: int = Field(4, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1)
    rebalance_timeout_s: float = Field(5.0, gt=0)
    session_timeout_s: float = Field(30.0, gt=0)
    commit_interval_s: float = Field(0.5, gt=0)
    fetch_max_wait_ms: int = Field(100, ge=1, le=10_000)
    producer_request_timeout_s: float = Field(30.0, gt=0)

    dimensions: list[str] = Field(default_factory=lambda: list(DEFAULT_DIMENSIONS))
    score_min: int = 1
    score_max: int = 5
    default_level: Level = "ordinal"
    levels: dict[str, Level] = Field(default_factory=dict)
    max_payload_bytes: int = Field(1_048_576, ge=256)
    dlq_max_payload_bytes: int = Field(262_144, ge=0)

    windows: list[str] = Field(default_factory=lambda: ["1h", "24h"])
    grace: str = "10m"
    slices: list[str] = Field(default_factory=lambda: list(SLICE_FIELDS))
    snapshot_interval_s: float = Field(0.25, gt=0)
    tick_interval_s: float = Field(1.0, gt=0)
    idle_timeout_s: float = Field(30.0, ge=0)
    unit_retention: str = "2d"

    alpha_threshold: float = Field(0.667, gt=-1, lt=1)
    thresholds: dict[str, float] = Field(default_factory=dict)
    flag_confidence: float = Field(0.95, gt=0.5, lt=1)
    flag_margin: float = Field(0.05, ge=0, lt=1)
    flag_min_pairable: int | None = Field(None, ge=2)
    flag_cooldown_s: int = Field(600, ge=0)
    webhooks: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr = SecretStr("")
    webhook_queue: int = Field(1000, ge=1)
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_s: float = Field(0.5, gt=0)
    webhook_timeout_s: float = Field(5.0, gt=0)
    bootstrap_samples: int = Field(1000, ge=0, le=100_000)
    bootstrap_samples_live: int = Field(200, ge=0, le=100_000)
    bootstrap_draws: Literal["units", "pairs"] = "units"
    bootstrap_seed: int | None = None

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
            parse_duration(item)
        return value

    @field_validator("grace", "unit_retention")
    @classmethod
    def _duration_ok(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.score_max <= self.score_min:
            raise ValueError("ALPHAWATCH_SCORE_MAX must be greater than ALPHAWATCH_SCORE_MIN")
        if self.score_min <= 0 and self.level_of_any("ratio"):
            raise ValueError("ratio level needs positive scores (ALPHAWATCH_SCORE_MIN >= 1)")
        known = set(self.dimensions) | {f"pairwise.{d}" for d in self.dimensions}
        for name, mapping in (("LEVELS", self.levels), ("THRESHOLDS", self.thresholds)):
            if set(mapping) - known:
                raise ValueError(f"ALPHAWATCH_{name} names unknown dimensions {sorted(set(mapping) - known)}")
        bad_hooks = [u for u in self.webhooks if not u.startswith(("http://", "https://"))]
        if bad_hooks:
            raise ValueError(f"ALPHAWATCH_WEBHOOKS must be http(s) URLs, got {bad_hooks}")
        if self.retention_s < max(self.window_seconds) + self.grace_s:
            raise ValueError("ALPHAWATCH_UNIT_RETENTION must be at least the longest window + grace")
        return self

    def level_of_any(self, level: str) -> bool:
        return self.default_level == level or level in self.levels.values()

    @property
    def window_seconds(self) -> list[int]:
        return sorted({parse_duration(w) for w in self.windows})

    @property
    def grace_s(self) -> int:
        return parse_duration(self.grace)

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
        return "nominal" if dimension.startswith("pairwise.") else self.default_level

    def threshold_for(self, dimension: str) -> float:
        return self.thresholds.get(dimension, self.alpha_threshold)

    def min_pairable_for(self, dimension: str) -> int:
        """The setting, else Krippendorff's minimum for this dimension's threshold and scale."""
        from stream.flags import min_pairable_values

        if self.flag_min_pairable is not None:
            return self.flag_min_pairable
        n_values = 3 if dimension.startswith("pairwise.") else len(self.scale)
        return min_pairable_values(self.threshold_for(dimension), self.flag_confidence, n_values)

    def topic(self, name: str) -> str:
        """Full topic name; a prefix lets tests and tenants share one cluster."""
        return f"{self.topic_prefix}{name}"


class TestServices(BaseSettings):
    """Where the test suite finds Kafka and Redis: ALPHAWATCH_TEST_KAFKA / ALPHAWATCH_TEST_REDIS.

    Unset, the suite uses testcontainers when a Docker engine answers, else the embedded binaries.
    """

    __test__ = False  # not a pytest test class
    model_config = SettingsConfigDict(env_prefix="ALPHAWATCH_TEST_", extra="ignore")
    kafka: str | None = None
    redis: str | None = None
    docker: bool | None = None

"""What every agent module is given: settings, topics, metrics, readiness and the stages it registered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from stream.agreement.publisher import Publisher
from stream.agreement.stage import UnitStage
from stream.agreement.view import AgreementView
from stream.batches.manifests import ManifestStage
from stream.batches.stage import BatchStage
from stream.core.validate import Validator
from stream.flags.flagger import Flagger
from stream.io.outbox import Fatal, Work, hard_stop
from stream.io.rebalance import batches
from stream.metrics import Metrics
from stream.qualification.rekey import Rekey
from stream.qualification.stage import AnnotatorStage
from stream.ranking.stage import RankingStage
from stream.settings import Settings
from stream.topics import Topics


@dataclass
class Stages:
    """The stage objects this worker registered (None: the stage runs on another worker pool);
    tests and the web views reach a stage's state through these."""

    units: UnitStage | None = None
    publisher: Publisher | None = None
    flagger: Flagger | None = None
    rekey: Rekey | None = None
    annotators: AnnotatorStage | None = None
    batches: BatchStage | None = None
    manifests: ManifestStage | None = None
    ranking: RankingStage | None = None


@dataclass
class Context:
    """What every agent module needs: settings, topics, metrics, readiness and the stages."""

    settings: Settings
    topics: Topics
    metrics: Metrics
    validator: Validator
    assigned: set[int] = field(default_factory=set)
    ready: bool = False
    agreement_view: AgreementView = field(default_factory=AgreementView)  # tailed by every worker
    stages: Stages = field(default_factory=Stages)
    fatal: Fatal = hard_stop  # tests replace it: a lost delivery stops the worker without committing
    work: Work = field(default_factory=Work)  # batches in progress, which a rebalance waits for

    def batches(self, stream: Any, stage: str, max_events: int | None = None,
                within: float | None = None) -> AsyncIterator[list[Any]]:
        """The stage's batches of events read in the current rebalance generation."""
        return batches(stream, max_events or self.settings.batch_max_events,
                       self.settings.batch_wait_s if within is None else within,
                       self.metrics.stale_events.labels(stage).inc)

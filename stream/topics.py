"""Every topic alphawatch reads or writes, declared once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from stream.settings import Settings

# Public names; the internal ones carry the app id so that two deployments never collide.
ANNOTATIONS = "annotations"
DLQ = "annotations-dlq"
AGREEMENT = "agreement"
FLAGS = "qa-flags"
ANNOTATOR_STATUS = "annotator-status"
BATCHES = "rlhf-batches"
MANIFESTS = "rlhf-batch-manifests"
GOLD = "gold-items"
MODEL_RANKINGS = "model-rankings"
PAIRING_SUGGESTIONS = "pairing-suggestions"


@dataclass(frozen=True)
class Topics:
    annotations: Any
    dlq: Any
    valid: Any
    partials: Any
    agreement: Any
    flags: Any
    annotator_status: Any
    gold: Any
    annotator_events: Any
    model_rankings: Any
    pairing_suggestions: Any
    ranking_partials: Any
    batches: Any
    manifests: Any
    batch_partials: Any


def declare(app: faust.App, settings: Settings) -> Topics:
    """Raw-bytes topics: agents decode and validate themselves, so bad input never crashes a stream."""

    def topic(name: str, partitions: int | None = None, internal: bool = False,
              compacting: bool = False) -> Any:
        return app.topic(
            settings.topic(name), key_type=bytes, value_type=bytes, key_serializer="raw",
            value_serializer="raw", partitions=partitions or settings.partitions,
            internal=internal, compacting=compacting,
        )

    return Topics(
        annotations=topic(ANNOTATIONS),
        dlq=topic(DLQ),
        valid=topic(f"{settings.app_id}-annotations-valid", internal=True),
        # the merge stage sees every partition's partials in one place, so one partition
        partials=topic(f"{settings.app_id}-agreement-partials", partitions=1, internal=True),
        agreement=topic(AGREEMENT),
        flags=topic(FLAGS),
        annotator_status=topic(ANNOTATOR_STATUS),
        gold=topic(GOLD, compacting=True),
        # gold answers and task counts re-keyed by annotator: one partition owns each annotator
        annotator_events=topic(f"{settings.app_id}-annotator-events", internal=True),
        # each record is a whole leaderboard: only the newest per modality|dimension matters
        model_rankings=topic(MODEL_RANKINGS, compacting=True),
        pairing_suggestions=topic(PAIRING_SUGGESTIONS),
        # every partition's vote counts meet in one place for the refit, so one partition
        ranking_partials=topic(f"{settings.app_id}-ranking-partials", partitions=1, internal=True),
        batches=topic(BATCHES),
        manifests=topic(MANIFESTS),
        # every partition's summary of a closed batch meets in one place for the manifest
        batch_partials=topic(f"{settings.app_id}-batch-partials", partitions=1, internal=True),
    )

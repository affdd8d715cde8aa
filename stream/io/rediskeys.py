"""The one Redis key scheme: every key alphawatch reads or writes, under `<app_id>:`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    """Keys of one deployment; the annotation platform reads the annotator ones (docs/qualification.md)."""

    app_id: str

    @property
    def prefix(self) -> str:
        return f"{self.app_id}:"

    def annotator(self, annotator_id: str) -> str:
        """HASH of one annotator's qualification state and statistics."""
        return f"{self.prefix}annotator:{annotator_id}"

    def annotators(self, state: str) -> str:
        """SET of the annotators in one state (qualifying, qualified, retraining)."""
        return f"{self.prefix}annotators:{state}"

    @property
    def qualified(self) -> str:
        return self.annotators("qualified")

    @property
    def gold_items(self) -> str:
        """HASH gold_item_id -> row JSON: the Redis mirror of the gold key."""
        return f"{self.prefix}gold-items"

    def flag_open(self, key: str) -> str:
        """STRING: the open flag id of one dimension|slice|window key."""
        return f"{self.prefix}flag:open:{key}"

    @property
    def flags_pending(self) -> str:
        """HASH flag id -> flag JSON: raised or cleared in Redis, not yet acknowledged on qa-flags."""
        return f"{self.prefix}flags:pending"

    def webhook_pending(self, hook: str) -> str:
        """HASH flag id -> {flag, queued_at}: flags waiting for one webhook (`hook`: its URL's id)."""
        return f"{self.prefix}webhook:{hook}:pending"

    def webhook_delivered(self, hook: str) -> str:
        """ZSET flag id -> delivery time: flags one webhook has had (not queued again)."""
        return f"{self.prefix}webhook:{hook}:delivered"

    @property
    def batch_salt(self) -> str:
        """STRING: the deployment's random batch salt, when ALPHAWATCH_BATCH_SALT is not set."""
        return f"{self.prefix}batch-salt"

    def bridge_annotation(self, source: str, annotation_id: int) -> str:
        """HASH of one bridged annotation (a Label Studio server is a `source`): its current event,
        unit and annotator, and when it was deleted; deletions carry only the annotation's id."""
        return f"{self.prefix}bridge:{source}:annotation:{annotation_id}"

    def flag_cooldown(self, key: str) -> str:
        return f"{self.prefix}flag:cooldown:{key}"

    @property
    def flag_open_pattern(self) -> str:
        return self.flag_open("*")

    def flag_key_of(self, name: str) -> str:
        """The dimension|slice|window key of a `flag_open` Redis key."""
        return name.split(":flag:open:", 1)[1]

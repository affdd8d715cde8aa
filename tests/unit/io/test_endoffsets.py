"""Which partitions the end-offset probe reads: changelogs with records, nothing else."""

from __future__ import annotations

from aiokafka import TopicPartition

from stream.io.endoffsets import to_probe


def test_only_changelog_partitions_with_records_are_probed() -> None:
    changelog, other = TopicPartition("aw-units-changelog", 0), TopicPartition("aw.annotations", 0)
    empty = TopicPartition("aw-merge-changelog", 1)
    assert to_probe({changelog: 5, other: 9, empty: 0}) == [changelog]

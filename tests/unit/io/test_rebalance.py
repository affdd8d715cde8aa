"""Which partitions a rebalance reads from their beginning."""

from __future__ import annotations

from faust.types import TP

from stream.io.rebalance import uncommitted


def test_input_partitions_without_a_commit_are_rewound_changelogs_are_not() -> None:
    committed = {TP("valid", 0): 120, TP("valid", 1): None, TP("valid", 2): 0, TP("valid", 3): -1,
                 TP("app-units-changelog", 0): None}
    assert sorted(uncommitted(committed)) == [TP("valid", 1), TP("valid", 2), TP("valid", 3)]

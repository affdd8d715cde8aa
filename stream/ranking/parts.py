"""A vote book in bounded parts: each `ranking-partials` message and `ranking` table value stays small."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, cast

from stream.core.wire import BookHead, BookPart, VoteBookState

# a part's share of the compressed book: with the message's few other fields it stays far below
# Kafka's default 1 MB message limit, however many annotators and model pairs the book counts
PART_CHARS = 256 * 1024


def split(partition: int, state: VoteBookState, limit: int = PART_CHARS) -> list[BookPart]:
    """The book as parts of at most `limit` characters each (one part for a small book)."""
    z = state["z"]
    pieces = [z[i:i + limit] for i in range(0, len(z), limit)] or [""]
    return [{"p": partition, "o": state["o"], "i": i, "n": len(pieces), "z": piece}
            for i, piece in enumerate(pieces)]


class Assembler:
    """The refit side: a partition's parts until its book is whole. A partition's parts arrive
    together and in order on the single-partition topic, so a part of another version starts over."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[int, dict[int, str]]] = {}

    def add(self, part: BookPart) -> VoteBookState | None:
        """The whole book once its last part arrived, else None."""
        partition, offset = int(part["p"]), int(part["o"])
        have = self.pending.get(partition)
        if have is None or have[0] != offset:
            have = self.pending[partition] = (offset, {})
        have[1][int(part["i"])] = part["z"]
        if len(have[1]) < int(part["n"]):
            return None
        del self.pending[partition]
        return {"o": offset, "z": "".join(have[1][i] for i in range(int(part["n"])))}

    def clear(self) -> None:
        self.pending.clear()


def _part_key(partition: int, offset: int, index: int) -> str:
    return f"{partition}:{offset}:{index}"


def save(table: MutableMapping[str, Any], partition: int, state: VoteBookState,
         limit: int = PART_CHARS) -> None:
    """Parts first, then the head naming them, then the previous version's parts: a worker that
    dies in between leaves a head whose parts are all there (the changelog replays in order)."""
    old = table.get(str(partition))
    parts = split(partition, state, limit)
    for part in parts:
        table[_part_key(partition, part["o"], part["i"])] = part["z"]
    table[str(partition)] = BookHead(o=state["o"], n=len(parts))
    if old is not None and "n" in old and int(old["o"]) != state["o"]:
        for index in range(int(old["n"])):
            key = _part_key(partition, int(old["o"]), index)
            if key in table:
                del table[key]


def load(table: MutableMapping[str, Any], partition: int) -> VoteBookState | None:
    """The partition's saved book, or None if it has none yet."""
    head = table.get(str(partition))
    if head is None:
        return None
    if "z" in head:  # saved whole by an earlier version of alphawatch
        return cast(VoteBookState, head)
    pieces = [table.get(_part_key(partition, int(head["o"]), i)) for i in range(int(head["n"]))]
    missing = [i for i, piece in enumerate(pieces) if piece is None]
    if missing:  # parts are written before their head: only a damaged changelog does this
        raise ValueError(f"ranking table: partition {partition}'s book lacks parts {missing}")
    return {"o": int(head["o"]), "z": "".join(cast(list[str], pieces))}

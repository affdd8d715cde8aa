"""A vote book in bounded parts: messages and table values under the limit, reassembled exactly."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream.campaign.tournament import Tournament, draw, random_events
from stream.core.wire import VoteBookState
from stream.ranking.parts import PART_CHARS, Assembler, load, save, split
from stream.ranking.votes import VoteBook

DIMS = ("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment")


@pytest.fixture(scope="module")
def big_book() -> VoteBook:
    """1,000 annotators voting on 3 modalities x 14 models: a book of about 300 KB compressed (150,000
    votes make 680 KB: the size grows with annotators x model pairs, not with one message's limit)."""
    field = draw(Tournament(n_models=14, n_voters=1000, noisy_share=0.25))
    book = VoteBook(DIMS)
    for offset, event in enumerate(random_events(field, 50_000, prompts=len(field.prompts))):
        book.add(event, offset)
    return book


def test_a_book_of_1000_annotators_travels_in_parts_under_the_message_limit(big_book: VoteBook) -> None:
    state = big_book.to_state()
    assert len(orjson.dumps(state)) > PART_CHARS
    parts = split(3, state)
    assert len(parts) > 1 and all(len(orjson.dumps(p)) < PART_CHARS + 200 for p in parts)
    assembler = Assembler()
    got = [assembler.add(orjson.loads(orjson.dumps(p))) for p in parts]
    assert got[:-1] == [None] * (len(parts) - 1) and got[-1] == state
    restored = VoteBook.from_state(DIMS, got[-1])
    assert restored.cells == big_book.cells and restored.compared == big_book.compared


def _state(offset: int, text: str) -> VoteBookState:
    return {"o": offset, "z": text}


def test_a_new_version_replaces_an_unfinished_one() -> None:
    assembler = Assembler()
    old, new = split(0, _state(5, "a" * 25), limit=10), split(0, _state(9, "b" * 15), limit=10)
    assert assembler.add(old[0]) is None and assembler.add(new[0]) is None  # old[1:] never came
    assert assembler.add(new[1]) == _state(9, "b" * 15)
    assert assembler.add(split(1, _state(2, ""))[0]) == _state(2, "")  # an empty book is one part


class Dies(dict[str, Any]):
    """A table whose worker dies after `writes` more writes."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes

    def __setitem__(self, key: str, value: Any) -> None:
        if self.writes == 0:
            raise SystemExit("killed")
        self.writes -= 1
        super().__setitem__(key, value)


def test_saved_parts_are_loaded_and_a_death_between_writes_keeps_the_previous_book() -> None:
    table = Dies(writes=100)
    first, second = _state(5, "x" * 35), _state(9, "y" * 45)
    save(table, 2, first, limit=10)
    assert load(table, 2) == first and len(table) == 1 + 4
    table.writes = 3  # dies after three of the second book's five parts
    with pytest.raises(SystemExit):
        save(table, 2, second, limit=10)
    assert load(table, 2) == first
    table.writes = 100
    save(table, 2, second, limit=10)
    assert load(table, 2) == second
    assert sorted(k for k in table if k.startswith("2:5:")) == []  # the first book's parts deleted
    assert load(table, 7) is None
    assert load({"4": first}, 4) == first  # a whole book saved by an earlier version

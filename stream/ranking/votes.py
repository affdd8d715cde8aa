"""Vote bookkeeping for model rankings: per-partition counts with a compact state, merged at refit."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from stream.core import vocabulary
from stream.core.wire import VoteBookState

MODALITIES = ("t2v", "i2v", "v2v")
OVERALL = "overall"
OUTCOMES = vocabulary.PREFERENCE_CODES  # A, B, tie -> 0, 1, 2
MAX_PROMPTS = 2000  # remembered prompts per modality and partition (pairing draws from them)

PairKey = tuple[str, str, str, str]  # annotator, modality, lower model id, higher model id


def prompt_id(prompt: str) -> str:
    """Stable short id of a prompt text (events carry the text, not an id)."""
    return hashlib.blake2b(prompt.encode(), digest_size=8).hexdigest()


def pair_key(modality: str, prompt: str, a: str, b: str) -> int:
    """63-bit key of (modality, prompt id, unordered model pair): the pair was compared on that prompt."""
    lo, hi = sorted((a, b))
    digest = hashlib.blake2b(f"{modality}|{prompt}|{lo}|{hi}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def overall_vote(prefs: list[str | None]) -> str | None:
    """Per event, the majority across dimensions: A if more dimensions prefer A than B, tie if equal."""
    a, b = prefs.count("A"), prefs.count("B")
    if not any(p is not None for p in prefs):
        return None
    return "A" if a > b else "B" if b > a else "tie"


@dataclass
class VoteBook:
    """One input partition's pairwise votes. Per (annotator, modality, model pair): for each dimension
    (`overall` last) the lower id's wins, the higher id's wins and ties; per (annotator, modality): for
    each dimension left-clip and decisive votes; compared (prompt, pair) keys; prompts. Per event only
    dictionary updates; `to_state()` is what the refit cadence persists and sends."""

    dimensions: tuple[str, ...]
    dedup_max: int = 200_000
    offset: int = -1
    cells: dict[PairKey, list[int]] = field(default_factory=dict)
    left: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    compared: set[int] = field(default_factory=set)
    prompts: dict[str, dict[str, str]] = field(default_factory=dict)
    seen: dict[int, None] = field(default_factory=dict)  # (pair_id, annotator) keys, insertion-ordered

    @property
    def width(self) -> int:
        return len(self.dimensions) + 1

    def add(self, event: dict[str, Any], offset: int) -> str:
        """Count one validated event; returns the outcome (counted, replayed, duplicate, skipped)."""
        if offset <= self.offset:
            return "replayed"  # at or before the restored snapshot's offset: already counted
        self.offset = offset
        if event.get("kind") != "pairwise" or event.get("gold_item_id") is not None:
            return "skipped"  # gold pairs are clear-cut QA items, not part of the comparison design
        a, b = event["clip_a"], event["clip_b"]
        if a["model_id"] == b["model_id"]:
            return "skipped"
        if not self._first(event["pair_id"], event["annotator_id"]):
            return "duplicate"
        self._count(event, a, b)
        return "counted"

    def _first(self, pair_id: str, annotator: str) -> bool:
        """One vote per annotator and pair: replays and later revisions are not counted again."""
        key = pair_key("", pair_id, annotator, "")
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > self.dedup_max:
            del self.seen[next(iter(self.seen))]
        return True

    def _count(self, event: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> None:
        modality, annotator, prefs = a["modality"], event["annotator_id"], event["preferences"]
        lo_is_a = a["model_id"] < b["model_id"]
        lo, hi = (a["model_id"], b["model_id"]) if lo_is_a else (b["model_id"], a["model_id"])
        votes = [prefs.get(d) for d in self.dimensions]
        cell = self.cells.setdefault((annotator, modality, lo, hi), [0] * (3 * self.width))
        side = self.left.setdefault((annotator, modality), [0] * (2 * self.width))
        for d, pref in enumerate([*votes, overall_vote(votes)]):
            if pref is None:
                continue
            cell[3 * d + (OUTCOMES[pref] if lo_is_a or pref == "tie" else 1 - OUTCOMES[pref])] += 1
            if pref != "tie":
                side[2 * d] += pref == event["shown_left"]
                side[2 * d + 1] += 1
        pid = prompt_id(a["prompt"])
        known = self.prompts.setdefault(modality, {})
        if len(known) < MAX_PROMPTS:
            known.setdefault(pid, a["prompt"])
        # pairing draws only from remembered prompts, so only their comparisons need remembering:
        # this keeps `compared` within MAX_PROMPTS x model pairs however many prompts stream by
        if pid in known:
            self.compared.add(pair_key(modality, pid, lo, hi))

    def counts(self, annotator: str, modality: str, dimension: str, lo: str, hi: str) -> list[int]:
        """[lower id's wins, higher id's wins, ties] of one annotator on one pair and dimension."""
        d = [*self.dimensions, OVERALL].index(dimension)
        return self.cells.get((annotator, modality, lo, hi), [0] * (3 * self.width))[3 * d:3 * d + 3]

    def to_state(self) -> VoteBookState:
        """Compact JSON-able state: names once, counts as rows, zlib-compressed."""
        names: dict[str, int] = {}

        def ix(name: str) -> int:
            return names.setdefault(name, len(names))

        cells = [[ix(an), MODALITIES.index(m), ix(lo), ix(hi), *c]
                 for (an, m, lo, hi), c in self.cells.items()]
        left = [[ix(an), MODALITIES.index(m), *c] for (an, m), c in self.left.items()]
        body = {"d": list(self.dimensions), "n": list(names), "c": cells, "l": left,
                "k": sorted(self.compared), "p": self.prompts}
        packed = base64.b64encode(zlib.compress(orjson.dumps(body), 6)).decode()
        return {"o": self.offset, "z": packed}

    @classmethod
    def from_state(cls, dimensions: tuple[str, ...], state: VoteBookState | None,
                   dedup_max: int = 200_000) -> VoteBook:
        """The book a state was made from (dedup keys excepted); empty if the dimensions changed."""
        book = cls(dimensions, dedup_max)
        if not state:
            return book
        book.offset = int(state["o"])
        body = orjson.loads(zlib.decompress(base64.b64decode(state["z"])))
        if tuple(body["d"]) != dimensions:
            return book
        n = body["n"]
        book.cells = {(n[r[0]], MODALITIES[r[1]], n[r[2]], n[r[3]]): list(r[4:]) for r in body["c"]}
        book.left = {(n[r[0]], MODALITIES[r[1]]): list(r[2:]) for r in body["l"]}
        book.compared = set(body["k"])
        book.prompts = {m: dict(p) for m, p in body["p"].items()}
        return book


@dataclass(frozen=True)
class PairCounts:
    """One modality x dimension: models, (i, j, wins i, wins j, ties) rows, and votes excluded."""

    models: list[str]
    rows: list[tuple[int, int, float, float, float]]
    excluded: int
    annotators: int


def _add(into: dict[Any, list[int]], key: Any, counts: list[int]) -> None:
    have = into.get(key)
    into[key] = list(counts) if have is None else [x + y for x, y in zip(have, counts, strict=True)]


class Tally:
    """The sum of every partition's latest book, filtered by qualification at fit time."""

    def __init__(self, books: list[VoteBook]):
        self.dimensions = [*books[0].dimensions, OVERALL] if books else [OVERALL]
        self.cells: dict[PairKey, list[int]] = {}
        self.left: dict[tuple[str, str], list[int]] = {}
        self.compared: set[int] = set()
        self.prompts: dict[str, dict[str, str]] = defaultdict(dict)
        for book in books:
            for key, counts in book.cells.items():
                _add(self.cells, key, counts)
            for key2, side in book.left.items():
                _add(self.left, key2, side)
            self.compared |= book.compared
            for modality, known in book.prompts.items():
                self.prompts[modality].update(known)

    def models(self, modality: str) -> list[str]:
        """Every configuration compared in the modality, qualified voters or not (pairing needs all)."""
        return sorted({m for (_, mod, lo, hi) in self.cells if mod == modality for m in (lo, hi)})

    def pairs(self, modality: str, dimension: str, qualified: set[str] | None) -> PairCounts:
        """Counts of qualified annotators' votes (all votes when `qualified` is None)."""
        models = self.models(modality)
        index = {m: k for k, m in enumerate(models)}
        d = 3 * self.dimensions.index(dimension)
        summed: dict[tuple[int, int], list[int]] = {}
        excluded, voters = 0, set()
        for (ann, mod, lo, hi), counts in self.cells.items():
            if mod != modality or not any(counts[d:d + 3]):
                continue
            if qualified is not None and ann not in qualified:
                excluded += sum(counts[d:d + 3])
                continue
            voters.add(ann)
            _add(summed, (index[lo], index[hi]), counts[d:d + 3])
        rows = [(i, j, float(c[0]), float(c[1]), float(c[2])) for (i, j), c in sorted(summed.items())]
        return PairCounts(models, rows, excluded, len(voters))

    def position(self, modality: str, dimension: str) -> dict[str, tuple[int, int]]:
        """Per annotator: (votes for the clip shown left, decisive votes)."""
        d = 2 * self.dimensions.index(dimension)
        return {ann: (c[d], c[d + 1]) for (ann, mod), c in self.left.items() if mod == modality and c[d + 1]}

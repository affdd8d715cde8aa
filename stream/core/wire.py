"""Internal wire formats: table values and messages between stages, each single-letter key documented once.

Keys are one letter because every table write sends the whole value to the changelog and every
internal message crosses the broker: these types let mypy check them where they are built and read.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Kind = Literal["c", "p"]  # a unit of clip ratings ('c') or of a pairwise comparison ('p')
# one annotator's answer to a unit: [event_id, submitted_at epoch s, value code per dimension or None]
AnswerEntry = list[Any]


class UnitState(TypedDict):
    """Table `units` (and the offline reference): one unit's latest answer per annotator."""

    k: Kind  # unit kind
    p: int  # partition of the valid topic the unit lives on
    t: float  # first event time (epoch s): it places the unit in its windows
    s: list[str | None]  # slice values: [source category, modality]
    a: dict[str, AnswerEntry]  # annotator -> answer (codes None: retracted)


class ClosureState(TypedDict, total=False):
    """Table `closures`, per partition: how far each window size has closed."""

    through: dict[str, int]  # window size (s, as text) -> newest window start closed
    prev: dict[str, int]  # the same before the last advance: reopened on rebuild
    wm: float  # the partition's watermark


class PartialItem(TypedDict):
    """One window's partial state on one partition, as the merge stage receives it."""

    d: str  # dimension
    s: str  # slice
    w: int  # window size (s)
    b: int  # window start (epoch s)
    m: Any  # coincidence matrix state (stats.Coincidence.to_state)
    a: list[str]  # annotators seen in the window
    x: dict[str, Any]  # per-annotator disagreement sums (agreement.attribution)
    t: float  # newest event time applied


class PartialsMessage(TypedDict):
    """Topic `partials`: a live snapshot of a partition's changed windows."""

    t: Literal["partials"]
    p: int  # partition
    items: list[PartialItem]


class ClosedMessage(TypedDict):
    """Topic `partials`: one window size closed further on one partition, with its finals."""

    t: Literal["closed"]
    p: int  # partition
    w: int  # window size (s)
    through: int  # newest window start now closed
    late: Any  # late answers per (dimension, slice) since the last closure
    items: list[PartialItem]


class GoldMessage(TypedDict):
    """Topic `annotator-events`: one gold answer of one annotator."""

    t: Literal["g"]
    a: str  # annotator
    e: str  # event id
    g: str  # gold item id
    k: Kind
    ts: float  # submitted_at (epoch s)
    v: tuple[int | None, ...] | list[int | None]  # answers on the gold scale (qualification.encode)


class TickMessage(TypedDict):
    """Topic `valid`, after the byte `T`: ingest's progress on one input partition."""

    wm: float  # event time forwarded up to
    src: int  # input partition
    idle: bool  # caught up and quiet: not waited for


class AnnotatorState(TypedDict):
    """Table `annotators`: one annotator's qualification (qualification.annotator)."""

    p: int  # partition
    seq: int  # state changes so far
    st: str | None  # qualification state
    since: float  # when it was entered (epoch s)
    why: str  # the reason given
    at: float | None  # event time of the last gold answer
    g: list[list[Any]]  # gold answers (GoldAnswers.to_state)
    w: list[Any]  # gold answers waiting for their key
    ids: list[str]  # recent gold event ids (dedup)
    peer: dict[str, list[float]]  # peer agreement per dimension
    rate: list[int]  # gold rate counters
    seen: NotRequired[float]  # wall time of the last change (absent in rows of earlier versions)


class VoteBookState(TypedDict):
    """One partition's vote book (ranking.votes), zlib-compressed; travels and is kept in parts."""

    o: int  # newest input offset applied
    z: str  # base64 of zlib(JSON body)


class BookPart(TypedDict):
    """Topic `ranking-partials`: part `i` of `n` of partition `p`'s book at offset `o`."""

    p: int
    o: int
    i: int
    n: int
    z: str  # a slice of VoteBookState.z


class BookHead(TypedDict):
    """Table `ranking`, key `<partition>`: the version whose parts (`<partition>:<o>:<i>`) hold the book."""

    o: int
    n: int


class SummaryState(TypedDict):
    """Batch manifests: one partition's summary of a batch (batches.rules.Summary)."""

    r: dict[str, int]  # record key -> version
    i: int  # answers included
    x: dict[str, int]  # reason -> answers excluded
    h: str  # checksum (hex)
    m: dict[str, Any]  # dimension -> coincidence state

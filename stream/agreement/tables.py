"""Researcher tables for the pilot tool: long CSV/TSV/JSONL (unit, annotator, value) and wide matrices."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

Format = Literal["auto", "events", "long", "wide"]
FORMATS: tuple[str, ...] = ("auto", "events", "long", "wide")

# column names accepted as they are (crowd-kit's task/worker/label among them)
ALIASES: dict[str, tuple[str, ...]] = {
    "unit": ("unit", "unit_id", "item", "item_id", "task", "task_id", "clip_id", "pair_id"),
    "annotator": ("annotator", "annotator_id", "worker", "worker_id", "rater", "coder", "user"),
    "value": ("value", "label", "score", "rating", "answer"),
    "dimension": ("dimension", "question", "variable"),
}
EVENT_FIELDS = {"kind", "scores", "preferences", "schema_version", "event_id"}


class TableError(ValueError):
    """A table no value could be read from: says which line and which field."""


@dataclass
class Table:
    """Answers by dimension, unit and annotator (the latest line wins), and the lines left out."""

    answers: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    lines: int = 0

    def add(self, dimension: str, unit: str, annotator: str, value: str) -> None:
        self.answers.setdefault(dimension, {}).setdefault(unit, {})[annotator] = value


@dataclass(frozen=True)
class Columns:
    """Which column holds what; None: found by the aliases."""

    unit: str | None = None
    annotator: str | None = None
    value: str | None = None
    dimension: str | None = None


def detect(path: Path, head: bytes) -> Format:
    """The file's format from its name and first line."""
    first = head.lstrip().split(b"\n", 1)[0]
    if first.startswith(b"{"):
        try:
            keys = set(orjson.loads(first))
        except orjson.JSONDecodeError:
            return "events"  # the events reader names the bad line
        return "events" if keys & EVENT_FIELDS else "long"
    header = {c.strip().lower() for c in _split(first.decode("utf-8", "replace"), path)}
    has = {role for role, names in ALIASES.items() if header & set(names)}
    return "long" if {"unit", "annotator", "value"} <= has else "wide"


def _split(line: str, path: Path) -> list[str]:
    return next(csv.reader([line], delimiter=_delimiter(path, line)))


def _delimiter(path: Path, sample: str) -> str:
    if path.suffix.lower() == ".tsv" or ("\t" in sample and "," not in sample):
        return "\t"
    return ";" if ";" in sample and "," not in sample else ","


def read(path: Path, fmt: Format, columns: Columns = Columns()) -> Table:
    """Read a long or wide table; raises TableError when no value could be read."""
    text = path.read_text(encoding="utf-8-sig")
    if fmt == "long" and text.lstrip().startswith("{"):
        table = _long_jsonl(text, columns)
    elif fmt == "long":
        table = _long_rows(_rows(text, path), columns)
    else:
        table = _wide(_rows(text, path))
    if not table.answers:
        first = table.skipped[0] if table.skipped else (1, "the file holds no answers")
        raise TableError(f"{path}: nothing to read; line {first[0]}: {first[1]}")
    return table


def _rows(text: str, path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=_delimiter(path, text[:4096])))


def _pick(header: list[str], role: str, given: str | None, required: bool = True) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if given is not None:
        if given.lower() not in lowered:
            raise TableError(f"line 1: no column '{given}' (columns: {', '.join(header)})")
        return lowered.index(given.lower())
    for name in ALIASES[role]:
        if name in lowered:
            return lowered.index(name)
    if required:
        names = "/".join(ALIASES[role][:4])
        raise TableError(f"line 1: no {role} column (one of {names}, or name it with --{role}-col)")
    return None


def _long_rows(rows: list[list[str]], columns: Columns) -> Table:
    if not rows:
        raise TableError("line 1: the file is empty")
    header, table = rows[0], Table()
    unit, annotator, value = (_pick(header, r, getattr(columns, r)) for r in ("unit", "annotator", "value"))
    dim = _pick(header, "dimension", columns.dimension, required=columns.dimension is not None)
    assert unit is not None and annotator is not None and value is not None
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        table.lines += 1
        cells = {"unit": unit, "annotator": annotator, "value": value}
        if dim is not None:
            cells["dimension"] = dim
        _take(table, number, {role: row[i].strip() if i < len(row) else "" for role, i in cells.items()})
    return table


def _objects(text: str, table: Table) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line; lines that are not JSON are skipped."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        table.lines += 1
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            table.skipped.append((number, f"not JSON ({exc})"))


def _long_jsonl(text: str, columns: Columns) -> Table:
    table = Table()
    for number, obj in _objects(text, table):
        if not isinstance(obj, dict):
            table.skipped.append((number, "not a JSON object"))
            continue
        cells = {role: _field(obj, role, getattr(columns, role)) for role in ALIASES}
        missing = [r for r in ("unit", "annotator", "value") if r not in obj and not cells[r]]
        if len(missing) == 3:
            table.skipped.append((number, f"no unit, annotator or value key (keys: {', '.join(obj)})"))
            continue
        _take(table, number, cells)
    return table


def _field(obj: dict[str, Any], role: str, given: str | None) -> str:
    for name in (given,) if given else ALIASES[role]:
        if name in obj and obj[name] is not None:
            return str(obj[name]).strip()
    return ""


def _take(table: Table, number: int, cells: dict[str, str]) -> None:
    for role in ("unit", "annotator"):
        if not cells.get(role):
            table.skipped.append((number, f"{role}: empty"))
            return
    if not cells.get("value"):
        return  # a blank value is a missing answer, as in a reliability matrix
    table.add(cells.get("dimension") or "value", cells["unit"], cells["annotator"], cells["value"])


def _wide(rows: list[list[str]]) -> Table:
    """Annotators x units (the `krippendorff` package's reliability_data and R irr's layout): a
    header of unit ids after one label cell; each row an annotator id, then its values."""
    if len(rows) < 2:
        raise TableError("line 1: a wide table needs a header of units and a row per annotator")
    units, table = [u.strip() for u in rows[0][1:]], Table()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        table.lines += 1
        annotator = row[0].strip() if row else ""
        if not annotator:
            table.skipped.append((number, "annotator: empty first cell"))
            continue
        if len(row) - 1 > len(units):
            table.skipped.append((number, f"{len(row) - 1} values for {len(units)} units"))
            continue
        for unit, cell in zip(units, row[1:], strict=False):
            if cell.strip() and unit:
                table.add("value", unit, annotator, cell.strip())
    return table


def events_table(path: Path) -> Table:
    """Product events read leniently, as a pilot has them: a unit (clip_id or pair_id), an
    annotator_id and scores or preferences are enough; clip metadata, prompt, ids and
    schema_version are optional. The latest answer of an annotator on a unit wins."""
    table = Table()
    for number, obj in _objects(path.read_text(encoding="utf-8-sig"), table):
        why = _event_answers(table, obj)
        if why:
            table.skipped.append((number, why))
    return table


def _event_answers(table: Table, obj: Any) -> str | None:
    """Add one event's answers; the reason it has none otherwise."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if obj.get("kind") == "watermark":
        return None
    unit = obj.get("clip_id") or obj.get("pair_id")
    if not unit or not obj.get("annotator_id"):
        return "clip_id (or pair_id) and annotator_id: missing"
    answers = obj.get("scores") or obj.get("preferences")
    if not isinstance(answers, dict) or not answers:
        return "scores (or preferences): missing or empty"
    for dimension, value in answers.items():
        if value is not None and str(value).strip():
            table.add(str(dimension), str(unit), str(obj["annotator_id"]), str(value).strip())
    return None


def values_of(table: Table, dimension: str) -> Iterator[list[str]]:
    """Each unit's values of one dimension (one per annotator)."""
    for answers in table.answers[dimension].values():
        yield list(answers.values())

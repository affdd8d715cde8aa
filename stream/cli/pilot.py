"""`alphawatch alpha`: the pilot tool over product events, long tables and reliability matrices."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from stream.agreement.tables import FORMATS, Columns, Format, TableError, detect, read
from stream.settings import Settings
from stream.stats.distance import Level

LEVEL_NAMES = ("nominal", "ordinal", "interval", "ratio")
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """One or two lines saying what is wrong and what to do; the caller raises the result."""
    err.print(f"[red]error[/] {escape(message)}")
    return typer.Exit(code)


def run(file: Path, settings: Settings, fmt: str, level: str | None, ci: bool, as_json: bool,
        columns: Columns, by_slice: bool, window_s: int | None) -> None:
    if fmt not in FORMATS:
        raise fail(f"--format takes one of {', '.join(FORMATS)}, not {fmt!r}", 2)
    if level is not None and level not in LEVEL_NAMES:
        raise fail(f"--level takes one of {', '.join(LEVEL_NAMES)}, not {level!r}", 2)
    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    chosen: Format = fmt  # type: ignore[assignment]
    if fmt == "auto":  # naming a column means a long table
        named = any(vars(columns).values())
        chosen = "long" if named else detect(file, file.read_bytes()[:65536])
    if chosen == "events":
        result, skipped = _events(file, settings, level, ci, by_slice, window_s)
    else:
        result, skipped = _table(file, chosen, settings, level, ci, columns)
    result["format"] = chosen
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(result, chosen)
    strict = chosen == "events" and not result.get("lenient")
    total = sum(result.get("invalid", {}).values()) if strict else len(skipped)
    if skipped:
        shown = "; ".join(f"line {n}: {why}" for n, why in skipped[:5])
        err.print(f"skipped {total} line(s): {shown}" + (" ..." if total > 5 else ""))


def _table(file: Path, fmt: Format, settings: Settings, level: str | None, ci: bool,
           columns: Columns) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    from stream.agreement.tablealpha import rows

    chosen: Level = level or settings.default_level  # type: ignore[assignment]
    try:
        table = read(file, fmt, columns)
        found = rows(table, lambda _: chosen, settings, ci)
    except TableError as exc:
        raise fail(f"{exc}", 1) from None
    return {"rows": found, "lines": table.lines,
            "skipped": [{"line": n, "reason": why} for n, why in table.skipped]}, table.skipped


def _events(file: Path, settings: Settings, level: str | None, ci: bool, by_slice: bool,
            window_s: int | None) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    from stream.agreement.offline import collect, read_lines, report
    from stream.agreement.pilot import intervals

    if level is not None:  # every rating dimension at that level; pairwise ones stay nominal
        settings = settings.model_copy(update={"default_level": level, "levels": {}})
    result = report(file, settings, by_slice, window_s)
    skipped = result["skipped"]
    if not result["rows"] and not by_slice and window_s is None:
        return _lenient(file, settings, level, ci, skipped)
    if not result["rows"]:
        first = f"line {skipped[0][0]}: {skipped[0][1]}" if skipped else "no rating or pairwise event"
        raise fail(f"{file}: no answer read as a product event; {first}. A table of "
                   "unit,annotator,value reads with --format long", 1)
    if ci:
        found = intervals(collect(read_lines(file, numbered=True), settings), settings, by_slice, window_s)
        by_key = {(r["dimension"], r["slice"], r["window_start"]): r for r in found}
        for row in result["rows"]:
            match = by_key.get((row["dimension"], row["slice"], row["window_start"]), {})
            row["ci_low"], row["ci_high"] = match.get("ci_low"), match.get("ci_high")
    result["skipped"] = [{"line": n, "reason": why} for n, why in skipped]
    return result, skipped


def _lenient(file: Path, settings: Settings, level: str | None, ci: bool,
             strict: list[tuple[int, str]]) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Events the stream would refuse (no clip block, other dimensions or categories): read as
    the pilot has them, each dimension at its configured level (pairwise ones nominal)."""
    from stream.agreement.tablealpha import rows
    from stream.agreement.tables import events_table

    table = events_table(file)
    if not table.answers:
        first = table.skipped[0] if table.skipped else (strict[0] if strict else (1, "no answers"))
        raise fail(f"{file}: no answer read; line {first[0]}: {first[1]}. A table of "
                   "unit,annotator,value reads with --format long", 1)

    def level_of(dimension: str) -> Level:
        pairwise = {v for u in table.answers[dimension].values() for v in u.values()} <= {"A", "B", "tie"}
        return "nominal" if pairwise else level or settings.level_for(dimension)  # type: ignore[return-value]

    try:
        found = rows(table, level_of, settings, ci)
    except TableError as exc:
        raise fail(f"{exc}", 1) from None
    return {"rows": found, "lines": table.lines, "lenient": True,
            "skipped": [{"line": n, "reason": why} for n, why in table.skipped]}, table.skipped


def _start(epoch_s: int | None) -> str:
    """A window's start as a UTC time a reader knows (the rows carry epoch seconds)."""
    if epoch_s is None:
        return "-"
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _print(result: dict[str, Any], fmt: str) -> None:
    rows = result["rows"]
    with_ci = any("ci_low" in r and r["ci_low"] is not None for r in rows)
    if fmt == "events" and not result.get("lenient"):
        table = RichTable("dimension", "slice", "window", "level", "alpha", *(("95% CI",) if with_ci else ()),
                          "nominal", "ordinal", "interval", "ratio", "units", "pairable values")
        for row in rows:
            levels = row["alpha_by_level"]
            table.add_row(row["dimension"], row["slice"], _start(row["window_start"]), row["level"],
                          _fmt(row["alpha"], row["alpha_reason"]), *((_ci(row),) if with_ci else ()),
                          *(_fmt(levels.get(lv)) for lv in LEVEL_NAMES),
                          str(row["n_units"]), f"{row['n_pairable_values']:.0f}")
    else:
        table = RichTable("dimension", "level", "alpha", "95% CI", "units", "pairable values", "values",
                          "verdict")
        for row in rows:
            table.add_row(row["dimension"], row["level"], _fmt(row["alpha"], row["alpha_reason"]), _ci(row),
                          str(row["n_units"]), f"{row['n_pairable_values']:.0f}", str(row["values"]),
                          row["verdict"])
    # piped output keeps whole cells rather than the 80 columns Rich assumes without a terminal
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _fmt(value: float | None, reason: str | None = None) -> str:
    return f"{value:.3f}" if value is not None else (reason or "-")


def _ci(row: dict[str, Any]) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    return f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else "-"

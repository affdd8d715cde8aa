"""The demo's live terminal view (rich): alpha per dimension, flags, annotators, throughput, batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stream.flags import wording
from stream.io.observe import Observed

BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass
class Progress:
    """Where the run is: events sent of planned, worker counters and rate, elapsed time."""

    sent: int
    planned: int
    elapsed_s: float
    duration_s: float
    counters: dict[str, float]
    rate: float  # events per second ingested, over the last few seconds
    phase: str


def sparkline(values: list[float | None], low: float = 0.0, high: float = 1.0) -> str:
    """One block per value, scaled from `low` to `high` (alpha below 0 shows as the lowest block)."""
    out = []
    for value in values:
        if value is None:
            out.append(" ")
            continue
        share = (min(max(value, low), high) - low) / (high - low)
        out.append(BLOCKS[min(len(BLOCKS) - 1, int(share * len(BLOCKS)))])
    return "".join(out)


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def alpha_table(observed: Observed, size: int, dimensions: list[str], open_keys: set[str]) -> Table:
    table = Table(title=f"Krippendorff's alpha, slice all, {size // 60}-minute event-time windows",
                  title_justify="left", expand=False)
    for column in ("dimension", "window", "alpha", "95% CI", "by window", "pairable", "units", ""):
        table.add_column(column, justify="right" if column in ("alpha", "pairable", "units") else "left")
    for dim in dimensions:
        rows = observed.series(dim, size)
        if not rows:
            continue
        row = rows[-1]
        ci = f"[{_num(row['ci_low'], 2)}, {_num(row['ci_high'], 2)}]"
        flagged = dim in open_keys
        alpha = Text(_num(row["alpha"]), style="bold red" if flagged else "green")
        table.add_row(dim, row["window_start"][11:16], alpha, ci, sparkline([r["alpha"] for r in rows]),
                      f"{row['n_pairable_values']:.0f}", str(row["n_units"]),
                      Text("FLAG", style="bold red") if flagged else "")
    return table


def flags_panel(observed: Observed) -> Panel:
    flags = sorted(observed.open_flags(), key=lambda f: f["slice"] != "all")  # stable: oldest first
    if not flags:
        return Panel("no open flags", title="open flags", title_align="left")
    lines = []
    for flag in flags[:4]:
        size = wording.window_label(flag.get("window_size_s"))
        where = f"{flag['dimension']} [{flag['slice']}] {size} window from {flag['window_start'][11:16]}"
        ci = f"[{_num(flag['ci_low'], 2)}, {_num(flag['ci_high'], 2)}]"
        lines.append(Text(f"{where}: alpha {_num(flag['alpha'])} {ci} vs {flag['threshold']}; "
                          f"{wording.reason_in_words(flag)}", style="red"))
        lines.append(Text(f"   most disagreeing: {wording.disagreeing_in_words(flag)}; "
                          f"answers mixed up: {wording.confused_in_words(flag)}"))
    lines.append(Text(wording.GLOSSARY, style="dim"))
    more = f" ({len(flags)} open, 4 shown: slice all first)" if len(flags) > 4 else f" ({len(flags)})"
    return Panel(Group(*lines), title="open flags" + more, title_align="left")


def side_panel(observed: Observed, progress: Progress) -> Table:
    grid = Table.grid(padding=(0, 3))
    states = observed.states()
    retraining = ", ".join(states["retraining"]) or "-"
    counts = "  ".join(f"{s} {len(v)}" for s, v in states.items())
    c = progress.counters
    grid.add_row("annotators", f"{counts}   retraining: {retraining}")
    grid.add_row("throughput", f"{progress.rate:.0f} events/s; valid {c.get('valid', 0):.0f}, dead-lettered "
                 f"{c.get('invalid', 0):.0f}, applied {c.get('applied', 0):.0f}, late {c.get('late', 0):.0f}")
    finals = sum(1 for (_, name, _, _), r in observed.windows.items() if name == "all" and r["final"])
    grid.add_row("windows", f"{finals} final records (slice all); flags raised "
                 f"{sum(f['kind'] == 'agreement_low' for f in observed.flags.values())}")
    grid.add_row("batches", batches_line(observed))
    return grid


def batches_line(observed: Observed) -> str:
    if not (observed.batch_records or observed.manifests):
        return "no batches yet"
    records = f"{len(observed.batch_records)} records in {len(observed.batch_ids)} batches"
    if not observed.manifests:
        return f"{records}; none closed yet"
    newest = observed.manifests[max(observed.manifests)]
    return (f"{records}; {len(observed.manifests)} closed, newest {newest['batch_id']}: "
            f"{newest.get('answers_included', 0)} of {newest.get('answers_received', 0)} answers in "
            f"records, left out {newest.get('exclusions', {})}")


def render(observed: Observed, progress: Progress, size: int, dimensions: list[str]) -> RenderableType:
    """The whole view: header, alpha table, open flags, annotators / throughput / batches."""
    open_keys = {f["dimension"] for f in observed.open_flags() if f["slice"] == "all"}
    clock = f"{progress.elapsed_s:.0f}s of ~{progress.duration_s:.0f}s"
    header = Text(f"alphawatch demo | {progress.phase} | {clock} | sent {progress.sent}/{progress.planned} "
                  "annotation events", style="bold")
    return Group(header, alpha_table(observed, size, dimensions, open_keys), flags_panel(observed),
                 side_panel(observed, progress))


def status_line(observed: Observed, progress: Progress) -> str:
    """A one-line update for logs and CI, where no live view can redraw."""
    states = observed.states()
    return (f"[{progress.elapsed_s:4.0f}s] {progress.phase}: sent {progress.sent}/{progress.planned}, "
            f"{progress.rate:.0f} ev/s, open flags {len(observed.open_flags())}, "
            f"qualified {len(states['qualified'])}, retraining {len(states['retraining'])}")

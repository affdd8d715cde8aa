"""A flag in words a QA lead reads: its window, why it was raised, who and what disagrees (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REASON = re.compile(r"P\(alpha < (?P<bar>[-\d.]+)\) = (?P<p>[\d.]+) >= (?P<need>[\d.]+) "
                     r"\(look (?P<look>\d+)\) with n = (?P<n>\d+) pairable values")


# one explanation of the terms the reasons and names use, for the live view and the report
GLOSSARY = ("A window is checked when its paired answers first reach the minimum sample, then again at "
            "2x, 4x, ... that; each later check needs more certainty, so checking a growing window often "
            "does not add false alarms. Most disagreeing: annotators whose answers sit furthest from the "
            "other raters' answers on the same clips, per clip rated; the share is their part of all the "
            "window's disagreement (Krippendorff's D_o).")


def window_label(size_s: int | float | None) -> str:
    """3600 -> "1 h", 86400 -> "24 h", 300 -> "5 min"; "-" when unknown."""
    if size_s is None:
        return "-"
    size = int(size_s)
    if size % 3600 == 0:
        return f"{size // 3600} h"
    return f"{size // 60} min" if size % 60 == 0 else f"{size} s"


def reason_in_words(flag: Mapping[str, Any]) -> str:
    """The policy's reason ("P(alpha < 0.667) = 0.9910 >= 0.9696 (look 0) with n = 113 ...") as a
    sentence; a reason in another form (recovery, offline) is returned as it is."""
    found = _REASON.search(str(flag.get("reason", "")))
    if found is None:
        return str(flag.get("reason", ""))
    look, p = int(found["look"]), float(found["p"])
    sure = "more than 99.9%" if p > 0.999 else f"{p:.1%}"  # "100.0%" would claim certainty
    return (f"{sure} sure agreement is below {found['bar']} "
            f"(check {look + 1} of this window needed {float(found['need']):.1%}; "
            f"{int(found['n']):,} paired answers)")


def disagreeing_in_words(flag: Mapping[str, Any], top: int = 3) -> str:
    """Who disagrees most, each with their share of all the window's disagreement ("D_o")."""
    people = [f"{a.get('annotator_id')} ({float(a.get('share_of_disagreement', 0.0)):.0%} of the "
              f"disagreement" + (f", {float(a['pairs']):.0f} clips)" if "pairs" in a else ")")
              for a in flag.get("top_annotators", [])[:top]]
    if "top_annotators" not in flag:
        return "-"  # not attributed (offline flags)
    return ", ".join(people) or "no annotator stands out"


def confused_in_words(flag: Mapping[str, Any], top: int = 3) -> str:
    """Which answers raters mix up, e.g. "1 vs 2 (14% of rater pairs)"."""
    pairs = [f"{str(c.get('values')).replace('~', ' vs ')} ({float(c.get('share_of_pairs', 0.0)):.0%} of "
             "rater pairs)"
             for c in flag.get("confused_values", [])[:top]]
    return ", ".join(pairs) or "-"

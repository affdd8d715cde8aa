"""The accounting identity: every distinct valid answer counted once in the finals and in the batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.batches import BatchManifest
from schemas.events import PairwiseEvent, RatingEvent, unit_key
from stream.agreement.offline import OfflineResult, collect, matrices, slices_of, summarize
from stream.core import vocabulary
from stream.core.validate import Validator
from stream.core.windows import Tumbling
from stream.settings import Settings

FinalKey = tuple[str, str, int, str]  # dimension, slice, window size, window start (ISO, Z)


def expected_finals(lines: Iterable[bytes], settings: Settings) -> dict[FinalKey, dict[str, Any]]:
    """The offline reference (`alphawatch alpha --by slice --window ...`) for every window."""
    return expected_from(collect(lines, settings), settings)


def expected_from(result: OfflineResult, settings: Settings) -> dict[FinalKey, dict[str, Any]]:
    out = {}
    for size in settings.window_seconds:
        for key, matrix in matrices(result, settings, by_slice=True, window_s=size).items():
            row = summarize(key, matrix, settings)
            start = datetime.fromtimestamp(row["window_start"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            out[(row["dimension"], row["slice"], size, start)] = row
    return out


def windows_of_gold(lines: Iterable[bytes], result: OfflineResult,
                    settings: Settings) -> set[FinalKey]:
    """The windows that hold a gold unit. A gold item is answered all through a campaign while its
    unit belongs to the window of its first answer, so its later answers arrive after that window
    closed and are counted `late` by design; the offline reference, which has no clock, counts them."""
    validator = Validator(settings.dimensions, settings.score_min, settings.score_max,
                          settings.max_payload_bytes)
    keys = set()
    for raw in lines:
        if b'"gold_item_id":null' in raw or b'"gold_item_id"' not in raw:
            continue
        event = validator(raw)
        if isinstance(event, RatingEvent | PairwiseEvent):
            keys.add(unit_key(event))
    out = set()
    for key in keys & result.units.keys():
        state = result.units[key]
        for size in settings.window_seconds:
            start = datetime.fromtimestamp(Tumbling(size, settings.grace_s).start_of(state["t"]), tz=UTC)
            for dim in vocabulary.kind_dimensions(state["k"], settings.dimensions):
                for name in slices_of(state, True, settings.slices):
                    out.add((dim, name, size, start.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return out


def finals_of(values: Iterable[bytes]) -> dict[FinalKey, list[dict[str, Any]]]:
    """The final records among `agreement` values, every copy of each (a crash may repeat one)."""
    out: dict[FinalKey, list[dict[str, Any]]] = {}
    for value in values:
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("final"):
            key = (record["dimension"], record["slice"], record["window_size_s"], record["window_start"])
            out.setdefault(key, []).append(record)
    return out


def miscounted(finals: dict[FinalKey, list[dict[str, Any]]], expected: dict[FinalKey, dict[str, Any]],
               units_only: set[FinalKey] | None = None) -> list[str]:
    """What differs from the reference: a missing or extra window, or a copy of a final whose
    units, pairable values or alpha (to 1e-9) are not the reference's; in `units_only` windows
    only the units are compared."""
    problems = [f"missing final {k}" for k in sorted(expected.keys() - finals.keys())]
    problems += [f"unexpected final {k}" for k in sorted(finals.keys() - expected.keys())]
    for key in sorted(finals.keys() & expected.keys()):
        want = expected[key]
        for got in finals[key]:
            same_alpha = (got["alpha"] is None) == (want["alpha"] is None) and (
                got["alpha"] is None or abs(got["alpha"] - want["alpha"]) <= 1e-9)
            same_values = same_alpha and abs(got["n_pairable_values"] - want["n_pairable_values"]) <= 1e-9
            if got["n_units"] != want["n_units"] or not (same_values or key in (units_only or set())):
                problems.append(f"{key}: units {got['n_units']} vs {want['n_units']}, alpha "
                                f"{got['alpha']} vs {want['alpha']}")
    return problems


def newest_manifests(values: Iterable[bytes]) -> dict[str, BatchManifest]:
    """Each batch's newest manifest revision among `rlhf-batch-manifests` values."""
    newest: dict[str, BatchManifest] = {}
    for value in values:
        manifest = BatchManifest.model_validate_json(value)
        if manifest.batch_id not in newest or manifest.revision > newest[manifest.batch_id].revision:
            newest[manifest.batch_id] = manifest
    return newest


def batched_answers(manifests: Iterable[BatchManifest]) -> int:
    """Distinct answers the batches received: every answer once, duplicates excluded."""
    items = list(manifests)
    duplicates = sum((Counter(m.exclusions) for m in items), Counter())["duplicate"]
    return sum(m.answers_received for m in items) - duplicates

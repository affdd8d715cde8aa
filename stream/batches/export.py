"""`alphawatch export`: read a closed batch back from its topics, verify it, write trainer formats."""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from schemas.batches import CLIP_RATING, PAIRWISE, BatchManifest
from stream.batches.rules import record_hash
from stream.io.kafka import Progress, read_to_end
from stream.io.security import aiokafka_auth
from stream.settings import Settings

FORMATS = ("jsonl", "trl", "videoalign")
# VideoAlign's columns and the alphawatch dimensions behind them
VIDEOALIGN = {"VQ": "visual_fidelity", "MQ": "motion_quality", "TA": "text_alignment"}
async def read_topic(settings: Settings, topic: str, progress: Progress | None = None) -> list[bytes]:
    """Every value on `topic` from the beginning to its end (no time limit: a batch is read whole)."""
    records = await read_to_end(settings.broker_url, topic, aiokafka_auth(settings), math.inf, progress)
    return [r.value for r in records if r.value is not None]


def latest_manifest(values: Iterable[bytes], batch_id: str) -> BatchManifest | None:
    found = [BatchManifest.model_validate_json(v) for v in values]
    mine = [m for m in found if m.batch_id == batch_id]
    return max(mine, key=lambda m: m.revision) if mine else None


def latest_records(values: Iterable[bytes], batch_id: str) -> dict[str, dict[str, Any]]:
    """The highest version of each record of the batch (the topic is at-least-once)."""
    out: dict[str, dict[str, Any]] = {}
    for value in values:
        record = orjson.loads(value)
        if record["batch_id"] != batch_id:
            continue
        kept = out.get(record["record_id"])
        if kept is None or record["version"] > kept["version"]:
            out[record["record_id"]] = record
    return out


def verify(manifest: BatchManifest, records: dict[str, dict[str, Any]]) -> list[str]:
    """What does not match the manifest (empty: the batch is complete and current)."""
    problems = []
    counts = Counter(r["record_type"] for r in records.values())
    if dict(counts) != {k: v for k, v in manifest.record_counts.items() if v}:
        problems.append(f"record counts {dict(counts)} differ from the manifest's {manifest.record_counts}")
    checksum = 0
    for record in records.values():
        checksum ^= record_hash(record["record_id"], record["version"])
    if f"{checksum:064x}" != manifest.record_checksum:
        problems.append("record checksum differs from the manifest's: records missing or not newest")
    return problems


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def write_jsonl(records: dict[str, dict[str, Any]], out: Path, written: Written) -> None:
    path = out / "records.jsonl"
    with path.open("wb") as handle:
        for rid in sorted(records):
            handle.write(orjson.dumps(records[rid]) + b"\n")
    written.files.append(path)
    written.counts["records"] += len(records)


def _pair_preferences(record: dict[str, Any], dim: str) -> dict[str, Any] | None:
    """A TRL row from a pairwise record; None for a tie or a dimension nobody voted on."""
    d = record["dimensions"].get(dim)
    if d is None or d["winner"] == "tie":
        return None
    win, lose = ("clip_a", "clip_b") if d["winner"] == "A" else ("clip_b", "clip_a")
    return {"prompt": record["prompt"], "chosen": record[win]["clip_id"], "rejected": record[lose]["clip_id"],
            "chosen_model": record[win]["model_id"], "rejected_model": record[lose]["model_id"],
            "margin": abs(d["votes_a"] - d["votes_b"]) / d["n"], "source": "pairwise",
            "record_id": record["record_id"]}


def _rating_pairs(ratings: list[dict[str, Any]], dim: str) -> Iterable[dict[str, Any] | None]:
    """Clips of one prompt in clip id order, each with the next: linear in clips, not quadratic."""
    rated = sorted((r for r in ratings if dim in r["dimensions"]), key=lambda r: r["clip"]["clip_id"])
    for left, right in itertools.pairwise(rated):
        gap = left["dimensions"][dim]["consensus_mean"] - right["dimensions"][dim]["consensus_mean"]
        if gap == 0:
            yield None
            continue
        win, lose = (left, right) if gap > 0 else (right, left)
        yield {"prompt": win["clip"]["prompt"], "chosen": win["clip"]["clip_id"],
               "rejected": lose["clip"]["clip_id"], "chosen_model": win["clip"]["model_id"],
               "rejected_model": lose["clip"]["model_id"], "margin": abs(gap), "source": "ratings",
               "record_id": f"{win['record_id']}|{lose['record_id']}"}


def write_trl(records: dict[str, dict[str, Any]], dimensions: list[str], out: Path, written: Written) -> None:
    """One preference JSONL per dimension (prompt, chosen, rejected, margin); ties left out, counted."""
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for r in records.values():
        if r["record_type"] == CLIP_RATING:
            by_prompt.setdefault(r["clip"]["prompt"], []).append(r)
    pairs = [r for rid, r in sorted(records.items()) if r["record_type"] == PAIRWISE]
    for dim in dimensions:
        rows = [_pair_preferences(r, dim) for r in pairs if dim in r["dimensions"]]
        for prompt in sorted(by_prompt):
            rows += list(_rating_pairs(by_prompt[prompt], dim))
        path = out / f"trl-{dim}.jsonl"
        kept = [row for row in rows if row is not None]
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in kept))
        written.files.append(path)
        written.counts[f"trl {dim}"] += len(kept)
        written.counts[f"trl {dim} ties left out"] += len(rows) - len(kept)


def write_videoalign(records: dict[str, dict[str, Any]], out: Path, written: Written,
                     video_root: str = "videos") -> None:
    """path_A, path_B, prompt, VQ, MQ, TA (A / B / same) from the pairwise records."""
    path = out / "videoalign.csv"
    same = {"A": "A", "B": "B", "tie": "same"}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path_A", "path_B", "prompt", *VIDEOALIGN])
        for _, r in sorted(records.items()):
            if r["record_type"] != PAIRWISE:
                continue
            votes = [same[r["dimensions"][d]["winner"]] if d in r["dimensions"] else ""
                     for d in VIDEOALIGN.values()]
            writer.writerow([f"{video_root}/{r['clip_a']['clip_id']}.mp4",
                             f"{video_root}/{r['clip_b']['clip_id']}.mp4", r["prompt"], *votes])
            written.counts["videoalign rows"] += 1
    written.files.append(path)


def write(fmt: str, records: dict[str, dict[str, Any]], settings: Settings, out: Path,
          video_root: str = "videos") -> Written:
    out.mkdir(parents=True, exist_ok=True)
    written = Written()
    if fmt == "jsonl":
        write_jsonl(records, out, written)
    elif fmt == "trl":
        write_trl(records, settings.dimensions, out, written)
    elif fmt == "videoalign":
        missing = sorted(set(VIDEOALIGN.values()) - set(settings.dimensions))
        if missing:
            raise ValueError(f"videoalign needs dimensions {missing} in ALPHAWATCH_DIMENSIONS")
        write_videoalign(records, out, written, video_root)
    else:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}")
    return written


async def export_batch(settings: Settings, batch_id: str, fmt: str, out: Path, video_root: str = "videos",
                       progress: Progress | None = None) -> tuple[Written, list[str]]:
    """Read, verify and write one closed batch; (files written, problems). Nothing is written
    when the manifest is missing or the records do not match it."""
    manifests = await read_topic(settings, settings.topic("rlhf-batch-manifests"))
    manifest = latest_manifest(manifests, batch_id)
    if manifest is None:
        return Written(), [f"no manifest for batch {batch_id!r}: not closed yet, or no such batch"]
    records = latest_records(await read_topic(settings, settings.topic("rlhf-batches"), progress), batch_id)
    problems = verify(manifest, records)
    if problems:
        return Written(), problems
    written = write(fmt, records, settings, out, video_root)
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    written.files.append(out / "manifest.json")
    return written, []

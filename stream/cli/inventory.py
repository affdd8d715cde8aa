"""`alphawatch batches` and `alphawatch dlq`: which RLHF batches exist, and the newest dead letters."""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stream.io.observe import Observed, read_topics
from stream.settings import Settings
from stream.topics import BATCHES, DLQ, MANIFESTS


def batch_rows(observed: Observed) -> list[dict[str, Any]]:
    """Per batch id: closed once its manifest is out (with the manifest's counts), else open with the
    records emitted so far (distinct record ids: versions of one record count once)."""
    rows = []
    for batch_id in sorted(observed.batch_ids | set(observed.manifests)):
        manifest = observed.manifests.get(batch_id)
        rows.append({
            "batch_id": batch_id, "state": "closed" if manifest else "open",
            "records": len(observed.records_by_batch.get(batch_id, ())),
            "record_counts": manifest["record_counts"] if manifest else None,
            "answers_received": manifest["answers_received"] if manifest else None,
            "answers_included": manifest["answers_included"] if manifest else None,
            "exclusions": manifest["exclusions"] if manifest else None})
    return rows


def show_batches(settings: Settings, console: Console, as_json: bool) -> list[dict[str, Any]]:
    rows = batch_rows(asyncio.run(read_topics(settings, (BATCHES, MANIFESTS))))
    if as_json:
        print(orjson.dumps(rows).decode())
        return rows
    if not rows:
        console.print(f"no batches yet in {settings.topic(BATCHES)} (the batch stage emits a unit's record "
                      "once it has enough answers of qualified annotators)", highlight=False)
        return rows
    table = Table("batch", "state", "records", "answers included / received", "excluded (top reasons)",
                  title=f"RLHF batches ({settings.topic(BATCHES)}, {settings.topic(MANIFESTS)})")
    for row in rows:
        share = ("-" if row["answers_received"] is None
                 else f"{row['answers_included']:,} / {row['answers_received']:,}")
        top = sorted((row["exclusions"] or {}).items(), key=lambda kv: -kv[1])[:3]
        table.add_row(row["batch_id"], row["state"], f"{row['records']:,}", share,
                      Text(", ".join(f"{reason} {count:,}" for reason, count in top) or "-"))
    console.print(table)
    return rows


def excerpt(payload_b64: str, width: int = 100) -> str:
    """The dead letter's original bytes as text, on one line, cut to `width` characters."""
    try:
        raw = base64.b64decode(payload_b64, validate=True)
    except (binascii.Error, ValueError):
        return "(payload not base64)"
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    return text if len(text) <= width else text[:width - 3] + "..."


def dead_letter_rows(observed: Observed, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` dead letters (by arrival), newest first."""
    newest = sorted(observed.dead_letters, key=lambda d: str(d.get("received_at", "")))[-limit:][::-1]
    return [{"received_at": d.get("received_at"), "reason": d.get("reason"), "detail": d.get("detail"),
             "source": f"{d.get('source_topic')}[{d.get('source_partition')}]@{d.get('source_offset')}"
                       + (f" #{d['source_index']}" if d.get("source_index") is not None else ""),
             "payload": excerpt(str(d.get("payload_b64", ""))),
             "payload_truncated": bool(d.get("payload_truncated"))} for d in newest]


def show_dlq(settings: Settings, console: Console, limit: int, as_json: bool) -> list[dict[str, Any]]:
    observed = asyncio.run(read_topics(settings, (DLQ,)))
    rows = dead_letter_rows(observed, limit)
    if as_json:
        print(orjson.dumps(rows).decode())
        return rows
    total = len(observed.dead_letters)
    if not rows:
        console.print(f"no dead letters in {settings.topic(DLQ)}", highlight=False)
        return rows
    table = Table("received", "reason", "detail", "source", "payload",
                  title=f"{settings.topic(DLQ)}: newest {len(rows)} of {total:,} dead letters")
    for row in rows:
        # reasons and payloads are the sender's text: never read as Rich markup
        table.add_row(*(Text(str(row[k])) for k in ("received_at", "reason", "detail", "source", "payload")))
    console.print(table)
    return rows

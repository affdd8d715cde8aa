"""Generate the JSON Schema files in schemas/ from the models (`python -m schemas.export`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from schemas.batches import BATCH_MODELS
from schemas.events import AnnotationEvent
from schemas.gold import GoldKeyRow
from schemas.outputs import OUTPUT_MODELS
from schemas.rankings import RANKING_MODELS

SCHEMA_DIR = Path(__file__).resolve().parent


def rendered() -> dict[str, str]:
    """File name -> JSON text of every exported schema."""
    files: dict[str, str] = {}
    annotation = TypeAdapter(AnnotationEvent).json_schema()
    annotation["title"] = "AnnotationEvent"
    files["annotation_event.schema.json"] = _dump(annotation)
    for name, model in {**OUTPUT_MODELS, **BATCH_MODELS, **RANKING_MODELS}.items():
        files[f"{name}.schema.json"] = _dump(_schema(model))
    files["gold_key_row.schema.json"] = _dump(_schema(GoldKeyRow))
    return files


def _schema(model: type[BaseModel]) -> dict[str, object]:
    return model.model_json_schema(mode="serialization")


def _dump(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def stale() -> list[str]:
    """Names of schema files that differ from what the models generate."""
    return [
        name
        for name, text in rendered().items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
    ]


def main() -> int:
    for name, text in rendered().items():
        (SCHEMA_DIR / name).write_text(text)
    print(f"wrote {len(rendered())} schema files to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

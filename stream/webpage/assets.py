"""The live page's files (shipped as package data) and the settings its charts need, as JSON."""

from __future__ import annotations

from importlib import resources
from typing import Any

from stream.core import vocabulary
from stream.qualification.rules import STATES
from stream.ranking.votes import MODALITIES
from stream.settings import Settings

# URL path -> (file under stream/webpage/static, content type); these carry code, never data, so
# they are served without the token (stream/webauth.py) and the page asks for it instead
ASSETS: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html"),
    "/static/livepage.js": ("livepage.js", "text/javascript"),
    "/static/livepage.css": ("livepage.css", "text/css"),
}
# nothing from elsewhere, nothing inline: a page that tries either fails loudly in the console
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                           "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                           "frame-ancestors 'none'")
REFRESH_S = 5.0


def read(path: str) -> bytes:
    """The file served at URL `path` (one of ASSETS)."""
    name, _ = ASSETS[path]
    return resources.files("stream.webpage").joinpath("static", name).read_bytes()


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page needs from the settings: dimensions with their alpha thresholds, window
    sizes (seconds, smallest first), slices, annotator states, modalities and the refresh period."""
    dimensions = vocabulary.all_dimensions(settings.dimensions)
    return {
        "dimensions": dimensions,
        "thresholds": {d: settings.threshold_for(d) for d in dimensions},
        "windows": settings.window_seconds,
        "slices": settings.slices,
        "annotator_states": list(STATES),
        "modalities": list(MODALITIES),
        "batch_length": settings.batch_length,
        "refresh_s": REFRESH_S,
    }

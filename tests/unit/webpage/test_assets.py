"""The live page's files: shipped, self-contained (nothing from elsewhere), and the settings it draws with."""

from __future__ import annotations

import re

from stream.settings import Settings
from stream.webauth import OPEN_PATHS
from stream.webpage.assets import ASSETS, CONTENT_SECURITY_POLICY, page_config, read


def test_every_file_is_in_the_package_and_served_without_the_token() -> None:
    for path in ASSETS:
        assert read(path), path
    assert set(ASSETS) <= OPEN_PATHS
    # the data the page shows is not: it asks for the token
    assert not {"/config", "/flags", "/batches", "/agreement"} & OPEN_PATHS


def test_the_page_loads_only_its_own_files() -> None:
    html = read("/").decode()
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(links) == sorted(["/static/livepage.css", "/static/livepage.js", "data:,"])
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP forbids it
    script = read("/static/livepage.js").decode()
    urls = set(re.findall(r"https?://[^\"'\s]+", script))
    assert urls == {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    # text nodes only: an annotator id or a flag's reason cannot inject markup
    assert ".innerHTML" not in script and "HTML(" not in script
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "connect-src 'self'" in CONTENT_SECURITY_POLICY


def test_config_has_each_dimensions_threshold_and_the_windows() -> None:
    settings = Settings(dimensions=["motion_quality", "text_alignment"], windows=["24h", "1h"],
                        alpha_threshold=0.667, thresholds={"text_alignment": 0.7})
    config = page_config(settings)
    assert config["thresholds"] == {"motion_quality": 0.667, "text_alignment": 0.7,
                                    "pairwise.motion_quality": 0.667, "pairwise.text_alignment": 0.667}
    assert config["dimensions"][:2] == ["motion_quality", "text_alignment"]
    assert config["windows"] == [3600, 86400]  # smallest first: the page's default
    assert config["annotator_states"] == ["qualifying", "qualified", "retraining"]
    assert config["modalities"] == ["t2v", "i2v", "v2v"]

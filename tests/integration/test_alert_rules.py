"""Prometheus alert rules, unit-tested with promtool (Debian package `prometheus`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tool

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    return found


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    tool = _promtool()
    check = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=RULES, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_alertmanager_example_parses() -> None:
    amtool = shutil.which("amtool")
    config = RULES.parent / "alertmanager" / "alertmanager.yml"
    if amtool is None:
        import yaml

        assert yaml.safe_load(config.read_text())["receivers"][0]["webhook_configs"]
        return
    run = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

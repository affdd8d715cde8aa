"""`alphawatch --help` lists every command; options show their types, flags none (not `<bool>`)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from stream.cli.main import cli

RUNNER = CliRunner()
COMMANDS = sorted(c.name or (c.callback.__name__ if c.callback else "") for c in cli.registered_commands)


def _help(*args: str) -> str:
    result = RUNNER.invoke(cli, [*args, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def test_top_level_help_lists_every_command() -> None:
    listed = set(re.findall(r"^│ (\w+) ", _help(), flags=re.MULTILINE))
    assert {*COMMANDS, "gold"} <= listed
    assert {"batches", "dlq", "status", "export"} <= listed


@pytest.mark.parametrize("command", [*COMMANDS, "gold load"])
def test_flags_take_no_type_and_options_show_theirs(command: str) -> None:
    text = _help(*command.split())
    assert "<bool>" not in text
    assert re.search(r"--help\s+Show this message", text)  # a flag: nothing between name and help


def test_typed_options_keep_their_types() -> None:
    text = _help("replay")
    assert re.search(r"--speed\s+<float>", text) and re.search(r"--per-record\s+<int range>", text)
    assert re.search(r"--close-windows\s+--no-close-windows\s+end with", text)
    dlq = _help("dlq")
    assert re.search(r"--json\s+print JSON", dlq) and re.search(r"--limit\s+<int range>", dlq)

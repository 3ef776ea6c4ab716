"""README.ko.md tells a Korean learner the same commands README.md does."""

from __future__ import annotations

import re
from pathlib import Path

import click

from reminder.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
# `reminder`, global options (with their value), then the command and, for a group, its subcommand.
COMMAND_RE = re.compile(
    r"(?<![\w/.-])reminder ((?:--?[\w-]+(?: (?!reminder)[^\s`]+)? )*)([a-z][a-z-]*)(?: ([a-z][a-z-]*))?"
)


def commands_named(text: str) -> set[str]:
    ctx = click.Context(cli)
    found = set()
    for match in COMMAND_RE.finditer(text):
        name, sub = match.group(2), match.group(3)
        if name not in COMMANDS:
            continue
        command = cli.get_command(ctx, name)
        found.add(f"{name} {sub}" if isinstance(command, click.Group) and sub in command.commands else name)
    return found


def test_both_readmes_name_the_same_commands() -> None:
    english = commands_named((ROOT / "README.md").read_text(encoding="utf-8"))
    korean = commands_named((ROOT / "README.ko.md").read_text(encoding="utf-8"))
    assert {"add", "due", "done", "setup", "run", "sync", "vault add"} <= english
    assert sorted(english - korean) == [], "named in README.md, not in README.ko.md"
    assert sorted(korean - english) == [], "named in README.ko.md, not in README.md"


def test_the_korean_readme_has_the_same_set_up_commands_and_is_linked_from_the_top() -> None:
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    korean = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    setup = re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", english)
    assert len(setup) == 2
    assert re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", korean) == setup
    assert "(README.ko.md)" in "\n".join(english.splitlines()[:5])


def test_the_command_matcher_sees_what_a_reader_sees() -> None:
    assert commands_named(
        "run `reminder --config FILE list` or reminder db upgrade; pip install reminder[postgres]"
    ) == {
        "list",
        "db upgrade",
    }

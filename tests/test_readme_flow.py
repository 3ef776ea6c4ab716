"""The README's command examples, run as written through the installed `reminder` command."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_commands(section: str) -> list[list[str]]:
    """Every `reminder ...` line of the first sh block under the README heading ``section``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split(f"\n## {section}\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", after, re.S)
    assert block, f"no sh block under {section}"
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line.startswith("reminder "):
            commands.append(shlex.split(line)[1:])
    return commands


def reminder_exe() -> str:
    exe = Path(sys.executable).parent / "reminder"
    assert exe.exists(), "the console script is installed with the package"
    return str(exe)


def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "REMINDER_TIMEZONE": "Asia/Seoul",
    }
    env = {k: v for k, v in env.items() if not k.startswith("REMINDER_") or k == "REMINDER_TIMEZONE"}
    commands = readme_commands("Commands")
    assert len(commands) >= 15
    for args in commands:
        out = subprocess.run([reminder_exe(), *args], env=env, input="y\n", capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"reminder {shlex.join(args)} -> {out.returncode}: {out.stderr}"
        assert "Traceback" not in out.stderr
    # The embedded default store was created in the data dir, and holds what the README did to it.
    assert (tmp_path / "data" / "reminder" / "reminder.db").is_file()
    listed = subprocess.run(
        [reminder_exe(), "list", "--json"], env=env, capture_output=True, text=True, check=True
    ).stdout
    titles = [n["title"] for n in json.loads(listed)]
    assert titles == ["TCP handshake"]

"""The day each file of a vault was first committed, when the vault is (inside) a git work tree.

Vaults kept with the Obsidian Git plugin are common, and a fresh clone gives every file the same modification
time, so for a note without a first-study date the commit that added it is the better witness. One `git log`
for the whole vault, run only when a sync meets such a note: oldest commit first, following renames (a file
moved keeps the day it was first added), paths relative to the vault folder even when the vault is a subfolder
of the repository, and -z with core.quotePath=false so non-ASCII and odd names come through as they are.
"""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo

GIT_TIMEOUT = 120


def added_dates(root: str, zone: ZoneInfo) -> dict[str, date]:
    """Vault-relative path -> the day (in ``zone``) of the commit that first added it. Empty when the vault is
    not in a git work tree, git is missing or refuses (an unsafe owner, say)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    command = [
        "git",
        "-c",
        "core.quotePath=false",
        "log",
        "--reverse",
        "-M",
        "--diff-filter=AR",
        "--name-status",
        "-z",
        "--format=%x01%aI",
        "--relative",
        "--",
        ".",
    ]
    try:
        out = subprocess.run(command, cwd=root, env=env, capture_output=True, timeout=GIT_TIMEOUT, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_log(out, zone)


def parse_log(out: bytes, zone: ZoneInfo) -> dict[str, date]:
    """The dates out of ``git log --name-status -z --format=%x01%aI`` output, oldest commit first."""
    dates: dict[str, date] = {}
    for record in out.split(b"\x01")[1:]:
        head, _, rest = record.partition(b"\0")
        try:
            day = datetime.fromisoformat(head.decode("ascii").strip()).astimezone(zone).date()
        except ValueError:
            continue
        tokens = rest.lstrip(b"\n").split(b"\0")
        i = 0
        while i < len(tokens) and tokens[i]:
            status = tokens[i][:1]
            if status == b"R" and i + 2 < len(tokens):
                old, new = (os.fsdecode(t) for t in tokens[i + 1 : i + 3])
                dates[new] = dates.get(old, day)
                i += 3
            elif i + 1 < len(tokens):
                dates.setdefault(os.fsdecode(tokens[i + 1]), day)
                i += 2
            else:
                break
    return dates

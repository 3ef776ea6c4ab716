"""Benchmark: every short command as a fresh process (cold start), and `list` on a large store.

Figures: wall time (median, min, max), CPU time and peak RSS of `list`, `show`, `due`, `status` on a store of 100
notes, of the writes `add`, `done`, `edit`, and of `list --json` on 10k notes; beside the baselines measured in
the same run (bare interpreter, `reminder --version`).

    python bench/commands.py [--runs 7] [--large 10000] [--json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DAY, baselines, emit, fill_store, machine, reminder_cmd, timed_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--large", type=int, default=10_000, help="notes in the store `list` reads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result: dict = {"benchmark": "commands", "machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.db", Path(tmp) / "large.db"
        fill_store(small, 100, 10)
        fill_store(large, args.large, 1000)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")},
            "REMINDER_TIMEZONE": "Asia/Seoul",
            "REMINDER_CONFIG": str(Path(tmp) / "none.toml"),
            "REMINDER_NTFY_TOPIC": "bench",
            "REMINDER_DATABASE_URL": f"sqlite:///{small}",
        }
        result["baseline"] = baselines(args.runs, env)
        cmd = reminder_cmd()
        reads = {
            "list (100 notes)": ["list"],
            "list --json (100 notes)": ["list", "--json"],
            "show 3": ["show", "3"],
            "show by title": ["show", "note 3 복습"],
            "due": ["due", "--on", BENCH_DAY.isoformat()],
            "status": ["status"],
        }
        for name, argv in reads.items():
            result[name] = timed_command([*cmd, *argv], args.runs, env)
        # Writes: each run changes the store a little (a new note, a tick and its undo, an edit).
        result["add"] = timed_command(
            [*cmd, "add", "bench note", "--first-study", "2026-11-01", "--allow-duplicate"], args.runs, env
        )
        result["done --stage 1 (and undo)"] = timed_command(
            ["sh", "-c", f"{' '.join(cmd)} done 5 --stage 1 --on 2026-11-20 && {' '.join(cmd)} undo 5 --stage 1"],
            args.runs,
            env,
        )
        result["edit"] = timed_command([*cmd, "edit", "7", "--pages", "p1"], args.runs, env)
        large_env = {**env, "REMINDER_DATABASE_URL": f"sqlite:///{large}"}
        result[f"list --json ({args.large} notes)"] = timed_command([*cmd, "list", "--json"], args.runs, large_env)
        result[f"list ({args.large} notes)"] = timed_command([*cmd, "list"], args.runs, large_env)
    emit(result, args.json)


if __name__ == "__main__":
    main()

"""Benchmark: the due query and `reminder due --json` on stores of 10k, 100k and 1M notes, and the cold start.

Each store has the same number of due notes (1,000 by default), so a store ten times larger should cost about
the same: the query reads the partial index of pending reviews, not every note.

    python bench/due.py [--sizes 10000,100000,1000000] [--due 1000] [--runs 7] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from common import BENCH_DAY, EXTRA_EVERY, fill_store, machine, median_command, median_seconds, reminder_cmd

from reminder import notes
from reminder.db import open_store
from reminder.duelist import due_from_sqlite_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", help="where to build the stores (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"machine: {machine()}")
    print(f"day {BENCH_DAY}, {args.due} due notes in every store, median of {args.runs} runs\n")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        env = {**os.environ, "REMINDER_TIMEZONE": "Asia/Seoul", "REMINDER_CONFIG": str(Path(tmp) / "none.toml")}

        # Cold start: a new process on a small store, beside the bare interpreter with sqlite3.
        small = Path(tmp) / "small.db"
        fill_store(small, 100, 10)
        env_small = {**env, "REMINDER_DATABASE_URL": f"sqlite:///{small}"}
        base = median_command([sys.executable, "-c", "import sqlite3"], 21, env_small)
        cold = median_command([*reminder_cmd(), "due"], 21, env_small)
        print("cold start (100 notes, median of 21 processes)")
        print(f"  python -c 'import sqlite3'      {base * 1000:8.1f} ms   (baseline)")
        print(f"  reminder due                    {cold * 1000:8.1f} ms   target < 150 ms\n")

        print(f"{'notes':>9}  {'fill':>8}  {'query (SQLAlchemy)':>19}  {'query (light)':>14}  {'due --json':>11}")
        results = {}
        for size in sizes:
            path = Path(tmp) / f"n{size}.db"
            t0 = time.perf_counter()
            fill_store(path, size, args.due)
            fill = time.perf_counter() - t0
            store = open_store(f"sqlite:///{path}")

            def query(store=store) -> None:
                with store.read() as session:
                    got = notes.due_on(session, BENCH_DAY, EXTRA_EVERY)
                assert len(got) == args.due, len(got)

            def light(path=path) -> None:
                got = due_from_sqlite_file(path, BENCH_DAY, EXTRA_EVERY)
                assert got is not None and len(got) == args.due

            q = median_seconds(query, args.runs)
            lq = median_seconds(light, args.runs)
            store.dispose()
            e2e = median_command(
                [*reminder_cmd(), "due", "--json", "--on", BENCH_DAY.isoformat()],
                args.runs,
                {**env, "REMINDER_DATABASE_URL": f"sqlite:///{path}"},
            )
            results[size] = q
            print(f"{size:>9}  {fill:>7.1f}s  {q * 1000:>16.1f} ms  {lq * 1000:>11.1f} ms  {e2e * 1000:>8.1f} ms")
            path.unlink()
        if len(sizes) > 1:
            print()
            for a, b in itertools.pairwise(sizes):
                print(f"  {b} vs {a} notes: query x{results[b] / results[a]:.2f} (target < 1.5 for 10x notes)")
        largest = max(sizes)
        print(f"  due query at {largest} notes: {results[largest] * 1000:.1f} ms (target < 200 ms)")


if __name__ == "__main__":
    main()

"""Benchmark: `reminder stats` (reading every note and its reviews, then the 30-day forecast simulation) on
stores of 1k, 10k and 100k notes, beside the due query on the same store as the baseline.

The statistics read the whole store (the streak and the subjects need every note), so unlike the due query their
cost grows with the number of notes; this shows by how much, and what a phone opening the stats page waits for.

    python bench/stats.py [--sizes 1000,10000,100000] [--due 1000] [--runs 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DAY, EXTRA_EVERY, fill_store, machine, median_seconds

from reminder import history, notes, stats
from reminder.db import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", help="where to build the stores (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"machine: {machine()}")
    print(f"day {BENCH_DAY}, up to {args.due} due notes in every store, median of {args.runs} runs\n")
    print(
        f"{'notes':>8}  {'due query':>10}  {'read':>9}  {'compute':>9}  {'of which forecast':>18}  {'stats total':>12}"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in sizes:
            path = Path(tmp) / f"n{size}.db"
            fill_store(path, size, min(args.due, size))
            store = open_store(f"sqlite:///{path}")
            since = stats.events_since(BENCH_DAY)

            def due(store=store) -> None:
                with store.read() as session:
                    notes.due_on(session, BENCH_DAY, EXTRA_EVERY)

            def read(store=store, since=since) -> tuple[list[stats.NoteHistory], list[stats.ReviewEvent]]:
                with store.read() as session:
                    return history.read_notes(session), history.read_events(session, since)

            rows, events = read()

            def total(store=store) -> None:
                with store.read() as session:
                    history.read_stats(session, BENCH_DAY, EXTRA_EVERY)

            d = median_seconds(due, args.runs)
            r = median_seconds(read, args.runs)
            c = median_seconds(lambda r=rows, e=events: stats.compute(r, e, BENCH_DAY, EXTRA_EVERY), args.runs)
            f = median_seconds(lambda r=rows: stats.forecast(r, BENCH_DAY, EXTRA_EVERY), args.runs)
            t = median_seconds(total, args.runs)
            store.dispose()
            path.unlink()
            print(
                f"{size:>8}  {d * 1000:>7.1f} ms  {r * 1000:>6.0f} ms  {c * 1000:>6.0f} ms  {f * 1000:>15.0f} ms"
                f"  {t * 1000:>9.0f} ms"
            )


if __name__ == "__main__":
    main()

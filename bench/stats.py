"""Benchmark: the statistics (`reminder stats`, the stats page, the weekly summary) on stores of 1k, 10k and 100k
notes, beside the due query on the same store as the baseline.

The streak and the subjects need the whole store: the statistics read the notes with open reviews (the forecast)
and sum the rest up in SQL (reminder.history.read_summary). For comparison, the same run times reading every note
and computing the same figures from them (what the statistics did before), and checks both agree.

Each done review has its review event, as `done` records it, and the statistics are timed a second time under a
daily limit (REMINDER_DAILY_LIMIT): the streak then counts the days on which the limit was reviewed, back to the
first study.

    python bench/stats.py [--sizes 1000,10000,100000] [--due 1000] [--runs 5] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DAY, EXTRA_EVERY, emit, fill_store, machine, timed_calls

from reminder import history, notes, stats
from reminder.db import open_store

DAILY_LIMIT = 20  # below the reviews the bench store has on most days, so that its streak is long


def add_events(path: Path) -> None:
    """A review event for each done review, on the day it was done."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO review_events (note_id, stage, extra, rating, reviewed_on, source, created_at)"
            " SELECT note_id, \"offset\", extra, 'good', done_on, 'cli', '2026-11-26 00:00:00.000000'"
            " FROM reviews WHERE done_on IS NOT NULL"
        )
        conn.execute("ANALYZE")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", help="where to build the stores (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result: dict = {"benchmark": "stats", "machine": machine(), "day": BENCH_DAY.isoformat(), "runs": args.runs}
    by_size: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"n{size}.db"
            fill_store(path, size, min(args.due, size))
            add_events(path)
            store = open_store(f"sqlite:///{path}")
            since = stats.events_since(BENCH_DAY)

            def due(store=store) -> None:
                with store.read() as session:
                    notes.due_on(session, BENCH_DAY, EXTRA_EVERY)

            def summary(store=store) -> None:
                with store.read() as session:
                    history.read_summary(session)

            def total(store=store) -> stats.Stats:
                with store.read() as session:
                    return history.read_stats(session, BENCH_DAY, EXTRA_EVERY)

            def every_note(store=store, since=since) -> stats.Stats:
                with store.read() as session:
                    rows, events = history.read_notes(session), history.read_events(session, since)
                return stats.compute(rows, events, BENCH_DAY, EXTRA_EVERY)

            def limited(store=store) -> stats.Stats:
                with store.read() as session:
                    return history.read_stats(session, BENCH_DAY, EXTRA_EVERY, daily_limit=DAILY_LIMIT)

            assert total() == every_note(), "the summed-up statistics differ from those of every note"
            by_size[str(size)] = {
                "baseline: due query": timed_calls(due, args.runs),
                "read_summary (SQL sums, open reviews)": timed_calls(summary, args.runs),
                "statistics (read_stats)": timed_calls(total, args.runs),
                "statistics from every note (before)": timed_calls(every_note, args.runs),
                f"statistics under a daily limit of {DAILY_LIMIT}": timed_calls(limited, args.runs),
                "streak under the limit (days)": limited().streak,
            }
            store.dispose()
            path.unlink()
    result["sizes"] = by_size
    emit(result, args.json)


if __name__ == "__main__":
    main()

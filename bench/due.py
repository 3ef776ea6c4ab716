"""Benchmark: the due query and `reminder due --json` on stores of 10k, 100k and 1M notes, and the cold start.

Each store has the same number of due notes (1,000 by default), so a store a hundred times larger should cost
about the same: the query reads the partial index of pending reviews, not every note.

    python bench/due.py [--sizes 10000,100000,1000000] [--due 1000] [--runs 7] [--dir DIR] [--json]
    python bench/due.py --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres [--json]

With ``--database`` the stores are PostgreSQL databases on that server: the benchmark creates one scratch
database per size (``reminder_bench_due_<size>``, filled server-side) and drops it afterwards, so the URL's
user needs CREATEDB. It also times the join form of the query the store used before (with JIT on, as a
server's default is), in the same run, for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DAY,
    EXTRA_EVERY,
    baselines,
    emit,
    fill_store,
    filled_store,
    machine,
    reminder_cmd,
    spread,
    timed_calls,
    timed_command,
)
from sqlalchemy import text

from reminder import notes
from reminder.db import Store, open_store
from reminder.duelist import group_due
from reminder.lightread import due_from_sqlite_file, sqlite_file


def query_figures(store: Store, due: int, runs: int) -> dict[str, dict]:
    def query() -> None:
        with store.read() as session:
            got = notes.due_on(session, BENCH_DAY, EXTRA_EVERY)
        assert len(got) == due, len(got)

    figures = {"query (store)": timed_calls(query, runs)}
    if not store.is_sqlite:

        def old_join() -> None:
            with store.read() as session:
                session.execute(text("SET LOCAL jit = on"))
                rows = session.execute(notes.due_statement(BENCH_DAY, lateral=False))
                assert len(group_due(rows, BENCH_DAY, EXTRA_EVERY)) == due

        figures["query (join form, JIT on: before)"] = timed_calls(old_join, runs)

        # The server's own time for each form (EXPLAIN ANALYZE), steadier than the round trip on a busy machine.
        def server_ms(stmt: Any, jit: str) -> float:
            with store.read() as session:
                session.execute(text(f"SET LOCAL jit = {jit}"))
                compiled = stmt.compile(session.get_bind())
                plan = (
                    session.connection()
                    .exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params)
                    .scalar()
                )
            return plan[0]["Execution Time"] / 1000

        new_form = notes.due_statement(BENCH_DAY, lateral=True)
        old_form = notes.due_statement(BENCH_DAY, lateral=False)
        figures["server time (EXPLAIN ANALYZE)"] = spread([server_ms(new_form, "off") for _ in range(runs)])
        figures["server time, join form, JIT on: before"] = spread([server_ms(old_form, "on") for _ in range(runs)])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", help="where to build the SQLite stores (default: a temporary folder)")
    parser.add_argument("--database", metavar="URL", help="a PostgreSQL server to build the stores on")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict = {
        "benchmark": "due",
        "machine": machine(),
        "store": "postgresql" if args.database else "sqlite",
        "day": BENCH_DAY.isoformat(),
        "due_notes": args.due,
        "runs": args.runs,
    }
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")},
            "REMINDER_TIMEZONE": "Asia/Seoul",
            "REMINDER_CONFIG": str(Path(tmp) / "none.toml"),
        }
        small = Path(tmp) / "small.db"
        fill_store(small, 100, 10)
        env_small = {**env, "REMINDER_DATABASE_URL": f"sqlite:///{small}"}
        result["baseline"] = baselines(21, env_small)
        result["baseline"]["python -c 'import sqlite3'"] = timed_command([sys.executable, "-c", "import sqlite3"], 21)
        result["cold reminder due (100 notes, SQLite)"] = timed_command([*reminder_cmd(), "due"], 21, env_small)

        by_size: dict[str, dict] = {}
        for size in sizes:
            t0 = time.perf_counter()
            with filled_store(
                f"reminder_bench_due_{size}", size, args.due, folder=Path(tmp), database=args.database
            ) as url:
                figures: dict = {"fill_s": round(time.perf_counter() - t0, 1)}
                store = open_store(url)
                figures.update(query_figures(store, args.due, args.runs))
                store.dispose()
                path = sqlite_file(url)
                if path is not None:

                    def light(path: Path = path) -> None:
                        got = due_from_sqlite_file(path, BENCH_DAY, EXTRA_EVERY)
                        assert got is not None and len(got) == args.due

                    figures["query (light, sqlite3)"] = timed_calls(light, args.runs)
                figures["reminder due --json"] = timed_command(
                    [*reminder_cmd(), "due", "--json", "--on", BENCH_DAY.isoformat()],
                    args.runs,
                    {**env, "REMINDER_DATABASE_URL": url},
                )
            by_size[str(size)] = figures
        result["sizes"] = by_size
        if len(sizes) > 1:
            lo, hi = by_size[str(min(sizes))], by_size[str(max(sizes))]
            result[f"ratio {max(sizes)} / {min(sizes)} notes"] = {
                "query": round(hi["query (store)"]["median_ms"] / lo["query (store)"]["median_ms"], 2),
                "due --json": round(hi["reminder due --json"]["median_ms"] / lo["reminder due --json"]["median_ms"], 2),
            }
    emit(result, args.json)


if __name__ == "__main__":
    main()

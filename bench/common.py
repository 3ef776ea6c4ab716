"""Helpers the benchmark scripts share: the machine they ran on, medians, a bulk-filled store."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from reminder import schedule
from reminder.db import open_store

LADDER = (1, 4, 7, 14)
EXTRA_EVERY = 30
BENCH_DAY = date(2026, 11, 26)


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}"
    )


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_command(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    def once() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)

    once()  # warm the page cache and the .pyc files: a cold start is a new process, not a cold disk
    return median_seconds(once, runs)


def fill_store(path: Path, notes_count: int, due_count: int, day: date = BENCH_DAY) -> None:
    """A store of ``notes_count`` notes, first studied over the two years before ``day``, of which exactly
    ``due_count`` are due on ``day``; the rest have done their ladder and wait for a future extra review (or
    are long-term). Written with executemany: the ORM would take minutes for a million notes."""
    open_store(f"sqlite:///{path}").dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    now = "2026-11-26 00:00:00.000000"
    ladder_text = ",".join(map(str, LADDER))
    chunk = 50_000
    note_id = 0
    for start in range(0, notes_count, chunk):
        note_rows, review_rows = [], []
        for i in range(start, min(start + chunk, notes_count)):
            note_id += 1
            first = day - timedelta(days=15 + (i * 7919) % 715)  # spread over two years, all past the ladder
            due = i < due_count
            long_term = not due and i % 4 == 0
            note_rows.append(
                (
                    note_id,
                    f"note {i} 복습",
                    "bench",
                    first.isoformat(),
                    ladder_text,
                    day.isoformat() if long_term else None,
                    now,
                    now,
                )
            )
            for n, offset in enumerate(LADDER):
                done_on = None if (due and n >= 2) else schedule.due_date(first, offset).isoformat()
                review_rows.append((note_id, offset, 0, schedule.due_date(first, offset).isoformat(), done_on))
            if not long_term:
                offset = (
                    schedule.first_extra_offset(LADDER, EXTRA_EVERY)
                    if due
                    else schedule.next_extra_offset(first, LADDER, EXTRA_EVERY, day)
                )
                review_rows.append((note_id, offset, 1, schedule.due_date(first, offset).isoformat(), None))
        conn.executemany(
            "INSERT INTO notes (id, title, subject, first_studied_on, ladder, long_term_on, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            note_rows,
        )
        conn.executemany(
            'INSERT INTO reviews (note_id, "offset", extra, due_on, done_on) VALUES (?, ?, ?, ?, ?)', review_rows
        )
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def reminder_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "reminder"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "reminder"]

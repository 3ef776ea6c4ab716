"""Helpers the benchmark scripts share: the machine they ran on, medians, a bulk-filled store."""

from __future__ import annotations

import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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


def spread(seconds: Sequence[float]) -> dict[str, float]:
    """Median, min and max of timings, in milliseconds."""
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "min_ms": round(min(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def time_calls(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def timed_calls(fn: Callable[[], object], runs: int) -> dict[str, float]:
    """Wall time (median, min, max) and median CPU time of this process for ``runs`` calls of ``fn``: on a
    shared machine the CPU time shows the work itself, the wall time adds whatever else the machine did."""
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return {**spread(walls), "cpu_ms": round(statistics.median(cpus) * 1000, 1)}


def timed_in_process(fn: Callable[[], object], runs: int) -> dict[str, float]:
    """Timings of ``fn`` in this process, and the peak RSS of this process afterwards."""
    figures: dict[str, float] = spread(time_calls(fn, runs))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def timed_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, float]:
    """(wall seconds, peak RSS in KiB, exit status, CPU seconds user + system) of one child process.

    The peak comes from GNU time, which execs the command from its own small process: a child forked straight
    from this script would count this script's pages (a filled store's worth) as its own until it execs. The CPU
    time is what the command itself used, less sensitive than the wall time to other work on a shared machine."""
    with tempfile.NamedTemporaryFile("r") as out:
        start = time.perf_counter()
        code = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", out.name, *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
        wall = time.perf_counter() - start
        peak, user, system = out.read().strip().splitlines()[-1].split()
    return wall, int(peak), code, float(user) + float(system)


def timed_command(argv: list[str], runs: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall time (median, min, max), median CPU time and median peak RSS of ``runs`` fresh processes of ``argv``.

    One unmeasured run first warms the page cache and the .pyc files: a cold start is a new process, not a cold
    disk. The wall time includes GNU time's own start (about 1 ms), as it does for the baselines."""
    timed_child(argv, env)
    walls, peaks, cpus = [], [], []
    for _ in range(runs):
        wall, peak, code, cpu = timed_child(argv, env)
        if code != 0:
            raise SystemExit(f"{' '.join(argv)} exited {code}")
        walls.append(wall)
        peaks.append(peak)
        cpus.append(cpu)
    return {
        **spread(walls),
        "cpu_ms": round(statistics.median(cpus) * 1000),
        "rss_mb": round(statistics.median(peaks) / 1024, 1),
    }


def baselines(runs: int, env: dict[str, str] | None = None, files: Path | None = None) -> dict[str, dict]:
    """What any command costs on this machine, measured in the same run as the figures beside it: the bare
    interpreter, `reminder --version` (the CLI's own start), and, given a folder, reading every file in it."""
    result = {
        "python -c pass": timed_command([sys.executable, "-c", "pass"], runs, env),
        "reminder --version": timed_command([*reminder_cmd(), "--version"], runs, env),
    }
    if files is not None:
        code = "import os,sys\nfor d,_,fs in os.walk(sys.argv[1]):\n for f in fs: open(os.path.join(d,f),'rb').read()"
        result["reading the files"] = timed_command([sys.executable, "-c", code, str(files)], runs, env)
    return result


def emit(result: dict, as_json: bool) -> None:
    """Print the benchmark's result: one JSON object with --json, else the same figures as indented text."""
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return

    def show(value: object, indent: str) -> None:
        assert isinstance(value, dict)
        for key, item in value.items():
            if isinstance(item, dict) and any(isinstance(v, dict) for v in item.values()):
                print(f"{indent}{key}:")
                show(item, indent + "  ")
            elif isinstance(item, dict):
                print(f"{indent}{key}: " + ", ".join(f"{k} {v}" for k, v in item.items()))
            else:
                print(f"{indent}{key}: {item}")

    show(result, "")


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


def fill_pg_store(url: str, notes_count: int, due_count: int, day: date = BENCH_DAY) -> None:
    """The same store as fill_store, on PostgreSQL at ``url`` (an empty database), generated server-side with
    generate_series: a million notes take seconds instead of the minutes rows sent from Python would."""
    import psycopg

    open_store(url, auto_upgrade=True).dispose()
    last, every = LADDER[-1], EXTRA_EVERY
    ladder_text = ",".join(map(str, LADDER))
    stages = ", ".join(f"({n}, {offset})" for n, offset in enumerate(LADDER))
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "INSERT INTO notes (id, title, subject, first_studied_on, ladder, long_term_on, created_at, updated_at) "
            "SELECT i + 1, 'note ' || i || ' 복습', 'bench', %(day)s::date - (15 + (i * 7919) %% 715)::int, "
            "%(ladder)s, CASE WHEN i >= %(due)s AND i %% 4 = 0 THEN %(day)s::date END, %(day)s, %(day)s "
            "FROM generate_series(0::bigint, %(n)s - 1) AS i",
            {"day": day, "ladder": ladder_text, "due": due_count, "n": notes_count},
        )
        conn.execute("SELECT setval('notes_id_seq', greatest(%s, 1))", (notes_count,))
        conn.execute(
            'INSERT INTO reviews (note_id, "offset", extra, due_on, done_on) '
            "SELECT n.id, s.offs, false, n.first_studied_on + s.offs, "
            "CASE WHEN n.id <= %(due)s AND s.idx >= 2 THEN NULL ELSE n.first_studied_on + s.offs END "
            f"FROM notes AS n CROSS JOIN (VALUES {stages}) AS s(idx, offs)",
            {"due": due_count},
        )
        # The pending extra review: the first one for a due note, the next one after ``day`` for the others
        # (schedule.first_extra_offset / next_extra_offset, in SQL).
        conn.execute(
            'INSERT INTO reviews (note_id, "offset", extra, due_on, done_on) '
            "SELECT id, x.offs, true, first_studied_on + x.offs, NULL FROM notes, LATERAL (SELECT CASE "
            "WHEN id <= %(due)s THEN %(first)s "
            "ELSE %(last)s + greatest(1, (%(day)s::date - first_studied_on - %(last)s) / %(every)s + 1) * %(every)s "
            "END AS offs) AS x WHERE long_term_on IS NULL",
            {"due": due_count, "first": last + every, "last": last, "every": every, "day": day},
        )
        conn.commit()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE notes")
        conn.execute("VACUUM ANALYZE reviews")


def pg_database(server_url: str, name: str, drop: bool = False) -> str:
    """Create (or drop) the scratch database ``name`` on the server of ``server_url``; its URL."""
    import psycopg

    admin = server_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def filled_store(
    name: str, notes_count: int, due_count: int, *, folder: Path, database: str | None = None, day: date = BENCH_DAY
) -> Iterator[str]:
    """The URL of a store filled for a benchmark (fill_store, fill_pg_store): the SQLite file ``name``.db in
    ``folder``, or with ``database`` (a PostgreSQL server's URL) a scratch database ``name`` there; removed
    (dropped) afterwards."""
    if database:
        url = pg_database(database, name)
        fill_pg_store(url, notes_count, due_count, day=day)
    else:
        path = folder / f"{name}.db"
        url = f"sqlite:///{path}"
        fill_store(path, notes_count, due_count, day=day)
    try:
        yield url
    finally:
        if database:
            pg_database(database, name, drop=True)
        else:
            for leftover in folder.glob(f"{name}.db*"):  # the file, its WAL and shared memory
                leftover.unlink()

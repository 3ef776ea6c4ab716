"""Benchmark: syncing a generated Obsidian vault of 10k study notes into a fresh store, then re-syncing it unchanged.

The notes are the learner's seed note with its first-study date, subject and flags varied, in nested folders with
Korean names and spaces (과목 07/3장 오브젝트/...). Figures: the first sync in this process and as a command
(`reminder sync` on a fresh store), how long the in-process first sync held a SQLite store's write lock (its
longest hold and all of them), the unchanged re-sync; baselines measured in the same run: the bare
interpreter, `reminder --version`, reading the files, and the floor of any sync (reading, hashing and splitting
off the frontmatter of every file).

    python bench/vault.py [--notes 10000] [--runs 5] [--dir DIR] [--database URL] [--modes both] [--json]

With ``--database URL`` (a PostgreSQL server) each store is a scratch database on that server, made for the run and
dropped after it; the baselines stay the same files read by the same interpreter.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DAY,
    EXTRA_EVERY,
    LADDER,
    baselines,
    emit,
    machine,
    pg_database,
    reminder_cmd,
    spread,
    timed_calls,
    timed_child,
    timed_command,
)
from sqlalchemy import event

from reminder.db import Store, open_store
from reminder.vault import SyncReport, add_vault, examine, sync_vault

SEED = Path(__file__).resolve().parents[1] / "tests" / "data" / "kubernetes-3.2-objects.md"
SUBJECTS = ["Kubernetes", "네트워크", "운영체제", "데이터베이스", "알고리즘", "English", "선형대수", "Docker"]


def generate(root: Path, count: int) -> None:
    """``count`` seed-like notes under ``root``, about 100 per folder, three folders deep."""
    seed = SEED.read_text(encoding="utf-8")
    for i in range(count):
        subject = SUBJECTS[i % len(SUBJECTS)]
        first = BENCH_DAY - timedelta(days=1 + (i * 7919) % 700)
        done = i % 5  # how many of the four stages are ticked (4 = all, and then some are long-term)
        text = re.sub(r"(?m)^❕첫 학습날: .*$", f"❕첫 학습날: {first.isoformat()}", seed, count=1)
        text = re.sub(r"(?m)^❕과목: .*$", f"❕과목: {subject}", text, count=1)
        for n, key in enumerate(["❤1일복습여부", "🧡4일복습여부", "💛7일복습여부", "💚14일복습여부"]):
            text = re.sub(rf"(?m)^{key}: .*$", f"{key}: {'true' if n < done else 'false'}", text, count=1)
        text = re.sub(r"(?m)^🧠장기기억: .*$", f"🧠장기기억: {'true' if i % 10 == 4 else 'false'}", text, count=1)
        folder = root / f"과목 {i % 10:02d} {subject}" / f"{(i // 10) % 10}장 오브젝트" / f"절 {(i // 100) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"노트 {i:05d} 복습.md").write_text(text + f"\n메모 {i}\n", encoding="utf-8")
    (root / ".obsidian").mkdir(exist_ok=True)
    (root / ".obsidian" / "app.json").write_text("{}", encoding="utf-8")
    # Files last edited an hour ago: the sync re-reads files modified within a second of its previous run (racily
    # clean ones), which only a vault generated the instant before would be.
    old = time.time_ns() - 3600 * 10**9
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), ns=(old, old))


PG_NAME = "reminder_bench_vault"


def fresh_store(folder: Path, root: Path, write_back: bool, server: str | None = None) -> tuple[Store, int]:
    """A new empty store with the vault registered: a file in ``folder``, or a fresh database on ``server``."""
    if server:
        store = open_store(pg_database(server, PG_NAME), auto_upgrade=True)
    else:
        store = open_store(f"sqlite:///{folder / f'store-{time.time_ns()}.db'}")
    with store.write() as session:
        vault_id = add_vault(session, root, "study", write_back).id
    return store, vault_id


def sync(store: Store, vault_id: int) -> SyncReport:
    return sync_vault(store, vault_id, today=BENCH_DAY, ladder=LADDER, extra_every=EXTRA_EVERY)


class WriteLock:
    """How long each of a SQLite store's write transactions held its write lock: from BEGIN IMMEDIATE to COMMIT
    or ROLLBACK, while a phone press or a command waits (on PostgreSQL writers wait only on the rows they share)."""

    def __init__(self, store: Store) -> None:
        self.holds: list[float] = []
        self._began: dict[int, float] = {}
        event.listen(store.engine, "begin", self._begin)
        event.listen(store.engine, "commit", self._end)
        event.listen(store.engine, "rollback", self._end)

    def _begin(self, conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_write", False):
            self._began[id(conn)] = time.perf_counter()

    def _end(self, conn: Any) -> None:
        began = self._began.pop(id(conn), None)
        if began is not None:
            self.holds.append(time.perf_counter() - began)


# The floor of any first sync: every file read, hashed and its frontmatter split off, nothing parsed or stored.
FLOOR = """
import hashlib, os, sys
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        data = open(os.path.join(d, f), "rb").read()
        hashlib.sha256(data).hexdigest()
        data.split(b"\\n---", 1)[0].decode("utf-8", "replace").splitlines()
"""


# `reminder` with every file read in its own process (no file workers), for the baseline.
ONE_PROCESS = """
import sys
from reminder.vault import examine
examine.POOL_FROM = 1 << 62
from reminder.cli import main
sys.argv[0] = "reminder"
main()
"""


def cpu_seconds() -> float:
    """User and system CPU time of this process and of its children that have ended (the sync's file workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def worker_rss_mb(root: Path) -> float:
    """Peak RSS of one file worker examining a chunk of the vault's notes (its interpreter, the parsers, a chunk)."""
    paths = sorted(str(p) for p in root.rglob("*.md"))[:64]
    settings = examine.Settings(BENCH_DAY, frozenset(), False, frozenset())
    tasks = [examine.Task(path, os.path.relpath(path, root), None, False) for path in paths]
    # VmHWM, not ru_maxrss: the latter would count this script's pages, which the child held until it exec'd.
    code = (
        "import re, runpy, sys; runpy.run_module('reminder.vault.examine', run_name='__main__'); "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1], file=sys.stderr)"
    )
    feed = pickle.dumps(settings) + pickle.dumps(tasks)
    proc = subprocess.run([sys.executable, "-c", code], input=feed, capture_output=True, check=True)
    return round(int(proc.stderr.split()[-1]) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", help="where to build the vault and stores (default: a temporary folder)")
    parser.add_argument("--database", metavar="URL", help="a PostgreSQL server to build the stores on")
    parser.add_argument(
        "--modes", choices=("both", "read-only", "write-back"), default="both", help="which syncs to time"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result: dict = {"benchmark": "vault", "machine": machine(), "notes": args.notes, "runs": args.runs}
    result["store"] = "postgresql" if args.database else "sqlite"
    server = args.database
    modes = {"both": (False, True), "read-only": (False,), "write-back": (True,)}[args.modes]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        root = folder / "study vault"
        t0 = time.perf_counter()
        generate(root, args.notes)
        result["generate_s"] = round(time.perf_counter() - t0, 1)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")},
            "REMINDER_TIMEZONE": "Asia/Seoul",
            "REMINDER_CONFIG": str(folder / "none.toml"),
            "REMINDER_LADDER": ",".join(map(str, LADDER)),
        }
        result["baseline"] = baselines(args.runs, env, files=root)
        result["baseline"]["read + hash + split every file"] = timed_command(
            [sys.executable, "-c", FLOOR, str(root)], args.runs, env
        )
        for write_back in modes:
            firsts, cpus, longest, held = [], [], [], []
            for _ in range(args.runs):
                store, vault_id = fresh_store(folder, root, write_back, server)
                lock = WriteLock(store)
                start, cpu = time.perf_counter(), cpu_seconds()
                report = sync(store, vault_id)
                firsts.append(time.perf_counter() - start)
                cpus.append(cpu_seconds() - cpu)
                if lock.holds:
                    longest.append(max(lock.holds))
                    held.append(sum(lock.holds))
                assert report.added == args.notes and not report.skipped, report
                store.dispose()
                if write_back:  # the next first sync starts from the vault as the learner wrote it
                    generate(root, args.notes)
            store, vault_id = fresh_store(folder, root, write_back, server)
            sync(store, vault_id)

            def resync(store: Store = store, vault_id: int = vault_id) -> None:
                report = sync(store, vault_id)
                assert report.unchanged == args.notes and report.changed == 0, report

            mode = "write-back" if write_back else "read-only"
            # The CPU time is this process's and its file workers': on PostgreSQL the server's work is in the wall
            # time only.
            result[f"first sync, in process ({mode})"] = {
                **spread(firsts),
                "cpu_ms": round(statistics.median(cpus) * 1000, 1),
            }
            if longest:  # SQLite: what a phone press would wait for at worst, and the lock's total
                result[f"first sync, longest write-lock hold ({mode})"] = spread(longest)
                result[f"first sync, write lock held in all ({mode})"] = spread(held)
            result[f"unchanged re-sync ({mode})"] = timed_calls(resync, args.runs)
            store.dispose()
            if write_back:
                generate(root, args.notes)

        # As a command: `reminder sync` into a fresh store each run (the store made and the vault registered
        # beforehand, outside the timing); and, as the baseline of the file workers, the same command with the
        # files read in its own process alone. The CPU time includes the workers'; the peak RSS is the command's
        # own process (each worker's is given apart).
        commands = {
            "first sync, reminder sync command": reminder_cmd(),
            "first sync, reminder sync command, no file workers": [sys.executable, "-c", ONE_PROCESS],
        }
        for name, command in commands.items():
            walls, cpus, peaks = [], [], []
            for _ in range(args.runs):
                store, _vault_id = fresh_store(folder, root, False, server)
                url = store.engine.url.render_as_string(hide_password=False)
                store.dispose()
                wall, peak, code, cpu = timed_child([*command, "--database", url, "sync"], env)
                assert code == 0, f"reminder sync exited {code}"
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(peak)
            result[name] = {
                **spread(walls),
                "cpu_ms": round(sorted(cpus)[len(cpus) // 2] * 1000),
                "rss_mb": round(sorted(peaks)[len(peaks) // 2] / 1024, 1),
            }
        result["file workers"] = {"workers": examine.workers_for(args.notes), "rss_mb_each": worker_rss_mb(root)}
        floor = result["baseline"]["read + hash + split every file"]["median_ms"]
        result["command / floor"] = round(result["first sync, reminder sync command"]["median_ms"] / floor, 2)
        # Other work on the machine slows every figure above: say how busy it was.
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        if server:
            pg_database(server, PG_NAME, drop=True)
    emit(result, args.json)


if __name__ == "__main__":
    main()

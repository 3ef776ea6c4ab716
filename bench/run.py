"""Benchmark: `reminder run --once` on a store of 1M notes with about 1k due, against a loopback ntfy server;
and the idle `reminder run` service with a vault of 1k notes registered (memory, wake-ups).

    python bench/run.py [--notes 1000000] [--due 1000] [--runs 5] [--idle 30] [--vault-notes 1000] [--json]
    python bench/run.py --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres ...

Figures: wall time, CPU time and peak RSS of `run --once`, beside the baselines (bare interpreter,
`reminder --version`) measured in the same run; the idle service's RSS (its whole process tree) and how often
it wakes. With ``--database`` the store is a scratch PostgreSQL database on that server, filled server-side and
dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import (
    baselines,
    emit,
    filled_store,
    machine,
    reminder_cmd,
    spread,
    timed_child,
)
from ntfy_server import FakeNtfy
from vault import generate

ZONE = "Asia/Seoul"


def ctx_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "status").read_text()
        total += sum(int(n) for n in re.findall(r"_ctxt_switches:\s+(\d+)", text))
    return total


def tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and its children (a child at work would be part of the service's memory)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
        pids += [int(c) for c in children]
    return total


def clear_slots(url: str) -> None:
    """A fresh slot for each run: the last one is already claimed."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("DELETE FROM outbox")
            conn.execute("DELETE FROM slots")
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("DELETE FROM outbox")
        conn.execute("DELETE FROM slots")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch the idle service")
    parser.add_argument("--vault-notes", type=int, default=1000, help="notes in the vault the idle service has")
    parser.add_argument("--database", metavar="URL", help="a PostgreSQL server to build the store on")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    today = datetime.now(ZoneInfo(ZONE)).date()
    result: dict = {"benchmark": "run", "machine": machine(), "notes": args.notes, "due": args.due, "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp, FakeNtfy() as server, contextlib.ExitStack() as stack:
        t0 = time.perf_counter()
        # Removed (or dropped) by the stack whatever happens: a scratch database must not outlive a failed run.
        where = {"folder": Path(tmp), "database": args.database, "day": today}
        url = stack.enter_context(filled_store("reminder_bench_run", args.notes, args.due, **where))
        result["store"] = {
            "kind": "postgresql" if args.database else "sqlite",
            "fill_s": round(time.perf_counter() - t0, 1),
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")},
            "REMINDER_DATABASE_URL": url,
            "REMINDER_TIMEZONE": ZONE,
            "REMINDER_CONFIG": str(Path(tmp) / "none.toml"),
            "REMINDER_NTFY_SERVER": server.url,
            "REMINDER_NTFY_TOPIC": "bench",
            "REMINDER_CRON": "* * * * *",
        }
        result["baseline"] = baselines(args.runs, env)
        walls, cpus, peaks = [], [], []
        for _ in range(args.runs):
            clear_slots(url)
            before = len(server.messages("bench"))
            wall, peak, code, cpu = timed_child([*reminder_cmd(), "run", "--once"], env)
            assert code == 0, f"run --once exited {code}"
            assert len(server.messages("bench")) == before + 1, "run --once did not deliver its digest"
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        digest = server.messages("bench")[-1]
        result["reminder run --once"] = {
            **spread(walls),
            "cpu_ms": round(sorted(cpus)[len(cpus) // 2] * 1000),
            "rss_mb": round(sorted(peaks)[len(peaks) // 2] / 1024, 1),
            "digest_title": digest["title"],
        }

        # The idle service: a daily slot far away, nothing pending, a vault of the learner's notes registered.
        vault_root = Path(tmp) / "vault"
        generate(vault_root, args.vault_notes)
        subprocess.run(
            [*reminder_cmd(), "vault", "add", str(vault_root), "--name", "study"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        idle_env = {**env, "REMINDER_CRON": "0 8 * * *"}
        log = Path(tmp) / "idle.log"
        with log.open("w") as fh:
            proc = subprocess.Popen([*reminder_cmd(), "run"], env=idle_env, stdout=fh, stderr=fh)
        try:
            deadline = time.monotonic() + 120
            while "event=sleep" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "event=sync" in log.read_text(), "the idle service did not sync its vault"
            time.sleep(1)
            switches0, t0 = ctx_switches(proc.pid), time.monotonic()
            time.sleep(args.idle)
            switches = ctx_switches(proc.pid) - switches0
            elapsed = time.monotonic() - t0
            rss = tree_rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        sleeps = [float(s) for s in re.findall(r"event=sleep seconds=([\d.]+)", log.read_text())]
        longest = max(sleeps) if sleeps else 0.0
        result["idle reminder run"] = {
            "vault_notes": args.vault_notes,
            "rss_mb": round(rss / 1024, 1),
            "watched_s": round(elapsed),
            "context_switches": switches,
            "longest_sleep_s": longest,
            "wakeups_per_hour_at_most": round(3600 / longest, 1) if longest else None,
        }
    emit(result, args.json)


if __name__ == "__main__":
    main()

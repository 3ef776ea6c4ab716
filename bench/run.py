"""Benchmark: `reminder run --once` on a store of 1M notes with about 1k due, against a loopback ntfy server;
and the idle `reminder run` service (memory, wake-ups).

    python bench/run.py [--notes 1000000] [--due 1000] [--runs 5] [--idle 30]

Figures: median wall time and peak RSS of `run --once` (targets < 1 s, < 150 MB), beside `reminder --version`
as the baseline cost of starting the command; the idle service's RSS (target < 60 MB) and how often it wakes.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import fill_store, machine, reminder_cmd, timed_child
from ntfy_server import FakeNtfy

ZONE = "Asia/Seoul"


def ctx_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "status").read_text()
        total += sum(int(n) for n in re.findall(r"_ctxt_switches:\s+(\d+)", text))
    return total


def rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch the idle service")
    args = parser.parse_args()
    today = datetime.now(ZoneInfo(ZONE)).date()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp, FakeNtfy() as server:
        db = Path(tmp) / "run.db"
        t0 = time.perf_counter()
        fill_store(db, args.notes, args.due, day=today)
        print(f"store: {args.notes} notes, {args.due} due on {today} (filled in {time.perf_counter() - t0:.1f} s)\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")},
            "REMINDER_DATABASE_URL": f"sqlite:///{db}",
            "REMINDER_TIMEZONE": ZONE,
            "REMINDER_CONFIG": str(Path(tmp) / "none.toml"),
            "REMINDER_NTFY_SERVER": server.url,
            "REMINDER_NTFY_TOPIC": "bench",
            "REMINDER_CRON": "* * * * *",
        }
        base = [timed_child([*reminder_cmd(), "--version"], env) for _ in range(args.runs)]
        once = []
        for _ in range(args.runs):
            with sqlite3.connect(db) as conn:  # a fresh slot each run: the last one is already claimed
                conn.execute("DELETE FROM outbox")
                conn.execute("DELETE FROM slots")
            before = len(server.messages("bench"))
            wall, peak, code, _ = timed_child([*reminder_cmd(), "run", "--once"], env)
            assert code == 0, f"run --once exited {code}"
            assert len(server.messages("bench")) == before + 1, "run --once did not deliver its digest"
            once.append((wall, peak))
        digest = server.messages("bench")[-1]
        print(f"run --once, median of {args.runs}:")
        print(
            f"  reminder --version (baseline)   {statistics.median(w for w, _, _ in base) * 1000:8.0f} ms"
            f"  {statistics.median(p for _, p, _ in base) / 1024:6.1f} MB peak"
        )
        print(
            f"  reminder run --once             {statistics.median(w for w, _ in once) * 1000:8.0f} ms"
            f"  {statistics.median(p for _, p in once) / 1024:6.1f} MB peak   (targets < 1000 ms, < 150 MB)"
        )
        print(f"  digest: {digest['title']!r}, {len(digest['message'].encode())} bytes of text\n")

        # The idle service: a daily slot far away, nothing pending.
        idle_env = {**env, "REMINDER_CRON": "0 8 * * *"}
        log = Path(tmp) / "idle.log"
        with log.open("w") as fh:
            proc = subprocess.Popen([*reminder_cmd(), "run"], env=idle_env, stdout=fh, stderr=fh)
        try:
            deadline = time.monotonic() + 60
            while "event=sleep" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)
            switches0, t0 = ctx_switches(proc.pid), time.monotonic()
            time.sleep(args.idle)
            switches = ctx_switches(proc.pid) - switches0
            elapsed = time.monotonic() - t0
            rss = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        sleeps = [float(s) for s in re.findall(r"event=sleep seconds=([\d.]+)", log.read_text())]
        longest = max(sleeps) if sleeps else 0.0
        print(f"idle `reminder run` (daily slot, nothing pending), watched {elapsed:.0f} s:")
        print(f"  RSS                       {rss / 1024:6.1f} MB   (target < 60 MB)")
        print(f"  context switches          {switches} in {elapsed:.0f} s (all threads)")
        print(
            f"  sleeps asked for          {len(sleeps)}, each up to {longest:.0f} s: at most "
            f"{3600 / longest if longest else float('nan'):.1f} wake-ups an hour between slots"
        )


if __name__ == "__main__":
    main()

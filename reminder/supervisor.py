"""`reminder run` as a small parent process that sleeps, and a short-lived child per wake that does the work.

A slot's work (vault sync, due query, digest, sends) needs SQLAlchemy, the YAML parser and requests; once
imported they stay in a long-lived process (30+ MB), and a sync leaves freed memory behind. So the service's
parent imports none of them: at each wake it runs `reminder run --step` (the same settings, the last slot it
processed), which does one Runner.step, prints the time to sleep as JSON and exits, handing all its memory back
to the system. The parent sleeps that long and starts the next child.

Signals: SIGTERM/SIGINT set the parent's stop event; a child at work gets the SIGTERM forwarded, finishes its
send in flight (its own stop event) and exits, then the parent exits 0. A child that fails is logged and the
parent tries again a minute later; one that fails at the very first wake with a user error (a store that cannot
be opened, exit 2) ends the service with the same status, its one-line message already on stderr.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from reminder.events import log_event, runner_name

RETRY_AFTER_FAILURE = 60.0
POLL = 0.2  # how often a waiting parent looks at its stop event while a child works


def step_argv(global_args: Sequence[str], last_key: str | None) -> list[str]:
    return [sys.executable, "-m", "reminder", *global_args, "run", "--step", "--last-key", last_key or ""]


def run_step(argv: list[str], stop: threading.Event) -> tuple[int, str]:
    """Run one child to its end, forwarding a stop as SIGTERM; (exit status, its standard output)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    forwarded = False
    while True:
        try:
            out, _ = proc.communicate(timeout=POLL)
            return proc.returncode, out
        except subprocess.TimeoutExpired:
            if stop.is_set() and not forwarded:
                proc.send_signal(signal.SIGTERM)
                forwarded = True


def supervise(
    global_args: Sequence[str],
    stop: threading.Event,
    *,
    cron: str,
    timezone: str,
    wait: Callable[[threading.Event, float], bool] | None = None,
) -> int:
    """Until ``stop`` is set: a child does one step, the parent sleeps as long as it says. The exit status."""
    waiter = wait or (lambda event, seconds: event.wait(seconds))
    log_event("start", runner=runner_name(), cron=cron, timezone=timezone, mode="child-per-wake")
    last_key: str | None = None
    first = True
    while not stop.is_set():
        code, out = run_step(step_argv(global_args, last_key), stop)
        if stop.is_set():
            break
        try:
            answer = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
        except (ValueError, IndexError):
            answer = None
        if answer is None:
            if first and code == 2:
                return 2
            log_event("step", level=logging.ERROR, result="failed", status=code, retry_in=RETRY_AFTER_FAILURE)
            delay = RETRY_AFTER_FAILURE
        else:
            last_key, delay = answer["key"], float(answer["delay"])
        first = False
        until = datetime.now(UTC) + timedelta(seconds=delay)
        log_event("sleep", seconds=round(delay, 1), until=until.isoformat())
        waiter(stop, max(delay, 0.05))
    log_event("stop", runner=runner_name())
    return 0

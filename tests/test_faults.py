"""Fault injection: `reminder run --once` killed with SIGKILL at every point of a delivery, then recovered.

Each trial is a real `python -m reminder run --once` process on its own store and topic, against the loopback
ntfy server slowed to 0.3 s an answer, killed with SIGKILL:
- at a named point of the code (before the claim, inside the claiming transaction while the outbox row is being
  written, after the row is marked ``sending``, just before the publish request, after ntfy answered but before
  the answer is recorded). ``REMINDER_TEST_FAULTS`` makes ``reminder.runner.fault_point`` print the point's name
  and hold there, so the kill lands exactly at that point and not merely near it; without the variable the hook
  does nothing;
- while the publish request is in flight (the server holding its answer: the message is stored, the answer
  never arrives), a random 0-0.25 s after the server got it;
- at a random time after the start, with no hook at all.
Then a runner recovers the store (in this process, its clock moved past the stuck-row limit, as a restarted
service would be) and the server is asked how many digests the topic holds: exactly one each time, none lost
and none doubled. On PostgreSQL two runners recover each killed store at the same time.

On SQLite `run --once` takes the light ledger (sqlite3, reminder.ledger) and is recovered by a runner on it, as a
timer's next `run --once` would be; named with a connection option the same file goes through SQLAlchemy, and a
runner on the store recovers it. Both are tried.

Trial counts: 56 kills on SQLite on each path (8 at each of the seven points), 2 read timeouts and 2 cut answers
of a real `run --once` on each path, 12 kills on PostgreSQL each recovered by two runners at once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from ntfy_server import FakeNtfy
from setups import LEDGERS, make_runner
from sqlalchemy import delete, select

from reminder import notes
from reminder.config import load_settings
from reminder.db import Store, open_store
from reminder.db.models import Outbox, Slot
from reminder.ntfy import NtfyClient
from reminder.runner import FAULT_ENV, STUCK_AFTER

POINTS = ("before-claim", "outbox", "claimed", "publish", "answered", "in-flight", "random-time")
# A yearly slot: the process and the recovering runner, minutes apart, always see the same slot.
CRON = "0 0 1 1 *"
HOLD = 0.3


@pytest.fixture(scope="module")
def slow_server() -> Iterator[FakeNtfy]:
    with FakeNtfy() as server:
        server.slow(HOLD)
        yield server
        errors = server.internal_errors
    assert not errors, "the fake ntfy server failed:\n" + "\n".join(errors)


def _env(url: str, server: FakeNtfy, topic: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")}
    env.update(
        {
            "HOME": str(home),
            "REMINDER_CONFIG": str(home / "none.toml"),
            "REMINDER_DATABASE_URL": url,
            "REMINDER_NTFY_SERVER": server.url,
            "REMINDER_NTFY_TOPIC": topic,
            "REMINDER_TIMEZONE": "Asia/Seoul",
            "REMINDER_CRON": CRON,
        }
    )
    return env


def _seed(store: Store) -> None:
    with store.write() as s:
        notes.add_note(
            s, title="Kubernetes 3.2 오브젝트", first_studied_on=date(2024, 7, 7), today=date(2024, 7, 12),
            ladder=(1, 4, 7, 14), extra_every=30,
        )  # fmt: skip


def _kill_run_once(
    env: dict[str, str], point: str, server: FakeNtfy, topic: str, rng: random.Random
) -> tuple[bool, str]:
    """Start `run --once`, SIGKILL it at ``point``; return whether it got there, and its last output."""
    if point not in ("in-flight", "random-time"):
        env = {**env, FAULT_ENV: f"{point}:30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reminder", "run", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    reached = True
    try:
        if point == "random-time":
            time.sleep(rng.uniform(0.0, 3.0))
        elif point == "in-flight":
            deadline = time.monotonic() + 60
            body = f'"topic":"{topic}"'.encode()
            while not any(r.method == "POST" and body in r.body for r in server.requests):
                if proc.poll() is not None or time.monotonic() > deadline:
                    reached = False
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, HOLD * 0.8))
        else:
            assert proc.stderr is not None
            reached = False
            for line in proc.stderr:
                seen.append(line)
                if f"fault-point {point}" in line:
                    reached = True
                    break
            time.sleep(rng.uniform(0.0, 0.05))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return reached, "".join(seen[-5:])


def _run_url(url: str, ledger: str) -> str:
    """The URL `run --once` is given: the plain SQLite file takes the light ledger, one with a connection option
    goes through the store (reminder.ledger.light_ledger)."""
    return url + "?timeout=30" if ledger == "store" and url.startswith("sqlite") else url


def _recover(url: str, server: FakeNtfy, topic: str, home: Path, runners: int = 1, ledger: str = "store") -> list[str]:
    """What a restarted service (or a timer's next `run --once`) does, ``runners`` at once: the latest slot,
    then the outbox."""
    settings = load_settings(environ=_env(url, server, topic, home), config_path=home / "none.toml")
    later = datetime.now(UTC) + STUCK_AFTER + timedelta(minutes=1)
    barrier = threading.Barrier(runners)
    statuses: list[str] = []

    def one(index: int) -> None:
        store = open_store(url)
        try:
            with NtfyClient(server.url) as client:
                runner = make_runner(ledger, store, settings, client, clock=lambda: later, name=f"recover-{index}")
                barrier.wait()
                runner.process_slot(runner.current_slot())
                statuses.extend(o.status for o in runner.dispatch())
        finally:
            store.dispose()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return statuses


def _outbox(url: str) -> list[str]:
    store = open_store(url)
    try:
        with store.read() as s:
            return list(s.scalars(select(Outbox.status).order_by(Outbox.id)))
    finally:
        store.dispose()


def _sqlite_trial(
    tmp_path: Path, server: FakeNtfy, index: int, point: str, seed: int, ledger: str
) -> tuple[int, str, bool, str]:
    rng = random.Random(seed)
    topic = f"faults-{ledger}-{index}"
    home = tmp_path / f"trial-{index}"
    home.mkdir()
    url = f"sqlite:///{home / 'r.db'}"
    store = open_store(url)
    _seed(store)
    store.dispose()
    reached, printed = _kill_run_once(_env(_run_url(url, ledger), server, topic, home), point, server, topic, rng)
    assert server.wait_idle(), "the server is still holding an answer"
    _recover(url, server, topic, home, ledger=ledger)
    return len(server.messages(topic)), point, reached, f"outbox={_outbox(url)} last output={printed!r}"


@pytest.mark.parametrize("ledger", LEDGERS)
def test_sigkill_at_every_point_loses_and_doubles_nothing(tmp_path: Path, slow_server: FakeNtfy, ledger: str) -> None:
    plan = [
        (i, POINTS[i % len(POINTS)], seed) for i, seed in enumerate(random.Random(20261201).sample(range(1 << 30), 56))
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: _sqlite_trial(tmp_path, slow_server, *job, ledger=ledger), plan))
    missed = [(point, detail) for _, point, reached, detail in results if not reached]
    assert missed == [], "the kill did not land where it was meant to"
    wrong = [(point, count, detail) for count, point, _, detail in results if count != 1]
    assert wrong == [], f"{len(wrong)} of {len(results)} trials did not deliver exactly one digest"
    assert {point for _, point, _, _ in results} == set(POINTS)


@pytest.mark.parametrize("ledger", LEDGERS)
@pytest.mark.parametrize("trial", [1, 2])
@pytest.mark.parametrize("fault", ["read-timeout", "cut-answer"])
def test_run_once_whose_answer_is_lost_delivers_once(tmp_path: Path, fault: str, trial: int, ledger: str) -> None:
    with FakeNtfy() as server:
        topic = f"lost-{fault}-{trial}"
        url = f"sqlite:///{tmp_path / 'r.db'}"
        store = open_store(url)
        _seed(store)
        store.dispose()
        if fault == "read-timeout":
            server.slow(7, after_store=True)  # stored at once; the answer comes after run --once's 6 s timeout
        else:
            server.cut_answers(1)
        env = _env(_run_url(url, ledger), server, topic, tmp_path)
        proc = subprocess.run(
            [sys.executable, "-m", "reminder", "run", "--once"], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 1  # the send did not succeed as far as it knows: it stays pending
        server.slow(0)
        assert server.wait_idle()
        assert _outbox(url) == ["pending"]
        _recover(url, server, topic, tmp_path, ledger=ledger)  # the retry, after its backoff
        assert len(server.messages(topic)) == 1
        assert sum(1 for r in server.requests if r.method == "POST") == 1  # looked up, not sent again
        assert _outbox(url) == ["sent"]


@pytest.mark.postgres
def test_sigkill_on_postgresql_with_two_runners_recovering(tmp_path: Path, pg_url: str, slow_server: FakeNtfy) -> None:
    store = open_store(pg_url, auto_upgrade=True)
    _seed(store)
    store.dispose()
    rng = random.Random(7)
    results = []
    points = ("outbox", "claimed", "publish", "answered", "in-flight", "random-time")
    for index in range(12):
        point = points[index % len(points)]
        topic = f"pg-faults-{index}"
        home = tmp_path / f"pg-{index}"
        home.mkdir()
        reached, printed = _kill_run_once(_env(pg_url, slow_server, topic, home), point, slow_server, topic, rng)
        assert reached, (point, printed)
        assert slow_server.wait_idle()
        _recover(pg_url, slow_server, topic, home, runners=2)
        results.append((point, len(slow_server.messages(topic)), _outbox(pg_url), printed))
        store = open_store(pg_url)
        with store.write() as s:  # the next trial starts from a store whose slot is not claimed yet
            s.execute(delete(Outbox))
            s.execute(delete(Slot))
        store.dispose()
    wrong = [r for r in results if r[1] != 1]
    assert wrong == [], f"{len(wrong)} of {len(results)} PostgreSQL trials did not deliver exactly one digest"

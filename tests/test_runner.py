"""The runner end to end: real store, real loopback ntfy server, freezegun for the calendar.

The loop's sleep is replaced by a wait that moves frozen time forward by the requested amount, so a week of
daily slots runs in well under a second and every wake-up the runner asks for is visible to the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from ntfy_server import FakeNtfy
from setups import RACING, make_runner
from setups import add_note as add
from setups import runner_settings as make_settings
from sqlalchemy import func, select

from reminder import notes
from reminder.config import Settings
from reminder.db import Store, open_store
from reminder.db.models import Outbox, Slot
from reminder.ntfy import NtfyAuth, NtfyClient
from reminder.runner import Runner


def mark_all_due_done(store: Store, day: date) -> None:
    with store.write() as s:
        for item in notes.due_on(s, day, 30):
            notes.mark_done(s, notes.resolve_note(s, str(item.note_id)), day=day, today=day, extra_every=30)


class Clock:
    """Frozen time that the runner's sleeps move forward; records every sleep asked for."""

    def __init__(self, frozen: Any, until: datetime, on_wake: Callable[[datetime], None] | None = None) -> None:
        self.frozen = frozen
        self.until = until
        self.on_wake = on_wake
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.frozen.tick(timedelta(seconds=seconds))
        if self.now() >= self.until:
            stop.set()
        elif self.on_wake:
            self.on_wake(self.now())
        return stop.is_set()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    yield s
    s.dispose()


def runner_for(ledger: str, store: Store, settings: Settings, clock: Clock | None = None, **kw: Any) -> Runner:
    """A runner on ``ledger`` (setups.make_runner: the tests of the delivery rules run on both)."""
    client = NtfyClient(settings.ntfy_server, NtfyAuth.from_settings(settings))
    now = clock.now if clock else (lambda: datetime.now(UTC))
    return make_runner(ledger, store, settings, client, clock=now, **kw)


def test_a_week_of_daily_slots(ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    # 2024-07-07 23:00 UTC is 08:00 on 07-08 in Seoul: the service starts as the first slot comes.
    with freeze_time("2024-07-07 23:00:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        add(store, "kubectl 명령어", date(2024, 7, 5))
        days_sent: list[date] = []

        def learner(now: datetime) -> None:
            # The learner reviews whatever the phone showed, the same day.
            while len(ntfy_server.messages("study-reviews")) > len(days_sent):
                day = now.astimezone(Seoul).date()
                days_sent.append(day)
                mark_all_due_done(store, day)

        clock = Clock(frozen, until=datetime(2024, 7, 15, 0, 0, tzinfo=UTC), on_wake=learner)
        runner_for(ledger, store, settings, clock).run(threading.Event(), clock.wait)

    messages = ntfy_server.messages("study-reviews")
    # 07-08: D+1 of both (the second one two days late); 07-09: D+4 of kubectl; 07-11: D+4 of Kubernetes;
    # 07-12: D+7 of kubectl; 07-14: D+7 of Kubernetes. Nothing on 07-10 or 07-13: every review was done the day
    # it came, so nothing was left over.
    assert days_sent == [date(2024, 7, d) for d in (8, 9, 11, 12, 14)]
    assert [m["title"] for m in messages] == ["📚 오늘 복습 2개 · 7월 8일 (월)"] + [
        f"📚 오늘 복습 1개 · {day}" for day in ("7월 9일 (화)", "7월 11일 (목)", "7월 12일 (금)", "7월 14일 (일)")
    ]
    assert "D+1" in messages[0]["message"] and "Kubernetes" in messages[0]["message"]
    assert "kubectl" in messages[1]["message"] and "D+4" in messages[1]["message"]
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Slot)) == 8  # 07-08 .. 07-15, each processed once
        assert s.scalars(select(Outbox.status)).all() == ["sent"] * 5
    # It slept until each slot (no polling): about one wake a day, plus the hourly wall-clock check.
    assert len(clock.sleeps) <= 7 * 24 + 8


Seoul = __import__("zoneinfo").ZoneInfo("Asia/Seoul")


def test_undone_reviews_come_back_every_day_in_one_digest(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-07 22:00:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        clock = Clock(frozen, until=datetime(2024, 7, 11, 22, 0, tzinfo=UTC))  # 07:00 on 07-12 in Seoul
        runner_for(ledger, store, settings, clock).run(threading.Event(), clock.wait)
    messages = ntfy_server.messages("study-reviews")
    assert len(messages) == 4  # 07-08 .. 07-11: still due every day until done
    assert "D+4" in messages[-1]["message"]


def test_downtime_processes_only_the_latest_missed_slot(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-08 00:00:00") as frozen:  # 09:00 in Seoul, after the 08:00 slot
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        runner_for(ledger, store, settings).step()
        frozen.move_to("2024-07-11 05:00:00")  # three days later, 14:00: three slots were missed
        restarted = runner_for(ledger, store, settings)
        restarted.step()
        restarted.step()
    with store.read() as s:
        assert s.scalars(select(Slot.local_key).order_by(Slot.id)).all() == ["2024-07-08T08:00", "2024-07-11T08:00"]
    messages = ntfy_server.messages("study-reviews")
    assert len(messages) == 2
    assert "D+4" in messages[1]["message"]  # the catch-up digest lists what is overdue now


def test_server_down_six_hours_delivers_once_after_recovery(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    ntfy_server.down()
    back_at = datetime(2024, 7, 8, 5, 0, tzinfo=UTC)  # 14:00 in Seoul, six hours after the slot

    def outage(now: datetime) -> None:
        if now >= back_at:
            ntfy_server.up()

    with freeze_time("2024-07-07 22:30:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        clock = Clock(frozen, until=datetime(2024, 7, 8, 10, 0, tzinfo=UTC), on_wake=outage)
        runner_for(ledger, store, settings, clock).run(threading.Event(), clock.wait)
    messages = ntfy_server.messages("study-reviews")
    assert len(messages) == 1
    with store.read() as s:
        entry = s.scalars(select(Outbox)).one()
    assert entry.status == "sent" and entry.ntfy_id == messages[0]["id"]
    assert entry.attempts > 3  # retried with backoff during the outage, not once a second
    assert entry.attempts < 40
    assert entry.sent_at >= back_at
    assert entry.sent_at <= back_at + timedelta(minutes=31)  # backoff is capped at 30 min


def test_a_new_digest_supersedes_one_still_waiting(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-08 00:00:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        ntfy_server.fail_with(503)
        runner = runner_for(ledger, store, settings)
        runner.step()
        frozen.move_to("2024-07-09 00:00:00")
        ntfy_server.clear_failures()
        runner.step()
    assert len(ntfy_server.messages("study-reviews")) == 1
    with store.read() as s:
        assert s.scalars(select(Outbox.status).order_by(Outbox.id)).all() == ["superseded", "sent"]


def test_a_waiting_digest_is_dropped_once_its_reviews_are_done(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-08 00:00:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        ntfy_server.fail_with(503)
        runner = runner_for(ledger, store, settings)
        runner.step()
        mark_all_due_done(store, date(2024, 7, 8))  # reviewed anyway (from the CLI) while the server was down
        frozen.move_to("2024-07-09 00:00:00")  # nothing is due on 07-09
        ntfy_server.clear_failures()
        runner.step()
    assert ntfy_server.messages("study-reviews") == []
    with store.read() as s:
        assert s.scalars(select(Outbox.status)).all() == ["superseded"]


@pytest.mark.parametrize(
    ("backend", "ledgers"),
    RACING,
)
def test_two_runners_at_the_same_slot_send_one_notification(
    backend: str, ledgers: tuple[str, str], tmp_path: Path, ntfy_server: FakeNtfy, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    stores = [open_store(url, auto_upgrade=True), open_store(url, auto_upgrade=True)]
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-08 00:00:00"):
        add(stores[0], "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        runners = [runner_for(ledgers[i], s, settings, name=f"runner-{i}") for i, s in enumerate(stores)]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def go(r: Runner) -> None:
            try:
                barrier.wait()
                r.step()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=go, args=(r,)) for r in runners]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors
    assert len(ntfy_server.messages("study-reviews")) == 1
    with stores[0].read() as s:
        assert s.scalar(select(func.count()).select_from(Slot)) == 1
        assert s.scalar(select(func.count()).select_from(Outbox)) == 1
    for s in stores:
        s.dispose()


@pytest.mark.parametrize(
    ("zone", "cron", "start", "end", "days"),
    [
        # Each run starts at noon UTC, after that day's slot: the first digest is the catch-up of that day.
        # 01:30 happens twice on 2025-11-02 in New York (croniter yields both): one digest that day.
        ("America/New_York", "30 1 * * *", "2025-10-31 12:00:00", "2025-11-04 12:00:00", 5),
        # 02:30 does not exist on 2025-03-09 in New York: the slot moves to 03:00, still one digest that day.
        ("America/New_York", "30 2 * * *", "2025-03-07 12:00:00", "2025-03-11 12:00:00", 5),
        ("Europe/Berlin", "0 8 * * *", "2025-03-28 12:00:00", "2025-04-01 12:00:00", 5),
        ("Europe/Berlin", "0 8 * * *", "2025-10-24 12:00:00", "2025-10-28 12:00:00", 5),
    ],
)
def test_daylight_saving_one_digest_per_scheduled_day(
    ledger: str,
    zone: str,
    cron: str,
    start: str,
    end: str,
    days: int,
    tmp_path: Path,
    store: Store,
    ntfy_server: FakeNtfy,
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_TIMEZONE=zone, REMINDER_CRON=cron)
    first = datetime.fromisoformat(start).date() - timedelta(days=60)
    with freeze_time(start) as frozen:
        add(store, "note", first, today=first)  # its ladder is long done: an extra review is due every day
        with store.write() as s:
            notes.mark_done(
                s,
                notes.resolve_note(s, "note"),
                day=first + timedelta(days=14),
                today=first + timedelta(days=14),
                extra_every=30,
            )
        clock = Clock(frozen, until=datetime.fromisoformat(end).replace(tzinfo=UTC))
        runner_for(ledger, store, settings, clock).run(threading.Event(), clock.wait)
    with store.read() as s:
        keys = s.scalars(select(Slot.local_key).order_by(Slot.id)).all()
    local_days = [k[:10] for k in keys]
    assert len(local_days) == len(set(local_days)) == days, keys
    assert len(ntfy_server.messages("study-reviews")) == days


def test_permanent_failure_is_recorded_once_not_retried(ledger: str, tmp_path: Path, store: Store, run_cli) -> None:  # type: ignore[no-untyped-def]
    with FakeNtfy(tokens={"tk_" + "a" * 29}) as server:
        settings = make_settings(tmp_path, server, REMINDER_NTFY_TOKEN="tk_" + "b" * 29)
        with freeze_time("2024-07-08 00:00:00") as frozen:
            add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
            runner = runner_for(ledger, store, settings)
            runner.step()
            frozen.tick(timedelta(hours=3))
            runner.step()
        publishes = [r for r in server.requests if r.method == "POST"]
        assert len(publishes) == 1
    with store.read() as s:
        entry = s.scalars(select(Outbox)).one()
    assert entry.status == "failed"
    assert "refused the credentials (401)" in (entry.last_error or "")
    assert "b" * 29 not in (entry.last_error or "")


def test_crash_between_send_and_record_does_not_resend(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-08 00:00:00") as frozen:
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        runner = runner_for(ledger, store, settings)
        runner.process_slot(runner.current_slot())
        # Simulate a crash after ntfy took the message but before the answer was recorded.
        with store.write() as s:
            entry = s.scalars(select(Outbox)).one()
            entry.status, entry.attempts, entry.next_attempt_at = "sending", 1, datetime(2024, 7, 8)
            payload = entry.payload
        import json

        published = NtfyClient(ntfy_server.url).publish(json.loads(payload))
        fresh = runner_for(ledger, store, settings)
        fresh.dispatch()  # a row this young may be another runner's send in progress: left alone
        assert len(ntfy_server.messages("study-reviews")) == 1
        with store.read() as s:
            assert s.scalars(select(Outbox.status)).one() == "sending"
        frozen.tick(timedelta(minutes=3))
        fresh.dispatch()
    assert len(ntfy_server.messages("study-reviews")) == 1
    with store.read() as s:
        entry = s.scalars(select(Outbox)).one()
    assert (entry.status, entry.ntfy_id) == ("sent", published.id)


def test_a_store_error_does_not_end_the_service(tmp_path: Path, ntfy_server: FakeNtfy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The store locked by another writer beyond its busy timeout (or PostgreSQL restarting) at a wake: the
    exception used to leave Runner.run, ending `reminder run --serve` (the container's service) with a traceback.
    Now the wake is logged as failed and tried again a minute later, and the slot still goes out."""
    import sqlite3

    import reminder.db

    monkeypatch.setattr(reminder.db, "SQLITE_BUSY_TIMEOUT_MS", 50)  # the lock below is met at once, not in 10 s
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}")
    settings = make_settings(tmp_path, ntfy_server)
    with freeze_time("2024-07-07 23:00:30") as frozen:  # 08:00:30 on 07-08 in Seoul
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        store.dispose()  # new connections, with the short busy timeout
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the store

        def release(now: datetime) -> None:
            other.execute("ROLLBACK")

        clock = Clock(frozen, until=datetime(2024, 7, 7, 23, 10, tzinfo=UTC), on_wake=release)
        runner_for("store", store, settings, clock).run(threading.Event(), clock.wait)
    other.close()
    store.dispose()
    assert clock.sleeps[0] == 60
    assert [m["title"] for m in ntfy_server.messages("study-reviews")] == ["📚 오늘 복습 1개 · 7월 8일 (월)"]

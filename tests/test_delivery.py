"""Delivery under ambiguous failures: lost answers, stuck rows, two runners, clocks that go back, zones that change.

Real parts throughout: a real store (SQLite file, or the real PostgreSQL server where the test is about it), the
loopback ntfy server that stores a message and then loses or delays its answer, and freezegun for the calendar.
Counts are taken on the server: what the phone would show.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from freezegun import freeze_time
from ntfy_server import FakeNtfy
from setups import RACING, TOPIC, make_runner
from setups import add_note as add
from setups import runner_settings as make_settings
from sqlalchemy import select

from reminder import actions, notes
from reminder.db import Store, open_store
from reminder.db.models import Outbox, Slot
from reminder.ntfy import NtfyAuth, NtfyClient
from reminder.runner import DAY_SERVED, OLDER_THAN_CLAIMED, SENDING, STUCK_AFTER

SEOUL = ZoneInfo("Asia/Seoul")


def outbox(store: Store) -> list[tuple[str, bool]]:
    with store.read() as s:
        return [(o.status, o.uncertain) for o in s.scalars(select(Outbox).order_by(Outbox.id))]


class Clock:
    """A settable aware UTC clock for the runner (the ntfy server keeps real time)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    yield s
    s.dispose()


def _publishes(server: FakeNtfy) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


# --- a send whose answer never arrives -----------------------------------------------------------------------


@pytest.mark.parametrize("trial", [1, 2])
@pytest.mark.parametrize("fault", ["read-timeout", "cut-answer"])
def test_a_lost_answer_is_looked_up_on_the_topic_not_resent(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy, fault: str, trial: int
) -> None:
    add(store, f"노트 {trial}", date(2024, 7, 7))
    clock = Clock(datetime(2024, 7, 8, 0, 0, tzinfo=UTC))  # 09:00 in Seoul: the 08:00 slot is due
    with NtfyClient(ntfy_server.url, read_timeout=0.3) as client:
        runner = make_runner(ledger, store, make_settings(tmp_path, ntfy_server), client, clock=clock)
        if fault == "read-timeout":
            ntfy_server.slow(1.0, after_store=True)  # stored at once, answered after the client gave up
        else:
            ntfy_server.cut_answers(1)  # stored, then the connection closes halfway through the answer
        runner.process_slot(runner.current_slot())
        [first] = runner.dispatch()
        assert first.status == "pending"
        assert outbox(store) == [("pending", True)]
        ntfy_server.slow(0)
        time.sleep(0.1)  # the held answer goes out, so the server is idle again
        clock.now += timedelta(minutes=1)  # past the retry's backoff
        [second] = runner.dispatch()

    assert second.status == "sent"
    assert len(ntfy_server.messages(TOPIC)) == 1  # the phone shows it once
    assert _publishes(ntfy_server) == 1  # and it was never sent a second time
    assert second.ntfy_id == ntfy_server.messages(TOPIC)[0]["id"]
    assert outbox(store) == [("sent", False)]


def test_a_write_only_token_cannot_look_so_a_lost_answer_costs_at_most_one_duplicate(
    ledger: str, tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    token = "tk_" + "w" * 29
    add(store, "노트", date(2024, 7, 7))
    clock = Clock(datetime(2024, 7, 8, 0, 0, tzinfo=UTC))
    with FakeNtfy(tokens={token}, write_only={token}) as server:
        with NtfyClient(server.url, NtfyAuth(token=token), read_timeout=0.3) as client:
            runner = make_runner(ledger, store, make_settings(tmp_path, server), client, clock=clock)
            server.slow(1.0, after_store=True)
            runner.process_slot(runner.current_slot())
            runner.dispatch()
            server.slow(0)
            assert server.wait_idle()
            clock.now += timedelta(minutes=1)
            with caplog.at_level("INFO", logger="reminder.runner"):
                [again] = runner.dispatch()
        stored = server.messages(TOPIC)
    assert again.status == "sent"
    assert len(stored) == 2  # the documented limit: it could not look, so it sent again, once
    assert any("resend-unchecked" in r.getMessage() for r in caplog.records)


def test_a_lost_answer_of_a_message_ntfy_did_not_store_is_sent_again(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    add(store, "노트", date(2024, 7, 7))
    clock = Clock(datetime(2024, 7, 8, 0, 0, tzinfo=UTC))
    with NtfyClient(ntfy_server.url, read_timeout=0.3) as client:
        runner = make_runner(ledger, store, make_settings(tmp_path, ntfy_server), client, clock=clock)
        ntfy_server.slow(5)  # held before anything is stored; down() drops it unstored
        runner.process_slot(runner.current_slot())
        runner.dispatch()
        ntfy_server.down()
        ntfy_server.up()
        ntfy_server.slow(0)
        clock.now += timedelta(minutes=1)
        [again] = runner.dispatch()
    assert again.status == "sent"
    assert len(ntfy_server.messages(TOPIC)) == 1


def test_a_lost_answer_is_found_when_this_machines_clock_is_minutes_ahead_of_ntfys(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    """The look-up asks ntfy for messages since the row was written, by this machine's clock; ntfy stamps them
    by its own. Ten minutes ahead (no NTP on a small VPS), a window of a few seconds missed the message and the
    learner got it twice."""
    clock = Clock(datetime.now(UTC) + timedelta(minutes=10))
    today = clock.now.astimezone(SEOUL).date()
    add(store, "노트", date.fromordinal(today.toordinal() - 1))  # D+1 due today
    with NtfyClient(ntfy_server.url, read_timeout=0.3) as client:
        runner = make_runner(
            ledger, store, make_settings(tmp_path, ntfy_server, REMINDER_CRON="* * * * *"), client, clock=clock
        )
        ntfy_server.slow(1.0, after_store=True)
        runner.process_slot(runner.current_slot())
        [first] = runner.dispatch()
        assert first.status == "pending" and outbox(store) == [("pending", True)]
        ntfy_server.slow(0)
        assert ntfy_server.wait_idle()
        clock.now += timedelta(minutes=1)
        [second] = runner.dispatch()
    assert second.status == "sent"
    assert _publishes(ntfy_server) == 1 and len(ntfy_server.messages(TOPIC)) == 1
    assert second.ntfy_id == ntfy_server.messages(TOPIC)[0]["id"]


def test_the_wider_look_up_does_not_take_an_identical_message_another_row_sent(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    """The look-up matches what ntfy stores (title, text, tags), not an id of its own: within its window an
    identical message that another outbox row sent and recorded is not this row's, so it is sent."""
    payload = {"topic": TOPIC, "title": "📚 오늘 복습 1개", "message": "- 노트", "tags": ["books"]}
    now = datetime.now(UTC)
    with NtfyClient(ntfy_server.url) as client:
        earlier = client.publish(payload)  # twenty minutes ago by this clock, say: the same text, on purpose
        with store.write() as s:
            common = {"kind": "now", "payload": json.dumps(payload, ensure_ascii=False), "attempts": 1}
            s.add(Outbox(**common, status="sent", ntfy_id=earlier.id, created_at=now - timedelta(minutes=20)))
            # Its answer was lost and ntfy never stored it (the request died before it arrived).
            s.add(Outbox(**common, status="pending", uncertain=True, next_attempt_at=now, created_at=now))
        runner = make_runner(ledger, store, make_settings(tmp_path, ntfy_server), client, clock=Clock(now))
        [outcome] = runner.dispatch()
    assert outcome.status == "sent" and outcome.ntfy_id != earlier.id
    assert len(ntfy_server.messages(TOPIC)) == 2


def test_the_look_up_compares_what_ntfy_stores(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    # ntfy trims the text and splits tags on commas: the stuck row's payload is not what the topic returns.
    now = datetime(2024, 7, 8, 0, 0, tzinfo=UTC)
    payload = {"topic": TOPIC, "title": " 📚 복습 ", "message": "- 노트\n\n", "tags": ["books,warning"]}
    with NtfyClient(ntfy_server.url) as client:
        client.publish(payload)
        with store.write() as s:
            s.add(
                Outbox(
                    kind="digest",
                    payload=json.dumps(payload, ensure_ascii=False),
                    status=SENDING,
                    attempts=1,
                    next_attempt_at=now,
                    created_at=now - timedelta(seconds=1),
                )
            )
        clock = Clock(datetime.now(UTC) + STUCK_AFTER + timedelta(seconds=10))
        runner = make_runner(ledger, store, make_settings(tmp_path, ntfy_server), client, clock=clock)
        [outcome] = runner.dispatch()
    assert outcome.status == "sent"
    assert len(ntfy_server.messages(TOPIC)) == 1


# --- two runners recovering the same stuck row ---------------------------------------------------------------


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.parametrize(
    ("any_db_url", "ledgers"),
    RACING,
    indirect=["any_db_url"],
)
def test_two_runners_recovering_one_stuck_row_send_it_once(
    tmp_path: Path, any_db_url: str, ntfy_server: FakeNtfy, trial: int, ledgers: tuple[str, str]
) -> None:
    stores = [open_store(any_db_url), open_store(any_db_url)]
    try:
        created = datetime.now(UTC) - STUCK_AFTER - timedelta(minutes=1)
        with stores[0].write() as s:
            s.add(
                Outbox(
                    kind="digest",
                    payload=json.dumps({"topic": TOPIC, "title": "t", "message": f"stuck {trial}"}),
                    status=SENDING,
                    attempts=1,
                    next_attempt_at=created,
                    created_at=created,
                )
            )
        ntfy_server.slow(0.5)  # every look-up and send is slow, so the two runners overlap
        settings = make_settings(tmp_path, ntfy_server)
        results: list[Any] = []
        barrier = threading.Barrier(2)

        def recover(store: Store, name: str, ledger: str) -> None:
            with NtfyClient(ntfy_server.url) as client:
                runner = make_runner(ledger, store, settings, client, name=name)
                barrier.wait()
                results.extend(runner.dispatch())

        threads = [threading.Thread(target=recover, args=(st, f"r{i}", ledgers[i])) for i, st in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        for st in stores:
            st.dispose()
    assert [r.status for r in results] == ["sent"]
    assert len(ntfy_server.messages(TOPIC)) == 1


# --- no network I/O inside a write transaction ---------------------------------------------------------------


def test_a_slow_look_up_does_not_stall_a_phone_press(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    from reminder.server import start_server

    today = datetime.now(SEOUL).date()
    note_id = add(store, "Pods", today - timedelta(days=1))
    settings = make_settings(tmp_path, ntfy_server, REMINDER_PUBLIC_URL="http://127.0.0.1:1")
    old = datetime.now(UTC) - STUCK_AFTER - timedelta(minutes=1)
    with store.write() as s:
        s.add(
            Outbox(
                kind="digest",
                payload=json.dumps({"topic": TOPIC, "title": "t", "message": "m"}),
                status=SENDING,
                attempts=1,
                next_attempt_at=old,
                created_at=old,
            )
        )
    key = actions.secret_key(store, settings)
    web = start_server(store, settings, port=0)
    ntfy_server.slow(6)  # the look-up on the topic hangs for 6 s
    try:
        with NtfyClient(ntfy_server.url, read_timeout=8) as client:
            runner = make_runner(ledger, store, settings, client)
            worker = threading.Thread(target=runner.dispatch)
            worker.start()
            assert ntfy_server.wait_for_requests(1, timeout=5)  # the runner is now inside its slow poll
            with store.read() as s:
                due = notes.due_on(s, today, 30)
            done = actions.digest_actions(web.url, key, due, language="ko", day=today)[0]["url"]
            started = time.monotonic()
            answer = requests.post(done, timeout=10)
            elapsed = time.monotonic() - started
            ntfy_server.slow(0)
            worker.join(timeout=15)
    finally:
        web.stop()
    assert answer.status_code == 200 and note_id in answer.json()["marked"]
    assert elapsed < 1.0


# --- slots: the clock set back, the zone changed --------------------------------------------------------------


def _slot_rows(store: Store) -> list[tuple[str, str | None]]:
    with store.read() as s:
        return [(r.local_key, r.zone) for r in s.scalars(select(Slot).order_by(Slot.id))]


def test_a_clock_set_back_a_day_does_not_serve_a_day_again(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
):
    add(store, "노트", date(2024, 7, 7))
    settings = make_settings(tmp_path, ntfy_server)
    with NtfyClient(ntfy_server.url) as client, freeze_time("2024-07-09 00:30:00") as frozen:  # 09:30 Seoul
        runner = make_runner(ledger, store, settings, client)
        runner.step()
        assert len(ntfy_server.messages(TOPIC)) == 1
        frozen.move_to("2024-07-08 00:30:00")  # a restored VM, an NTP step: yesterday again
        again = make_runner(ledger, store, settings, client)  # a fresh process remembers nothing
        outcome = again.process_slot(again.current_slot())
        again.dispatch()
    assert (outcome.claimed, outcome.reason) == (False, OLDER_THAN_CLAIMED)
    assert len(ntfy_server.messages(TOPIC)) == 1
    assert _slot_rows(store) == [("2024-07-09T08:00", "Asia/Seoul")]


def test_changing_the_zone_to_utc_does_not_send_a_second_digest(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
):
    add(store, "노트", date(2024, 7, 7))
    with NtfyClient(ntfy_server.url) as client, freeze_time("2024-07-08 23:00:00") as frozen:  # 08:00 in Seoul
        make_runner(ledger, store, make_settings(tmp_path, ntfy_server), client).step()
        frozen.tick(timedelta(minutes=5))
        utc = make_runner(ledger, store, make_settings(tmp_path, ntfy_server, REMINDER_TIMEZONE="UTC"), client)
        outcome = utc.process_slot(utc.current_slot())  # 2024-07-08T08:00 in UTC: before the Seoul slot
        utc.dispatch()
    assert (outcome.claimed, outcome.reason) == (False, OLDER_THAN_CLAIMED)
    assert len(ntfy_server.messages(TOPIC)) == 1


def test_a_later_slot_on_a_day_served_in_the_old_zone_is_not_served(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
):
    add(store, "노트", date(2024, 7, 7))
    with NtfyClient(ntfy_server.url) as client, freeze_time("2024-07-08 08:00:00") as frozen:
        make_runner(ledger, store, make_settings(tmp_path, ntfy_server, REMINDER_TIMEZONE="UTC"), client).step()
        # 08:00 UTC is 01:00 on the 8th in Los Angeles: that day had its digest.
        frozen.move_to("2024-07-08 15:30:00")  # 08:30 in Los Angeles
        la = make_runner(
            ledger, store, make_settings(tmp_path, ntfy_server, REMINDER_TIMEZONE="America/Los_Angeles"), client
        )
        outcome = la.process_slot(la.current_slot())
        frozen.move_to("2024-07-09 15:30:00")  # the next day in Los Angeles is served
        nxt = la.process_slot(la.current_slot())
        la.dispatch()
    assert (outcome.claimed, outcome.reason) == (False, DAY_SERVED)
    assert nxt.claimed
    assert len(ntfy_server.messages(TOPIC)) == 2

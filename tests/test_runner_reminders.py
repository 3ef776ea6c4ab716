"""The runner's daily limit, minimum, evening nudge and weekly summary, end to end: real SQLite store, the
loopback ntfy server, freezegun for the calendar. Seoul is UTC+9: 08:00 there is 23:00 UTC the day before."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from ntfy_server import FakeNtfy
from sqlalchemy import select
from test_runner import Clock, add, make_settings, mark_all_due_done, runner_for

from reminder import actions, notes
from reminder.config import Settings
from reminder.db import Store, open_store
from reminder.db.models import Outbox, Slot

TOPIC = "study-reviews"
KEY = "test-signing-key"
PUBLIC = "https://reminder.example.com"


def buttons(settings: Settings):  # type: ignore[no-untyped-def]
    def make(listed, day):  # type: ignore[no-untyped-def]
        return actions.digest_actions(PUBLIC, KEY, listed, language=settings.language, day=day)

    return make


def stats_url(day: date) -> str:
    return actions.action_url(PUBLIC, "stats", actions.sign(KEY, "stats", [], day))


def done_ids(message: dict) -> tuple[int, ...]:  # type: ignore[type-arg]
    url = next(a["url"] for a in message["actions"] if a["action"] == "http" and "/a/done/" in a["url"])
    token = urlsplit(url).path.rsplit("/", 1)[1]
    return actions.verify(KEY, token, "done", datetime.fromtimestamp(message["time"], UTC)).note_ids


def five_due(store: Store) -> dict[str, int]:
    """Five notes due on 07-10, first studied 07-04, 07-05, 07-06, 07-07 and 07-09. Each is shown at its latest due
    stage: note 4 at D+4 (07-08, 2 days late), note 7 at D+1 (07-08, 2 late), note 5 at D+4 (07-09, 1 late), note 6
    at D+4 and note 9 at D+1 (both due today). Most urgent first: 4, 7 (same lateness, by title), 5, 6, 9."""
    return {f"note {day}": add(store, f"note {day}", date(2024, 7, day), date(2024, 7, 10)) for day in (4, 5, 6, 7, 9)}


# --- the daily limit -------------------------------------------------------------------------------------------


def test_daily_limit_lists_the_most_overdue_and_says_how_many_wait(
    tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_DAILY_LIMIT="3")
    with freeze_time("2024-07-09 23:00:00"):  # 08:00 on 07-10
        ids = five_due(store)
        runner_for("store", store, settings, actions=buttons(settings)).step()
    (message,) = ntfy_server.messages(TOPIC)
    assert message["title"] == "📚 오늘 복습 3개 (대기 2) · 7월 10일 (수)"
    # The three most overdue; notes 6 and 9, due today, wait. The done button marks exactly the three listed.
    assert [ln.split(" · ")[0] for ln in message["message"].splitlines()] == ["- note 4", "- note 7", "- note 5"]
    assert done_ids(message) == tuple(sorted((ids["note 4"], ids["note 7"], ids["note 5"])))


def test_daily_limit_in_english_and_in_due(
    tmp_path: Path,
    store: Store,
    ntfy_server: FakeNtfy,
    run_cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_DAILY_LIMIT="3", REMINDER_LANGUAGE="en")
    monkeypatch.setenv("REMINDER_DAILY_LIMIT", "3")
    with freeze_time("2024-07-09 23:00:00"):
        five_due(store)
        runner_for("store", store, settings).step()
        due = json.loads(run_cli("due", "--json").output)
        text = run_cli("due").output
    assert ntfy_server.messages(TOPIC)[0]["title"] == "📚 3 reviews due (2 waiting) · Wed, Jul 10"
    assert due["count"] == 3 and due["waiting"] == 2
    assert [n["title"] for n in due["notes"]] == ["note 4", "note 7", "note 5"]
    assert "2 more due, waiting for a later day (daily limit 3)." in text


def test_daily_limit_is_a_quota_for_the_day(
    run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_DAILY_LIMIT", "3")
    with freeze_time("2024-07-10 03:00:00"):  # noon on 07-10
        ids = five_due(store)
        for name in ("note 4", "note 6"):  # two reviews done today, one of them not among the three listed
            assert run_cli("done", str(ids[name])).exit_code == 0
        # Three are still due and the limit allows one more today: the most urgent of them, note 7.
        due = json.loads(run_cli("due", "--json").output)
        assert (due["count"], due["waiting"], due["notes"][0]["title"]) == (1, 2, "note 7")
        assert run_cli("done", str(ids["note 7"])).exit_code == 0
        assert run_cli("due").output.strip() == "Daily limit of 3 reached: 2 more due wait for a later day."
        # Tomorrow the limit starts again; a day ahead, nothing is done yet.
        tomorrow = json.loads(run_cli("due", "--json", "--on", "2024-07-11").output)
        assert (tomorrow["count"], tomorrow["waiting"]) == (3, 1)


# --- the minimum ---------------------------------------------------------------------------------------------


def test_min_due_holds_a_small_digest_until_one_is_long_overdue(
    ledger: str, tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_MIN_DUE="3", REMINDER_OVERDUE_DAYS="3")
    with freeze_time("2024-07-07 23:00:00") as frozen:  # 08:00 on 07-08
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))  # D+1 due 07-08, D+4 07-11
        add(store, "kubectl", date(2024, 6, 30), date(2024, 7, 7))  # D+7 due 07-07, D+14 07-14
        runner = runner_for(ledger, store, settings)
        runner.step()
        assert ntfy_server.messages(TOPIC) == []  # 2 due, fewer than 3: no digest
        with store.read() as s:
            assert s.scalars(select(Slot.due_count)).all() == [2]  # the slot was claimed all the same
        # Left undone: kubectl's D+7 is 2 days late on 07-09, 3 on 07-10 (not more than REMINDER_OVERDUE_DAYS),
        # 4 on 07-11: then it goes out, though only 2 notes are due.
        for day in ("2024-07-08", "2024-07-09"):
            frozen.move_to(f"{day} 23:00:00")
            runner.step()
        assert ntfy_server.messages(TOPIC) == []
        frozen.move_to("2024-07-10 23:00:00")
        runner.step()
    (message,) = ntfy_server.messages(TOPIC)
    assert message["title"] == "📚 오늘 복습 2개 · 7월 11일 (목)" and message["priority"] == 4


# --- the nudge -------------------------------------------------------------------------------------------------


@pytest.fixture
def any_store(any_db_url: str) -> Iterator[Store]:
    """A store on SQLite, then on the real PostgreSQL server."""
    s = open_store(any_db_url)
    yield s
    s.dispose()


def test_nudge_in_the_evening_lists_what_the_digest_listed_and_is_still_open(
    tmp_path: Path, any_store: Store, ntfy_server: FakeNtfy
) -> None:
    store = any_store
    settings = make_settings(tmp_path, ntfy_server, REMINDER_NUDGE_CRON="0 21 * * *", REMINDER_DAILY_LIMIT="2")
    with freeze_time("2024-07-09 23:00:00") as frozen:  # 08:00 on 07-10
        ids = five_due(store)
        reviewed: list[str] = []

        def learner(now: datetime) -> None:
            # At noon the learner reviews note 4 (listed), and note 9 (not listed: it was waiting).
            if not reviewed and now >= datetime(2024, 7, 10, 3, 0, tzinfo=UTC):
                with store.write() as s:
                    for name in ("note 4", "note 9"):
                        note = notes.resolve_note(s, str(ids[name]))
                        notes.mark_done(s, note, day=date(2024, 7, 10), today=date(2024, 7, 10), extra_every=30)
                reviewed.append("noon")

        clock = Clock(frozen, until=datetime(2024, 7, 10, 14, 0, tzinfo=UTC), on_wake=learner)  # 23:00
        runner_for("store", store, settings, clock, actions=buttons(settings)).run(threading.Event(), clock.wait)
        second = runner_for("store", store, settings, actions=buttons(settings))  # another runner at the same slot
        second.step()
    digest, nudge = ntfy_server.messages(TOPIC)
    assert digest["title"] == "📚 오늘 복습 2개 (대기 3) · 7월 10일 (수)"
    # The digest listed notes 4 and 7; note 4 was done, so one is left. Note 9, done too, was never listed; notes 5
    # and 6, still due, were not listed either: the nudge is about the digest, not about everything due.
    assert nudge["title"] == "📚 아직 1개 남았어요 · 7월 10일 (수)"
    assert nudge["message"].startswith("- note 7 · D+1 · 2일 지남")
    assert done_ids(nudge) == (ids["note 7"],)  # the same buttons, for what is left
    assert [a["label"] for a in nudge["actions"]] == [a["label"] for a in digest["actions"]]
    assert nudge["time"] == int(datetime(2024, 7, 10, 12, 0, tzinfo=UTC).timestamp())  # sent at 21:00 sharp
    with store.read() as s:
        assert s.scalars(select(Slot.local_key).order_by(Slot.id)).all() == [
            "2024-07-10T08:00",
            "nudge@2024-07-10T21:00",
        ]
        assert s.scalars(select(Outbox.kind).order_by(Outbox.id)).all() == ["digest", "nudge"]


def test_no_nudge_once_everything_listed_is_done_nor_a_day_late(
    tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_NUDGE_CRON="0 21 * * *")
    with freeze_time("2024-07-07 23:00:00") as frozen:  # 08:00 on 07-08
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7))
        runner = runner_for("store", store, settings)
        runner.step()
        mark_all_due_done(store, date(2024, 7, 8))
        frozen.move_to("2024-07-08 12:00:00")  # 21:00
        runner.step()
        assert len(ntfy_server.messages(TOPIC)) == 1  # the digest only: nothing is open
        with store.read() as s:
            assert s.scalars(select(Slot.local_key).where(Slot.local_key.like("nudge@%"))).all() == [
                "nudge@2024-07-08T21:00"
            ]
            assert s.scalars(select(Outbox.kind)).all() == ["digest"]
        # 07-11: D+4 due, digest sent, left open; the runner is down from 20:00 and back at 00:30 the next day.
        frozen.move_to("2024-07-10 23:00:00")
        runner.step()
        frozen.move_to("2024-07-11 15:30:00")  # 00:30 on 07-12 in Seoul
        restarted = runner_for("store", store, settings)
        restarted.step()
    # No nudge about yesterday's digest after midnight.
    assert [m["title"] for m in ntfy_server.messages(TOPIC)] == [
        "📚 오늘 복습 1개 · 7월 8일 (월)",
        "📚 오늘 복습 1개 · 7월 11일 (목)",
    ]


# --- the weekly summary ----------------------------------------------------------------------------------------


def test_weekly_summary_does_not_supersede_a_waiting_digest(
    tmp_path: Path, store: Store, ntfy_server: FakeNtfy
) -> None:
    settings = make_settings(tmp_path, ntfy_server, REMINDER_SUMMARY_CRON="0 20 * * 0", REMINDER_LANGUAGE="ko")
    # Sunday 2024-07-14. Kubernetes (07-07): D+1, D+4, D+7 done on their days (07-08, 07-11, 07-14). kubectl
    # (07-12): D+1 done 07-13. TCP (07-13): D+1 due today, open.
    with freeze_time("2024-07-14 01:00:00") as frozen:  # 10:00 on Sunday 07-14
        kube = add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), date(2024, 7, 14))
        ctl = add(store, "kubectl", date(2024, 7, 12), date(2024, 7, 14))
        add(store, "TCP", date(2024, 7, 13), date(2024, 7, 14))
        with store.write() as s:
            for note_id, stage, day in ((kube, 1, 8), (kube, 4, 11), (kube, 7, 14), (ctl, 1, 13)):
                note = notes.resolve_note(s, str(note_id))
                notes.mark_done(s, note, day=date(2024, 7, day), today=date(2024, 7, 14), extra_every=30, stage=stage)
        ntfy_server.fail_with(503)
        runner = runner_for("store", store, settings, stats_url=stats_url)
        runner.step()  # the 08:00 digest (TCP) is queued; the server refuses it for now
        frozen.move_to("2024-07-14 11:00:00")  # 20:00: the summary slot
        runner.step()
        with store.read() as s:
            assert s.scalars(select(Outbox.kind + ":" + Outbox.status).order_by(Outbox.id)).all() == [
                "digest:pending",
                "summary:pending",
            ]
        ntfy_server.clear_failures()
        frozen.move_to("2024-07-14 11:45:00")
        runner.step()
    digest, summary = ntfy_server.messages(TOPIC)
    assert digest["title"] == "📚 오늘 복습 1개 · 7월 14일 (일)"  # delivered after all: the summary did not drop it
    assert summary["title"] == "📊 이번 주 복습 요약"
    # This week (07-08 .. 07-14): reviews on 07-08, 07-11, 07-13, 07-14 = 4. Streak: TCP's D+1 is open today,
    # which does not count yet; every earlier day since 07-07 was kept: 07-07 .. 07-13 = 7 days.
    # Next week (07-15 .. 07-21), if TCP is done today: kubectl D+4 07-16, D+7 07-19; TCP D+4 07-17, D+7 07-20;
    # Kubernetes D+14 07-21 = 5.
    assert summary["message"].splitlines() == [
        "이번 주 복습 4개",
        "기억률 100% (30일)",
        "연속 7일",
        "다음 주 복습 5개",
    ]
    (button,) = summary["actions"]
    assert button["action"] == "view" and button["label"] == "📊 통계 보기"
    token = urlsplit(button["url"]).path.split("/stats/", 1)[1]
    assert actions.verify(KEY, token, "stats", datetime.fromtimestamp(summary["time"], UTC)).day == date(2024, 7, 14)
    with store.read() as s:
        assert s.scalars(select(Outbox.status)).all() == ["sent", "sent"]
        # `status` and /healthz look at digest slots only.
    from reminder.runner import status

    assert status(store, settings, datetime(2024, 7, 14, 12, 0, tzinfo=UTC)).last_slot.local_key == "2024-07-14T08:00"


def test_weekly_summary_reads_its_statistics_without_holding_the_write_lock_and_is_sent_once(
    tmp_path: Path, store: Store, db_url: str, ntfy_server: FakeNtfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary's statistics read the whole store; read inside the slot-claiming transaction they held
    SQLite's write lock, so a phone button or `reminder add` waited for them on a big store. While they are
    read, another writer gets in at once; and two runners at the slot still queue one summary."""
    import sqlite3

    from reminder import history

    settings = make_settings(tmp_path, ntfy_server, REMINDER_SUMMARY_CRON="0 20 * * 0", REMINDER_LANGUAGE="ko")
    writes: list[str] = []
    real_read_stats = history.read_stats

    def read_stats_while_another_writes(*args, **kwargs):  # type: ignore[no-untyped-def]
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # what any writer does first: fails at once if the lock is held
            other.execute("COMMIT")
            writes.append("in")
        except sqlite3.OperationalError as exc:
            writes.append(str(exc))
        finally:
            other.close()
        return real_read_stats(*args, **kwargs)

    monkeypatch.setattr(history, "read_stats", read_stats_while_another_writes)
    with freeze_time("2024-07-14 11:00:00"):  # Sunday 20:00 in Seoul: the summary slot
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), date(2024, 7, 14))
        second = open_store(db_url)
        try:
            first_runner, second_runner = runner_for("store", store, settings), runner_for("store", second, settings)
            slot = datetime(2024, 7, 14, 11, 0, tzinfo=UTC)
            outcomes = [r.process_other_slot("summary", slot) for r in (first_runner, second_runner)]
            first_runner.dispatch()
            second_runner.dispatch()
        finally:
            second.dispose()
    assert writes and all(w == "in" for w in writes), writes
    assert [o.claimed for o in outcomes] == [True, False]
    with store.read() as s:
        assert s.scalars(select(Outbox.kind + ":" + Outbox.status)).all() == ["summary:sent"]
    (summary,) = ntfy_server.messages(TOPIC)
    assert summary["title"] == "📊 이번 주 복습 요약"


def test_a_summary_slot_claimed_by_another_runner_while_this_one_read_its_statistics_is_not_sent_twice(
    tmp_path: Path, store: Store, db_url: str, ntfy_server: FakeNtfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reminder import history

    settings = make_settings(tmp_path, ntfy_server, REMINDER_SUMMARY_CRON="0 20 * * 0", REMINDER_LANGUAGE="ko")
    slot = datetime(2024, 7, 14, 11, 0, tzinfo=UTC)
    real_read_stats = history.read_stats
    other_outcomes = []

    with freeze_time("2024-07-14 11:00:00"):
        add(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), date(2024, 7, 14))
        second = open_store(db_url)
        other = runner_for("store", second, settings)

        def the_other_runner_claims_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
            monkeypatch.setattr(history, "read_stats", real_read_stats)
            other_outcomes.append(other.process_other_slot("summary", slot))
            return real_read_stats(*args, **kwargs)

        monkeypatch.setattr(history, "read_stats", the_other_runner_claims_meanwhile)
        try:
            runner = runner_for("store", store, settings)
            outcome = runner.process_other_slot("summary", slot)
            runner.dispatch()
        finally:
            second.dispose()
    assert [o.claimed for o in other_outcomes] == [True] and not outcome.claimed
    with store.read() as s:
        assert s.scalars(select(Outbox.kind + ":" + Outbox.status)).all() == ["summary:sent"]
        assert len(s.scalars(select(Slot.id)).all()) == 1
    assert len(ntfy_server.messages(TOPIC)) == 1


# --- from the command line -------------------------------------------------------------------------------------


def test_run_once_from_a_timer_sends_the_nudge_at_its_time(
    run_cli,  # type: ignore[no-untyped-def]
    ntfy_server: FakeNtfy,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "REMINDER_NTFY_SERVER": ntfy_server.url,
        "REMINDER_NTFY_TOPIC": TOPIC,
        "REMINDER_NUDGE_CRON": "0 21 * * *",
    }.items():
        monkeypatch.setenv(name, value)
    with freeze_time("2024-07-11 23:00:00") as frozen:  # 08:00 on 07-12: a timer runs `run --once`
        assert run_cli("add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07").exit_code == 0
        assert run_cli("run", "--once").exit_code == 0
        frozen.move_to("2024-07-12 12:00:00")  # 21:00: the timer again
        assert run_cli("run", "--once").exit_code == 0
        assert run_cli("run", "--once").exit_code == 0  # the same slots again: nothing new
    assert [m["title"] for m in ntfy_server.messages(TOPIC)] == [
        "📚 오늘 복습 1개 · 7월 12일 (금)",
        "📚 아직 1개 남았어요 · 7월 12일 (금)",
    ]
    monkeypatch.setenv("REMINDER_NUDGE_CRON", "0 25 * * *")
    bad = run_cli("run", "--once")
    assert bad.exit_code == 2
    assert bad.output.strip().startswith("Error: nudge_cron: '0 25 * * *' is not a valid cron expression")
    assert "\n" not in bad.output.strip()

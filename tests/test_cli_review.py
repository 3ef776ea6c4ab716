"""`reminder review` at the desk (click's runner as the keyboard) and `reminder fsrs optimize`."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from freezegun import freeze_time
from sqlalchemy import update

from reminder.db import Store
from reminder.db.models import Note


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@freeze_time("2024-07-11 03:00:00")
def test_review_shows_each_question_reveals_on_enter_and_rates_with_1_to_4(store: Store, db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    assert run_cli("add", "Services", "--first-study", "2024-07-10").exit_code == 0
    assert run_cli("add", "Later", "--first-study", "2024-07-11").exit_code == 0
    cues = [{"q": "What is a pod?", "a": "The smallest unit."}, {"q": "Who runs it?", "a": "The kubelet."}]
    with store.write() as session:
        session.execute(update(Note).where(Note.title == "Pods").values(cue_questions=json.dumps(cues)))
    result = run_cli("review", input="\n\n3\n\n1\n")
    assert result.exit_code == 0, result.output
    out = result.output
    # The question comes before its answer, the answer only after Enter.
    assert out.index("Q1. What is a pod?") < out.index("The smallest unit.") < out.index("Q2. Who runs it?")
    assert "1 again (tomorrow)  2 hard (in 3 days)  3 good (in 3 days)  4 easy (in 3 days)" in out
    assert "good: back in 3 days" in out and "again: back tomorrow" in out
    assert "No cue questions in this note" in out and "Reviewed 2 of 2." in out
    pods = _json(run_cli("show", "Pods", "--json"))
    services = _json(run_cli("show", "Services", "--json"))
    assert [(h["stage"], h["rating"]) for h in pods["history"]] == [(1, "good"), (4, "good")]
    assert [(h["stage"], h["rating"]) for h in services["history"]] == [(1, "again")]
    assert _json(run_cli("due", "--json"))["count"] == 0


@freeze_time("2024-07-11 03:00:00")
def test_q_stops_and_keeps_what_was_rated_and_a_note_can_be_named(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    assert run_cli("add", "Services", "--first-study", "2024-07-10").exit_code == 0
    result = run_cli("review", input="x\n4\nq\n")
    assert result.exit_code == 0, result.output
    assert "Reviewed 1 of 2." in result.output
    assert [d["title"] for d in _json(run_cli("due", "--json"))["notes"]] == ["Services"]
    named = run_cli("review", "Services", input="2\n")
    assert "Reviewed 1 of 1." in named.output
    not_due = run_cli("review", "Pods")
    assert not_due.exit_code == 2 and "not due" in not_due.output


def test_optimize_with_too_little_history_says_how_many_reviews_it_needs(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-12 03:00:00"):
        assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
        assert run_cli("done", "Pods").exit_code == 0
    result = run_cli("fsrs", "optimize")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "1 reviews logged; fitting FSRS needs at least 100" in result.output


def test_optimize_fits_a_learners_history_and_scores_it_on_held_out_reviews(store: Store, db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    # A learner who forgets faster than FSRS's defaults expect: 60 notes, 5 reviews each, a known curve.
    from reminder import notes

    rng = random.Random(7)
    start = date(2024, 1, 1)
    with store.write() as session:
        for i in range(60):
            first = start + timedelta(days=i)
            note = notes.add_note(
                session,
                title=f"note {i}",
                first_studied_on=first,
                today=date(2025, 6, 1),
                ladder=(1, 4, 7, 14),
                extra_every=30,
            )
            day, stability = first, 1.5
            for _ in range(5):
                gap = rng.choice([1, 2, 4, 8, 16])
                day += timedelta(days=gap)
                recalled = rng.random() < (1 + gap / (9 * stability)) ** -1
                stability = stability * 2.2 if recalled else max(1.0, stability / 2)
                notes.record_event(
                    note, stage=None, extra=True, rating="good" if recalled else "again", day=day, source="cli"
                )
    report = _json(run_cli("fsrs", "optimize", "--json"))
    assert report["reviews"] == 300 and report["held_out"] == 60 and report["train"] == 240
    assert len(report["parameters"]) == 21
    assert report["fitted"]["log_loss"] < report["default"]["log_loss"]
    text = run_cli("fsrs", "optimize")
    assert "defaults: log loss" in text.output and "fitted:   log loss" in text.output


@freeze_time("2024-07-11 03:00:00")
def test_a_note_done_elsewhere_while_it_is_on_screen_does_not_end_the_session(
    store: Store, db_url: str, run_cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The phone's done button pressed while the note was on the desk's screen: rating it ended the whole
    session with `Error: nothing is due ...` (exit 2), the notes after it never shown. Now the session says so
    and goes on to the next note."""
    from reminder import notes
    from reminder.cli import review as review_cli

    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    assert run_cli("add", "Services", "--first-study", "2024-07-10").exit_code == 0
    real_ask = review_cli._ask
    asked: list[str] = []

    def ask_while_the_phone_presses_done(text: str) -> str:
        answer = real_ask(text)
        if "q quit" in text and not asked:  # the first rating prompt: meanwhile, Pods is done on the phone
            with store.write() as session:
                pods = notes.resolve_note(session, "Pods")
                today = date(2024, 7, 11)
                notes.mark_done(session, pods, day=today, today=today, extra_every=30, source="phone")
        asked.append(text)
        return answer

    monkeypatch.setattr(review_cli, "_ask", ask_while_the_phone_presses_done)
    result = run_cli("review", input="3\n3\n")
    assert result.exit_code == 0, result.output
    assert "nothing is due for 'Pods'" in result.output and "Reviewed 1 of 2." in result.output
    pods = _json(run_cli("show", "Pods", "--json"))
    services = _json(run_cli("show", "Services", "--json"))
    assert [h["source"] for h in pods["history"]] == ["phone", "phone"]  # D+1 and D+4, once
    assert [(h["stage"], h["rating"]) for h in services["history"]] == [(1, "good")]

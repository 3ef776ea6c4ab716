"""Reviews as events: ratings on the ladder and on FSRS, the history in `show --json`, and the migration that
turns the done stages of an existing store into events."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import create_engine, text

from reminder.db.migrate import upgrade


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_store_at_0002_with_done_stages_upgrades_to_good_events(
    backend: str, tmp_path: Path, run_cli, monkeypatch, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    upgrade(engine, "0002")
    created = datetime(2024, 7, 7)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO vaults (id, name, path, write_back, created_at) VALUES (1, 'study', '/v', :f, :c)"),
            {"f": False, "c": created},
        )
        for note_id, vault in ((1, None), (2, 1)):
            conn.execute(
                text(
                    "INSERT INTO notes (id, title, first_studied_on, ladder, created_at, updated_at, vault_id, "
                    "vault_path) VALUES (:id, :t, :first, '1,4,7,14', :c, :c, :v, :p)"
                ),
                {
                    "id": note_id,
                    "t": f"note {note_id}",
                    "first": date(2024, 7, 7),
                    "c": created,
                    "v": vault,
                    "p": f"n{note_id}.md" if vault else None,
                },
            )
        rows = [
            (1, 1, False, date(2024, 7, 8), date(2024, 7, 8)),
            (1, 4, False, date(2024, 7, 11), date(2024, 7, 12)),
            (1, 7, False, date(2024, 7, 14), None),
            (1, 44, True, date(2024, 8, 20), None),
            (2, 1, False, date(2024, 7, 8), date(2024, 7, 9)),
        ]
        for note_id, offset, extra, due, done in rows:
            conn.execute(
                text('INSERT INTO reviews (note_id, "offset", extra, due_on, done_on) VALUES (:n, :o, :x, :d, :done)'),
                {"n": note_id, "o": offset, "x": extra, "d": due, "done": done},
            )
    upgrade(engine)
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT note_id, stage, extra, rating, reviewed_on, source FROM review_events ORDER BY id")
        ).all()
        schedulers = conn.execute(text("SELECT DISTINCT scheduler FROM notes")).scalars().all()
    engine.dispose()
    as_dates = [
        (n, s, bool(x), r, d if isinstance(d, date) else date.fromisoformat(d), src) for n, s, x, r, d, src in events
    ]
    assert as_dates == [
        (1, 1, False, "good", date(2024, 7, 8), "cli"),
        (2, 1, False, "good", date(2024, 7, 9), "vault"),
        (1, 4, False, "good", date(2024, 7, 12), "cli"),
    ]
    assert schedulers == ["ladder"]
    monkeypatch.setenv("REMINDER_DATABASE_URL", url)
    with freeze_time("2024-07-20 03:00:00"):
        shown = _json(run_cli("show", "1", "--json"))
    assert shown["scheduler"] == "ladder"
    assert shown["history"] == [
        {"reviewed_on": "2024-07-08", "stage": 1, "extra": False, "rating": "good", "source": "cli"},
        {"reviewed_on": "2024-07-12", "stage": 4, "extra": False, "rating": "good", "source": "cli"},
    ]


def test_again_on_the_ladder_keeps_the_stage_open_and_brings_the_note_back_tomorrow(any_db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-08 03:00:00"):
        assert run_cli("add", "K8s objects", "--first-study", "2024-07-07").exit_code == 0
        result = run_cli("done", "K8s objects", "--rating", "again")
        assert result.exit_code == 0, result.output
        assert "back on 2024-07-09" in result.output
        assert _json(run_cli("due", "--json"))["count"] == 0
        held = _json(run_cli("show", "K8s objects", "--json"))
        assert held["next_review"] == {"stage": 1, "extra": False, "due_on": "2024-07-09"}
    with freeze_time("2024-07-09 03:00:00"):
        due = _json(run_cli("due", "--json"))
        assert [(d["title"], d["stage"]) for d in due["notes"]] == [("K8s objects", 1)]
        assert run_cli("done", "K8s objects", "--rating", "hard").exit_code == 0
        shown = _json(run_cli("show", "K8s objects", "--json"))
    assert [s["done_on"] for s in shown["stages"]] == ["2024-07-09", None, None, None]
    assert [(h["reviewed_on"], h["stage"], h["rating"]) for h in shown["history"]] == [
        ("2024-07-08", 1, "again"),
        ("2024-07-09", 1, "hard"),
    ]


@freeze_time("2024-07-12 03:00:00")
def test_done_defaults_to_good_and_a_bad_rating_is_a_usage_error(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "K8s objects", "--first-study", "2024-07-07").exit_code == 0
    bad = run_cli("done", "K8s objects", "--rating", "meh")
    assert bad.exit_code == 2 and "meh" in bad.output
    assert run_cli("done", "K8s objects").exit_code == 0
    shown = _json(run_cli("show", "K8s objects", "--json"))
    assert [(h["stage"], h["rating"], h["source"]) for h in shown["history"]] == [
        (1, "good", "cli"),
        (4, "good", "cli"),
    ]


def _fsrs_next(run_cli, rating: str) -> timedelta:  # type: ignore[no-untyped-def]
    """Add an FSRS note with one good review on day 2, then rate it on its due day; the next review's day."""
    title = f"note {rating}"
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", title, "--first-study", "2024-07-07", "--scheduler", "fsrs").exit_code == 0
        first = _json(run_cli("show", title, "--json"))
    due = date.fromisoformat(first["next_review"]["due_on"])
    with freeze_time(f"{due.isoformat()} 03:00:00"):
        assert run_cli("done", title).exit_code == 0
        due = date.fromisoformat(_json(run_cli("show", title, "--json"))["next_review"]["due_on"])
    with freeze_time(f"{due.isoformat()} 03:00:00"):
        assert run_cli("done", title, "--rating", rating).exit_code == 0
        shown = _json(run_cli("show", title, "--json"))
        assert [d["title"] for d in _json(run_cli("due", "--json"))["notes"]] == []
    assert shown["scheduler"] == "fsrs"
    assert 0 < shown["recall"] <= 1
    return date.fromisoformat(shown["next_review"]["due_on"]) - due


def test_fsrs_again_good_easy_give_next_reviews_in_that_order_again_the_next_day(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    again, hard, good, easy = (_fsrs_next(run_cli, r) for r in ("again", "hard", "good", "easy"))
    assert again.days == 1
    assert again < hard < good < easy


def test_an_fsrs_review_ticks_the_flags_in_order(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07", "--scheduler", "fsrs").exit_code == 0
        nxt = _json(run_cli("show", "K8s", "--json"))["next_review"]["due_on"]
    for _ in range(2):
        with freeze_time(f"{nxt} 03:00:00"):
            due = _json(run_cli("due", "--json"))
            assert [d["title"] for d in due["notes"]] == ["K8s"]
            assert run_cli("done", "K8s").exit_code == 0
            shown = _json(run_cli("show", "K8s", "--json"))
            nxt = shown["next_review"]["due_on"]
    assert [s["done_on"] is not None for s in shown["stages"]] == [True, True, False, False]
    assert shown["progress"] == 30


def test_switching_to_fsrs_replays_the_history_and_back(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-12 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07").exit_code == 0
        assert run_cli("done", "K8s", "--on", "2024-07-08", "--stage", "1").exit_code == 0
        assert run_cli("done", "K8s").exit_code == 0
        assert run_cli("edit", "K8s", "--scheduler", "fsrs").exit_code == 0
        shown = _json(run_cli("show", "K8s", "--json"))
    from reminder.schedulers import Fsrs

    engine = Fsrs()
    state = engine.replay(
        engine.start(date(2024, 7, 7)), date(2024, 7, 7), [(date(2024, 7, 8), "good"), (date(2024, 7, 12), "good")]
    )
    assert shown["scheduler"] == "fsrs"
    assert shown["next_review"]["due_on"] == engine.due_on(state).isoformat()
    assert len(shown["history"]) == 2  # the history is not rewritten by the switch
    with freeze_time("2024-07-12 03:00:00"):
        assert run_cli("edit", "K8s", "--scheduler", "ladder").exit_code == 0
        back = _json(run_cli("show", "K8s", "--json"))
    assert back["scheduler"] == "ladder"
    assert back["next_review"]["due_on"] == "2024-07-14"  # D+7 on the ladder


@pytest.mark.parametrize("value", ["0.5", "abc"])
def test_fsrs_retention_setting_is_checked(db_url: str, run_cli, monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_FSRS_RETENTION", value)
    result = run_cli("add", "K8s", "--first-study", "2024-07-07", "--scheduler", "fsrs")
    assert result.exit_code != 0 and "retention" in result.output.lower()


def test_reminder_scheduler_env_gives_new_notes_fsrs(db_url: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_SCHEDULER", "fsrs")
    monkeypatch.setenv("REMINDER_FSRS_RETENTION", "0.95")
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07").exit_code == 0
    monkeypatch.setenv("REMINDER_FSRS_RETENTION", "0.8")
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", "K8s two", "--first-study", "2024-07-07").exit_code == 0
        high = _json(run_cli("show", "K8s", "--json"))
        low = _json(run_cli("show", "K8s two", "--json"))
    assert high["scheduler"] == low["scheduler"] == "fsrs"
    assert high["next_review"]["due_on"] < low["next_review"]["due_on"]  # a higher target: sooner


def test_undo_takes_the_review_out_of_the_history(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-08 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07").exit_code == 0
        assert run_cli("done", "K8s").exit_code == 0
        assert run_cli("undo", "K8s", "--stage", "1").exit_code == 0
        shown = _json(run_cli("show", "K8s", "--json"))
    assert shown["history"] == []
    assert shown["due"]["stage"] == 1


def test_fitted_parameters_apply_to_notes_put_on_fsrs(db_url: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reminder.schedulers import Fsrs

    slow = [0.05, 0.2, 0.4, 1.4, 6.5, 0.72, 3.0, 0.006, 1.75, 0.2, 0.68, 1.5, 0.073, 0.28, 1.6, 0.6, 1.87, 0.54]
    slow += [0.09, 0.066, 0.23]
    monkeypatch.setenv("REMINDER_FSRS_PARAMETERS", ",".join(map(str, slow)))
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07", "--scheduler", "fsrs").exit_code == 0
        shown = _json(run_cli("show", "K8s", "--json"))
    expected = Fsrs().due_on(Fsrs().start(date(2024, 7, 7), parameters=slow))
    default = Fsrs().due_on(Fsrs().start(date(2024, 7, 7)))
    assert shown["next_review"]["due_on"] == expected.isoformat() != default.isoformat()
    monkeypatch.setenv("REMINDER_FSRS_PARAMETERS", "1,2,3")
    bad = run_cli("add", "X", "--first-study", "2024-07-07", "--scheduler", "fsrs")
    assert bad.exit_code == 2 and "21 numbers" in bad.output


def test_undoing_an_fsrs_review_replays_the_rest_of_the_history(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    with freeze_time("2024-07-07 03:00:00"):
        assert run_cli("add", "K8s", "--first-study", "2024-07-07", "--scheduler", "fsrs").exit_code == 0
        first_due = _json(run_cli("show", "K8s", "--json"))["next_review"]["due_on"]
    with freeze_time(f"{first_due} 03:00:00"):
        assert run_cli("done", "K8s", "--rating", "easy").exit_code == 0
        assert run_cli("undo", "K8s", "--stage", "1").exit_code == 0
        shown = _json(run_cli("show", "K8s", "--json"))
    assert shown["history"] == []
    assert shown["due"]["due_on"] == first_due  # due again, as before the review

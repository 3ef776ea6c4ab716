"""The note commands through click, on a real SQLite file (and PostgreSQL where marked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freezegun import freeze_time

SEED_ARGS = [
    "add",
    "Kubernetes 3.2 오브젝트",
    "--first-study",
    "2024-07-07",
    "--subject",
    "Kubernetes",
    "--source",
    "컨테이너 인프라 환경 구축을 위한 쿠버네티스/도커",
    "--pages",
    "p93~",
    "--link",
    "obsidian://open?vault=study&file=k8s%2F3.2",
]


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@freeze_time("2024-07-12 03:00:00")  # 12:00 in Seoul
def test_add_then_due_on_day_five(any_db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*SEED_ARGS)
    assert result.exit_code == 0, result.output
    assert "Added #1 Kubernetes 3.2 오브젝트" in result.output
    due = _json(run_cli("due", "--json"))
    assert due == {
        "date": "2024-07-12",
        "count": 1,
        "waiting": 0,
        "notes": [
            {
                "id": 1,
                "title": "Kubernetes 3.2 오브젝트",
                "link": "obsidian://open?vault=study&file=k8s%2F3.2",
                "stage": 4,
                "extra": False,
                "due_on": "2024-07-11",
                "days_late": 1,
                "progress": 0,
            }
        ],
    }
    text = run_cli("due").output
    assert "D+4" in text and "1 day late" in text


@freeze_time("2024-07-12 03:00:00")
def test_list_limit_shows_the_first_notes_and_says_more_follow(any_db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        assert run_cli("add", f"노트 {i}", "--first-study", f"2024-07-0{i + 1}").exit_code == 0
    lines = run_cli("list", "--limit", "3").output.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3", "More"]
    assert lines[-1] == "More notes follow: only the first 3 are shown (--limit)."
    assert [n["id"] for n in _json(run_cli("list", "--json", "--limit", "2"))] == [1, 2]
    everything = run_cli("list", "--limit", "5")
    assert everything.output == run_cli("list").output and "More notes" not in everything.output
    refused = run_cli("list", "--limit", "0")
    assert refused.exit_code == 2 and "--limit" in refused.output


@freeze_time("2024-10-27 05:01:00")
def test_seed_flow_reaches_sixty_percent_and_an_extra_review(any_db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(*SEED_ARGS).exit_code == 0
    for stage, day in [(1, "2024-07-08"), (4, "2024-07-11"), (7, "2024-07-14"), (14, "2024-07-21")]:
        result = run_cli("done", "kube", "--stage", str(stage), "--on", day)
        assert result.exit_code == 0, result.output
    shown = _json(run_cli("show", "1", "--json"))
    assert shown["progress"] == 60
    assert shown["progress_bar"] == "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"
    assert [(s["stage"], s["due_on"], s["done_on"]) for s in shown["stages"]] == [
        (1, "2024-07-08", "2024-07-08"),
        (4, "2024-07-11", "2024-07-11"),
        (7, "2024-07-14", "2024-07-14"),
        (14, "2024-07-21", "2024-07-21"),
    ]
    # Day 112: due for an extra review (the learner's note says "복습: 추가 복습").
    due = _json(run_cli("due", "--json"))["notes"]
    assert [(d["stage"], d["extra"], d["days_late"]) for d in due] == [(104, True, 8)]
    assert "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%" in run_cli("list").output
    # Marking it long-term ends the reminders and completes the bar.
    assert run_cli("done", "1", "--long-term").exit_code == 0
    assert _json(run_cli("due", "--json"))["count"] == 0
    assert _json(run_cli("show", "1", "--json"))["progress"] == 100


@freeze_time("2024-07-12 03:00:00")
def test_one_review_covers_every_due_stage(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED_ARGS)
    result = run_cli("done", "1")
    assert result.exit_code == 0, result.output
    assert "done D+1, D+4 on 2024-07-12" in result.output
    shown = _json(run_cli("show", "1", "--json"))
    assert [s["done_on"] for s in shown["stages"]] == ["2024-07-12", "2024-07-12", None, None]
    assert shown["next_review"] == {"stage": 7, "extra": False, "due_on": "2024-07-14"}
    assert _json(run_cli("due", "--json"))["count"] == 0
    # Nothing is due now: a plain `done` is refused, and says when the next review is.
    again = run_cli("done", "1")
    assert again.exit_code == 2
    assert "nothing is due" in again.output and "2024-07-14" in again.output
    # Undo puts a stage back on the due list.
    assert run_cli("undo", "1", "--stage", "4").exit_code == 0
    assert _json(run_cli("due", "--json"))["notes"][0]["stage"] == 4


@freeze_time("2024-08-20 03:00:00")
def test_extra_review_comes_back_every_thirty_days(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED_ARGS)
    run_cli("done", "1", "--on", "2024-07-21")  # the whole ladder in one late review
    assert _json(run_cli("due", "--json", "--on", "2024-08-19"))["count"] == 0
    assert _json(run_cli("due", "--json"))["notes"][0]["stage"] == 44
    assert run_cli("done", "1").exit_code == 0
    shown = _json(run_cli("show", "1", "--json"))
    assert shown["extra_review"] == {"stage": 74, "due_on": "2024-09-19"}
    assert _json(run_cli("due", "--json", "--on", "2024-09-19"))["notes"][0]["stage"] == 74


@freeze_time("2024-07-12 03:00:00")
def test_edit_first_study_moves_pending_stages(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED_ARGS)
    run_cli("done", "1", "--stage", "1", "--on", "2024-07-08")
    result = run_cli("edit", "1", "--first-study", "2024-07-10", "--title", "K8s 3.2")
    assert result.exit_code == 0, result.output
    shown = _json(run_cli("show", "K8s", "--json"))
    assert shown["title"] == "K8s 3.2"
    assert [(s["due_on"], s["done_on"]) for s in shown["stages"]] == [
        ("2024-07-11", "2024-07-08"),
        ("2024-07-14", None),
        ("2024-07-17", None),
        ("2024-07-24", None),
    ]
    assert _json(run_cli("due", "--json"))["count"] == 0


@freeze_time("2024-07-12 03:00:00")
def test_per_note_ladder_and_global_setting(db_url: str, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_LADDER", "2,5")
    run_cli("add", "global ladder", "--first-study", "2024-07-10")
    run_cli("add", "own ladder", "--first-study", "2024-07-10", "--ladder", "1,3,9")
    ladders = {n["title"]: n["ladder"] for n in _json(run_cli("list", "--json"))}
    assert ladders == {"global ladder": [2, 5], "own ladder": [1, 3, 9]}
    assert run_cli("done", "own", "--stage", "2").exit_code == 2


@freeze_time("2024-07-12 03:00:00")
def test_note_lookup_by_prefix_and_ambiguity(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli("add", "Kubernetes 3.2", "--first-study", "2024-07-07")
    run_cli("add", "Kubernetes 3.3", "--first-study", "2024-07-08")
    result = run_cli("show", "kubernetes")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "#1 Kubernetes 3.2" in result.output and "#2 Kubernetes 3.3" in result.output
    assert run_cli("show", "Kubernetes 3.3").exit_code == 0
    assert run_cli("show", "kubernetes 3.3").exit_code == 0
    assert run_cli("show", "100%").exit_code == 2  # LIKE wildcards in a prefix are literal


@freeze_time("2024-07-12 03:00:00")
def test_rm_asks_first(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED_ARGS)
    refused = run_cli("rm", "1", input="n\n")
    assert refused.exit_code == 1
    assert len(_json(run_cli("list", "--json"))) == 1
    assert run_cli("rm", "1", input="y\n").exit_code == 0
    assert _json(run_cli("list", "--json")) == []
    run_cli(*SEED_ARGS)
    assert run_cli("rm", "2", "--yes").exit_code == 0


def _store_bytes(db_url: str) -> bytes:
    path = Path(db_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


@freeze_time("2024-07-12 03:00:00")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--first-study", "2024-02-30"], "'2024-02-30' is not a valid date"),
        (["add", "x", "--first-study", "next week"], "is not a date"),
        (["add", "x", "--first-study", "2024-07-13"], "after today"),
        (["add", "   ", "--first-study", "2024-07-07"], "the title is empty"),
        (["add", "x", "--first-study", "2024-07-07", "--ladder", "4,1"], "strictly increasing"),
        (["add", "x", "--first-study", "2024-07-07", "--ladder", "0,3"], "not a positive whole number"),
        (["add", "x", "--first-study", "2024-07-07", "--ladder", "1.5"], "not a positive whole number"),
        (["done", "1", "--stage", "5"], "stage 5 is not on the ladder"),
        (["done", "1", "--on", "2024-07-13"], "in the future"),
        (["done", "1", "--on", "2024-07-01"], "before the first study"),
        (["done", "nosuch"], "no note matches 'nosuch'"),
        (["show", "42"], "no note with id 42"),
        (["undo", "1"], "--stage N or --long-term"),
        (["edit", "1", "--first-study", "2030-01-01"], "after today"),
        (["edit", "1", "--title", ""], "the title is empty"),
        (["--timezone", "Mars/Olympus", "due"], "unknown time zone 'Mars/Olympus'"),
        (["due", "--on", "2024-13-01"], "not a valid date"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(db_url: str, run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(*SEED_ARGS).exit_code == 0
    before = run_cli("show", "1", "--json").stdout
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert "Traceback" not in result.output
    assert run_cli("show", "1", "--json").stdout == before
    assert len(_json(run_cli("list", "--json"))) == 1


def test_python_dash_m_works_like_the_command(db_url: str) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "reminder", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("reminder, version ")


@freeze_time("2024-10-27 05:00:00")
def test_a_late_extra_review_records_the_occurrence_reviewed(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED_ARGS)
    run_cli("done", "1", "--on", "2024-07-21")
    result = run_cli("done", "1")
    assert result.exit_code == 0, result.output
    assert "done extra D+104 on 2024-10-27" in result.output  # day 104 is the latest extra review due (not 44)
    shown = _json(run_cli("show", "1", "--json"))
    assert shown["extra_review"] == {"stage": 134, "due_on": "2024-11-18"}
    assert _json(run_cli("due", "--json"))["count"] == 0


@freeze_time("2024-07-12 03:00:00")
def test_undo_long_term_puts_the_note_back_on_its_ladder(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-10").exit_code == 0
    assert run_cli("done", "Pods", "--long-term").exit_code == 0  # D+1, and no more reminders
    shown = _json(run_cli("show", "Pods", "--json"))
    assert shown["long_term_on"] == "2024-07-12" and shown["next_review"] is None

    result = run_cli("undo", "Pods", "--long-term")

    assert result.exit_code == 0, result.output
    assert "long-term undone" in result.output
    shown = _json(run_cli("show", "Pods", "--json"))
    assert shown["long_term_on"] is None
    # The review done that day stays done; the ladder goes on from D+4, then an extra review 30 days after D+14.
    assert [s["done_on"] for s in shown["stages"]] == ["2024-07-12", None, None, None]
    assert shown["next_review"] == {"stage": 4, "extra": False, "due_on": "2024-07-14"}
    assert shown["extra_review"] == {"stage": 44, "due_on": "2024-08-23"}

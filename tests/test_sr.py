"""Obsidian Spaced Repetition notes: the plugin's note algorithm, its fields read and written byte-exact, and a
vault of SR notes reviewed from here and from Obsidian."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from freezegun import freeze_time

from reminder import srnote
from reminder.schedulers import Sr, SrState, parse_sr_due

SR_NOTE = (
    b"\xef\xbb\xbf---\r\n"
    b"tags: [review]\r\n"
    b"sr-due: 2024-07-10\r\n"
    b"sr-interval: 3\r\n"
    b'sr-ease: "250"  # set by the plugin\r\n'
    b"aliases: \xed\x8c\x8c\xeb\x93\x9c\r\n"
    b"---\r\n"
    b"# Pods\r\n\r\n## Questions\r\n- What is a pod?\r\n    The smallest unit.\r\n"
)


@pytest.mark.parametrize(
    ("day", "rating", "expected"),
    [
        # On the due day: good multiplies by ease/100, easy adds 20 to ease and the 1.3 bonus, hard takes 20 off
        # and halves (the lapses change), all rounded the way Math.round does.
        (date(2024, 7, 10), "good", SrState(date(2024, 7, 18), 8, 250)),  # 3 * 2.5 = 7.5 -> 8
        (date(2024, 7, 10), "easy", SrState(date(2024, 7, 21), 11, 270)),  # 3 * 2.7 * 1.3 = 10.53
        (date(2024, 7, 10), "hard", SrState(date(2024, 7, 12), 2, 230)),  # 3 * 0.5 = 1.5 -> 2
        (date(2024, 7, 10), "again", SrState(date(2024, 7, 12), 2, 230)),  # the plugin's lowest answer
        # Four days late: good counts half the delay, easy all of it, hard a quarter.
        (date(2024, 7, 14), "good", SrState(date(2024, 7, 27), 13, 250)),  # (3 + 2) * 2.5 = 12.5 -> 13
        (date(2024, 7, 14), "easy", SrState(date(2024, 8, 8), 25, 270)),  # (3 + 4) * 2.7 * 1.3 = 24.57
        (date(2024, 7, 14), "hard", SrState(date(2024, 7, 16), 2, 230)),  # (3 + 1) * 0.5
    ],
)
def test_the_plugins_note_algorithm(day: date, rating: str, expected: SrState) -> None:
    assert Sr().review(SrState(date(2024, 7, 10), 3, 250), rating, day) == expected


def test_ease_never_drops_below_130_and_an_interval_never_below_one_day() -> None:
    state = Sr().review(SrState(date(2024, 7, 10), 1, 140), "hard", date(2024, 7, 9))
    assert state == SrState(date(2024, 7, 10), 1, 130)
    assert Sr().review(state, "hard", date(2024, 7, 10)).ease == 130


def test_sr_due_in_the_formats_the_plugin_reads() -> None:
    assert parse_sr_due("2024-07-10") == parse_sr_due("10-07-2024") == parse_sr_due("Wed Jul 10 2024")
    with pytest.raises(ValueError):
        parse_sr_due("next week")


def test_fields_are_read_and_written_byte_exact() -> None:
    assert srnote.read_sr(SR_NOTE) == SrState(date(2024, 7, 10), 3, 250)
    new = srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 21), 11, 270))
    assert new == (
        SR_NOTE.replace(b"2024-07-10", b"2024-07-21")
        .replace(b"sr-interval: 3", b"sr-interval: 11")
        .replace(b'"250"', b'"270"')
    )
    assert srnote.read_sr(b"---\nsr-due: 2024-07-10\nsr-ease: 250\n---\n") is None  # no interval
    assert srnote.read_sr(b"# sr-due: 2024-07-10\nsr-interval: 3\nsr-ease: 250\n") is None  # no frontmatter


def test_an_sr_note_is_titled_by_the_same_rule_as_a_template_note() -> None:
    from reminder.vault_format import parse_note

    rel = "Network/TCP  hand shake.MD"  # a doubled space and an upper-case extension, as file names have
    template = parse_note(rel, "---\n❤1일복습여부: false\n---\n".encode())
    assert srnote.study_note(rel, SR_NOTE, date(2024, 7, 12)).title == "TCP hand shake"
    assert template is not None and template.title == "TCP hand shake"


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sr_vault(tmp_path: Path, run_cli, day: str, *options: str) -> Path:  # type: ignore[no-untyped-def]
    """A vault holding one SR note, registered and synced on ``day``; the note's path."""
    vault = tmp_path / "vault"
    vault.mkdir()
    path = vault / "pods.md"
    path.write_bytes(SR_NOTE)
    with freeze_time(f"{day} 03:00:00"):
        assert run_cli("vault", "add", str(vault), "--name", "study", *options).exit_code == 0
        assert run_cli("sync").exit_code == 0
    return path


def test_an_sr_vault_note_is_due_on_sr_due_and_a_rating_writes_the_three_fields_back(
    tmp_path: Path, db_url: str, run_cli
) -> None:  # type: ignore[no-untyped-def]
    path = sr_vault(tmp_path, run_cli, "2024-07-09", "--write-back")
    with freeze_time("2024-07-09 03:00:00"):
        assert _json(run_cli("due", "--json"))["count"] == 0
        shown = _json(run_cli("show", "pods", "--json"))
    assert shown["scheduler"] == "sr" and shown["next_review"]["due_on"] == "2024-07-10"
    assert shown["stages"] == []  # no ladder flags to tick in an SR note
    with freeze_time("2024-07-10 03:00:00"):
        assert [n["title"] for n in _json(run_cli("due", "--json"))["notes"]] == ["pods"]
        result = run_cli("done", "pods", "--rating", "easy")
        assert result.exit_code == 0, result.output
        assert _json(run_cli("due", "--json"))["count"] == 0
        shown = _json(run_cli("show", "pods", "--json"))
    assert shown["next_review"]["due_on"] == "2024-07-21"
    expected = srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 21), 11, 270))
    assert path.read_bytes() == expected
    with freeze_time("2024-07-10 04:00:00"):
        assert run_cli("sync").exit_code == 0  # the store and the file agree: nothing to change
    assert path.read_bytes() == expected
    assert [(h["rating"], h["source"]) for h in shown["history"]] == [("easy", "cli")]


def test_a_review_done_in_obsidian_moves_the_schedule_and_joins_the_history(
    tmp_path: Path, db_url: str, run_cli
) -> None:  # type: ignore[no-untyped-def]
    path = sr_vault(tmp_path, run_cli, "2024-07-09")
    # The plugin's Hard on 2024-07-10: ease 230, interval 2.
    path.write_bytes(srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 12), 2, 230)))
    with freeze_time("2024-07-10 05:00:00"):
        assert run_cli("sync").exit_code == 0
        shown = _json(run_cli("show", "pods", "--json"))
    assert shown["next_review"]["due_on"] == "2024-07-12"
    assert [(h["reviewed_on"], h["rating"], h["source"]) for h in shown["history"]] == [("2024-07-10", "hard", "vault")]


def test_without_write_back_a_review_done_here_is_not_undone_by_the_file(tmp_path: Path, db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    path = sr_vault(tmp_path, run_cli, "2024-07-10")
    with freeze_time("2024-07-10 03:00:00"):
        assert run_cli("done", "pods", "--rating", "good").exit_code == 0
    assert path.read_bytes() == SR_NOTE  # no write-back
    path.write_bytes(SR_NOTE + b"\r\nan edit of the body\r\n")  # the learner edits the note, not its schedule
    with freeze_time("2024-07-11 03:00:00"):
        assert run_cli("sync").exit_code == 0
        shown = _json(run_cli("show", "pods", "--json"))
    assert shown["next_review"]["due_on"] == "2024-07-18"  # good on the due day: 3 * 2.5 -> 8 days
    assert [h["rating"] for h in shown["history"]] == ["good"]


@pytest.mark.parametrize("interval, ease", [("800000", "250"), ("inf", "250"), ("3", "1e400"), ("nan", "250")])
def test_an_sr_note_with_values_out_of_range_does_not_stop_the_sync(
    tmp_path: Path, db_url: str, run_cli, interval: str, ease: str
) -> None:  # type: ignore[no-untyped-def]
    """An interval reaching before year 1, or an infinite value, used to end the whole sync in a traceback (and
    the service's sync before every slot with it); the note is not read as an SR note, the rest syncs."""
    vault = tmp_path / "vault"
    vault.mkdir()
    bad = f"---\nsr-due: 2024-07-10\nsr-interval: {interval}\nsr-ease: {ease}\n---\nbody\n".encode()
    (vault / "odd.md").write_bytes(bad)
    (vault / "kept.md").write_bytes("---\n첫 학습날: 2024-07-07\n---\n본문\n".encode())
    with freeze_time("2024-07-12 03:00:00"):
        assert run_cli("vault", "add", str(vault), "--name", "study").exit_code == 0
        result = run_cli("sync")
        assert result.exit_code == 0, result.output
        titles = [n["title"] for n in _json(run_cli("due", "--json"))["notes"]]
    assert titles == ["kept"]
    assert (vault / "odd.md").read_bytes() == bad


def test_a_hard_review_done_early_in_obsidian_joins_the_history(tmp_path: Path, db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Reviewed in Obsidian before its due day and rated Hard, a note comes back earlier than it was due: the
    sync took the new schedule but left the review out of the history (and the stats), because it only counted
    a review that moved sr-due later. A review is what moves the last review day (sr-due - sr-interval) on."""
    vault = tmp_path / "vault"
    vault.mkdir()
    path = vault / "pods.md"
    path.write_bytes(srnote.with_sr(SR_NOTE, SrState(date(2024, 7, 20), 10, 250)))  # last reviewed 07-10
    with freeze_time("2024-07-11 03:00:00"):
        assert run_cli("vault", "add", str(vault), "--name", "study").exit_code == 0
        assert run_cli("sync").exit_code == 0
    hard = Sr().review(SrState(date(2024, 7, 20), 10, 250), "hard", date(2024, 7, 12))
    assert hard == SrState(date(2024, 7, 17), 5, 230)  # earlier than it was due
    path.write_bytes(srnote.with_sr(SR_NOTE, hard))
    with freeze_time("2024-07-12 05:00:00"):
        assert run_cli("sync").exit_code == 0
        shown = _json(run_cli("show", "pods", "--json"))
    assert shown["next_review"]["due_on"] == "2024-07-17"
    assert [(h["reviewed_on"], h["rating"], h["source"]) for h in shown["history"]] == [("2024-07-12", "hard", "vault")]


def test_a_read_only_sr_note_is_not_written_and_done_says_so(tmp_path: Path, db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A read-only SR note (chmod 444) in a write-back vault: `done` recorded the review, wrote nothing and said
    nothing, exit 0, as if the file showed it; a flag note says why and exits 1, and so does an SR note now."""
    import os

    path = sr_vault(tmp_path, run_cli, "2024-07-09", "--write-back")
    os.chmod(path, 0o444)
    try:
        with freeze_time("2024-07-10 03:00:00"):
            result = run_cli("done", "pods", "--rating", "easy")
            shown = _json(run_cli("show", "pods", "--json"))
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: not written back to the note: ")
        assert "the note is read-only (mode 444)" in result.stderr
        assert shown["next_review"]["due_on"] == "2024-07-21"  # the review itself is recorded
        assert path.read_bytes() == SR_NOTE
    finally:
        os.chmod(path, 0o644)

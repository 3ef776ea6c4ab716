"""What a new user trips on: bad input gives one line and exit 2, secrets are never printed, setup saves only
what it was told, and the commands accept what list and show print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from freezegun import freeze_time
from ntfy_server import FakeNtfy


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert text.startswith("Error: ") and text.count("\n") == 0, text
    assert "Traceback" not in text
    return text


# --- cron ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["0 0 8 * * *", "0 8 * * * 2030", "8 * *"])
def test_only_five_field_cron_is_accepted(run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch, expr: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_CRON", expr)
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
    assert "five fields" in one_line_error(run_cli("config", "show"))
    assert "five fields" in one_line_error(run_cli("run", "--once", "--dry-run"))


def test_cron_names_are_accepted(run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_CRON", "@daily")
    assert run_cli("config", "show").exit_code == 0


# --- one set of limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ladder", ["1,3000000", "1,99999999999", "1,3651", "0,4", "1,٣"])
def test_ladder_beyond_the_limit_is_one_line_everywhere(
    run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch, ladder: str
) -> None:  # type: ignore[no-untyped-def]
    one_line_error(run_cli("add", "Pods", "--first-study", "2024-07-07", "--ladder", ladder))
    assert run_cli("add", "Pods", "--first-study", "2024-07-07", "--ladder", "1,3650").exit_code == 0
    one_line_error(run_cli("edit", "Pods", "--ladder", ladder))
    monkeypatch.setenv("REMINDER_LADDER", ladder)
    assert "REMINDER_LADDER" in one_line_error(run_cli("list"))


def test_a_title_of_undecodable_bytes_is_one_line(tmp_path: Path) -> None:
    # A real process: the shell hands Python bytes that are not UTF-8 ($'\xff\xfe'), which become surrogates.
    env = {
        **os.environ,
        "REMINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "REMINDER_TIMEZONE": "Asia/Seoul",
        "REMINDER_CONFIG": str(tmp_path / "none.toml"),
    }
    argv = [sys.executable.encode(), b"-m", b"reminder", b"add", b"\xff\xfe", b"--first-study", b"2024-07-07"]
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert err.startswith("Error: ") and "not valid text" in err and err.count("\n") == 1
    listed = subprocess.run([sys.executable, "-m", "reminder", "list"], env=env, capture_output=True, timeout=60)
    assert "No notes yet" in listed.stdout.decode()


@pytest.mark.parametrize(("option", "limit"), [("--subject", 200), ("--pages", 100), ("--level", 100)])
def test_a_field_over_its_column_length_is_one_line_on_both_databases(
    run_cli, any_db_url: str, option: str, limit: int
) -> None:  # type: ignore[no-untyped-def]
    text = one_line_error(run_cli("add", "Pods", "--first-study", "2024-07-07", option, "x" * (limit + 1)))
    assert f"longer than {limit}" in text
    assert run_cli("add", "Pods", "--first-study", "2024-07-07", option, "x" * limit).exit_code == 0
    one_line_error(run_cli("edit", "Pods", option, "y" * (limit + 1)))


# --- secrets ----------------------------------------------------------------------------------------------------

SLASH_URL = "postgresql+psycopg://u:se/cret@127.0.0.1:1/db"


def test_a_database_password_with_a_slash_is_masked_everywhere(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_DATABASE_URL", SLASH_URL)
    shown = run_cli("config", "show")
    assert shown.exit_code == 0 and "se/cret" not in shown.output and "u:***@127.0.0.1" in shown.output
    for args in (["db", "upgrade"], ["list"]):
        result = run_cli(*args)
        assert result.exit_code == 2
        assert "se/cret" not in result.output and "cret" not in result.output, result.output


def test_mask_url_uses_the_url_parser() -> None:
    from reminder.config import mask_url

    assert mask_url(SLASH_URL) == "postgresql+psycopg://u:***@127.0.0.1:1/db"
    assert mask_url("postgresql://u:p:w@h/db") == "postgresql://u:***@h/db"
    assert mask_url("sqlite:////data/r.db") == "sqlite:////data/r.db"
    assert "secret" not in mask_url("see http://u:secret@host: bad")


# --- setup and the config file ----------------------------------------------------------------------------------


def test_setup_server_flag_wins_and_nothing_from_the_environment_is_saved(
    run_cli, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    with FakeNtfy() as told, FakeNtfy() as environment:
        monkeypatch.setenv("REMINDER_NTFY_SERVER", environment.url)
        monkeypatch.setenv("REMINDER_LANGUAGE", "en")
        result = run_cli("setup", "--server", told.url, "--topic", "my-reviews")
        assert result.exit_code == 0, result.output
        assert len(told.messages("my-reviews")) == 1  # the test push went where the user said
        assert environment.requests == []
    saved = tomllib.loads((tmp_path / "config.toml").read_text(encoding="utf-8"))
    # Not the environment's server, language or zone (REMINDER_TIMEZONE is set by the test fixtures).
    assert saved == {"ntfy_server": told.url, "ntfy_topic": "my-reviews"}


def test_setup_refuses_a_token_with_a_control_character_and_keeps_the_config_usable(
    run_cli, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("setup", "--topic", "my-reviews", "--no-test").exit_code == 0
    before = (tmp_path / "config.toml").read_bytes()
    text = one_line_error(run_cli("setup", "--token", "tk_abc\x7f", "--no-test"))
    assert text.startswith("Error: --token:") and "tk_abc" not in text  # the option it came from
    assert (tmp_path / "config.toml").read_bytes() == before
    assert run_cli("config", "show").exit_code == 0


LEARNERS_CONFIG = """\
# My reminder settings -- written by hand, please keep my notes.
ntfy_topic   = "my-reviews"     # the one on my phone

# Stages I settled on after the exam in May:
ladder = [1, 3, 9, 21]  # shorter than the default
daily_limit = 25
tags = [ "books",'exam' ]
ntfy_token = 'tk_old'  # rotated every spring
"""


def test_setup_changes_the_token_line_and_keeps_every_other_byte_of_the_learners_config(
    run_cli, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """setup rewrote the whole file with tomli-w: the learner's comments, blank lines and layout were lost.
    Now only the token's value changes (its quotes and comment stay); every other byte is the learner's."""
    config = tmp_path / "config.toml"
    config.write_text(LEARNERS_CONFIG, encoding="utf-8")
    result = run_cli("setup", "--token", "tk_new0123456789", "--no-test")
    assert result.exit_code == 0, result.output
    expected = LEARNERS_CONFIG.replace("ntfy_token = 'tk_old'", "ntfy_token = 'tk_new0123456789'")
    assert config.read_text(encoding="utf-8") == expected
    assert run_cli("config", "show").exit_code == 0
    # A setting setup adds goes at the end; the rest stays as it was.
    assert run_cli("setup", "--language", "en", "--no-test").exit_code == 0
    assert config.read_text(encoding="utf-8") == expected + 'language = "en"\n'
    # A key reminder does not know is refused as a typo on load, before setup writes anything.
    unknown = expected + "colour = 'blue'  # for another tool\n"
    config.write_text(unknown, encoding="utf-8")
    assert "unknown setting 'colour'" in one_line_error(run_cli("setup", "--token", "tk_other", "--no-test"))
    assert config.read_text(encoding="utf-8") == unknown


def test_the_config_file_reads_back_what_was_saved(tmp_path: Path) -> None:
    from reminder.config import read_config_file, save_config_values

    path = tmp_path / "c.toml"
    save_config_values(path, {"ntfy_topic": "t-1", "tags": ("books", 'say "hi"\\'), "ladder": "1,4,7"})
    assert read_config_file(path) == {"ntfy_topic": "t-1", "tags": ["books", 'say "hi"\\'], "ladder": "1,4,7"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_explicit_config_that_does_not_exist_is_an_error(run_cli, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "missing.toml"
    assert "does not exist" in one_line_error(run_cli("--config", str(missing), "list"))
    # setup creates the file it is pointed at
    assert run_cli("--config", str(missing), "setup", "--topic", "t-1", "--no-test").exit_code == 0
    assert run_cli("--config", str(missing), "list").exit_code == 0


# --- notes: what list/show print is accepted back ---------------------------------------------------------------


@freeze_time("2024-07-12 03:00:00")
def test_hash_id_and_d_plus_stage_are_accepted(run_cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    assert run_cli("show", "#1").exit_code == 0
    done = run_cli("done", "#1", "--stage", "D+1")
    assert done.exit_code == 0, done.output
    assert "done D+1" in done.output
    assert run_cli("undo", "#1", "--stage", "d+1").exit_code == 0
    assert "--stage" in one_line_error(run_cli("done", "#1", "--stage", "D+x"))


def test_a_second_note_with_the_same_title_needs_allow_duplicate(run_cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    assert "--allow-duplicate" in one_line_error(run_cli("add", "pods", "--first-study", "2024-07-08"))
    assert run_cli("add", "Pods", "--first-study", "2024-07-08", "--allow-duplicate").exit_code == 0
    assert len(json.loads(run_cli("list", "--json").stdout)) == 2


@freeze_time("2024-12-01 03:00:00")
def test_show_json_extra_review_agrees_with_due(run_cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    with freeze_time("2024-07-21 03:00:00"):
        assert run_cli("done", "Pods").exit_code == 0  # every stage of the ladder
    shown = json.loads(run_cli("show", "Pods", "--json").stdout)
    assert shown["due"]["extra"] is True
    assert shown["extra_review"] == {"stage": shown["due"]["stage"], "due_on": shown["due"]["due_on"]}


@freeze_time("2024-07-12 03:00:00")
def test_edit_ladder_recomputes_the_extra_review_and_the_next_review(run_cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("add", "Pods", "--first-study", "2024-07-10").exit_code == 0
    assert run_cli("done", "Pods").exit_code == 0  # D+1
    assert run_cli("edit", "Pods", "--ladder", "1,2").exit_code == 0
    shown = json.loads(run_cli("show", "Pods", "--json").stdout)
    assert shown["extra_review"] == {"stage": 32, "due_on": "2024-08-11"}  # 2 + 30 days, not the old 14 + 30
    assert run_cli("done", "Pods").exit_code == 0  # D+2
    shown = json.loads(run_cli("show", "Pods", "--json").stdout)
    assert shown["next_review"] == {"stage": 32, "extra": True, "due_on": "2024-08-11"}

"""Settings precedence (defaults < file < environment < flags), validation and masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reminder.config import ConfigError, load_settings, save_config_values


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('timezone = "Europe/Berlin"\nladder = [1, 3, 9]\nextra_every = 10\nlanguage = "en"\n')
    env = {"REMINDER_TIMEZONE": "America/New_York", "REMINDER_EXTRA_EVERY": "20"}
    s = load_settings({"timezone": "Asia/Seoul"}, environ=env, config_path=cfg)
    assert (s.timezone, s.sources["timezone"]) == ("Asia/Seoul", "flag")
    assert (s.extra_every, s.sources["extra_every"]) == (20, "environment (REMINDER_EXTRA_EVERY)")
    assert s.ladder == (1, 3, 9) and s.sources["ladder"].startswith("config file")
    assert (s.language, s.cron, s.sources["cron"]) == ("en", "0 8 * * *", "default")
    assert s.ntfy_server == "https://ntfy.sh"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REMINDER_TIMEZONE": "Asia/Nowhere"}, "REMINDER_TIMEZONE: unknown time zone"),
        ({"REMINDER_LADDER": "1,4,4"}, "REMINDER_LADDER: stages must be strictly increasing"),
        ({"REMINDER_LADDER": "-1,4"}, "not a positive whole number"),
        ({"REMINDER_EXTRA_EVERY": "0"}, "REMINDER_EXTRA_EVERY"),
        ({"REMINDER_NTFY_SERVER": "ftp://ntfy.example"}, "is not an http(s) URL"),
        ({"REMINDER_NTFY_TOPIC": "has space"}, "not a valid ntfy topic"),
        ({"REMINDER_NTFY_TOPIC": "docs"}, "reserved by ntfy"),
        ({"REMINDER_NTFY_TOKEN_FILE": "/no/such/token"}, "does not exist"),
        ({"REMINDER_LANGUAGE": "fr"}, "not a supported language"),
        ({"REMINDER_PRIORITY": "9"}, "not an ntfy priority"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ=env, config_path=tmp_path / "none.toml")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["999999999", "4000000"])
def test_an_extra_interval_beyond_the_calendar_is_refused_where_it_enters(value: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """REMINDER_EXTRA_EVERY had no upper bound: `add` then computed a due date past year 9999 and ended in an
    OverflowError traceback. It has the ladder's limit (3650 days), named in one line."""
    monkeypatch.setenv("REMINDER_EXTRA_EVERY", value)
    result = run_cli("add", "TCP handshake", "--first-study", "2024-07-07")
    assert result.exit_code == 2
    assert result.output.startswith("Error: REMINDER_EXTRA_EVERY:") and "3650" in result.output
    assert result.output.strip().count("\n") == 0


@pytest.mark.parametrize("value", ["36501", "99999999999"])
def test_an_fsrs_interval_beyond_a_hundred_years_is_refused_from_env_and_file(  # type: ignore[no-untyped-def]
    value: str, run_cli, monkeypatch, tmp_path: Path
) -> None:
    """fsrs_max_interval had no upper bound; like the other settings it is refused in one line naming where it
    came from, and Anki's own maximum (36500 days) is accepted."""
    monkeypatch.setenv("REMINDER_FSRS_MAX_INTERVAL", value)
    result = run_cli("add", "TCP handshake", "--first-study", "2024-07-07", "--scheduler", "fsrs")
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.count("\n") == 0 and line.startswith("Error: REMINDER_FSRS_MAX_INTERVAL:") and "36500" in line
    cfg = tmp_path / "file.toml"
    cfg.write_text(f"fsrs_max_interval = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(environ={}, config_path=cfg)
    assert "fsrs_max_interval" in str(err.value) and "36500" in str(err.value) and "\n" not in str(err.value)
    cfg.write_text("fsrs_max_interval = 36500\n")
    assert load_settings(environ={}, config_path=cfg).fsrs_max_interval == 36500


@pytest.mark.parametrize("key", ["changeme", "correct-horse-battery-staple", "x" * 31, " " * 8 + "shortkey"])
def test_a_guessable_signing_key_is_refused_in_one_line_that_does_not_show_it(key: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Anyone who guesses REMINDER_SECRET_KEY can sign the phone buttons' links (mark done, snooze): a short
    one is refused where it enters, naming the setting and how to make a good one, never printing it."""
    monkeypatch.setenv("REMINDER_SECRET_KEY", key)
    result = run_cli("add", "TCP handshake", "--first-study", "2024-07-07")
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.count("\n") == 0 and line.startswith("Error: REMINDER_SECRET_KEY:")
    assert "32" in line and "secrets.token_urlsafe(32)" in line
    assert key.strip() not in line
    monkeypatch.setenv("REMINDER_SECRET_KEY", "k" * 32)
    assert "TCP handshake" not in run_cli("list").output  # the refused command stored nothing
    assert run_cli("add", "TCP handshake", "--first-study", "2024-07-07").exit_code == 0
    assert "TCP handshake" in run_cli("list").output


def test_broken_or_unknown_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("timezone = \n")
    with pytest.raises(ConfigError, match="config file"):
        load_settings(environ={}, config_path=bad)
    bad.write_text('tmezone = "UTC"\n')
    with pytest.raises(ConfigError, match="unknown setting 'tmezone'"):
        load_settings(environ={}, config_path=bad)


def test_saved_config_round_trips_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    save_config_values(path, {"ntfy_topic": "reminder-Abc_123", "ntfy_token": 'tk_"quoted"\\x', "port": 9000})
    assert path.stat().st_mode & 0o777 == 0o600
    s = load_settings(environ={}, config_path=path)
    assert (s.ntfy_topic, s.ntfy_token, s.port) == ("reminder-Abc_123", 'tk_"quoted"\\x', 9000)


def test_config_show_masks_secrets(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_NTFY_TOKEN", "tk_abcdefghijklmnopqrstuvwxyz012")
    monkeypatch.setenv("REMINDER_DATABASE_URL", "postgresql+psycopg://bob:hunter2@db/reminder")
    result = run_cli("config", "show")
    assert result.exit_code == 0, result.output
    assert "tk_abc" not in result.output and "hunter2" not in result.output
    assert "postgresql+psycopg://bob:***@db/reminder" in result.output
    data = json.loads(run_cli("config", "show", "--json").stdout)
    assert data["settings"]["ntfy_token"] == {"value": "********", "source": "environment (REMINDER_NTFY_TOKEN)"}
    assert data["settings"]["timezone"]["value"] == "Asia/Seoul"


def test_a_password_in_the_ntfy_server_url_is_never_printed(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`config show` masked the database URL's password but printed the ntfy server's as given, and `status`
    put it into the subscribe link; requests sends a URL's user and password as basic auth, so it is a secret."""
    monkeypatch.setenv("REMINDER_NTFY_SERVER", "https://me:hunter2@ntfy.example.com")
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "reminder-abc")
    for args in (("config", "show"), ("config", "show", "--json"), ("status",), ("status", "--json")):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.output, args
        assert "ntfy.example.com" in result.output, args


def test_config_show_rejects_a_bad_cron(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_CRON", "0 25 * * *")
    result = run_cli("config", "show")
    assert result.exit_code == 2
    assert "cron" in result.output and "not a valid cron expression" in result.output


def test_settings_are_read_only_typed_fields_one_per_setting(tmp_path: Path) -> None:
    import dataclasses

    from reminder.config import SETTINGS

    s = load_settings(environ={"REMINDER_PORT": "9000"}, config_path=tmp_path / "absent.toml")
    assert [f.name for f in dataclasses.fields(s)][: len(SETTINGS)] == [x.name for x in SETTINGS]
    assert s.port == 9000 and s.sources["port"] == "environment (REMINDER_PORT)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]  # the point: a command cannot change a setting behind the others' back

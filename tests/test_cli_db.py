"""`reminder db upgrade` and `reminder db backup` as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from freezegun import freeze_time


@freeze_time("2024-07-12 03:00:00")
def test_backup_copies_a_store_that_opens_with_every_note(db_url: str, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07")
    run_cli("done", "1")
    dest = tmp_path / "backups" / "reminder-2024-07-12.db"
    dest.parent.mkdir()
    result = run_cli("db", "backup", str(dest))
    assert result.exit_code == 0, result.output
    assert str(dest) in result.output
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT title FROM notes").fetchall() == [("Kubernetes 3.2 오브젝트",)]
    # The copy is a working store: point reminder at it.
    restored = run_cli("--database", f"sqlite:///{dest}", "show", "1", "--json")
    assert json.loads(restored.stdout)["stages"][0]["done_on"] == "2024-07-12"
    again = run_cli("db", "backup", str(dest))
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert run_cli("db", "backup", str(dest), "--overwrite").exit_code == 0


def test_backup_of_postgres_says_to_use_pg_dump(run_cli, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_DATABASE_URL", "postgresql+psycopg://u:secretpw@127.0.0.1/db")
    result = run_cli("db", "backup", str(tmp_path / "x.db"))
    assert result.exit_code == 2
    assert "pg_dump" in result.output and "secretpw" not in result.output


def test_db_upgrade_on_postgres(pg_url: str, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_DATABASE_URL", pg_url)
    refused = run_cli("list")
    assert refused.exit_code == 2 and "reminder db upgrade" in refused.output
    result = run_cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "is at schema" in result.output
    assert run_cli("list").exit_code == 0

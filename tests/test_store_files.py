"""The embedded store's files: who may read them, what may become the store, and concurrent first starts."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reminder.db import HEAD, StoreError, open_store
from reminder.db.models import Meta
from reminder.lightread import due_from_sqlite_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_default_store_is_private(run_cli, isolated_env: Path) -> None:  # type: ignore[no-untyped-def]
    os.umask(0o022)  # a usual umask: files 0644 and folders 0755 unless the store says otherwise
    assert run_cli("add", "Pods", "--first-study", "2024-07-07").exit_code == 0
    folder = isolated_env / ".local" / "share" / "reminder"
    db = folder / "reminder.db"
    assert mode(folder) == 0o700
    assert mode(db) == 0o600
    for companion in ("reminder.db-wal", "reminder.db-shm"):
        if (folder / companion).exists():
            assert mode(folder / companion) == 0o600


def test_an_existing_store_made_readable_by_all_is_made_private_again(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    db = folder / "reminder.db"
    store = open_store(f"sqlite:///{db}")
    with store.write() as s:
        s.add(Meta(key="k", value="v"))
    for path in folder.iterdir():
        path.chmod(0o644)  # as an older version left them
    folder.chmod(0o755)
    store.dispose()
    store = open_store(f"sqlite:///{db}", create_dirs=True)  # the default location: the folder is reminder's
    with store.read() as s:
        s.get(Meta, "k")
    try:
        files = sorted(p.name for p in folder.iterdir())
        assert "reminder.db-wal" in files
        assert {p.name: mode(p) for p in folder.iterdir()} == dict.fromkeys(files, 0o600)
        assert mode(folder) == 0o700
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "content",
    [b"x", b"\x00", b"notes I care about\n" * 3, b"SQLite format 3", b"SQLite format 2\x00" + b"\x00" * 100],
    ids=["1-byte", "nul", "text", "header-without-nul", "other-header"],
)
def test_a_file_that_is_not_an_sqlite_database_is_refused_and_untouched(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "notes.txt"
    path.write_bytes(content)
    before = path.stat().st_mtime_ns
    with pytest.raises(StoreError, match="is not an SQLite database"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == content and path.stat().st_mtime_ns == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["notes.txt"]


def test_the_command_line_refuses_it_in_one_line(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.db"
    path.write_bytes(b"x")
    monkeypatch.setenv("REMINDER_DATABASE_URL", f"sqlite:///{path}")
    result = run_cli("list")
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert path.read_bytes() == b"x"


def test_an_empty_file_may_become_the_store(tmp_path: Path) -> None:
    # SQLite treats a 0-byte file as an empty database; nothing in it can be lost. A user may prepare the file
    # (touch, chmod) before the first start.
    path = tmp_path / "prepared.db"
    path.touch()
    open_store(f"sqlite:///{path}").dispose()
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def test_a_path_with_a_hash_opens_that_file(tmp_path: Path) -> None:
    folder = tmp_path / "odd#dir"  # in a SQLAlchemy URL, "?" starts the query: only "#" can be in a path
    folder.mkdir()
    path = folder / "r.db"
    url = f"sqlite:///{path}"
    open_store(url).dispose()
    open_store(url).dispose()  # the revision check reads it read-only through a URI
    assert due_from_sqlite_file(path, date(2024, 7, 12), 30) == []
    # Nothing was created beside the folder: "odd" (the path cut at "#") would be another database.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "odd#dir"]


def _first_start(url: str, results: Any) -> None:
    try:
        store = open_store(url)
        with store.read() as session:
            session.get(Meta, "signing_key")
        store.dispose()
        results.put("ok")
    except BaseException:  # the test reports whatever went wrong, traceback included
        results.put(traceback.format_exc())


def test_four_starts_at_once_on_a_new_store_80_trials(tmp_path: Path) -> None:
    """80 processes in total (20 trials of 4 at once on a new store): all open it, none meets 'database is
    locked'. Forked from this process so that a trial costs the migration, not four imports of the package."""
    ctx = multiprocessing.get_context("fork")
    failures = []
    for trial in range(20):
        url = f"sqlite:///{tmp_path / f't{trial}.db'}"
        results = ctx.Queue()
        procs = [ctx.Process(target=_first_start, args=(url, results)) for _ in range(4)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        failures += [o for o in outcomes if o != "ok"]
        failures += [f"exit {p.exitcode}" for p in procs if p.exitcode != 0]
        with sqlite3.connect(tmp_path / f"t{trial}.db") as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    assert failures == []


START = """
import sys
from reminder.cli import cli
sys.argv = ["reminder", "list"]
cli()
"""


def test_four_commands_starting_at_once_on_a_new_store(tmp_path: Path) -> None:
    """The same through the command line, as a user's shell script or four cron jobs would start it."""
    db = tmp_path / "reminder.db"
    env = {**os.environ, "REMINDER_DATABASE_URL": f"sqlite:///{db}", "REMINDER_TIMEZONE": "Asia/Seoul"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [(proc.communicate(timeout=120), proc.returncode) for proc in procs]
    assert [(code, "Traceback" in err) for (_, err), code in results] == [(0, False)] * 4


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////data/odd#dir/r.db",
        "sqlite:////data/a%20b%23c.db",
        "sqlite:///relative.db",
        "sqlite:///x.db?mode=ro",
        "sqlite+pysqlite:///y.db",
        "sqlite:///~/r.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://u:p@h/db",
    ],
)
def test_every_part_finds_the_file_sqlalchemy_opens(url: str) -> None:
    # The store opens make_url's file; the light read path, the backup and the file checks must find that one
    # file, not a neighbour whose name holds %20 or a ~ expanded where SQLite expands none.
    from sqlalchemy.engine import make_url

    from reminder.sqlite_files import sqlite_path

    parsed = make_url(url)
    opened = parsed.database if parsed.get_backend_name() == "sqlite" else None
    assert sqlite_path(url) == (Path(opened) if opened and opened != ":memory:" else None)


def test_a_store_whose_path_needs_percent_encoding_is_read_by_the_light_path(tmp_path: Path) -> None:
    folder = tmp_path / "odd #dir"
    folder.mkdir()
    url = f"sqlite:///{folder.as_posix().replace(' ', '%20').replace('#', '%23')}/r.db"
    open_store(url).dispose()
    from reminder.lightread import sqlite_file

    found = sqlite_file(url)
    assert found == folder / "r.db" and found.is_file()
    assert due_from_sqlite_file(found, date(2024, 7, 12), 30) == []


@pytest.mark.parametrize("folder", ["odd?dir", "p%41", "odd #dir"])
def test_the_default_store_is_in_the_data_folder_whatever_its_name(
    folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A data folder named with ? or % once put the store elsewhere (/.../odd, /.../pA): the URL cut or decoded.
    data = tmp_path / folder
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    env = {k: v for k, v in os.environ.items() if k != "REMINDER_DATABASE_URL"}
    added = subprocess.run(
        [sys.executable, "-m", "reminder", "add", "TCP", "--first-study", "2024-07-07"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert {p.name for p in tmp_path.iterdir()} <= {folder, "home", "config.toml"}  # no stray store beside it
    assert (data / "reminder" / "reminder.db").is_file()

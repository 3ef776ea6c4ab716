"""Shared fixtures: an isolated environment, a real SQLite store, the real PostgreSQL server, the CLI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import freezegun
import pytest
from click.testing import CliRunner, Result

from reminder.cli import cli, use_language
from reminder.db import Store, open_store

SEED_NOTE = Path(__file__).resolve().parent / "data" / "kubernetes-3.2-objects.md"
# A frozen clock must not reach pytest's own timer, or `--durations` reports the years since 1970.
freezegun.configure(extend_ignore_list=["_pytest.timing"])

PG_ADMIN_URL = os.environ.get("REMINDER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's own config, data dir or REMINDER_* variables."""
    for name in list(os.environ):
        if name.startswith("REMINDER_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("REMINDER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("REMINDER_TIMEZONE", "Asia/Seoul")
    # The command line speaks English whatever the developer's locale; the tests of the Korean one set LANG.
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    use_language("en")
    return home


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'reminder.db'}"
    monkeypatch.setenv("REMINDER_DATABASE_URL", url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.dispose()


def _pg_available() -> str | None:
    """None when the server answers, else the reason."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    reason = _pg_available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"reminder_test_{uuid.uuid4().hex[:12]}"
    admin = pg_server.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same test on the embedded SQLite store and on the real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reminder.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        open_store(url, auto_upgrade=True).dispose()
    monkeypatch.setenv("REMINDER_DATABASE_URL", url)
    return url


@pytest.fixture(params=["store", "light"])
def ledger(request: pytest.FixtureRequest) -> str:
    """The runner's statements through the store or through sqlite3 on the same file (setups.make_runner)."""
    return str(request.param)


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke `reminder ARGS...` in-process (the environment set by the fixtures above)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the image's builder stage makes, built once for every test that needs it."""
    from image import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


# The loopback ntfy-compatible server (tests/ntfy_server.py), as a fixture for every test module.
from ntfy_server import ntfy_server  # noqa: E402, F401

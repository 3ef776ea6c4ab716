"""Set-ups several test modules share: the settings a runner starts from, and a note added as `reminder add`
adds it (the default ladder). Helpers, not tests: each module keeps the set-ups only it needs."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ntfy_server import FakeNtfy

from reminder import notes
from reminder.config import Settings, load_settings
from reminder.db import Store
from reminder.ledger import LightLedger
from reminder.runner import Runner

LADDER = (1, 4, 7, 14)
EXTRA_EVERY = 30
TOPIC = "study-reviews"


# The two ways a runner reads and writes its slots and outbox (reminder.ledger): through the store, and on the
# same SQLite file through sqlite3, as `reminder run --once` does. The delivery tests run on both.
LEDGERS = ("store", "light")


# Two runners on one store, (backend, their ledgers): both on the store, both light (two timers' `run --once`),
# one of each (a timer's `run --once` beside the service); PostgreSQL has the store's ledger only.
RACING = [
    ("sqlite", ("store", "store")),
    ("sqlite", ("light", "light")),
    ("sqlite", ("store", "light")),
    pytest.param("postgres", ("store", "store"), marks=pytest.mark.postgres),
]


def make_runner(ledger: str, store: Store, settings: Settings, client: Any, **kw: Any) -> Runner:
    """A runner on ``store`` whose slot and outbox statements go through ``ledger`` ("store" or "light"). The
    light one is given no store at all, as `run --once` gives it none: nothing it does can go through SQLAlchemy."""
    if ledger == "light":
        assert store.is_sqlite, "the light ledger is SQLite's"
        return Runner(None, settings, client, ledger=LightLedger(Path(str(store.engine.url.database))), **kw)
    return Runner(store, settings, client, **kw)


def runner_settings(tmp_path: Path, server: FakeNtfy, **env: str) -> Settings:
    """A learner in Seoul with the daily 08:00 digest in Korean, pushed to ``server``; ``env`` overrides, by
    REMINDER_* name. No config file is read."""
    base = {
        "REMINDER_NTFY_SERVER": server.url,
        "REMINDER_NTFY_TOPIC": TOPIC,
        "REMINDER_TIMEZONE": "Asia/Seoul",
        "REMINDER_CRON": "0 8 * * *",
        "REMINDER_LANGUAGE": "ko",
    }
    return load_settings(environ={**base, **env}, config_path=tmp_path / "none.toml")


def web_settings(tmp_path: Path, db_url: str, **env: str) -> Settings:
    """The phone pages' settings: the store at ``db_url``, a learner in Seoul, the daily 08:00 slot; ``env``
    overrides by setting name (``language="en"``, ``public_url=...``). No config file is read."""
    environ = {"REMINDER_DATABASE_URL": db_url, "REMINDER_TIMEZONE": "Asia/Seoul", "REMINDER_CRON": "0 8 * * *"}
    environ.update({"REMINDER_" + name.upper(): value for name, value in env.items()})
    return load_settings(environ=environ, config_path=tmp_path / "absent.toml")


def add_note(store: Store, title: str, first: date, today: date | None = None, *, link: str | None = None) -> int:
    """A note first studied on ``first`` (added that day unless ``today`` says otherwise); its id."""
    with store.write() as session:
        return notes.add_note(
            session,
            title=title,
            first_studied_on=first,
            today=today or first,
            ladder=LADDER,
            extra_every=EXTRA_EVERY,
            link=link,
        ).id

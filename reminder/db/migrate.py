"""Alembic, driven from inside the package so an installed wheel can migrate its own database.

The migration scripts live in the repository's top-level ``alembic/`` folder and are shipped in the wheel as
``reminder._alembic``; ``script_location`` finds whichever of the two this installation has.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from alembic import command


def script_location() -> Path:
    spec = importlib.util.find_spec("reminder._alembic")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "env.py").is_file():
                return Path(location)
    source_tree = Path(__file__).resolve().parents[2] / "alembic"
    if (source_tree / "env.py").is_file():
        return source_tree
    raise RuntimeError("reminder's migration scripts are missing from this installation")


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if engine is not None:
        # env.py uses this connection instead of building an engine from a URL (no password in the config).
        cfg.attributes["connection_engine"] = engine
    return cfg


# Alembic keeps the running migration in module-level state (alembic.context): one upgrade per process at a time.
_UPGRADING = threading.Lock()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the store. On SQLite the whole upgrade runs in one ``BEGIN IMMEDIATE`` transaction that first reads
    the revision again: of several processes starting at once on a new store, one migrates and the others wait
    on the write lock (busy timeout), then find the schema current and do nothing."""
    with _UPGRADING:
        _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> None:
    if engine.dialect.name != "sqlite":
        command.upgrade(alembic_config(engine), revision)
        return
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        conn.execution_options(sqlite_write=True)  # reminder.db's "begin" hook issues BEGIN IMMEDIATE
        with conn.begin():
            current = MigrationContext.configure(conn).get_current_revision()
            script = ScriptDirectory.from_config(alembic_config())
            if current == script.as_revision_number(revision):
                return
            cfg = alembic_config()
            cfg.attributes["connection"] = conn  # env.py runs inside this transaction
            command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)

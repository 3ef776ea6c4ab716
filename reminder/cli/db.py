"""`reminder db ...`: schema upgrades and backups of the store."""

from __future__ import annotations

from pathlib import Path

import click

from reminder.cli import App, pass_app
from reminder.config import mask_url


@click.group()
def db() -> None:
    """Manage the store (upgrade, backup)."""


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Bring the store to this version's schema (PostgreSQL, or an older SQLite file)."""
    from reminder.db import HEAD, open_store

    url = app.settings.database_url
    store = open_store(url, auto_upgrade=True, create_dirs=True)
    store.dispose()
    click.echo(f"{mask_url(url)} is at schema {HEAD}.")


@db.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace PATH if it exists.")
@pass_app
def backup(app: App, path: Path, overwrite: bool) -> None:
    """Copy the SQLite store to PATH while it is in use (SQLite's online backup): safe from a cron job."""
    from reminder.db.backup import backup_sqlite

    written = backup_sqlite(app.settings.database_url, path, overwrite=overwrite)
    click.echo(f"Backed up {mask_url(app.settings.database_url)} to {written}.")

"""`reminder db ...`: schema upgrades and backups of the store."""

from __future__ import annotations

from pathlib import Path

import click

from reminder.cli import App, _, pass_app
from reminder.config import mask_url


@click.group(help=_("Manage the store (upgrade, backup)."))
def db() -> None:
    pass


@db.command(help=_("Bring the store to this version's schema (PostgreSQL, or an older SQLite file)."))
@pass_app
def upgrade(app: App) -> None:
    from reminder.db import HEAD, open_store

    url = app.settings.database_url
    store = open_store(url, auto_upgrade=True, create_dirs=True)
    store.dispose()
    click.echo(_("{url} is at schema {revision}.").format(url=mask_url(url), revision=HEAD))


@db.command(help=_("Copy the SQLite store to PATH while it is in use (SQLite's online backup): safe from a cron job."))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help=_("Replace PATH if it exists."))
@pass_app
def backup(app: App, path: Path, overwrite: bool) -> None:
    from reminder.db.backup import backup_sqlite

    written = backup_sqlite(app.settings.database_url, path, overwrite=overwrite)
    click.echo(_("Backed up {url} to {path}.").format(url=mask_url(app.settings.database_url), path=written))

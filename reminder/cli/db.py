"""`reminder db ...`: schema upgrades and backups of the store."""

from __future__ import annotations

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

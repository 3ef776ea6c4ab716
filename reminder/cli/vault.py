"""Commands for Obsidian vaults: vault add/list/rm, and sync (a thin layer over reminder.vault)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from reminder.cli import App, pass_app
from reminder.cli.common import adopt_default_scheduler
from reminder.cli.output import table
from reminder.db.models import Note
from reminder.notes import NoteError, utcnow
from reminder.vault import Delivery, SyncReport, add_vault, list_vaults, remove_vault, sync_all, vault_note_counts

# A bar for a few hundred files would flash and vanish; it is for the first sync of a large vault.
PROGRESS_MIN_FILES = 1000


@click.group()
def vault() -> None:
    """Register the Obsidian vaults whose study notes `reminder sync` imports."""


@vault.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="The vault's name in Obsidian, for obsidian:// links (default: the folder name).")
@click.option(
    "--write-back",
    "write_back",
    is_flag=True,
    help="Write reviews marked done elsewhere (phone, CLI) into the notes' flags.",
)
@click.option(
    "--templates",
    metavar="FOLDER",
    help="The vault's templates folder (default: Obsidian's Templates/Templater setting, else a folder named so).",
)
@click.option("--no-status", "no_status", is_flag=True, help="Do not write the status block under 복습알림 headings.")
@pass_app
def add(app: App, path: Path, name: str | None, write_back: bool, templates: str | None, no_status: bool) -> None:
    """Register the vault at PATH (a folder removed earlier comes back with its notes' history)."""
    with app.store.write() as session:
        registered = add_vault(session, path, name, write_back, templates=templates, status_block=not no_status)
        label, folder = registered.name, registered.path
        back = session.scalar(select(func.count()).where(Note.vault_id == registered.id)) or 0
    mode = "with write-back" if write_back else "read-only"
    click.echo(f"Added vault {label} ({folder}, {mode}). Import its notes with: reminder sync")
    if back:
        click.echo(f"  {back} notes removed with this folder earlier are back (history kept); sync restores them.")


@vault.command("list")
@pass_app
def list_(app: App) -> None:
    """Registered vaults: name, folder, write-back, notes, last sync."""
    with app.store.read() as session:
        counts = vault_note_counts(session)
        rows = [
            [
                v.name,
                v.path,
                "yes" if v.write_back else "no",
                str(counts.get(v.id, 0)),
                v.synced_at.strftime("%Y-%m-%d %H:%M UTC") if v.synced_at else "never",
            ]
            for v in list_vaults(session)
        ]
    if not rows:
        click.echo("No vaults yet. Add one with: reminder vault add PATH")
        return
    click.echo(table(["NAME", "PATH", "WRITE-BACK", "NOTES", "LAST SYNC"], rows, {1: 60}))


@vault.command("rm")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def rm(app: App, name: str, yes: bool) -> None:
    """Forget vault NAME: its notes are archived (history kept), its files left alone."""
    with app.store.read() as session:
        vaults = list_vaults(session)
        found = [v for v in vaults if v.name == name]
        if not found:
            known = ", ".join(v.name for v in vaults) or "none"
            raise NoteError(f"no vault named {name!r} (registered: {known})")
        count = vault_note_counts(session).get(found[0].id, 0)
    # Ask outside any transaction: a prompt must not hold the store's write lock.
    if not yes and count:
        click.confirm(f"Forget vault {name} and archive its {count} notes?", abort=True)
    with app.store.write() as session:
        archived = remove_vault(session, name)
    click.echo(f"Removed vault {name}; {archived} notes archived.")


def _summary(name: str, report: SyncReport, dry_run: bool) -> str:
    parts = [
        f"{report.added} added",
        f"{report.updated} updated",
        f"{report.renamed} renamed",
        f"{report.archived} archived",
        f"{report.written_back} written back",
        f"{len(report.skipped)} skipped",
        f"{len(report.not_scheduled)} not scheduled",
    ]
    if dry_run:
        return f"{name} (dry run, nothing changed): would be {', '.join(parts)}; {report.unchanged} unchanged"
    return f"{name}: {', '.join(parts)}; {report.unchanged} unchanged"


class _Progress:
    """A bar on stderr for one vault's reading phase; the caller creates it only when stderr is a terminal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=f"Reading {self.name}", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command()
@click.option("--dry-run", "dry_run", is_flag=True, help="Show what would change; change nothing.")
@pass_app
def sync(app: App, dry_run: bool) -> None:
    """Import new study notes from every vault, update changed ones, archive deleted ones.

    Exit status 1 when a file was skipped (each on stderr as path:line: why), 2 when a vault folder is missing.
    """
    settings = app.settings
    bars: list[_Progress] = []

    def progress(name: str) -> _Progress | None:
        if not sys.stderr.isatty():
            return None
        bars.append(_Progress(name))
        return bars[-1]

    started = utcnow()
    try:
        reports = sync_all(
            app.store,
            today=app.today(),
            ladder=settings.ladder,
            extra_every=settings.extra_every,
            dry_run=dry_run,
            progress=progress,
            zone=settings.timezone,
            delivery=Delivery(settings.cron, settings.timezone),
        )
    finally:
        for bar in bars:
            bar.close()
    if not dry_run:
        adopt_default_scheduler(app, started)
    if not reports:
        click.echo("No vaults yet. Add one with: reminder vault add PATH")
        return
    status = 0
    for name, report in reports.items():
        if report.error:
            click.echo(f"Error: {report.error}", err=True)
            status = 2
        else:
            click.echo(_summary(name, report, dry_run))
            # What a learner needs to see about files that are not plain imports, on stdout: not errors.
            if report.templates:
                click.echo(f"  {report.templates}")
            for line in (*report.dated, *report.not_scheduled, *report.lost):
                click.echo(f"  {line}")
    for report in reports.values():
        for line in report.skipped:
            click.echo(line, err=True)
        if report.skipped and status == 0:
            status = 1
    if status:
        sys.exit(status)

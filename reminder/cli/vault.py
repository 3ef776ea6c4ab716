"""Commands for Obsidian vaults: vault add/list/rm, and sync (a thin layer over reminder.vault)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from reminder.cli import App, _, error_text, ngettext, pass_app, shown
from reminder.cli.common import adopt_default_scheduler, copy_left_text
from reminder.cli.output import table
from reminder.clock import utcnow
from reminder.db.models import Note
from reminder.vault import Delivery, SyncReport, add_vault, list_vaults, remove_vault, sync_all, vault_note_counts
from reminder.vault.registry import find_vault

# A bar for a few hundred files would flash and vanish; it is for the first sync of a large vault.
PROGRESS_MIN_FILES = 1000


@click.group(help=_("Register the Obsidian vaults whose study notes `reminder sync` imports."))
def vault() -> None:
    pass


@vault.command("add", help=_("Register the vault at PATH."))
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help=_("The vault's name in Obsidian, for obsidian:// links (default: the folder name)."))
@click.option(
    "--write-back",
    "write_back",
    is_flag=True,
    help=_("Write reviews marked done elsewhere (phone, CLI) into the notes' flags."),
)
@click.option(
    "--templates",
    metavar="FOLDER",
    help=_("The vault's templates folder (default: Obsidian's Templates/Templater setting, else a folder named so)."),
)
@click.option(
    "--no-status", "no_status", is_flag=True, help=_("Do not write the status block under 복습알림 headings.")
)
@pass_app
def add(app: App, path: Path, name: str | None, write_back: bool, templates: str | None, no_status: bool) -> None:
    with app.store.write() as session:
        registered = add_vault(session, path, name, write_back, templates=templates, status_block=not no_status)
        label, folder = registered.name, registered.path
        back = session.scalar(select(func.count()).where(Note.vault_id == registered.id)) or 0
    mode = _("with write-back") if write_back else _("read-only")
    click.echo(
        _("Added vault {name} ({folder}, {mode}). Import its notes with: reminder sync").format(
            name=label, folder=folder, mode=mode
        )
    )
    if back:
        click.echo(
            ngettext(
                "  {n} note removed with this folder earlier is back (history kept); sync restores it.",
                "  {n} notes removed with this folder earlier are back (history kept); sync restores them.",
                back,
            ).format(n=back)
        )


@vault.command("list", help=_("Registered vaults: name, folder, write-back, notes, last sync."))
@pass_app
def list_(app: App) -> None:
    with app.store.read() as session:
        counts = vault_note_counts(session)
        rows = [
            [
                v.name,
                v.path,
                _("yes") if v.write_back else _("no"),
                str(counts.get(v.id, 0)),
                v.synced_at.strftime("%Y-%m-%d %H:%M UTC") if v.synced_at else _("never"),
            ]
            for v in list_vaults(session)
        ]
    if not rows:
        click.echo(_("No vaults yet. Add one with: reminder vault add PATH"))
        return
    headers = [_("NAME"), _("PATH"), _("WRITE-BACK"), _("NOTES"), _("LAST SYNC")]
    click.echo(table(headers, rows, {1: 60}))


@vault.command("rm", help=_("Forget vault NAME: its notes are archived (history kept), its files left alone."))
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help=_("Do not ask for confirmation."))
@pass_app
def rm(app: App, name: str, yes: bool) -> None:
    with app.store.read() as session:
        count = vault_note_counts(session).get(find_vault(session, name).id, 0)
    # Ask outside any transaction: a prompt must not hold the store's write lock.
    if not yes and count:
        question = ngettext(
            "Forget vault {name} and archive its {n} note?", "Forget vault {name} and archive its {n} notes?", count
        )
        click.confirm(question.format(name=name, n=count), abort=True)
    with app.store.write() as session:
        archived = remove_vault(session, name)
    click.echo(
        ngettext(
            "Removed vault {name}; {n} note archived.", "Removed vault {name}; {n} notes archived.", archived
        ).format(name=name, n=archived)
    )


def _summary(name: str, report: SyncReport, dry_run: bool) -> str:
    parts = [
        _("{n} added").format(n=report.added),
        _("{n} updated").format(n=report.updated),
        _("{n} renamed").format(n=report.renamed),
        _("{n} archived").format(n=report.archived),
        _("{n} written back").format(n=report.written_back),
        _("{n} skipped").format(n=len(report.skipped)),
        _("{n} not scheduled").format(n=len(report.not_scheduled)),
    ]
    if dry_run:
        text = _("{name} (dry run, nothing changed): would be {changes}; {n} unchanged")
    else:
        text = _("{name}: {changes}; {n} unchanged")
    return text.format(name=name, changes=", ".join(parts), n=report.unchanged)


class _Progress:
    """A bar on stderr for one vault's reading phase; the caller creates it only when stderr is a terminal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if self.bar is None:
            label = _("Reading {name}").format(name=self.name)
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command(
    help=_(
        "Import new study notes from every vault, update changed ones, archive deleted ones.\n\n"
        "Exit status 1 when a file was skipped (each on stderr as path:line: why), 2 when a vault folder is missing."
    )
)
@click.option("--dry-run", "dry_run", is_flag=True, help=_("Show what would change; change nothing."))
@pass_app
def sync(app: App, dry_run: bool) -> None:
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
        click.echo(_("No vaults yet. Add one with: reminder vault add PATH"))
        return
    status = 0
    for name, report in reports.items():
        if report.error:
            message = error_text(report.failure) if report.failure is not None else report.error
            click.echo(_("Error: {message}").format(message=message), err=True)
            status = 2
        else:
            click.echo(_summary(name, report, dry_run))
            # What a learner needs to see about files that are not plain imports, on stdout: not errors.
            if report.templates:
                click.echo(f"  {shown(report.templates)}")
            for line in (*report.dated, *report.not_scheduled, *report.lost):
                click.echo(f"  {shown(line)}")
            for copy in report.backups:
                click.echo("  " + copy_left_text(copy))
    for report in reports.values():
        for line in report.skipped:
            click.echo(shown(line), err=True)
        if report.skipped and status == 0:
            status = 1
    if status:
        sys.exit(status)

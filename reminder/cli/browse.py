"""`reminder list` and `reminder show`: on an up-to-date SQLite store they read it through reminder.lightread,
without importing SQLAlchemy; anything else goes through the store."""

from __future__ import annotations

from datetime import date

import click

from reminder import schedule
from reminder.cli import App, pass_app
from reminder.cli.common import stage_text
from reminder.cli.output import days, echo_json, echo_json_list, table
from reminder.lightread import list_from_sqlite_file, note_from_sqlite_file, sqlite_file
from reminder.views import NoteView


def next_text(view: NoteView, today: date) -> str:
    if view.long_term_on:
        return "long-term"
    if view.archived:
        return "archived"
    if view.due:
        late = f", {days(view.due.days_late)} late" if view.due.days_late else ""
        return f"due now: {stage_text(view.due.stage, view.due.extra)}{late}"
    if view.next_review:
        stage, extra, due_on = view.next_review
        return f"{stage_text(stage, extra)} {due_on.isoformat()}"
    return "-"


# --- list / show -----------------------------------------------------------------------------------------


@click.command("list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived notes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see README for the shape).")
@pass_app
def list_(app: App, include_archived: bool, as_json: bool) -> None:
    """Every note: id, title, subject, next review, progress."""
    today = app.today()
    every = app.settings.extra_every
    path = sqlite_file(app.settings.database_url)
    views = list_from_sqlite_file(path, today, every, include_archived=include_archived) if path else None
    if views is None:
        from reminder import notes

        with app.store.read() as session:
            views = notes.list_notes(session, today, every, include_archived=include_archived)
    if as_json:
        echo_json_list(v.as_json() for v in views)
        return
    if not views:
        click.echo("No notes yet. Add one with: reminder add TITLE --first-study YYYY-MM-DD")
        return
    rows = [
        [str(v.id), v.title, v.subject or "", next_text(v, today), schedule.progress_bar(v.progress)] for v in views
    ]
    click.echo(table(["ID", "TITLE", "SUBJECT", "NEXT REVIEW", "PROGRESS"], rows, {1: 40, 2: 16}))


@click.command()
@click.argument("note")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see README for the shape).")
@pass_app
def show(app: App, note: str, as_json: bool) -> None:
    """One note: its fields, every stage with due and done dates, progress."""
    today = app.today()
    path = sqlite_file(app.settings.database_url)
    # A reference the light path cannot settle (no such note, several) goes to the store path, which says why.
    view = note_from_sqlite_file(path, note, today, app.settings.extra_every) if path else None
    if view is None:
        from reminder import notes

        with app.store.read() as session:
            view = notes.view_note(
                notes.resolve_note(session, note), today, app.settings.extra_every, with_history=True
            )
    if as_json:
        echo_json(view.as_json())
        return
    fields = [
        ("subject", view.subject),
        ("source", view.source),
        ("pages", view.pages),
        ("level", view.level),
        ("link", view.link),
        ("first study", view.first_studied_on.isoformat()),
        ("ladder", ",".join(map(str, view.ladder))),
        ("scheduler", view.scheduler),
    ]
    lines = [f"#{view.id} {view.title}"]
    lines += [f"  {name + ':':<13}{value}" for name, value in fields if value]
    lines.append("  stages:")
    for stage in view.stages:
        if stage.done_on:
            state = f"done {stage.done_on.isoformat()}"
        elif stage.due_on <= today:
            late = (today - stage.due_on).days
            state = "due today" if late == 0 else f"due, {days(late)} late"
        else:
            state = "pending"
        lines.append(f"    {stage_text(stage.stage, False):<7}due {stage.due_on.isoformat()}  {state}")
    if view.extra_review and not view.long_term_on:
        lines.append(f"  {'extra:':<13}every {app.settings.extra_every} days after the ladder until long-term")
    if view.due:
        late_text = f", {days(view.due.days_late)} late" if view.due.days_late else ""
        lines.append(f"  {'due now:':<13}{stage_text(view.due.stage, view.due.extra)}{late_text}")
    elif view.next_review:
        lines.append(f"  {'next:':<13}{next_text(view, today)}")
    if view.snoozed_until and view.snoozed_until > today:
        lines.append(f"  {'snoozed:':<13}until {view.snoozed_until.isoformat()}")
    if view.recall is not None:
        lines.append(f"  {'recall:':<13}{view.recall:.0%} predicted today (FSRS)")
    if view.history:
        lines.append("  history:")
        for item in view.history:
            where = stage_text(item.stage, item.extra) if item.stage is not None else "-"
            lines.append(f"    {item.reviewed_on.isoformat()}  {where:<12}{item.rating:<6} ({item.source})")
    lines.append(f"  {'long-term:':<13}{view.long_term_on.isoformat() if view.long_term_on else 'no'}")
    lines.append(f"  {'progress:':<13}{schedule.progress_bar(view.progress)}")
    if view.archived:
        lines.append(f"  {'archived:':<13}yes (its file left the vault)")
    click.echo("\n".join(lines))

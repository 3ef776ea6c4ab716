"""`reminder list` and `reminder show`: on an up-to-date SQLite store they read it through reminder.lightread,
without importing SQLAlchemy; anything else goes through the store."""

from __future__ import annotations

import gc
from datetime import date

import click

from reminder import schedule
from reminder.cli import App, _, ngettext, pass_app
from reminder.cli.common import stage_text
from reminder.cli.output import echo_json, echo_json_list, fit, table
from reminder.lightread import list_from_sqlite_file, note_from_sqlite_file, sqlite_file
from reminder.views import NoteView, views_json


def _late(n: int) -> str:
    """ ", 3 days late" after a stage, or nothing when it is due today."""
    return ", " + ngettext("{n} day late", "{n} days late", n).format(n=n) if n else ""


def _label(name: str) -> str:
    """A field name padded to one display column for the values (``show``): Korean letters are two wide."""
    return "  " + fit(name, 13)


def next_text(view: NoteView, today: date) -> str:
    if view.long_term_on:
        return _("long-term")
    if view.archived:
        return _("archived")
    if view.due:
        late = _late(view.due.days_late)
        return _("due now: {stage}").format(stage=stage_text(view.due.stage, view.due.extra)) + late
    if view.next_review:
        stage, extra, due_on = view.next_review
        return f"{stage_text(stage, extra)} {due_on.isoformat()}"
    return "-"


# --- list / show -----------------------------------------------------------------------------------------


@click.command("list", help=_("Every note: id, title, subject, next review, progress."))
@click.option("--all", "include_archived", is_flag=True, help=_("Include archived notes."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON (see README for the shape)."))
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help=_("Only the first N notes (by id), for a long list.")
)
@pass_app
def list_(app: App, include_archived: bool, as_json: bool, limit: int | None) -> None:
    # A listing makes a few objects per note and review (100k for 10k notes) that all live until it has printed,
    # and none of them is in a cycle: the collector, left on, walks them again and again for nothing (a sixth of
    # the time of a 10k-note list). It is back on once they are gone.
    enabled = gc.isenabled()
    gc.disable()
    try:
        _list(app, include_archived, as_json, limit)
    finally:
        if enabled:
            gc.enable()


def _list(app: App, include_archived: bool, as_json: bool, limit: int | None) -> None:
    today = app.today()
    every = app.settings.extra_every
    path = sqlite_file(app.settings.database_url)
    # One note past the limit says whether the list goes on (and costs one note, not the rest of the store).
    wanted = limit + 1 if limit else None
    views = list_from_sqlite_file(path, today, every, include_archived=include_archived, limit=wanted) if path else None
    if views is None:
        from reminder import notes

        with app.store.read() as session:
            views = notes.list_notes(session, today, every, include_archived=include_archived, limit=wanted)
    more = limit is not None and len(views) > limit
    views = views[:limit]
    if as_json:
        echo_json_list(views_json(views))
        return
    if not views:
        click.echo(_("No notes yet. Add one with: reminder add TITLE --first-study YYYY-MM-DD"))
        return
    rows = [
        [str(v.id), v.title, v.subject or "", next_text(v, today), schedule.progress_bar(v.progress)] for v in views
    ]
    headers = ["ID", _("TITLE"), _("SUBJECT"), _("NEXT REVIEW"), _("PROGRESS")]
    click.echo(table(headers, rows, {1: 40, 2: 16}))
    if more:
        click.echo(_("More notes follow: only the first {limit} are shown (--limit).").format(limit=limit))


@click.command(help=_("One note: its fields, every stage with due and done dates, progress."))
@click.argument("note")
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON (see README for the shape)."))
@pass_app
def show(app: App, note: str, as_json: bool) -> None:
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
        (_("subject:"), view.subject),
        (_("source:"), view.source),
        (_("pages:"), view.pages),
        (_("level:"), view.level),
        (_("link:"), view.link),
        (_("first study:"), view.first_studied_on.isoformat()),
        (_("ladder:"), ",".join(map(str, view.ladder))),
        (_("scheduler:"), view.scheduler),
    ]
    lines = [f"#{view.id} {view.title}"]
    lines += [_label(name) + value for name, value in fields if value]
    lines.append("  " + _("stages:"))
    for stage in view.stages:
        if stage.done_on:
            state = _("done {day}").format(day=stage.done_on.isoformat())
        elif stage.due_on <= today:
            late = (today - stage.due_on).days
            state = _("due today") if late == 0 else _("due") + _late(late)
        else:
            state = _("pending")
        due_on = _("due {day}").format(day=stage.due_on.isoformat())
        lines.append(f"    {fit(stage_text(stage.stage, False), 7)}{due_on}  {state}")
    if view.extra_review and not view.long_term_on:
        every = _("every {n} days after the ladder until long-term").format(n=app.settings.extra_every)
        lines.append(_label(_("extra:")) + every)
    if view.due:
        lines.append(_label(_("due now:")) + stage_text(view.due.stage, view.due.extra) + _late(view.due.days_late))
    elif view.next_review:
        lines.append(_label(_("next:")) + next_text(view, today))
    if view.snoozed_until and view.snoozed_until > today:
        lines.append(_label(_("snoozed:")) + _("until {day}").format(day=view.snoozed_until.isoformat()))
    if view.recall is not None:
        lines.append(_label(_("recall:")) + _("{recall:.0%} predicted today (FSRS)").format(recall=view.recall))
    if view.history:
        lines.append("  " + _("history:"))
        for item in view.history:
            where = stage_text(item.stage, item.extra) if item.stage is not None else "-"
            lines.append(f"    {item.reviewed_on.isoformat()}  {fit(where, 12)}{item.rating:<6} ({item.source})")
    lines.append(_label(_("long-term:")) + (view.long_term_on.isoformat() if view.long_term_on else _("no")))
    lines.append(_label(_("progress:")) + schedule.progress_bar(view.progress))
    if view.archived:
        lines.append(_label(_("archived:")) + _("yes (its file left the vault)"))
    click.echo("\n".join(lines))

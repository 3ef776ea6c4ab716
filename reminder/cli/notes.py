"""Commands that register and track notes: add, list, due, show, done, undo, edit, rm.

On an up-to-date SQLite store `add`, `done`, `undo` and `edit` write through reminder.lightwrite, without
importing SQLAlchemy; whatever it does not take (see its docstring) goes through the store, with the same output.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import click

from reminder import lightwrite, schedule
from reminder.cli import App, _, pass_app
from reminder.cli.browse import next_text
from reminder.cli.common import (
    finish_write_back,
    fsrs_options,
    ladder_option,
    parse_date,
    parse_stage,
    prepare_write_back,
    report_write_back,
    stage_text,
)
from reminder.cli.output import echo_json
from reminder.lightread import sqlite_file


def _field_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The optional fields add and edit share (the learner's template's 과목, 교재, 페이지, 학습정도)."""
    for option in reversed(
        [
            click.option("--subject", help=_("Subject (과목).")),
            click.option("--source", help=_("Book or course (교재).")),
            click.option("--pages", help=_("Pages (페이지).")),
            click.option("--level", help=_("How well it went (학습정도).")),
            click.option("--link", help=_("Where the note lives, e.g. obsidian://open?vault=...&file=...")),
        ]
    ):
        command = option(command)
    return command


# --- add -------------------------------------------------------------------------------------------------------


@click.command(help=_("Register a studied note; its reviews come due on the ladder's days after FIRST-STUDY."))
@click.argument("title")
@click.option("--first-study", "first_study", required=True, metavar="DATE", help=_("Day of the first study."))
@_field_options
@click.option("--ladder", metavar="DAYS", help=_("Stages for this note, e.g. 1,4,7,14 (default: the setting)."))
@click.option("--allow-duplicate", is_flag=True, help=_("Add it even if another note has the same title."))
@click.option(
    "--scheduler",
    type=click.Choice(["ladder", "fsrs"]),
    help=_("Scheduler of this note (default: REMINDER_SCHEDULER, else ladder)."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the new note as JSON."))
@pass_app
def add(
    app: App,
    title: str,
    first_study: str,
    subject: str | None,
    source: str | None,
    pages: str | None,
    level: str | None,
    link: str | None,
    ladder: str | None,
    allow_duplicate: bool,
    scheduler: str | None,
    as_json: bool,
) -> None:
    today = app.today()
    first = parse_date(first_study, "--first-study", today)
    note_ladder = ladder_option(ladder) or app.settings.ladder
    every = app.settings.extra_every
    new: dict[str, Any] = {
        "title": title,
        "first_studied_on": first,
        "subject": subject,
        "source": source,
        "pages": pages,
        "level": level,
        "link": link,
        "unique_title": not allow_duplicate,
        "scheduler": scheduler or app.settings.scheduler,
        "fsrs": fsrs_options(app.settings),
    }
    path = sqlite_file(app.settings.database_url)
    view = lightwrite.add(path, today=today, ladder=note_ladder, extra_every=every, **new) if path else None
    if view is None:
        from reminder import notes

        with app.store.write() as session:
            added = notes.add_note(session, today=today, ladder=note_ladder, extra_every=every, **new)
            view = notes.view_note(added, today, every)
    if as_json:
        echo_json(view.as_json())
        return
    click.echo(_("Added #{id} {title}: next {next}").format(id=view.id, title=view.title, next=next_text(view, today)))


# --- done / undo -----------------------------------------------------------------------------------------------


@click.command(help=_("Record a review: every due stage of NOTE, or just --stage N."))
@click.argument("note")
@click.option("--stage", callback=parse_stage, metavar="N", help=_("Tick just this stage (4 or D+4), due or not."))
@click.option("--on", "on", metavar="DATE", help=_("Day the review was done (default: today)."))
@click.option("--long-term", "long_term", is_flag=True, help=_("Also mark the note as in long-term memory."))
@click.option(
    "--rating",
    type=click.Choice(["again", "hard", "good", "easy"]),
    default="good",
    show_default=True,
    help=_("How well you remembered: again keeps the review open and brings the note back tomorrow."),
)
@pass_app
def done(app: App, note: str, stage: int | None, on: str | None, long_term: bool, rating: str) -> None:
    today = app.today()
    day = parse_date(on, "--on", today) if on else today
    every = app.settings.extra_every
    review: dict[str, Any] = {"day": day, "stage": stage, "long_term": long_term, "rating": rating, "source": "cli"}
    result, view, written = _record(
        app,
        note,
        today,
        lambda path: lightwrite.done(path, note, today=today, extra_every=every, **review),
        lambda notes, session, target: notes.mark_done(session, target, today=today, extra_every=every, **review),
    )
    if result.already_done:
        click.echo(_("#{id} {title}: D+{stage} was already done.").format(id=view.id, title=view.title, stage=stage))
        report_write_back(written)
        return
    if result.again and result.next_due:
        click.echo(
            _("#{id} {title}: again on {day}; back on {back}").format(
                id=view.id, title=view.title, day=day.isoformat(), back=result.next_due.isoformat()
            )
        )
        report_write_back(written)
        return
    parts = [stage_text(s, extra) for s, extra in result.marked]
    if result.long_term:
        parts.append(_("long-term"))
    nxt = "" if view.long_term_on else _("; next {next}").format(next=next_text(view, today))
    click.echo(
        _("#{id} {title}: done {stages} on {day}").format(
            id=view.id, title=view.title, stages=", ".join(parts), day=day.isoformat()
        )
        + nxt
    )
    click.echo(f"  {schedule.progress_bar(view.progress)}")
    report_write_back(written)


def _record(
    app: App,
    note: str,
    today: date,
    light: Callable[[Any], tuple[Any, Any] | None],
    on_store: Callable[[Any, Any, Any], Any],
    *,
    writes_back: Callable[[Any], bool] = lambda outcome: True,
) -> tuple[Any, Any, Any]:
    """(the rule's outcome, the note's view, its write-back result) of a review change to ``note``: through the
    light write path when it takes the note, else on the store with the note's row locked, its file written once
    the transaction has committed (when ``writes_back(outcome)``). The light path takes no note from a vault,
    which alone is written back."""
    path = sqlite_file(app.settings.database_url)
    done = light(path) if path else None
    if done is not None:
        return (*done, None)
    from reminder import notes  # the store path alone loads SQLAlchemy

    with app.store.write() as session:
        target = notes.resolve_locked(session, note)
        outcome = on_store(notes, session, target)
        pending = prepare_write_back(app, session, target) if writes_back(outcome) else None
        view = notes.view_note(target, today, app.settings.extra_every)
    return outcome, view, finish_write_back(app, pending)


@click.command(help=_("Take back a stage marked done (or the long-term mark)."))
@click.argument("note")
@click.option("--stage", callback=parse_stage, metavar="N", help=_("The stage (4 or D+4) to mark not done."))
@click.option("--long-term", "long_term", is_flag=True, help=_("Take back the long-term mark."))
@pass_app
def undo(app: App, note: str, stage: int | None, long_term: bool) -> None:
    today = app.today()
    every = app.settings.extra_every
    taken_back: dict[str, Any] = {"stage": stage, "long_term": long_term}
    changed, view, written = _record(
        app,
        note,
        today,
        lambda path: lightwrite.undo(path, note, today=today, extra_every=every, **taken_back),
        lambda notes, session, target: notes.undo(session, target, extra_every=every, **taken_back),
        writes_back=bool,
    )
    marks = [x for x in (f"D+{stage}" if stage is not None else "", _("long-term") if long_term else "") if x]
    what = _(" and ").join(marks)
    if not changed:
        click.echo(
            _("#{id} {title}: {what} was not marked; nothing changed.").format(id=view.id, title=view.title, what=what)
        )
        return
    click.echo(
        _("#{id} {title}: {what} undone; {progress}").format(
            id=view.id, title=view.title, what=what, progress=schedule.progress_bar(view.progress)
        )
    )
    report_write_back(written)


# --- edit / rm -------------------------------------------------------------------------------------------------


@click.command(help=_('Change a note\'s fields; an empty value ("") clears an optional field.'))
@click.argument("note")
@click.option("--title", help=_("New title."))
@click.option("--first-study", "first_study", metavar="DATE", help=_("Moves every stage's due date."))
@_field_options
@click.option("--ladder", metavar="DAYS", help=_("New stages for this note, e.g. 1,3,7,14,30."))
@click.option(
    "--scheduler",
    type=click.Choice(["ladder", "fsrs"]),
    help=_("Switch the scheduler; the note's review history is replayed into it."),
)
@pass_app
def edit(
    app: App,
    note: str,
    title: str | None,
    first_study: str | None,
    subject: str | None,
    source: str | None,
    pages: str | None,
    level: str | None,
    link: str | None,
    ladder: str | None,
    scheduler: str | None,
) -> None:
    today = app.today()
    first = parse_date(first_study, "--first-study", today) if first_study else None
    new_ladder = ladder_option(ladder)
    every = app.settings.extra_every
    changes: dict[str, Any] = {
        "title": title,
        "first_studied_on": first,
        "ladder": new_ladder,
        "scheduler": scheduler,
        "fsrs": fsrs_options(app.settings) if scheduler else None,
        "subject": subject,
        "source": source,
        "pages": pages,
        "level": level,
        "link": link,
    }
    path = sqlite_file(app.settings.database_url)
    view = lightwrite.edit(path, note, today=today, extra_every=every, **changes) if path else None
    if view is None:
        from reminder import notes

        with app.store.write() as session:
            target = notes.resolve_note(session, note)
            notes.edit_note(session, target, today=today, extra_every=every, **changes)
            view = notes.view_note(target, today, every)
    click.echo(
        _("Updated #{id} {title}: next {next}").format(id=view.id, title=view.title, next=next_text(view, today))
    )


@click.command(help=_("Delete a note and its review history."))
@click.argument("note")
@click.option("--yes", "-y", is_flag=True, help=_("Do not ask for confirmation."))
@click.option(
    "--forget-file",
    "forget",
    is_flag=True,
    help=_("For a note from a vault: the sync ignores its file from now on (else it comes back at the next sync)."),
)
@pass_app
def rm(app: App, note: str, yes: bool, forget: bool) -> None:
    from reminder import notes

    with app.store.read() as session:
        target = notes.resolve_note(session, note)
        note_id, label, path = target.id, f"#{target.id} {target.title}", target.vault_path
    # Ask outside any transaction: a prompt must not hold the store's write lock.
    if not yes:
        click.confirm(_("Delete {note} and its review history?").format(note=label), abort=True)
    forgotten = None
    with app.store.write() as session:
        target = notes.resolve_note(session, str(note_id))
        if forget and path is not None:
            from reminder.vault import forget_file

            forgotten = forget_file(session, target)
        notes.remove_note(session, target)
    click.echo(_("Deleted {note}.").format(note=label))
    if forgotten:
        click.echo(_("  The sync ignores {path} from now on.").format(path=forgotten))
    elif path is not None:
        click.echo(
            _(
                "  Its file {path} is still in the vault: the next sync brings the note back while the file exists "
                "(delete the file, or use --forget-file)."
            ).format(path=path)
        )

"""Commands that register and track notes: add, list, due, show, done, undo, edit, rm."""

from __future__ import annotations

import click

from reminder import notes, schedule
from reminder.cli import App, pass_app
from reminder.cli.browse import next_text
from reminder.cli.common import (
    fsrs_options,
    ladder_option,
    parse_date,
    parse_stage,
    report_write_back,
    stage_text,
    write_back,
)
from reminder.cli.output import echo_json

# --- add -------------------------------------------------------------------------------------------------------


@click.command()
@click.argument("title")
@click.option("--first-study", "first_study", required=True, metavar="DATE", help="Day of the first study.")
@click.option("--subject", help="Subject (과목).")
@click.option("--source", help="Book or course (교재).")
@click.option("--pages", help="Pages (페이지).")
@click.option("--level", help="How well it went (학습정도).")
@click.option("--link", help="Where the note lives, e.g. obsidian://open?vault=...&file=...")
@click.option("--ladder", metavar="DAYS", help="Stages for this note, e.g. 1,4,7,14 (default: the setting).")
@click.option("--allow-duplicate", is_flag=True, help="Add it even if another note has the same title.")
@click.option(
    "--scheduler",
    type=click.Choice(["ladder", "fsrs"]),
    help="Scheduler of this note (default: REMINDER_SCHEDULER, else ladder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the new note as JSON.")
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
    """Register a studied note; its reviews come due on the ladder's days after FIRST-STUDY."""
    today = app.today()
    first = parse_date(first_study, "--first-study", today)
    note_ladder = ladder_option(ladder) or app.settings.ladder
    with app.store.write() as session:
        note = notes.add_note(
            session,
            title=title,
            first_studied_on=first,
            today=today,
            ladder=note_ladder,
            extra_every=app.settings.extra_every,
            subject=subject,
            source=source,
            pages=pages,
            level=level,
            link=link,
            unique_title=not allow_duplicate,
            scheduler=scheduler or app.settings.scheduler,
            fsrs=fsrs_options(app.settings),
        )
        view = notes.view_note(note, today, app.settings.extra_every)
    if as_json:
        echo_json(view.as_json())
        return
    click.echo(f"Added #{view.id} {view.title}: next {next_text(view, today)}")


# --- done / undo -----------------------------------------------------------------------------------------------


@click.command()
@click.argument("note")
@click.option("--stage", callback=parse_stage, metavar="N", help="Tick just this stage (4 or D+4), due or not.")
@click.option("--on", "on", metavar="DATE", help="Day the review was done (default: today).")
@click.option("--long-term", "long_term", is_flag=True, help="Also mark the note as in long-term memory.")
@click.option(
    "--rating",
    type=click.Choice(["again", "hard", "good", "easy"]),
    default="good",
    show_default=True,
    help="How well you remembered: again keeps the review open and brings the note back tomorrow.",
)
@pass_app
def done(app: App, note: str, stage: int | None, on: str | None, long_term: bool, rating: str) -> None:
    """Record a review: every due stage of NOTE, or just --stage N."""
    today = app.today()
    day = parse_date(on, "--on", today) if on else today
    with app.store.write() as session:
        target = notes.resolve_note(session, note)
        result = notes.mark_done(
            session,
            target,
            day=day,
            today=today,
            extra_every=app.settings.extra_every,
            stage=stage,
            long_term=long_term,
            rating=rating,
            source="cli",
        )
        written = write_back(app, session, target)
        view = notes.view_note(target, today, app.settings.extra_every)
    if result.already_done:
        click.echo(f"#{view.id} {view.title}: D+{stage} was already done.")
        report_write_back(written)
        return
    if result.again and result.next_due:
        click.echo(f"#{view.id} {view.title}: again on {day.isoformat()}; back on {result.next_due.isoformat()}")
        report_write_back(written)
        return
    parts = [stage_text(s, extra) for s, extra in result.marked]
    if result.long_term:
        parts.append("long-term")
    nxt = "" if view.long_term_on else f"; next {next_text(view, today)}"
    click.echo(f"#{view.id} {view.title}: done {', '.join(parts)} on {day.isoformat()}{nxt}")
    click.echo(f"  {schedule.progress_bar(view.progress)}")
    report_write_back(written)


@click.command()
@click.argument("note")
@click.option("--stage", callback=parse_stage, metavar="N", help="The stage (4 or D+4) to mark not done.")
@click.option("--long-term", "long_term", is_flag=True, help="Take back the long-term mark.")
@pass_app
def undo(app: App, note: str, stage: int | None, long_term: bool) -> None:
    """Take back a stage marked done (or the long-term mark)."""
    today = app.today()
    with app.store.write() as session:
        target = notes.resolve_note(session, note)
        changed = notes.undo(session, target, stage=stage, long_term=long_term, extra_every=app.settings.extra_every)
        written = write_back(app, session, target) if changed else None
        view = notes.view_note(target, today, app.settings.extra_every)
    what = " and ".join(x for x in (f"D+{stage}" if stage is not None else "", "long-term" if long_term else "") if x)
    if not changed:
        click.echo(f"#{view.id} {view.title}: {what} was not marked; nothing changed.")
        return
    click.echo(f"#{view.id} {view.title}: {what} undone; {schedule.progress_bar(view.progress)}")
    report_write_back(written)


# --- edit / rm -------------------------------------------------------------------------------------------------


@click.command()
@click.argument("note")
@click.option("--title")
@click.option("--first-study", "first_study", metavar="DATE", help="Moves every stage's due date.")
@click.option("--subject")
@click.option("--source")
@click.option("--pages")
@click.option("--level")
@click.option("--link")
@click.option("--ladder", metavar="DAYS", help="New stages for this note, e.g. 1,3,7,14,30.")
@click.option(
    "--scheduler",
    type=click.Choice(["ladder", "fsrs"]),
    help="Switch the scheduler; the note's review history is replayed into it.",
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
    """Change a note's fields; an empty value ("") clears an optional field."""
    today = app.today()
    first = parse_date(first_study, "--first-study", today) if first_study else None
    new_ladder = ladder_option(ladder)
    with app.store.write() as session:
        target = notes.resolve_note(session, note)
        notes.edit_note(
            session,
            target,
            today=today,
            extra_every=app.settings.extra_every,
            title=title,
            first_studied_on=first,
            ladder=new_ladder,
            scheduler=scheduler,
            fsrs=fsrs_options(app.settings) if scheduler else None,
            subject=subject,
            source=source,
            pages=pages,
            level=level,
            link=link,
        )
        view = notes.view_note(target, today, app.settings.extra_every)
    click.echo(f"Updated #{view.id} {view.title}: next {next_text(view, today)}")


@click.command()
@click.argument("note")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--forget-file",
    "forget",
    is_flag=True,
    help="For a note from a vault: the sync ignores its file from now on (else it comes back at the next sync).",
)
@pass_app
def rm(app: App, note: str, yes: bool, forget: bool) -> None:
    """Delete a note and its review history."""
    with app.store.read() as session:
        target = notes.resolve_note(session, note)
        note_id, label, path = target.id, f"#{target.id} {target.title}", target.vault_path
    # Ask outside any transaction: a prompt must not hold the store's write lock.
    if not yes:
        click.confirm(f"Delete {label} and its review history?", abort=True)
    forgotten = None
    with app.store.write() as session:
        target = notes.resolve_note(session, str(note_id))
        if forget and path is not None:
            from reminder.vault import forget_file

            forgotten = forget_file(session, target)
        notes.remove_note(session, target)
    click.echo(f"Deleted {label}.")
    if forgotten:
        click.echo(f"  The sync ignores {forgotten} from now on.")
    elif path is not None:
        click.echo(
            f"  Its file {path} is still in the vault: the next sync brings the note back while the file exists "
            "(delete the file, or use --forget-file)."
        )

"""Reviewing at the desk (`reminder review`) and fitting FSRS to the history (`reminder fsrs optimize`)."""

from __future__ import annotations

import textwrap

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from reminder import notes
from reminder.cli import App, pass_app
from reminder.cli.common import stage_text, write_back
from reminder.cli.output import echo_json
from reminder.texts import when

KEYS = {"1": "again", "2": "hard", "3": "good", "4": "easy"}


class _Stop(Exception):
    """`q` (or the end of the input): stop reviewing, keep what was rated."""


def _ask(text: str) -> str:
    try:
        answer = click.prompt(text, default="", show_default=False, prompt_suffix=" ")
    except click.Abort:
        raise _Stop from None
    if answer.strip().lower() == "q":
        raise _Stop
    return answer.strip()


# --- review --------------------------------------------------------------------------------------------------


@click.command()
@click.argument("note", required=False)
@pass_app
def review(app: App, note: str | None) -> None:
    """Review the due notes one by one: each cue question, Enter shows its answer, then rate 1-4; q stops."""
    from reminder.cues import note_cues

    today = app.today()
    extra_every = app.settings.extra_every
    with app.store.read() as session:
        if note is not None:
            target = notes.resolve_note(session, note)
            if notes.view_note(target, today, extra_every).due is None:
                raise notes.NoteError(f"{target.title!r} is not due on {today.isoformat()}")
            ids = [target.id]
        else:
            ids = [d.note_id for d in notes.due_on(session, today, extra_every)]
    if not ids:
        click.echo(f"Nothing due on {today.isoformat()}.")
        return
    done = 0
    try:
        for position, note_id in enumerate(ids, start=1):
            with app.store.read() as session:
                current = notes.resolve_note(session, str(note_id))
                view = notes.view_note(current, today, extra_every)
                questions, summary = note_cues(current)
                comes_back = notes.preview_ratings(current, today, extra_every)
            if view.due is None:
                continue  # done elsewhere meanwhile
            click.echo(
                f"\n[{position}/{len(ids)}] #{view.id} {view.title} ({stage_text(view.due.stage, view.due.extra)})"
            )
            for number, cue in enumerate(questions, start=1):
                click.echo(f"\nQ{number}. {cue.question}")
                _ask("  (Enter: answer)")
                answer = textwrap.indent(cue.answer, "    ") if cue.answer else "    (no answer written)"
                click.echo(click.style(answer, dim=not cue.answer))
            if not questions:
                click.echo("  No cue questions in this note: recall it, then rate.")
            if summary:
                click.echo(f"\nSummary:\n{summary}")
            options = "  ".join(
                f"{key} {rating} ({when('en', comes_back[rating], today)})" for key, rating in KEYS.items()
            )
            rating = ""
            while rating not in KEYS:
                rating = _ask(f"\n{options}  q quit:")
            with app.store.write() as session:
                current = notes.resolve_note(session, str(note_id))
                result = notes.mark_done(
                    session, current, day=today, today=today, extra_every=extra_every, rating=KEYS[rating]
                )
                written = write_back(app, session, current)
                after = notes.view_note(current, today, extra_every).next_review
            back = result.next_due if result.again else (after[2] if after else None)
            click.echo(f"  {KEYS[rating]}: back {when('en', back, today)}")
            if written is not None and written.reason:  # the review is recorded; the file says why not
                click.echo(f"  not written back to the note: {written.reason}")
            done += 1
    except _Stop:
        pass
    click.echo(f"\nReviewed {done} of {len(ids)}.")


# --- fsrs optimize -----------------------------------------------------------------------------------------------


@click.group()
def fsrs() -> None:
    """FSRS, the scheduler that adapts to how you remember."""


@fsrs.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures and the fitted parameters as JSON.")
@pass_app
def optimize(app: App, as_json: bool) -> None:
    """Fit FSRS to your review history; compare with the defaults on the latest reviews, held out."""
    from reminder import optimize as fit
    from reminder.db.models import Note

    with app.store.read() as session:
        rows = session.scalars(select(Note).options(selectinload(Note.events)).order_by(Note.id))
        histories = [(n.first_studied_on, [(e.reviewed_on, e.rating) for e in n.events]) for n in rows]
    try:
        report = fit.fit(fit.cases(histories))
    except fit.NotEnoughHistory as exc:
        raise click.ClickException(str(exc)) from None  # exit 1: nothing wrong with the command, just too early
    if as_json:
        echo_json(report.as_json())
        return
    click.echo(
        f"{report.reviews} reviews: fitted on the earliest {report.train}, scored on the latest {report.held_out}"
    )
    click.echo(f"  defaults: log loss {report.default_log_loss:.4f}  RMSE {report.default_rmse:.4f}")
    click.echo(f"  fitted:   log loss {report.fitted_log_loss:.4f}  RMSE {report.fitted_rmse:.4f}  (lower is better)")
    better = report.fitted_log_loss < report.default_log_loss and report.fitted_rmse <= report.default_rmse
    if better:
        click.echo("Use them for notes switched to FSRS from now on:")
        click.echo(f"  REMINDER_FSRS_PARAMETERS={','.join(f'{p:.4f}' for p in report.parameters)}")
    else:
        click.echo("The fitted parameters do not predict your held-out reviews better: keep the defaults.")

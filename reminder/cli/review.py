"""Reviewing at the desk (`reminder review`) and fitting FSRS to the history (`reminder fsrs optimize`)."""

from __future__ import annotations

import textwrap

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from reminder import cli, notes
from reminder.cli import App, _, error_text, ngettext, pass_app
from reminder.cli.common import finish_write_back, prepare_write_back, stage_text
from reminder.cli.output import echo_json
from reminder.i18n import N_
from reminder.texts import when

KEYS = {"1": "again", "2": "hard", "3": "good", "4": "easy"}
# The ratings as the review page names them (reminder.texts): 다시, 어려움, 좋음, 쉬움.
RATING_NAMES = {"again": N_("again"), "hard": N_("hard"), "good": N_("good"), "easy": N_("easy")}


def _rating_name(rating: str) -> str:
    return _(RATING_NAMES[rating].msgid)


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


@click.command(
    help=_("Review the due notes one by one: each cue question, Enter shows its answer, then rate 1-4; q stops.")
)
@click.argument("note", required=False)
@pass_app
def review(app: App, note: str | None) -> None:
    from reminder.cues import note_cues

    today = app.today()
    extra_every = app.settings.extra_every
    with app.store.read() as session:
        if note is not None:
            target = notes.resolve_note(session, note)
            if notes.view_note(target, today, extra_every).due is None:
                raise notes.NoteError("{title!r} is not due on {day}", title=target.title, day=today.isoformat())
            ids = [target.id]
        else:
            ids = [d.note_id for d in notes.due_on(session, today, extra_every)]
    if not ids:
        click.echo(_("Nothing due on {day}.").format(day=today.isoformat()))
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
                _ask(_("  (Enter: answer)"))
                answer = textwrap.indent(cue.answer, "    ") if cue.answer else "    " + _("(no answer written)")
                click.echo(click.style(answer, dim=not cue.answer))
            if not questions:
                click.echo(_("  No cue questions in this note: recall it, then rate."))
            if summary:
                click.echo("\n" + _("Summary:") + f"\n{summary}")
            options = "  ".join(
                f"{key} {_rating_name(rating)} ({when(cli.LANGUAGE, comes_back[rating], today)})"
                for key, rating in KEYS.items()
            )
            rating = ""
            while rating not in KEYS:
                rating = _ask("\n" + _("{options}  q quit:").format(options=options))
            try:
                with app.store.write() as session:
                    current = notes.resolve_locked(session, str(note_id))
                    result = notes.mark_done(
                        session, current, day=today, today=today, extra_every=extra_every, rating=KEYS[rating]
                    )
                    pending = prepare_write_back(app, session, current)
                    after = notes.view_note(current, today, extra_every).next_review
                written = finish_write_back(app, pending)  # the review committed: the file is written outside it
            except notes.NoteError as exc:
                # Done (or removed) elsewhere while it was on screen, on the phone say: nothing recorded, go on.
                click.echo("  " + error_text(exc))
                continue
            back = result.next_due if result.again else (after[2] if after else None)
            back_text = when(cli.LANGUAGE, back, today)
            click.echo(_("  {rating}: back {when}").format(rating=_rating_name(KEYS[rating]), when=back_text))
            if written is not None and written.reason:  # the review is recorded; the file says why not
                click.echo(_("  not written back to the note: {reason}").format(reason=written.reason))
            done += 1
    except _Stop:
        pass
    click.echo("\n" + _("Reviewed {done} of {n}.").format(done=done, n=len(ids)))


# --- fsrs optimize -----------------------------------------------------------------------------------------------


@click.group(help=_("FSRS, the scheduler that adapts to how you remember."))
def fsrs() -> None:
    pass


@fsrs.command(help=_("Fit FSRS to your review history; compare with the defaults on the latest reviews, held out."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the figures and the fitted parameters as JSON."))
@pass_app
def optimize(app: App, as_json: bool) -> None:
    from reminder import optimize as fit
    from reminder.db.models import Note

    with app.store.read() as session:
        rows = session.scalars(select(Note).options(selectinload(Note.events)).order_by(Note.id))
        histories = [(n.first_studied_on, [(e.reviewed_on, e.rating) for e in n.events]) for n in rows]
    try:
        report = fit.fit(fit.cases(histories))
    except fit.NotEnoughHistory as exc:
        raise click.ClickException(error_text(exc)) from None  # exit 1: nothing wrong with the command, just too early
    if as_json:
        echo_json(report.as_json())
        return
    click.echo(
        ngettext(
            "{n} review: fitted on the earliest {train}, scored on the latest {held_out}",
            "{n} reviews: fitted on the earliest {train}, scored on the latest {held_out}",
            report.reviews,
        ).format(n=report.reviews, train=report.train, held_out=report.held_out)
    )
    click.echo(
        _("  defaults: log loss {log_loss:.4f}  RMSE {rmse:.4f}").format(
            log_loss=report.default_log_loss, rmse=report.default_rmse
        )
    )
    click.echo(
        _("  fitted:   log loss {log_loss:.4f}  RMSE {rmse:.4f}  (lower is better)").format(
            log_loss=report.fitted_log_loss, rmse=report.fitted_rmse
        )
    )
    better = report.fitted_log_loss < report.default_log_loss and report.fitted_rmse <= report.default_rmse
    if better:
        click.echo(_("Use them for notes switched to FSRS from now on:"))
        click.echo(f"  REMINDER_FSRS_PARAMETERS={','.join(f'{p:.4f}' for p in report.parameters)}")
    else:
        click.echo(_("The fitted parameters do not predict your held-out reviews better: keep the defaults."))

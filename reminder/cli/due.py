"""`reminder due`: kept apart from the other note commands so that it imports only what it needs."""

from __future__ import annotations

import click

from reminder import schedule
from reminder.cli import App, pass_app
from reminder.cli.common import parse_date, stage_text
from reminder.cli.output import days, echo_json, table
from reminder.duelist import due_json
from reminder.lightread import due_from_sqlite_file, sqlite_file


@click.command()
@click.option("--on", "on", metavar="DATE", help="The day to check (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see README for the shape).")
@pass_app
def due(app: App, on: str | None, as_json: bool) -> None:
    """Notes due today (or on DATE), overdue included, most overdue first."""
    today = app.today()
    day = parse_date(on, "--on", today) if on else today
    every = app.settings.extra_every
    limit = app.settings.daily_limit
    # The light path cannot count today's reviews for a daily limit: with one, the store answers.
    path = sqlite_file(app.settings.database_url) if limit is None else None
    items = due_from_sqlite_file(path, day, every) if path else None
    if items is None:
        from reminder import history, notes

        with app.store.read() as session:
            items = notes.due_on(session, day, every)
            # The limit is a day's quota: what was reviewed that day already counts against it.
            items, waiting = history.choose_due(session, items, day, limit)
    else:
        waiting = 0
    if as_json:
        echo_json(
            {"date": day.isoformat(), "count": len(items), "waiting": waiting, "notes": [due_json(i) for i in items]}
        )
        return
    if not items:
        if waiting:
            click.echo(f"Daily limit of {app.settings.daily_limit} reached: {waiting} more due wait for a later day.")
        else:
            click.echo(f"Nothing due on {day.isoformat()}.")
        return
    rows = []
    for item in items:
        late = f"{days(item.days_late)} late" if item.days_late else "due today"
        rows.append(
            [
                f"#{item.note_id}",
                item.title,
                stage_text(item.stage, item.extra),
                late,
                schedule.progress_bar(item.progress),
            ]
        )
    click.echo(table(["ID", "TITLE", "STAGE", "WHEN", "PROGRESS"], rows, {1: 40}))
    if waiting:
        click.echo(f"{waiting} more due, waiting for a later day (daily limit {app.settings.daily_limit}).")

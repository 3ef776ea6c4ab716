"""`reminder stats`: forecast, history, streak, recall and subjects, as terminal charts or JSON."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import click

from reminder import cli
from reminder.cli import App, _, pass_app
from reminder.cli.output import bar, echo_json, fit, width
from reminder.i18n import catalogue

if TYPE_CHECKING:
    from reminder.stats import Stats

BAR_COLUMNS = 30
# Shades of a heatmap cell by its share of the busiest day; each cell is two columns, as wide as a Korean letter.
SHADES = ("··", "░░", "▒▒", "▓▓", "██")


def weekday(day: date, language: str) -> str:
    """Two columns: Mo, Tu, ... / 월, 화, ... (a Korean letter is two columns wide)."""
    return catalogue(language).gettext("Mo,Tu,We,Th,Fr,Sa,Su").split(",")[day.weekday()]


def render(data: Stats, language: str, daily_limit: int | None) -> str:
    tr = catalogue(language)
    lines: list[str] = []
    limit = tr.gettext(", at most {n} a day").format(n=daily_limit) if daily_limit else ""
    lines.append(
        tr.gettext("Forecast: reviews due each day (today includes what is overdue{limit})").format(limit=limit)
    )
    top = max((d.count for d in data.forecast), default=0)
    for d in data.forecast:
        label = f"{d.day.strftime('%m-%d')} {fit(weekday(d.day, language), 2)}"
        lines.append(f"  {label}  {bar(d.count, top, BAR_COLUMNS)} {d.count}".rstrip())
    lines.append("")
    lines += heatmap(data, language)
    lines.append("")
    lines.append(
        tr.ngettext(
            "Streak: {n} day in a row with everything due done",
            "Streak: {n} days in a row with everything due done",
            data.streak,
        ).format(n=data.streak)
    )
    if data.recall is None:
        lines.append(tr.gettext("Recall: no rated reviews in the last 30 days"))
    else:
        lines.append(
            tr.gettext("Recall: {percent}% of the last 30 days' reviews not rated 'again'").format(
                percent=round(data.recall * 100)
            )
        )
    if data.subjects:
        lines.append("")
        lines.append(tr.gettext("Subjects: average progress"))
        names = [s.subject or tr.gettext("(no subject)") for s in data.subjects]
        column = min(max(width(n) for n in names), 30)
        for name, s in zip(names, data.subjects, strict=True):
            notes = tr.ngettext("{n} note", "{n} notes", s.notes).format(n=s.notes)
            long_term = tr.gettext("{n} long-term").format(n=s.long_term)
            detail = f"{s.progress:>3}%  {notes}, {long_term}"
            lines.append(f"  {fit(name, column)}  {bar(s.progress, 100, 20)} {detail}")
    return "\n".join(lines)


def heatmap(data: Stats, language: str) -> list[str]:
    """The 12 weeks of history as a calendar: a row per weekday, a column per week (Monday first)."""
    tr = catalogue(language)
    history = data.history
    total = sum(d.count for d in history)
    lines = [
        tr.ngettext(
            "History: {n} review in the last 12 weeks", "History: {n} reviews in the last 12 weeks", total
        ).format(n=total)
    ]
    first = history[0].day - timedelta(days=history[0].day.weekday())
    counts = {d.day: d.count for d in history}
    weeks = (history[-1].day - first).days // 7 + 1
    top = max(counts.values(), default=0)
    # A cell is two columns and a space: a week's date over every fourth column.
    header = [" "] * (3 * weeks + 5)
    for w in range(0, weeks, 4):
        header[3 * w : 3 * w + 5] = (first + timedelta(weeks=w)).strftime("%m-%d")
    lines.append("     " + "".join(header).rstrip())
    for row in range(7):
        cells = []
        for w in range(weeks):
            day = first + timedelta(weeks=w, days=row)
            if day not in counts:
                cells.append("  ")
            elif counts[day] == 0 or top == 0:
                cells.append(SHADES[0])
            else:
                cells.append(SHADES[min(4, 1 + (counts[day] * 4 - 1) // top)])
        lines.append(f"  {fit(weekday(first + timedelta(days=row), language), 2)} " + " ".join(cells).rstrip())
    lines.append("     " + tr.gettext("less") + " " + " ".join(SHADES) + " " + tr.gettext("more"))
    return lines


@click.command(help=_("How it is going: the next 30 days, the last 12 weeks, streak, recall, subjects."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON (see README for the shape)."))
@pass_app
def stats(app: App, as_json: bool) -> None:
    from reminder.history import read_stats

    s = app.settings
    today = app.today()
    with app.store.read() as session:
        data = read_stats(session, today, s.extra_every, daily_limit=s.daily_limit)
    if as_json:
        echo_json(data.as_json())
        return
    click.echo(render(data, cli.LANGUAGE, s.daily_limit))

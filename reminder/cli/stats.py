"""`reminder stats`: forecast, history, streak, recall and subjects, as terminal charts or JSON."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import click

from reminder.cli import App, pass_app
from reminder.cli.output import bar, echo_json, fit, width

if TYPE_CHECKING:
    from reminder.stats import Stats

BAR_COLUMNS = 30
WEEKDAYS = {"ko": "월화수목금토일", "en": ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}
# Shades of a heatmap cell by its share of the busiest day; each cell is two columns, as wide as a Korean letter.
SHADES = ("··", "░░", "▒▒", "▓▓", "██")


def weekday(day: date, language: str) -> str:
    return WEEKDAYS[language][day.weekday()]


def render(data: Stats, language: str, daily_limit: int | None) -> str:
    lines: list[str] = []
    limit = f", at most {daily_limit} a day" if daily_limit else ""
    lines.append(f"Forecast: reviews due each day (today includes what is overdue{limit})")
    top = max((d.count for d in data.forecast), default=0)
    for d in data.forecast:
        label = f"{d.day.strftime('%m-%d')} {fit(weekday(d.day, language), 2)}"
        lines.append(f"  {label}  {bar(d.count, top, BAR_COLUMNS)} {d.count}".rstrip())
    lines.append("")
    lines += heatmap(data, language)
    lines.append("")
    lines.append(f"Streak: {data.streak} day{'' if data.streak == 1 else 's'} in a row with everything due done")
    if data.recall is None:
        lines.append("Recall: no rated reviews in the last 30 days")
    else:
        lines.append(f"Recall: {round(data.recall * 100)}% of the last 30 days' reviews not rated 'again'")
    if data.subjects:
        lines.append("")
        lines.append("Subjects: average progress")
        names = [s.subject or "(no subject)" for s in data.subjects]
        column = min(max(width(n) for n in names), 30)
        for name, s in zip(names, data.subjects, strict=True):
            detail = f"{s.progress:>3}%  {s.notes} note{'' if s.notes == 1 else 's'}, {s.long_term} long-term"
            lines.append(f"  {fit(name, column)}  {bar(s.progress, 100, 20)} {detail}")
    return "\n".join(lines)


def heatmap(data: Stats, language: str) -> list[str]:
    """The 12 weeks of history as a calendar: a row per weekday, a column per week (Monday first)."""
    history = data.history
    total = sum(d.count for d in history)
    lines = [f"History: {total} review{'' if total == 1 else 's'} in the last 12 weeks"]
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
    lines.append("     " + "less " + " ".join(SHADES) + " more")
    return lines


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see README for the shape).")
@pass_app
def stats(app: App, as_json: bool) -> None:
    """How it is going: the next 30 days, the last 12 weeks, streak, recall, subjects."""
    from reminder.history import read_stats

    s = app.settings
    today = app.today()
    with app.store.read() as session:
        data = read_stats(session, today, s.extra_every, daily_limit=s.daily_limit)
    if as_json:
        echo_json(data.as_json())
        return
    click.echo(render(data, s.language, s.daily_limit))

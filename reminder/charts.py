"""The stats page's charts as geometry: the 30-day forecast's bars and the 12-week calendar's squares, in SVG
user units, with their labels. Pure: numbers in, shapes out; reminder/templates/stats.html draws them as inline
SVG (no script, and no style attribute: the stylesheet colours the shapes by class, light and dark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from reminder.stats import DayCount

# --- chart geometry --------------------------------------------------------------------------------------------

CHART_W, CHART_H = 360, 150
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 16, 128, 4
CELL, GAP = 22, 4
HEAT_LEFT, HEAT_TOP = 30, 16
LABEL_W = 32  # an "07-20" label at 11px


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    day: date
    count: int


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    level: int  # 0 (none) .. 4 (the busiest days)
    day: date
    count: int


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


def forecast_bars(forecast: tuple[DayCount, ...]) -> tuple[list[Bar], list[Label], int]:
    """Bars scaled to the busiest day; a date under each week's first bar; and the busiest day's count."""
    top = max((d.count for d in forecast), default=0)
    slot = (CHART_W - PLOT_LEFT) / max(len(forecast), 1)
    height = PLOT_BOTTOM - PLOT_TOP
    bars, labels = [], []
    for i, d in enumerate(forecast):
        h = round(height * d.count / top, 1) if top else 0
        # A day with reviews is always visible, however busy the busiest.
        h = max(h, 2) if d.count else 0
        x = round(PLOT_LEFT + i * slot + 1, 1)
        bars.append(Bar(x, round(PLOT_BOTTOM - h, 1), round(slot - 2, 1), h, d.day, d.count))
        if i % 7 == 0 and x + LABEL_W <= CHART_W:  # a date that would run off the right edge is left out
            labels.append(Label(x, CHART_H - 6, d.day.strftime("%m-%d")))
    if top:
        labels.append(Label(PLOT_LEFT, PLOT_TOP - 4, str(top)))
    return bars, labels, top


def level(count: int, top: int) -> int:
    """0 for a day without reviews, else 1-4 by quarters of the busiest day."""
    if count <= 0 or top <= 0:
        return 0
    return min(4, 1 + (count * 4 - 1) // top)


def heatmap_cells(history: tuple[DayCount, ...], weekdays: list[str]) -> tuple[list[Cell], list[Label], int, int]:
    """A square per day, a column per week starting Monday; month-day labels over every fourth week; weekday
    letters on the left. Returns the cells, the labels, and the drawing's width and height."""
    if not history:
        return [], [], 0, 0
    first = history[0].day - timedelta(days=history[0].day.weekday())
    top = max(d.count for d in history)
    cells = []
    for d in history:
        week, row = (d.day - first).days // 7, d.day.weekday()
        cells.append(
            Cell(HEAT_LEFT + week * (CELL + GAP), HEAT_TOP + row * (CELL + GAP), level(d.count, top), d.day, d.count)
        )
    weeks = (history[-1].day - first).days // 7 + 1
    labels = [
        Label(HEAT_LEFT + w * (CELL + GAP), HEAT_TOP - 4, (first + timedelta(weeks=w)).strftime("%m-%d"))
        for w in range(0, weeks, 4)
        if HEAT_LEFT + w * (CELL + GAP) + LABEL_W <= HEAT_LEFT + weeks * (CELL + GAP)
    ]
    letters = weekdays
    labels += [Label(0, HEAT_TOP + r * (CELL + GAP) + CELL - 6, letters[r]) for r in (0, 2, 4, 6)]
    return cells, labels, HEAT_LEFT + weeks * (CELL + GAP), HEAT_TOP + 7 * (CELL + GAP)


def weeks_table(history: tuple[DayCount, ...]) -> list[tuple[date, list[int | None]]]:
    """The history as rows of a week (Monday first); None for days outside the 12 weeks."""
    counts = {d.day: d.count for d in history}
    if not history:
        return []
    monday = history[0].day - timedelta(days=history[0].day.weekday())
    rows = []
    while monday <= history[-1].day:
        rows.append((monday, [counts.get(monday + timedelta(days=i)) for i in range(7)]))
        monday += timedelta(weeks=1)
    return rows

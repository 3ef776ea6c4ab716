"""The stats page: the 30-day forecast as a bar chart, the 12-week history as a calendar heatmap, recall, streak
and subjects. Pure: a reminder.stats.Stats in, HTML out.

The charts are SVG drawn here on the server, inline in the page: no script, and no style attribute (the page's
Content-Security-Policy allows only its one stylesheet, by hash). Shapes carry classes that the stylesheet colours,
with a dark palette under `prefers-color-scheme: dark`. Each chart is an image to assistive technology
(role="img" with <title> and <desc>) and has the same numbers as a table below it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from reminder.stats import DayCount, Stats
from reminder.texts import format_text

TEMPLATES = Path(__file__).resolve().parent / "templates"

STYLE = """
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI","Noto Sans KR","NanumGothic",sans-serif;
--fg:#1c1c1c;--muted:#666;--bar:#2e7d32;--grid:#ccc;--l0:#ebedf0;--l1:#c6e48b;--l2:#7bc96f;--l3:#239a3b;--l4:#196127}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--muted:#aaa;--bar:#66bb6a;--grid:#444;
--l0:#2a2d31;--l1:#0e4429;--l2:#006d32;--l3:#26a641;--l4:#39d353}body{background:#121212;color:#eee}}
body{margin:0;padding:16px;font-size:17px;line-height:1.5}
main{max-width:40rem;margin:0 auto}
h1{font-size:1.4rem;margin:0}
h2{font-size:1.15rem;margin:24px 0 8px}
.date{margin:0 0 16px;opacity:.7}
.figures{display:flex;gap:12px;flex-wrap:wrap;margin:0;padding:0;list-style:none}
.figures li{flex:1;min-width:8rem;border:1px solid #8886;border-radius:12px;padding:10px 14px}
.figures b{display:block;font-size:1.6rem}
svg{display:block;width:100%;height:auto}
svg text{fill:var(--muted);font-size:11px}
.bar{fill:var(--bar)}
.axis{stroke:var(--grid);stroke-width:1}
.l0{fill:var(--l0)}.l1{fill:var(--l1)}.l2{fill:var(--l2)}.l3{fill:var(--l3)}.l4{fill:var(--l4)}
details{margin:8px 0 0}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #8884}
td.n{text-align:right;font-variant-numeric:tabular-nums}
progress{width:100%;height:12px}
a{color:inherit}
""".strip()
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")

TEXT: dict[str, dict[str, str]] = {
    "ko": {
        "page_title": "복습 통계",
        "heading": "📊 복습 통계",
        "streak": "연속",
        "streak_value": "{n}일",
        "recall": "기억률 (30일)",
        "no_recall": "평가 없음",
        "done_12w": "12주 복습",
        "forecast": "앞으로 30일",
        "forecast_desc": "오늘부터 30일 동안 날마다 복습할 노트 수 (오늘은 밀린 복습 포함{limit}). "
        "가장 많은 날: {top}개.",
        "limit": ", 하루 최대 {n}개",
        "history": "지난 12주",
        "history_desc": "지난 12주 동안 날마다 한 복습 수, 한 칸이 하루 (열은 주, 월요일부터). 모두 {total}개.",
        "table": "표로 보기",
        "date": "날짜",
        "count": "복습",
        "week": "주 시작",
        "subjects": "과목",
        "subject": "과목",
        "notes": "노트",
        "long_term": "장기기억",
        "progress": "평균 진행률",
        "no_subject": "(과목 없음)",
        "no_notes": "아직 노트가 없습니다.",
        "weekdays": "월,화,수,목,금,토,일",
        "less": "적음",
        "more": "많음",
        "back": "📋 오늘 목록",
    },
    "en": {
        "page_title": "Review statistics",
        "heading": "📊 Review statistics",
        "streak": "Streak",
        "streak_value": "{n} day{s}",
        "recall": "Recall (30 days)",
        "no_recall": "no ratings yet",
        "done_12w": "Reviews, 12 weeks",
        "forecast": "The next 30 days",
        "forecast_desc": "Reviews due on each of the next 30 days (today includes what is overdue{limit}). "
        "Busiest day: {top}.",
        "limit": ", at most {n} a day",
        "history": "The last 12 weeks",
        "history_desc": "Reviews done on each day of the last 12 weeks, one square a day (a column a week, Monday "
        "first). {total} in all.",
        "table": "As a table",
        "date": "Date",
        "count": "Reviews",
        "week": "Week of",
        "subjects": "Subjects",
        "subject": "Subject",
        "notes": "Notes",
        "long_term": "Long-term",
        "progress": "Average progress",
        "no_subject": "(no subject)",
        "no_notes": "No notes yet.",
        "weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "less": "less",
        "more": "more",
        "back": "📋 Today's list",
    },
}


def text(language: str, name: str, **values: Any) -> str:
    return format_text(TEXT, language, name, **values)


def weekday_names(language: str) -> list[str]:
    return TEXT[language]["weekdays"].split(",")


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


def heatmap_cells(history: tuple[DayCount, ...], language: str) -> tuple[list[Cell], list[Label], int, int]:
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
    letters = weekday_names(language)
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


# --- the page ----------------------------------------------------------------------------------------------------


@cache
def environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_stats(language: str, data: Stats, *, daily_limit: int | None = None, today_url: str | None = None) -> str:
    """The stats page. ``today_url`` (relative) links back to today's page."""
    bars, bar_labels, top = forecast_bars(data.forecast)
    cells, heat_labels, heat_w, heat_h = heatmap_cells(data.history, language)
    limit = text(language, "limit", n=daily_limit) if daily_limit else ""
    total = sum(d.count for d in data.history)
    template = environment().get_template("stats.html")
    return template.render(
        lang=language,
        t=lambda name, **kw: text(language, name, **kw),
        style=STYLE,
        data=data,
        recall=None if data.recall is None else round(data.recall * 100),
        total=total,
        forecast_desc=text(language, "forecast_desc", limit=limit, top=top),
        history_desc=text(language, "history_desc", total=total),
        chart_w=CHART_W,
        chart_h=CHART_H,
        plot_left=PLOT_LEFT,
        plot_bottom=PLOT_BOTTOM,
        bars=bars,
        bar_labels=bar_labels,
        cells=cells,
        cell=CELL,
        heat_labels=heat_labels,
        heat_w=heat_w,
        heat_h=heat_h,
        weeks=weeks_table(data.history),
        weekdays=weekday_names(language),
        today_url=today_url,
    )

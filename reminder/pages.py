"""The phone's pages as HTML: Jinja2 templates (reminder/templates/*.html, autoescaped), one stylesheet, the
texts of reminder.texts. Pure: data in, a document out; routing and tokens are reminder.web's.

A note's questions, answers and summary are the learner's Markdown, rendered with markdown-it-py with raw HTML
turned off: a ``<script>`` in a note is shown as text, never run (and the page's CSP allows no script at all).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from reminder import schedule
from reminder.cornell import Cue
from reminder.stats import Stats
from reminder.texts import t, when

LINK_SCHEMES = ("http", "https", "obsidian")

STYLE = resources.files("reminder").joinpath("templates/style.css").read_text(encoding="utf-8").strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
# Only the one stylesheet above may apply: no scripts, no frames, forms only back to this service.
CSP = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("reminder", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(safe_link=safe_link)
    return env


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark with raw HTML off (shown escaped) and tables; links keep markdown-it's own scheme check
    # (javascript: and friends are not made links).
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(text: str) -> Markup:
    """The learner's Markdown as safe HTML (block level)."""
    return Markup(_markdown().render(text))


def markdown_inline(text: str) -> Markup:
    """One line of Markdown (a question) as safe inline HTML."""
    return Markup(_markdown().renderInline(text))


def safe_link(link: str | None) -> str | None:
    if not link:
        return None
    return link if urlsplit(link).scheme.lower() in LINK_SCHEMES else None


def _render(name: str, language: str, title: str, **context: Any) -> str:
    template = _environment().get_template(name)
    return str(
        template.render(
            language=language,
            title=title,
            style=Markup(STYLE),
            t=lambda key, **values: t(language, key, **values),
            stage_label=lambda item: schedule.stage_label(item.stage, item.extra, language),
            **context,
        )
    )


def render_today(
    language: str,
    today: date,
    due: Iterable[schedule.DueNote],
    done_token: Callable[[int], str],
    page_token: str,
    flash: str | None = None,
    review_token: Callable[[int], str] | None = None,
    *,
    waiting: int = 0,
    stats_token: str | None = None,
) -> str:
    """Today's page. ``done_token(note_id)`` signs the button of one note, ``review_token(note_id)`` its review
    page link; ``page_token`` brings the form back. ``waiting`` counts the due notes a daily limit holds back;
    ``stats_token`` links the stats page."""
    return _render(
        "today.html",
        language,
        t(language, "page_title"),
        today=today,
        due=list(due),
        done_token=done_token,
        review_token=review_token,
        page_token=page_token,
        flash=flash if flash in ("done", "already", "rated") else None,
        waiting=waiting,
        stats_token=stats_token,
    )


def render_message(language: str, message: str, *, error: bool = True, today_url: str | None = None) -> str:
    """A page with one message: a refused link, or the result of a press whose page link has expired."""
    title = t(language, "error_title" if error else "page_title")
    return _render("message.html", language, title, message=message, error=error, today_url=today_url)


@dataclass(frozen=True)
class ShownCue:
    question: Markup
    answer: Markup


def render_review(
    language: str,
    today: date,
    item: schedule.DueNote,
    questions: Sequence[Cue],
    summary: str,
    comes_back: dict[str, date | None],
    page_token: str,
    *,
    remaining: int = 0,
    flash: str | None = None,
) -> str:
    """The review page of one due note: its cue questions with the answers folded (``<details>``, no script),
    the summary, a link to the note, and the four rating buttons, each saying when the note would come back."""
    shown = [
        ShownCue(markdown_inline(c.question), markdown_html(c.answer) if c.answer else Markup("")) for c in questions
    ]
    return _render(
        "review.html",
        language,
        f"{t(language, 'review_title')} · {item.title}",
        item=item,
        questions=shown,
        summary=markdown_html(summary) if summary else None,
        link=safe_link(item.link),
        choices=[(rating, when(language, day, today)) for rating, day in comes_back.items()],
        page_token=page_token,
        remaining=remaining,
        flash=flash if flash in ("rated", "already") else None,
    )


# --- the stats page ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBox:
    """The SVG coordinates the template needs besides the shapes."""

    width: int
    height: int
    left: int
    bottom: int
    cell: int


def render_stats(language: str, data: Stats, *, daily_limit: int | None = None, today_url: str | None = None) -> str:
    """The stats page of a reminder.stats.Stats: figures, the forecast's bars and the history's calendar (SVG
    drawn here, each with a title, a description and a table), subjects. ``today_url`` links today's page."""
    from reminder import charts

    bars, bar_labels, top = charts.forecast_bars(data.forecast)
    weekdays = t(language, "weekdays").split(",")
    cells, heat_labels, heat_w, heat_h = charts.heatmap_cells(data.history, weekdays)
    limit = t(language, "stats_limit", n=daily_limit) if daily_limit else ""
    total = sum(d.count for d in data.history)
    return _render(
        "stats.html",
        language,
        t(language, "stats_title"),
        data=data,
        recall=None if data.recall is None else round(data.recall * 100),
        total=total,
        forecast_desc=t(language, "stats_forecast_desc", limit=limit, top=top),
        history_desc=t(language, "stats_history_desc", total=total),
        chart=ChartBox(charts.CHART_W, charts.CHART_H, charts.PLOT_LEFT, charts.PLOT_BOTTOM, charts.CELL),
        bars=bars,
        bar_labels=bar_labels,
        cells=cells,
        heat_labels=heat_labels,
        heat_w=heat_w,
        heat_h=heat_h,
        weeks=charts.weeks_table(data.history),
        weekdays=weekdays,
        today_url=today_url,
    )

"""Every text the learner reads on the phone by name: the notification (digest, buttons) and the pages. The texts
themselves are in the message catalogues (reminder/locale, see reminder.i18n); this module names them, so the
call sites (``t(language, "heading", n=3)``) and the templates stay as they were.

``t(language, name, **values)`` formats one entry; a plural entry takes its form from ``n``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from reminder.i18n import LANGUAGES, N_, NC_, NP_, Message, catalogue, format_day

__all__ = ["LANGUAGES", "TEXT", "format_day", "t", "when"]

TEXT: dict[str, Message] = {
    # the notification
    "digest_title": NP_("📚 {n} review due", "📚 {n} reviews due"),
    # TRANSLATORS: a digest's title, then the day it is for (reminder.i18n.format_day)
    "digest_dated": N_("{title} · {day}"),
    "digest_late": NP_("{n} day late", "{n} days late"),
    "digest_more": N_("… and {n} more"),
    "digest_open": N_("Open"),
    "untitled": N_("(untitled)"),
    "test_title": N_("📚 reminder test"),
    "test_text": N_("If you can read this, review reminders will reach your phone."),
    "button_done": N_("✅ Done"),
    "button_snooze": N_("⏰ Tomorrow"),
    "button_open": N_("📖 Open note"),
    "button_page": N_("📋 Today's list"),
    # today's page
    "page_title": N_("Today's reviews"),
    "heading": NP_("📚 {n} review due today", "📚 {n} reviews due today"),
    "empty": N_("🎉 Nothing to review today."),
    "late": NP_("{n} day late", "{n} days late"),
    "on_time": N_("due today"),
    "done_button": N_("✅ Done"),
    "review_link": N_("🧠 Review"),
    "open": N_("Open note"),
    "progress": N_("Progress"),
    "flash_done": N_("✅ Review recorded."),
    "flash_already": N_("That review was already done."),
    "flash_rated": NC_("rated", "✅ Review recorded."),
    "marked": NP_("Marked {n} review done.", "Marked {n} reviews done."),
    "already": N_("Already done."),
    "snoozed": N_("Snoozed until {day}."),
    "already_snoozed": N_("Already snoozed until {day}."),
    "invalid": N_("This link is not valid."),
    "expired": N_("This link has expired. Use the buttons of the latest notification."),
    "error_title": N_("Link not usable"),
    "unavailable": N_("This cannot be done right now. Try again in a moment."),
    # the review page
    "review_title": N_("Review"),
    "questions": N_("Cue questions"),
    "no_questions": N_("This note has no cue questions. Recall it, then rate how it went."),
    "summary": N_("Summary"),
    "open_obsidian": N_("Open in Obsidian"),
    "rate_prompt": N_("How well did you remember?"),
    "not_due": N_("This note is not due for a review now."),
    "gone": N_("This note no longer exists."),
    "back_today": N_("Back to today's list"),
    "rating_again": N_("Again"),
    "rating_hard": N_("Hard"),
    "rating_good": N_("Good"),
    "rating_easy": N_("Easy"),
    "when_today": N_("today"),
    "when_tomorrow": N_("tomorrow"),
    "when_days": NP_("in {n} day", "in {n} days"),
    "when_never": N_("long-term"),
    "remaining": NP_("{n} more note due", "{n} more notes due"),
    # the daily limit, the nudge, the weekly summary
    "waiting": N_(" ({n} waiting)"),
    "nudge_title": NP_("📚 {n} review still open", "📚 {n} reviews still open"),
    "summary_title": N_("📊 Your week in reviews"),
    "summary_done": NP_("{n} review done this week", "{n} reviews done this week"),
    "summary_recall": N_("Recall {recall} (30 days)"),
    "summary_streak": NP_("Streak: {n} day", "Streak: {n} days"),
    "summary_next": NP_("Next week: {n} review due", "Next week: {n} reviews due"),
    "button_stats": N_("📊 Statistics"),
    # the stats page
    "stats_link": N_("📊 Review statistics"),
    "stats_title": N_("Review statistics"),
    "stats_heading": N_("📊 Review statistics"),
    "stats_streak": N_("Streak"),
    "stats_streak_value": NP_("{n} day", "{n} days"),
    "stats_recall": N_("Recall (30 days)"),
    "no_recall": N_("no ratings yet"),
    "stats_done_12w": N_("Reviews, 12 weeks"),
    "stats_forecast": N_("The next 30 days"),
    "stats_forecast_desc": N_(
        "Reviews due on each of the next 30 days (today includes what is overdue{limit}). Busiest day: {top}."
    ),
    "stats_limit": N_(", at most {n} a day"),
    "stats_history": N_("The last 12 weeks"),
    "stats_history_desc": N_(
        "Reviews done on each day of the last 12 weeks, one square a day (a column a week, Monday first). "
        "{total} in all."
    ),
    "stats_table": N_("As a table"),
    "stats_date": N_("Date"),
    "stats_count": N_("Reviews"),
    "stats_week": N_("Week of"),
    "stats_subjects": N_("Subjects"),
    "stats_subject": N_("Subject"),
    "stats_notes": N_("Notes"),
    "stats_long_term": N_("Long-term"),
    "stats_progress": N_("Average progress"),
    "stats_no_subject": N_("(no subject)"),
    "stats_no_notes": N_("No notes yet."),
    "weekdays": N_("Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
}


def t(language: str, name: str, **values: Any) -> str:
    message = TEXT[name]
    return catalogue(language).text(message, values.get("n")).format(**values)


def when(language: str, day: date | None, today: date) -> str:
    """When a note comes back, as a rating button says it: 내일, 4일 후 / tomorrow, in 4 days."""
    if day is None:
        return t(language, "when_never")
    days = (day - today).days
    if days <= 0:
        return t(language, "when_today")
    if days == 1:
        return t(language, "when_tomorrow")
    return t(language, "when_days", n=days)

"""Every text the learner reads on the phone, one catalogue per language: the notification (digest, buttons) and
the pages. One place, so a translation (or, later, gettext catalogues) touches only this module.

``t(language, name, **values)`` formats one entry; ``n`` also sets ``s`` to "" or "s" for English plurals.
"""

from __future__ import annotations

from datetime import date
from typing import Any

LANGUAGES = ("ko", "en")

TEXT: dict[str, dict[str, str]] = {
    "ko": {
        # the notification
        "digest_title": "📚 오늘 복습 {n}개",
        "digest_late": "{n}일 지남",
        "digest_more": "외 {n}개",
        "digest_open": "열기",
        "untitled": "(제목 없음)",
        "test_title": "📚 reminder 테스트 알림",
        "test_text": "이 알림이 보이면 휴대폰에서 복습 알림을 받을 수 있습니다.",
        "button_done": "✅ 복습 완료",
        "button_snooze": "⏰ 내일",
        "button_open": "📖 노트 열기",
        "button_page": "📋 오늘 목록",
        # today's page
        "page_title": "오늘의 복습",
        "heading": "📚 오늘 복습 {n}개",
        "empty": "🎉 오늘 복습할 노트가 없습니다.",
        "late": "{n}일 지남",
        "on_time": "오늘",
        "done_button": "✅ 복습 완료",
        "review_link": "🧠 복습하기",
        "open": "노트 열기",
        "progress": "진행률",
        "flash_done": "✅ 복습 완료로 기록했습니다.",
        "flash_already": "이미 완료된 복습입니다.",
        "flash_rated": "✅ 복습을 기록했습니다.",
        "marked": "복습 완료: {n}개",
        "already": "이미 완료된 복습입니다.",
        "snoozed": "{day}까지 알림을 미뤘습니다.",
        "already_snoozed": "이미 {day}까지 미뤄져 있습니다.",
        "invalid": "링크가 올바르지 않습니다.",
        "expired": "링크가 만료되었습니다. 가장 최근 알림의 버튼을 사용하세요.",
        "error_title": "사용할 수 없는 링크",
        "unavailable": "지금은 처리할 수 없습니다. 잠시 후 다시 시도하세요.",
        # the review page
        "review_title": "복습",
        "questions": "단서 질문",
        "no_questions": "이 노트에는 단서 질문이 없습니다. 노트를 떠올려 본 뒤 평가하세요.",
        "summary": "핵심 요약",
        "open_obsidian": "Obsidian에서 열기",
        "rate_prompt": "얼마나 잘 기억했나요?",
        "not_due": "이 노트는 지금 복습할 차례가 아닙니다.",
        "gone": "이 노트는 더 이상 없습니다.",
        "back_today": "오늘 목록으로",
        "rating_again": "다시",
        "rating_hard": "어려움",
        "rating_good": "좋음",
        "rating_easy": "쉬움",
        "when_today": "오늘",
        "when_tomorrow": "내일",
        "when_days": "{n}일 후",
        "when_never": "장기기억",
        "remaining": "남은 노트 {n}개",
        # the daily limit, the nudge, the weekly summary
        "waiting": " (대기 {n})",
        "nudge_title": "📚 아직 {n}개 남았어요",
        "summary_title": "📊 이번 주 복습 요약",
        "summary_done": "이번 주 복습 {n}개",
        "summary_recall": "기억률 {recall} (30일)",
        "summary_streak": "연속 {n}일",
        "summary_next": "다음 주 복습 {n}개",
        "button_stats": "📊 통계 보기",
        # the stats page
        "stats_link": "📊 복습 통계",
        "stats_title": "복습 통계",
        "stats_heading": "📊 복습 통계",
        "stats_streak": "연속",
        "stats_streak_value": "{n}일",
        "stats_recall": "기억률 (30일)",
        "no_recall": "평가 없음",
        "stats_done_12w": "12주 복습",
        "stats_forecast": "앞으로 30일",
        "stats_forecast_desc": "오늘부터 30일 동안 날마다 복습할 노트 수 (오늘은 밀린 복습 포함{limit}). "
        "가장 많은 날: {top}개.",
        "stats_limit": ", 하루 최대 {n}개",
        "stats_history": "지난 12주",
        "stats_history_desc": "지난 12주 동안 날마다 한 복습 수, 한 칸이 하루 (열은 주, 월요일부터). 모두 {total}개.",
        "stats_table": "표로 보기",
        "stats_date": "날짜",
        "stats_count": "복습",
        "stats_week": "주 시작",
        "stats_subjects": "과목",
        "stats_subject": "과목",
        "stats_notes": "노트",
        "stats_long_term": "장기기억",
        "stats_progress": "평균 진행률",
        "stats_no_subject": "(과목 없음)",
        "stats_no_notes": "아직 노트가 없습니다.",
        "weekdays": "월,화,수,목,금,토,일",
    },
    "en": {
        "digest_title": "📚 {n} review{s} due",
        "digest_late": "{n} day{s} late",
        "digest_more": "… and {n} more",
        "digest_open": "Open",
        "untitled": "(untitled)",
        "test_title": "📚 reminder test",
        "test_text": "If you can read this, review reminders will reach your phone.",
        "button_done": "✅ Done",
        "button_snooze": "⏰ Tomorrow",
        "button_open": "📖 Open note",
        "button_page": "📋 Today's list",
        "page_title": "Today's reviews",
        "heading": "📚 {n} review{s} due today",
        "empty": "🎉 Nothing to review today.",
        "late": "{n} day{s} late",
        "on_time": "due today",
        "done_button": "✅ Done",
        "review_link": "🧠 Review",
        "open": "Open note",
        "progress": "Progress",
        "flash_done": "✅ Review recorded.",
        "flash_already": "That review was already done.",
        "flash_rated": "✅ Review recorded.",
        "marked": "Marked {n} review{s} done.",
        "already": "Already done.",
        "snoozed": "Snoozed until {day}.",
        "already_snoozed": "Already snoozed until {day}.",
        "invalid": "This link is not valid.",
        "expired": "This link has expired. Use the buttons of the latest notification.",
        "error_title": "Link not usable",
        "unavailable": "This cannot be done right now. Try again in a moment.",
        "review_title": "Review",
        "questions": "Cue questions",
        "no_questions": "This note has no cue questions. Recall it, then rate how it went.",
        "summary": "Summary",
        "open_obsidian": "Open in Obsidian",
        "rate_prompt": "How well did you remember?",
        "not_due": "This note is not due for a review now.",
        "gone": "This note no longer exists.",
        "back_today": "Back to today's list",
        "rating_again": "Again",
        "rating_hard": "Hard",
        "rating_good": "Good",
        "rating_easy": "Easy",
        "when_today": "today",
        "when_tomorrow": "tomorrow",
        "when_days": "in {n} day{s}",
        "when_never": "long-term",
        "remaining": "{n} more note{s} due",
        "waiting": " ({n} waiting)",
        "nudge_title": "📚 {n} review{s} still open",
        "summary_title": "📊 Your week in reviews",
        "summary_done": "{n} review{s} done this week",
        "summary_recall": "Recall {recall} (30 days)",
        "summary_streak": "Streak: {n} day{s}",
        "summary_next": "Next week: {n} review{s} due",
        "button_stats": "📊 Statistics",
        "stats_link": "📊 Review statistics",
        "stats_title": "Review statistics",
        "stats_heading": "📊 Review statistics",
        "stats_streak": "Streak",
        "stats_streak_value": "{n} day{s}",
        "stats_recall": "Recall (30 days)",
        "no_recall": "no ratings yet",
        "stats_done_12w": "Reviews, 12 weeks",
        "stats_forecast": "The next 30 days",
        "stats_forecast_desc": "Reviews due on each of the next 30 days (today includes what is overdue{limit}). "
        "Busiest day: {top}.",
        "stats_limit": ", at most {n} a day",
        "stats_history": "The last 12 weeks",
        "stats_history_desc": "Reviews done on each day of the last 12 weeks, one square a day (a column a week, "
        "Monday first). {total} in all.",
        "stats_table": "As a table",
        "stats_date": "Date",
        "stats_count": "Reviews",
        "stats_week": "Week of",
        "stats_subjects": "Subjects",
        "stats_subject": "Subject",
        "stats_notes": "Notes",
        "stats_long_term": "Long-term",
        "stats_progress": "Average progress",
        "stats_no_subject": "(no subject)",
        "stats_no_notes": "No notes yet.",
        "weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    },
}


def t(language: str, name: str, **values: Any) -> str:
    if language not in TEXT:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    if "n" in values:
        values.setdefault("s", "" if values["n"] == 1 else "s")
    return TEXT[language][name].format(**values)


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

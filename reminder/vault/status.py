"""The status block the sync keeps under a note's 복습알림 (Review reminders) heading: the next review, the progress
bar and how the reminders come. Pure text: no file system, no store.

Vaults are often public git repositories, so the block holds nothing secret: no ntfy topic or token, no signed
link; only dates, the stage, the bar and the delivery time. It is rewritten when what it says changes, not when
only the day count goes stale ("3일 지남" as of the day it was written, which the block says).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from reminder import schedule
from reminder.digest import late_label
from reminder.notes import NoteView

_DAILY_RE = re.compile(r"(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\*")


@dataclass(frozen=True)
class Delivery:
    """How the reminders come: the cron schedule in the learner's zone."""

    cron: str
    zone: str

    def text(self, language: str) -> str:
        m = _DAILY_RE.fullmatch(self.cron.strip())
        if m and int(m.group(1)) < 60 and int(m.group(2)) < 24:
            at = f"{int(m.group(2)):02d}:{int(m.group(1)):02d}"
            if language == "ko":
                return f"매일 {at} ({self.zone}) ntfy 알림"
            return f"every day at {at} ({self.zone}) by ntfy"
        if language == "ko":
            return f"cron `{self.cron}` ({self.zone}) ntfy 알림"
        return f"on cron `{self.cron}` ({self.zone}) by ntfy"


def status_lines(view: NoteView, today: date, delivery: Delivery, language: str) -> list[str]:
    """The block's lines for a note as the store sees it on ``today``."""
    ko = language == "ko"
    if view.long_term_on is not None:
        nxt = "장기기억: 더 이상 복습 알림이 없습니다" if ko else "long-term memory: no more reminders"
    elif view.due is not None:
        stage = schedule.stage_label(view.due.stage, view.due.extra, language)
        nxt = f"{view.due.due_on.isoformat()} ({stage})"
        if view.due.days_late:
            as_of = f"{today.isoformat()} 기준" if ko else f"as of {today.isoformat()}"
            nxt += f", {late_label(view.due.days_late, language)} ({as_of})"
    elif view.next_review is not None:
        stage_no, extra, due_on = view.next_review
        nxt = f"{due_on.isoformat()} ({schedule.stage_label(stage_no, extra, language)})"
    else:
        nxt = "-"
    if ko:
        return [
            f"- 다음 복습: {nxt}",
            f"- 진행: {schedule.progress_bar(view.progress)}",
            f"- 알림: {delivery.text(language)}",
        ]
    return [
        f"- Next review: {nxt}",
        f"- Progress: {schedule.progress_bar(view.progress)}",
        f"- Reminders: {delivery.text(language)}",
    ]


_AS_OF_RE = re.compile(r", [^,\n]*\((?:\d{4}-\d{2}-\d{2} 기준|as of \d{4}-\d{2}-\d{2})\)")


def same_status(old: str, new: str) -> bool:
    """Whether two blocks say the same but for how many days late as of the day each was written."""
    return _AS_OF_RE.sub("", old) == _AS_OF_RE.sub("", new)

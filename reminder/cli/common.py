"""Small input and output helpers the commands share; light to import (no store, no SQLAlchemy)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from reminder import schedule
from reminder.cli import UserError
from reminder.config import parse_ladder

DATE_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def parse_date(value: str, what: str, today: date) -> date:
    """ISO 2024-07-07 (or 2024/07/07), `today`, `yesterday`. An impossible date is an error, not a guess."""
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    match = DATE_RE.match(text)
    if not match:
        raise UserError(f"{what}: {value!r} is not a date (use YYYY-MM-DD)")
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise UserError(f"{what}: {value!r} is not a valid date ({exc})") from None


def ladder_option(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return parse_ladder(value)
    except ValueError as exc:
        raise UserError(f"--ladder: {exc}") from None


def stage_text(stage: int, extra: bool) -> str:
    return schedule.stage_label(stage, extra, "en")

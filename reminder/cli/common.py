"""Small input and output helpers the commands share; light to import (no store, no SQLAlchemy)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

from reminder import schedule
from reminder.cli import UserError
from reminder.config import parse_ladder

T = TypeVar("T")
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


def checked_option(option: str, parse: Callable[[str], T], value: str | None) -> T | None:
    """``parse(value)`` for a command-line option, its ValueError as a one-line error naming the option."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None


def ladder_option(value: str | None) -> tuple[int, ...] | None:
    return checked_option("--ladder", parse_ladder, value)


def stage_text(stage: int, extra: bool) -> str:
    return schedule.stage_label(stage, extra, "en")

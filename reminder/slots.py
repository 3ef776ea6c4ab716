"""Cron slots in the learner's zone: the previous and next slot, and the key that makes a slot run once.

Pure functions of (cron expression, zone, instant); the runner passes the clock in. croniter evaluates the
expression on local wall-clock time, so `0 8 * * *` means 08:00 in Asia/Seoul whatever the server's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter


def local_key(slot: datetime) -> str:
    """The slot's wall-clock time with no offset. A local time that occurs twice (DST fall-back) or that a cron
    library yields twice maps to one key, so one scheduled day and time is processed once."""
    return slot.strftime("%Y-%m-%dT%H:%M")


def _aware(wall: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz``: the first of a time that occurs twice (fold=0), and a time inside a
    spring-forward gap moved past the gap (02:30 on a day that skips 02:00-03:00 becomes 03:30)."""
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _wall(now: datetime, tz: ZoneInfo) -> datetime:
    if now.tzinfo is None:
        raise ValueError("slot arithmetic needs an aware datetime")
    return now.astimezone(tz).replace(tzinfo=None)


# croniter walks naive wall-clock times here: its own handling of aware times inside DST transitions yields a
# repeated hour twice or even a time in the past. Naive times come once each; _aware maps them to instants.


def previous_slot(cron: str, zone: str, now: datetime) -> datetime:
    """The most recent slot at or before ``now`` (aware, in the zone)."""
    tz = ZoneInfo(zone)
    it = croniter(cron, _wall(now, tz) + timedelta(seconds=1))  # a slot exactly at ``now`` counts
    while True:
        slot = _aware(it.get_prev(datetime), tz)
        if slot <= now:
            return slot


def next_slot(cron: str, zone: str, now: datetime) -> datetime:
    """The first slot strictly after ``now`` (aware, in the zone)."""
    tz = ZoneInfo(zone)
    it = croniter(cron, _wall(now, tz))
    while True:
        slot = _aware(it.get_next(datetime), tz)
        if slot > now:
            return slot


# A nudge or summary slot is claimed in the same table as a digest slot, under its kind and wall-clock time
# ("nudge@2025-03-09T21:00"): a nudge at the digest's own time claims a row of its own, and the digest's keys
# stay plain, so the queries about digest slots (status, /healthz) leave the others out with one LIKE.
KIND_SEPARATOR = "@"


def kind_key(kind: str, slot: datetime) -> str:
    return local_key(slot) if kind == "digest" else f"{kind}{KIND_SEPARATOR}{local_key(slot)}"


def digest_slots() -> Any:
    """The SQL condition that picks the digest slots out of the slots table (not the nudges or summaries)."""
    from reminder.db.models import Slot

    return Slot.local_key.not_like(f"%{KIND_SEPARATOR}%")


@dataclass(frozen=True)
class Status:
    """What `reminder status` shows. The rows are the store's Slot and Outbox objects, or the light read path's
    rows with the same attributes (reminder.lightread.status_from_sqlite_file)."""

    last_slot: Any
    next_slot: datetime
    pending: list[Any]
    failed: list[Any]
    last_sent: Any

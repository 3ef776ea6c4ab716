"""The one clock reminder reads: aware UTC, everywhere but inside the store.

The store keeps naive UTC (the columns have no time zone on SQLite and PostgreSQL alike); the conversion
happens only in reminder.db.models.UTCDateTime, so no other code meets a naive instant. Calendar days are a
different thing: they come from this instant in the learner's zone, read once by the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)

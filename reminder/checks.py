"""The input checks of a note's title, fields and first-study date: pure, no SQLAlchemy, no clock.

One definition for the store path (reminder.notes), the light write path (reminder.lightwrite) and the vault
sync (reminder.vault.files); the column lengths in reminder.db.models are declared from these limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from reminder.errors import NoteError
from reminder.i18n import N_

TITLE_MAX = 500

# The longest text each optional field takes: the length of its column, so that SQLite (which would store a
# longer one silently) and PostgreSQL (which refuses it) agree, for the CLI and the vault sync alike.
FIELD_LIMITS: dict[str, int] = {"subject": 200, "source": 500, "pages": 100, "level": 100}

# The fields as an error names them, in the learner's language.
FIELD_NAMES = {
    "title": N_("title"),
    "subject": N_("subject"),
    "source": N_("source"),
    "pages": N_("pages"),
    "level": N_("level"),
    "link": N_("link"),
}


def check_text(name: str, value: str) -> str:
    """``value`` if a database column can take it: valid Unicode (no lone surrogates, which is what undecodable
    bytes in a command-line argument become) and no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("the {name} is not valid text (undecodable bytes?)", name=FIELD_NAMES.get(name, name)) from None
    if "\x00" in value:
        raise NoteError("the {name} holds a NUL character", name=FIELD_NAMES.get(name, name))
    return value


def check_fields(fields: Mapping[str, str | None]) -> None:
    """The optional text fields against FIELD_LIMITS (the link is unlimited text)."""
    for name, value in fields.items():
        if value:
            check_text(name, value)
            limit = FIELD_LIMITS.get(name)
            if limit is not None and len(value) > limit:
                raise NoteError(
                    "the {name} is longer than {limit} characters", name=FIELD_NAMES.get(name, name), limit=limit
                )


def clean_title(title: str) -> str:
    """The title as stored: its runs of white space made one space; NoteError when empty or too long."""
    title = " ".join(check_text("title", title).split())
    if not title:
        raise NoteError("the title is empty")
    if len(title) > TITLE_MAX:
        raise NoteError("the title is longer than {limit} characters", limit=TITLE_MAX)
    return title


def check_first_study(first_studied_on: date, today: date) -> None:
    """A note is registered once it has been studied: a first-study date after ``today`` is refused (by `add`,
    `edit` and the vault sync alike)."""
    if first_studied_on > today:
        raise NoteError(
            "first-study date {day} is after today ({today}): register a note once it has been studied",
            day=first_studied_on.isoformat(),
            today=today.isoformat(),
        )

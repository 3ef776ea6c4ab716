"""The errors reminder expects: each one line for the user, never a secret, never a traceback.

A ``ReminderError`` is something the user can fix (a setting, a note reference, an unusable store, an address
in use), not a bug. The CLI turns every one into ``Error: ...`` and exit status 2 (reminder.cli.LazyGroup), the
web into its class's ``http_status`` (reminder.web.WebApp.__call__): each mapping exists once, so a new error
only has to pick its base. The classes stay importable from where they were defined before (reminder.config,
reminder.notes, reminder.db, reminder.server). The vault's own, NoteFormatError (a note's line to fix, on this
base) and WriteRefused (a note reminder must not write, a VaultError), stay beside the code that raises them.
"""

from __future__ import annotations

from typing import ClassVar

from reminder.i18n import LocalizedError


class ReminderError(LocalizedError):
    """A mistake the user can fix; ``str(exc)`` is the one line to show, in English. Raised with a catalogue
    message id and its values (reminder.i18n.LocalizedError), it is shown in the reader's language where it is
    shown (reminder.cli.error_text)."""

    # What the web answers when one reaches it unhandled; the request changed nothing.
    http_status: ClassVar[str] = "400 Bad Request"


class ConfigError(ReminderError, ValueError):
    """A setting has a value reminder cannot use. The message is one line and never holds a secret."""

    # The server's own settings, not the phone's request, are wrong.
    http_status: ClassVar[str] = "500 Internal Server Error"


class NoteError(ReminderError, ValueError):
    """A request the store cannot honour because of what the user asked (exit status 2, nothing changed)."""

    # Gone, archived, or not due: the note's state does not allow what was asked.
    http_status: ClassVar[str] = "409 Conflict"


class VaultError(ReminderError, ValueError):
    """A vault cannot be used as asked: its folder is missing or unreadable, or its name or folder is unknown or
    already taken. Nothing changed; the learner fixes the folder or the command."""

    # The server's vault, not the phone's request, is what is wrong.
    http_status: ClassVar[str] = "500 Internal Server Error"


class StoreError(ReminderError):
    """The store cannot be used: the message is one line for the user, with any password masked."""

    # As for a database that does not answer: nothing changed, and trying again later may work.
    http_status: ClassVar[str] = "503 Service Unavailable"


class ServerError(ReminderError):
    """The server cannot start (address in use, unknown host). One line, for the user."""

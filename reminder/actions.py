"""Signed action URLs: the buttons a notification carries and the links of today's page.

A token is a capability: whoever holds it can do one thing (mark done, snooze, or see today's page) to the notes
it names, for a limited time. It names exactly that and nothing else: the action, the note ids and the local day
it was issued for, signed with itsdangerous (HMAC-SHA1 over a timestamped payload; the salt differs per action, so
a "done" token is not a valid "snooze" or "page" token). Note ids are never reused (the notes table is
AUTOINCREMENT), so a token cannot come to name a different note.

Tokens expire after TOKEN_MAX_AGE (7 days): long enough for a notification left on the phone over a week of
holidays, short enough that an old screenshot or a leaked URL stops working soon; by then the runner has sent
newer buttons anyway.

This module imports no web server: the runner builds digest buttons with it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from reminder.schedule import DueNote
from reminder.texts import TEXT

ACTIONS = ("done", "snooze", "page", "review", "stats")
# Tokens that show a page name no notes.
PAGE_ACTIONS = ("page", "stats")
TOKEN_MAX_AGE = timedelta(days=7)
META_KEY = "secret_key"
_SALT_PREFIX = "reminder.action."
# A timestamp this far ahead of the verifying clock is accepted: two machines (or a VM after a suspend) may
# disagree by a little; a token from further ahead was not signed by a clock we trust.
_CLOCK_SKEW = timedelta(minutes=5)

# The button labels live in the catalogue (reminder.texts) with every other text the learner reads.
LABELS = {
    language: {name: TEXT[language]["button_" + name] for name in ("done", "snooze", "open", "page")}
    for language in TEXT
}


class ActionError(Exception):
    """A token that does not authorise the request. The message never contains the token or the key."""


class BadAction(ActionError):
    """Forged, altered, malformed, or made for another action."""


class ExpiredAction(ActionError):
    """Genuine, but older than TOKEN_MAX_AGE."""


@dataclass(frozen=True)
class ActionClaim:
    """What a verified token allows."""

    action: str
    note_ids: tuple[int, ...]
    day: date  # the learner's local date the token was issued for
    issued_at: datetime  # aware, UTC


# --- the key ---------------------------------------------------------------------------------------------------


def secret_key(store: Any, settings: Any) -> str:
    """The signing key: REMINDER_SECRET_KEY if set, else the one stored in the meta table (made on first use).

    Two processes starting at once (the runner and `reminder serve`) must agree on one key, or the buttons one
    signs would be refused by the other: each tries to insert its own, and the loser of the unique-key conflict
    reads the winner's.
    """
    if settings.secret_key:
        return str(settings.secret_key)
    from sqlalchemy.exc import IntegrityError

    from reminder.db.models import Meta

    with store.read() as session:
        row = session.get(Meta, META_KEY)
        if row is not None:
            return row.value
    try:
        with store.write() as session:
            session.add(Meta(key=META_KEY, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass  # another process stored its key first: use that one
    with store.read() as session:
        row = session.get(Meta, META_KEY)
        if row is None:  # pragma: no cover - the insert above or a concurrent one committed
            raise RuntimeError("the signing key could not be stored")
        return row.value


# --- tokens ----------------------------------------------------------------------------------------------------


def _serializer(key: str, action: str) -> URLSafeTimedSerializer:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return URLSafeTimedSerializer(key, salt=_SALT_PREFIX + action)


def sign(key: str, action: str, note_ids: Sequence[int], day: date) -> str:
    """A URL-safe token allowing ``action`` on ``note_ids``, issued for the local date ``day``."""
    ids = sorted({int(i) for i in note_ids})
    if action not in PAGE_ACTIONS and not ids:
        raise ValueError(f"a {action} token needs at least one note")
    if any(i <= 0 for i in ids):
        raise ValueError("note ids are positive")
    return _serializer(key, action).dumps({"a": action, "n": ids, "d": day.isoformat()})


def verify(key: str, token: str, action: str, now: datetime) -> ActionClaim:
    """The claim of a genuine, unexpired token for ``action``; BadAction or ExpiredAction otherwise."""
    if now.tzinfo is None:
        raise ValueError("verify needs an aware datetime")
    try:
        # The age is checked below against ``now`` (the caller's clock), not inside itsdangerous.
        payload, issued = _serializer(key, action).loads(token, return_timestamp=True)
    except BadData:
        raise BadAction("the link is not valid") from None
    if not isinstance(payload, dict) or payload.get("a") != action:
        raise BadAction("the link is not valid")
    try:
        ids = payload["n"]
        if not isinstance(ids, list) or not all(type(i) is int and i > 0 for i in ids):
            raise ValueError("ids")
        if action not in PAGE_ACTIONS and not ids:
            raise ValueError("ids")
        day = date.fromisoformat(payload["d"])
    except (KeyError, TypeError, ValueError):
        raise BadAction("the link is not valid") from None
    issued = issued.astimezone(UTC)
    if issued - now > _CLOCK_SKEW:
        raise BadAction("the link is not valid")
    if now - issued > TOKEN_MAX_AGE:
        raise ExpiredAction("the link has expired")
    return ActionClaim(action, tuple(ids), day, issued)


# --- ntfy buttons ----------------------------------------------------------------------------------------------


def action_url(public_url: str, action: str, token: str) -> str:
    base = public_url.rstrip("/")
    if action == "page":
        return f"{base}/today/{token}"
    if action == "review":
        return f"{base}/review/{token}"
    if action == "stats":
        return f"{base}/stats/{token}"
    return f"{base}/a/{action}/{token}"


def click_url(public_url: str, key: str, due: Sequence[DueNote], *, day: date) -> str:
    """Where tapping a digest leads: the review page of the one note due, else today's page (never the note's
    text: that stays behind the signed page)."""
    if len(due) == 1:
        return action_url(public_url, "review", sign(key, "review", [due[0].note_id], day))
    return action_url(public_url, "page", sign(key, "page", [], day))


def digest_actions(
    public_url: str, key: str, due: Sequence[DueNote], *, language: str, day: date
) -> list[dict[str, Any]]:
    """The three ntfy buttons of a digest listing ``due``: done (every note listed), snooze to the next slot's
    day, and a view button (the note's link when a single note with a link is due, else today's page).

    Pass exactly the notes the digest lists: the done button marks every one of them.
    """
    if language not in LABELS:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    if not due:
        raise ValueError("nothing is due: a digest without notes has no buttons")
    labels = LABELS[language]
    ids = [d.note_id for d in due]
    buttons: list[dict[str, Any]] = [
        {
            "action": "http",
            "label": labels["done"],
            "url": action_url(public_url, "done", sign(key, "done", ids, day)),
            "method": "POST",
            "clear": True,
        },
        {
            "action": "http",
            "label": labels["snooze"],
            "url": action_url(public_url, "snooze", sign(key, "snooze", ids, day)),
            "method": "POST",
            "clear": True,
        },
    ]
    if len(due) == 1 and due[0].link:
        buttons.append({"action": "view", "label": labels["open"], "url": due[0].link})
    else:
        page_url = action_url(public_url, "page", sign(key, "page", [], day))
        buttons.append({"action": "view", "label": labels["page"], "url": page_url})
    return buttons

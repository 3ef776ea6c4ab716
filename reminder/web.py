"""The phone's side of the service: action endpoints, today's page and /healthz, as a plain WSGI app.

Served by waitress (reminder.server) in a daemon thread, so `reminder serve` and `reminder run --serve` share
one implementation; the HTML comes from reminder.pages (Jinja2 templates), the texts from reminder.texts. Routes:

    POST /a/done/<token>     mark the due stages of the token's notes done (a second press: "already done")
    POST /a/snooze/<token>   hold the token's notes until the day of the next cron slot on a later day
    GET  /today/<token>      today's due notes, a done button and a review link each (plain HTML, no JS)
    GET  /review/<token>     one due note: its cue questions, answers folded, and four rating buttons
    POST /review/<token>     record the rating (form field ``rating``), then 303 to the next due note's page
    GET  /stats/<token>      forecast, history, streak, recall and subjects, charts drawn in SVG
    GET  /healthz            200 when the store answers and the last due slot ran, else 503 with the reason

A press answers ntfy's web app (the configured ntfy server's origin) with CORS headers, so its fetch() can read
the answer (``secured``). Nothing is listed or changed without a valid token. Tokens travel in the URL path, so
this module never logs a path, and every exception is caught here: waitress would log the path with its own
traceback.

URLs inside the page and the redirect after a form POST are relative, so the app works unchanged behind a
reverse proxy that mounts it under a path prefix (REMINDER_PUBLIC_URL=https://host/reminder).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from reminder import actions, notes
from reminder.config import check_cron
from reminder.db import one_line
from reminder.errors import ReminderError
from reminder.pages import CSP, render_message, render_review, render_stats, render_today
from reminder.schedulers import RATINGS
from reminder.slots import digest_slots, local_key, next_slot, previous_slot
from reminder.texts import format_day, t
from reminder.views import is_active

log = logging.getLogger(__name__)

# A slot is demanded only this long after its time: the runner claims it within seconds, but a busy machine,
# a restart or a catch-up may take a while, and a health check that flaps at 08:00:01 is worse than useless.
HEALTH_GRACE = timedelta(minutes=15)
FORM_BODY_MAX = 4096  # the pages' forms send two short fields

StartResponse = Callable[..., Any]


# --- health ----------------------------------------------------------------------------------------------------


def health(
    store: Any, settings: Any, now: datetime, *, started_at: datetime | None = None
) -> tuple[bool, dict[str, Any]]:
    """Whether the service is doing its job at ``now`` (aware): (healthy, details for a JSON answer).

    Rule: the expected slot is the most recent cron slot at or before ``now - HEALTH_GRACE``, in the zone set now.
    The service is healthy when the store answers and no runner still owes that slot: it was claimed in this
    zone, or the runner rightly passes it over (reminder.runner.claim_refusal: the day was served under the zone
    set before, or a later slot was claimed). A local key alone is not the slot: after a change of zone, 08:00
    of the old zone has the key of a slot the new one still owes. A missing slot is forgiven only when it could
    not have been claimed by this service: it started (``started_at``) after the slot, and either no slot has
    ever been claimed (a fresh install waiting for its first slot) or the start was less than HEALTH_GRACE ago
    (the runner's catch-up is still due). Without ``started_at`` a missing slot is always unhealthy.
    """
    if now.tzinfo is None:
        raise ValueError("health needs an aware datetime")
    from sqlalchemy import select

    from reminder.db.models import Slot
    from reminder.runner import claim_refusal

    now = now.astimezone(UTC)
    expected = previous_slot(settings.cron, settings.timezone, now - HEALTH_GRACE)
    expected_key = local_key(expected)
    info: dict[str, Any] = {
        "status": "ok",
        "now": now.isoformat(timespec="seconds"),
        "timezone": settings.timezone,
        "expected_slot": expected_key,
        "last_slot": None,
    }
    try:
        with store.read() as session:
            last = session.execute(
                select(Slot.local_key, Slot.claimed_at)
                .where(digest_slots())  # not the nudges or summaries
                .order_by(Slot.scheduled_at.desc(), Slot.id.desc())
                .limit(1)
            ).first()
            claimed = claim_refusal(session, expected, expected_key, settings.timezone) is not None
    except Exception as exc:
        # The reason goes to the log (it may name the database); the unauthenticated answer gets the class only.
        log.warning("healthz: the store does not answer: %s", one_line(exc))
        info.update(status="error", reason=f"the store does not answer ({type(exc).__name__})")
        return False, info
    if last is not None:
        info["last_slot"] = last.local_key
        info["last_slot_claimed_at"] = last.claimed_at.isoformat(timespec="seconds")
    if claimed:
        return True, info
    if started_at is not None and started_at.astimezone(UTC) > expected.astimezone(UTC):
        if last is None:
            info["note"] = "no slot has run since this service started; waiting for the first one"
            return True, info
        if now < started_at.astimezone(UTC) + HEALTH_GRACE:
            info["note"] = "started after the last slot; giving the runner time to catch up"
            return True, info
    ran = f"the last one that ran is {last.local_key}" if last is not None else "no slot has run yet"
    info.update(status="error", reason=f"the slot {expected_key} ({settings.timezone}) has not run; {ran}")
    return False, info


# --- snooze target ---------------------------------------------------------------------------------------------


def snooze_until(cron: str, zone: str, now: datetime) -> date:
    """The local date of the first cron slot on a day after today.

    Snoozes are held as a date (a note is due again on that day), so a slot later today would hide nothing; the
    button says "tomorrow", and with the daily default this is exactly the next slot.
    """
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    start_of_tomorrow = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    return next_slot(cron, zone, start_of_tomorrow - timedelta(seconds=1)).date()


# --- text and HTML: reminder.texts and reminder.pages ------------------------------------------------------------

SECURITY_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # the page's URL holds a token
]
HTML_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
]


# --- the WSGI app ------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


def _json(status: str, data: dict[str, Any], extra: Iterable[tuple[str, str]] = ()) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    headers = [("Content-Type", "application/json; charset=utf-8"), *SECURITY_HEADERS, *extra]
    return Response(status, headers, body)


def _html(status: str, text: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    headers = [("Content-Type", "text/html; charset=utf-8"), *SECURITY_HEADERS, *HTML_HEADERS, *extra]
    return Response(status, headers, text.encode("utf-8"))


def _wants_html(environ: dict[str, Any]) -> bool:
    return "text/html" in environ.get("HTTP_ACCEPT", "")


PRESS_ACTIONS = ("done", "snooze")  # the phone's http buttons: POST /a/<action>/<token>


def is_press(parts: list[str]) -> bool:
    """Whether a path's parts (``PATH_INFO`` split on "/", the leading "" dropped) are a button's press."""
    return len(parts) == 3 and parts[0] == "a" and parts[1] in PRESS_ACTIONS and bool(parts[2])


ROUTES: dict[str, tuple[str, ...]] = {
    "healthz": ("GET", "HEAD"),
    "a": ("POST",),
    "today": ("GET", "HEAD"),
    "review": ("GET", "HEAD", "POST"),
    "stats": ("GET", "HEAD"),
}


class ReminderApp:
    """The WSGI callable. One instance per server; safe for waitress's worker threads."""

    def __init__(self, store: Any, settings: Any, *, started_at: datetime | None = None) -> None:
        check_cron(settings.cron)
        self.store = store
        self.settings = settings
        self.language: str = settings.language
        self.zone = ZoneInfo(settings.timezone)
        self.started_at = started_at or datetime.now(UTC)
        self._key: str | None = None
        self._key_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReminderApp(language={self.language!r}, timezone={self.settings.timezone!r})"

    # The key is read on first use, not at start: a store that is down at start must not stop /healthz from
    # reporting it.
    def key(self) -> str:
        with self._key_lock:
            if self._key is None:
                self._key = actions.secret_key(self.store, self.settings)
            return self._key

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            response = self.route(environ)
        except SQLAlchemyError as exc:
            # The store is down or busy beyond its timeout: nothing changed, and pressing again later will work.
            log.warning("store error answering %s: %s", _route_name(environ), one_line(exc))
            message = t(self.language, "unavailable")
            if _wants_html(environ):
                response = _html("503 Service Unavailable", render_message(self.language, message))
            else:
                response = _json(
                    "503 Service Unavailable", {"status": "error", "reason": "unavailable", "message": message}
                )
        except ReminderError as exc:
            # The one place a user error becomes its HTTP status: one line in the log, no traceback, nothing
            # changed (the write transaction rolled back). Never the path: it holds a token.
            log.warning("%s answering %s: %s", type(exc).__name__, _route_name(environ), one_line(exc))
            message = one_line(exc)
            if _wants_html(environ):
                response = _html(exc.http_status, render_message(self.language, message))
            else:
                reason = exc.http_status.partition(" ")[2].lower()
                response = _json(exc.http_status, {"status": "error", "reason": reason, "message": message})
        except Exception:
            # Never the path: it holds a token.
            log.exception("internal error answering %s %s", environ.get("REQUEST_METHOD"), _route_name(environ))
            response = _json("500 Internal Server Error", {"status": "error", "reason": "internal error"})
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status, headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [response.body]

    def route(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        parts = environ.get("PATH_INFO", "").split("/")[1:]
        if parts == ["healthz"]:
            allowed: tuple[str, ...] = ROUTES["healthz"]
            handler: Callable[[], Response] = self.healthz
        elif is_press(parts):
            allowed = ROUTES["a"]
            action, token = parts[1], parts[2]
            handler = (lambda: self.done(environ, token)) if action == "done" else (lambda: self.snooze(environ, token))
        elif len(parts) == 2 and parts[0] == "today" and parts[1]:
            allowed = ROUTES["today"]
            token = parts[1]
            handler = lambda: self.today_page(environ, token)  # noqa: E731
        elif len(parts) == 2 and parts[0] == "stats" and parts[1]:
            allowed = ROUTES["stats"]
            token = parts[1]
            handler = lambda: self.stats_page(token)  # noqa: E731
        elif len(parts) == 2 and parts[0] == "review" and parts[1]:
            allowed = ROUTES["review"]
            token = parts[1]
            handler = (lambda: self.rate(environ, token)) if method == "POST" else (lambda: self.review(environ, token))
        else:
            return _json("404 Not Found", {"status": "error", "reason": "not found"})
        # The method is checked before the token, so a wrong method changes nothing and reveals nothing.
        if method not in allowed:
            return _json(
                "405 Method Not Allowed",
                {"status": "error", "reason": f"use {' or '.join(allowed)}"},
                [("Allow", ", ".join(allowed))],
            )
        return handler()

    # --- handlers --------------------------------------------------------------------------------------------

    def healthz(self) -> Response:
        ok, info = health(self.store, self.settings, self.now(), started_at=self.started_at)
        return _json("200 OK" if ok else "503 Service Unavailable", info)

    def _claim(self, environ: dict[str, Any], token: str, action: str) -> actions.ActionClaim | Response:
        try:
            return actions.verify(self.key(), token, action, self.now())
        except actions.ActionError as exc:
            reason = "expired" if isinstance(exc, actions.ExpiredAction) else "invalid"
            message = t(self.language, reason)
            if _wants_html(environ):
                return _html("403 Forbidden", render_message(self.language, message))
            return _json("403 Forbidden", {"status": "error", "reason": reason, "message": message})

    def _local_now(self) -> tuple[datetime, date]:
        now = self.now()
        return now, now.astimezone(self.zone).date()

    def _write_back(self, session: Any, note: Any, today: date, pending: list[Any]) -> None:
        """The review is recorded: take its write-back into the note's file (with write-back), to run once the
        transaction has committed (``_finish_write_backs``), so that no press waits on a file."""
        from reminder.vault.writeback import prepare_write_back

        job = prepare_write_back(session, note, today, self.settings)
        if job is not None:
            pending.append(job)

    def _finish_write_backs(self, pending: list[Any]) -> None:
        """A file that cannot be written is logged: the button's answer is about the review, which is done."""
        from reminder.vault.writeback import WriteBack, finish_write_back

        for job in pending:
            result = finish_write_back(self.store, job)
            if result.outcome in (WriteBack.FAILED, WriteBack.LOST):
                log.warning("write-back note=%s result=%s reason=%s", job.note_id, result.outcome.value, result.reason)

    def done(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim(environ, token, "done")
        if isinstance(claim, Response):
            return claim
        _, today = self._local_now()
        marked: list[int] = []
        already: list[int] = []
        gone: list[int] = []
        pending: list[Any] = []
        with self.store.write() as session:
            notes.lock_notes(session, claim.note_ids)
            for note_id in claim.note_ids:
                try:
                    note = notes.resolve_note(session, str(note_id))
                except notes.NoteError:
                    gone.append(note_id)  # deleted or archived since the button was made
                    continue
                # The token covers the reviews due on the day it was issued for: pressed again days later, an
                # old button must not tick a stage that came due since, unseen.
                covered = note.long_term_on is None and any(
                    r.done_on is None and r.due_on <= claim.day for r in note.reviews
                )
                if not covered:
                    already.append(note_id)
                    continue
                try:
                    result = notes.mark_done(
                        session, note, day=today, today=today, extra_every=self.settings.extra_every, source="phone"
                    )
                except notes.NoteError:
                    already.append(note_id)  # issued for a day ahead of ours: nothing is due yet
                    continue
                (marked if result.marked else already).append(note_id)
                if result.marked and note.vault_id is not None:
                    self._write_back(session, note, today, pending)
        self._finish_write_backs(pending)
        status = "done" if marked else "already_done"
        message = t(self.language, "marked", n=len(marked)) if marked else t(self.language, "already")
        page = self._return_page(environ)
        if page is not None:
            # A form on today's page: back to it (303 turns the POST into a GET), saying what happened.
            location = f"../../today/{page}?m={'done' if marked else 'already'}"
            return Response("303 See Other", [("Location", location), *SECURITY_HEADERS], b"")
        if _wants_html(environ):
            return _html("200 OK", render_message(self.language, message, error=False))
        return _json(
            "200 OK",
            {"status": status, "marked": marked, "already_done": already, "gone": gone, "message": message},
        )

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, str]:
        """The fields of a small urlencoded form (the pages' forms); empty for anything else."""
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return {}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return {}
        if length <= 0 or length > FORM_BODY_MAX:
            return {}
        body = environ["wsgi.input"].read(length).decode("ascii", "replace")
        return {name: values[0] for name, values in parse_qs(body).items()}

    def _return_page(self, environ: dict[str, Any]) -> str | None:
        """The page token sent by the page's form, if it is genuine (never an address to redirect to)."""
        page = self._form(environ).get("page", "")
        if not page:
            return None
        try:
            actions.verify(self.key(), page, "page", self.now())
        except actions.ActionError:
            return None
        return page

    def snooze(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim(environ, token, "snooze")
        if isinstance(claim, Response):
            return claim
        now, _ = self._local_now()
        until = snooze_until(self.settings.cron, self.settings.timezone, now)
        with self.store.write() as session:
            changed = notes.snooze_notes(session, claim.note_ids, until)
        name = "snoozed" if changed else "already_snoozed"
        return _json(
            "200 OK",
            {
                "status": name,
                "until": until.isoformat(),
                "snoozed": changed,
                "message": t(self.language, name, day=format_day(until, self.language)),
            },
        )

    def today_page(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim({"HTTP_ACCEPT": "text/html"}, token, "page")
        if isinstance(claim, Response):
            return claim
        _, today = self._local_now()
        from reminder.history import choose_due

        with self.store.read() as session:
            due = notes.due_on(session, today, self.settings.extra_every)
            due, waiting = choose_due(session, due, today, self.settings.daily_limit)
        key = self.key()
        flash = parse_qs(environ.get("QUERY_STRING", "")).get("m", [None])[0]
        page = render_today(
            self.language,
            today,
            due,
            lambda note_id: actions.sign(key, "done", [note_id], today),
            token,
            flash,
            waiting=waiting,
            stats_token=actions.sign(key, "stats", [], today),
            review_token=lambda note_id: actions.sign(key, "review", [note_id], today),
        )
        return _html("200 OK", page)

    def stats_page(self, token: str) -> Response:
        claim = self._claim({"HTTP_ACCEPT": "text/html"}, token, "stats")
        if isinstance(claim, Response):
            return claim
        from reminder.history import read_stats

        _, today = self._local_now()
        with self.store.read() as session:
            data = read_stats(session, today, self.settings.extra_every, daily_limit=self.settings.daily_limit)
        # Back to today's page with a token of its own: the stats token is not a "page" token.
        today_url = f"../today/{actions.sign(self.key(), 'page', [], today)}"
        page = render_stats(self.language, data, daily_limit=self.settings.daily_limit, today_url=today_url)
        return _html("200 OK", page)

    # --- the review page: one note's questions, answers folded, and four ratings ------------------------------

    def _page_message(self, name: str, today: date, status: str = "200 OK") -> Response:
        today_url = "../today/" + actions.sign(self.key(), "page", [], today)
        return _html(status, render_message(self.language, t(self.language, name), error=False, today_url=today_url))

    def review(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim({"HTTP_ACCEPT": "text/html"}, token, "review")
        if isinstance(claim, Response):
            return claim
        _, today = self._local_now()
        from reminder.cues import note_cues

        extra_every = self.settings.extra_every
        with self.store.read() as session:
            try:
                note = notes.resolve_note(session, str(claim.note_ids[0]))
            except notes.NoteError:
                return self._page_message("gone", today)
            view = notes.view_note(note, today, extra_every)
            if view.due is None:
                return self._page_message("not_due", today)
            questions, summary = note_cues(note)
            comes_back = notes.preview_ratings(note, today, extra_every)
            remaining = sum(1 for d in notes.due_on(session, today, extra_every) if d.note_id != note.id)
        page = render_review(
            self.language,
            today,
            view.due,
            questions,
            summary,
            comes_back,
            actions.sign(self.key(), "page", [], today),
            remaining=remaining,
            flash=parse_qs(environ.get("QUERY_STRING", "")).get("m", [None])[0],
        )
        return _html("200 OK", page)

    def rate(self, environ: dict[str, Any], token: str) -> Response:
        """A rating from the review page: recorded, then on to the next due note's page (or today's page)."""
        claim = self._claim({"HTTP_ACCEPT": "text/html"}, token, "review")
        if isinstance(claim, Response):
            return claim
        rating = self._form(environ).get("rating", "")
        _, today = self._local_now()
        if rating not in RATINGS:
            return _html("400 Bad Request", render_message(self.language, t(self.language, "invalid")))
        key = self.key()
        rated = False
        pending: list[Any] = []
        with self.store.write() as session:
            notes.lock_notes(session, claim.note_ids)
            try:
                note = notes.resolve_note(session, str(claim.note_ids[0]))
            except notes.NoteError:
                note = None
            # As with the done button: only a review due on the day the link was made for; and a note held until
            # tomorrow by an `again` is not rated twice (the page sent again with the back button).
            if (
                note is not None
                and is_active(note, today)
                and any(r.done_on is None and r.due_on <= claim.day for r in note.reviews)
            ):
                try:
                    notes.mark_done(
                        session,
                        note,
                        day=today,
                        today=today,
                        extra_every=self.settings.extra_every,
                        rating=rating,
                        source="phone",
                    )
                    rated = True
                except notes.NoteError:
                    pass  # held until tomorrow by an `again` already, or not due yet on our day
                if rated and note.vault_id is not None:
                    self._write_back(session, note, today, pending)
            due = notes.due_on(session, today, self.settings.extra_every)
        self._finish_write_backs(pending)
        flash = "rated" if rated else "already"
        if due:
            location = f"../review/{actions.sign(key, 'review', [due[0].note_id], today)}?m={flash}"
        else:
            location = f"../today/{actions.sign(key, 'page', [], today)}?m={flash}"
        return Response("303 See Other", [("Location", location), *SECURITY_HEADERS], b"")


def _route_name(environ: dict[str, Any]) -> str:
    """The route without its token, for the log."""
    parts = environ.get("PATH_INFO", "").split("/")[1:]
    if parts[:1] == ["a"] and len(parts) > 1 and parts[1] in PRESS_ACTIONS:
        return f"/a/{parts[1]}/<token>"
    if parts[:1] == ["today"]:
        return "/today/<token>"
    if parts[:1] == ["review"]:
        return "/review/<token>"
    if parts[:1] == ["stats"]:
        return "/stats/<token>"
    return "/healthz" if parts == ["healthz"] else "(other path)"


def make_app(store: Any, settings: Any, *, started_at: datetime | None = None) -> ReminderApp:
    """The WSGI app. ``started_at`` (aware; default: now) is when the service started, for /healthz."""
    return ReminderApp(store, settings, started_at=started_at)


# --- every answer: security headers, and no cross-site POST ----------------------------------------------------

# What every answer carries, /healthz and waitress's own error pages included: the same headers as the pages.
ALL_SECURITY_HEADERS = [*SECURITY_HEADERS, *HTML_HEADERS]


def origin_of(url: str) -> str:
    """The origin a browser names for a page at ``url`` (its ``Origin`` header): scheme, host and a port that is
    not the scheme's default, lowercase, without any user:password@."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port is None or port == default else f"{scheme}://{host}:{port}"


def own_origins(environ: dict[str, Any], public_url: str | None) -> set[str]:
    """The origins a browser may POST from: the public URL's, and the one the request itself was sent to."""
    origins = set()
    if public_url:
        origins.add(origin_of(public_url))
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if host:
        origins.add(f"{environ.get('wsgi.url_scheme', 'http')}://{host}".lower())
    return origins


def secured(
    app: Callable[..., Iterable[bytes]], public_url: str | None, ntfy_server: str | None = None
) -> Callable[..., Iterable[bytes]]:
    """Wrap the WSGI app: add the security headers an answer lacks, and refuse a POST from a browser on another
    site (a page elsewhere submitting the done form): one whose ``Origin`` is present and not the service's own.
    The ntfy app's http buttons send no Origin, and neither does curl, so they are not affected.

    Our own pages are served with ``Referrer-Policy: no-referrer``, under which a browser sends ``Origin: null``
    even for a same-origin form; a browser that says ``Sec-Fetch-Site: same-origin`` is believed over it (the
    header cannot be set by a page's script). ``same-site`` passes too: the deploy layout serves ntfy and the
    phone pages on two names of one domain. The signed token in the URL is what authorises a press; this check
    only keeps other sites out.

    ntfy's web app presses an http button with fetch() from its own page, a plain POST with no headers and no
    body (a "simple" request: the browser sends no preflight). The press is recorded either way, but without
    ``Access-Control-Allow-Origin`` the browser hides the answer from the page, fetch() rejects and the web app
    shows the press as failed. So a press (and only a press: the pages and /healthz are not readable from
    elsewhere) from the configured ntfy server's origin is answered with that origin allowed, and is served
    even from another site (a learner on https://ntfy.sh's web app); every other origin is treated as before."""
    ntfy_origin = origin_of(ntfy_server) if ntfy_server else None

    def cross_site(environ: dict[str, Any]) -> bool:
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        if fetch_site is not None:
            return fetch_site.strip().lower() not in ("same-origin", "same-site", "none")
        origin = environ.get("HTTP_ORIGIN")
        return origin is not None and origin.strip().lower() not in own_origins(environ, public_url)

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        press = is_press(environ.get("PATH_INFO", "").split("/")[1:])
        origin = environ.get("HTTP_ORIGIN", "").strip().lower()
        from_ntfy = press and ntfy_origin is not None and origin == ntfy_origin
        if environ.get("REQUEST_METHOD", "").upper() == "POST" and not from_ntfy and cross_site(environ):
            body = json.dumps({"status": "error", "reason": "cross-origin request refused"}).encode()
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *ALL_SECURITY_HEADERS],
            )
            return [body]
        # A press's answer depends on its Origin (allowed or not): a cache must not hand one to the other.
        cors = [("Vary", "Origin")] if press else []
        if from_ntfy and ntfy_origin is not None:
            cors.append(("Access-Control-Allow-Origin", ntfy_origin))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            have = {name.lower() for name, _ in headers}
            extra = [(name, value) for name, value in ALL_SECURITY_HEADERS if name.lower() not in have]
            headers = [*headers, *extra, *cors]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return app(environ, start)

    return wrapped


def secured_channel_class() -> type:
    """waitress's connection class whose own error answers (400, 413, 431...) carry the security headers too."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class SecuredErrorTask(ErrorTask):
        def execute(self) -> None:
            self.response_headers = [*self.response_headers, *ALL_SECURITY_HEADERS]
            super().execute()

    class SecuredChannel(HTTPChannel):
        error_task_class = SecuredErrorTask

    return SecuredChannel

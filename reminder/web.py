"""The phone's side of the service: action endpoints, today's page and /healthz, as a plain WSGI app.

Served by waitress (a production WSGI server) in a daemon thread, so `reminder serve` and `reminder run --serve`
share one implementation. Routes:

    POST /a/done/<token>     mark the due stages of the token's notes done (a second press: "already done")
    POST /a/snooze/<token>   hold the token's notes until the day of the next cron slot on a later day
    GET  /today/<token>      today's due notes, a done button each (plain HTML form, works without JS)
    GET  /healthz            200 when the store answers and the last due slot ran, else 503 with the reason

Nothing is listed or changed without a valid token. Tokens travel in the URL path, so this module never logs a
path, and every exception is caught here: waitress would log the path with its own traceback.

URLs inside the page and the redirect after a form POST are relative, so the app works unchanged behind a
reverse proxy that mounts it under a path prefix (REMINDER_PUBLIC_URL=https://host/reminder).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from reminder import actions, notes, schedule
from reminder.config import check_cron
from reminder.slots import local_key, next_slot, previous_slot

log = logging.getLogger(__name__)

# A slot is demanded only this long after its time: the runner claims it within seconds, but a busy machine,
# a restart or a catch-up may take a while, and a health check that flaps at 08:00:01 is worse than useless.
HEALTH_GRACE = timedelta(minutes=15)
FORM_BODY_MAX = 4096  # the page's form sends one short field
LINK_SCHEMES = ("http", "https", "obsidian")

StartResponse = Callable[..., Any]


# --- health ----------------------------------------------------------------------------------------------------


def health(
    store: Any, settings: Any, now: datetime, *, started_at: datetime | None = None
) -> tuple[bool, dict[str, Any]]:
    """Whether the service is doing its job at ``now`` (aware): (healthy, details for a JSON answer).

    Rule: the expected slot is the most recent cron slot at or before ``now - HEALTH_GRACE``. The service is
    healthy when the store answers and that slot has a row in the slots table (a runner claimed it). A missing
    slot is forgiven only when it could not have been claimed by this service: it started (``started_at``)
    after the slot, and either no slot has ever been claimed (a fresh install waiting for its first slot) or
    the start was less than HEALTH_GRACE ago (the runner's catch-up is still due). Without ``started_at`` a
    missing slot is always unhealthy.
    """
    if now.tzinfo is None:
        raise ValueError("health needs an aware datetime")
    from sqlalchemy import select

    from reminder.db.models import Slot

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
                select(Slot.local_key, Slot.claimed_at).order_by(Slot.scheduled_at.desc(), Slot.id.desc()).limit(1)
            ).first()
            claimed = session.scalar(select(Slot.id).where(Slot.local_key == expected_key)) is not None
    except Exception as exc:
        # The reason goes to the log (it may name the database); the unauthenticated answer gets the class only.
        log.warning("healthz: the store does not answer: %s", _one_line(exc))
        info.update(status="error", reason=f"the store does not answer ({type(exc).__name__})")
        return False, info
    if last is not None:
        info["last_slot"] = last.local_key
        info["last_slot_claimed_at"] = last.claimed_at.replace(tzinfo=UTC).isoformat(timespec="seconds")
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


def _one_line(exc: BaseException) -> str:
    from reminder.config import mask_url

    lines = [ln.strip() for ln in str(getattr(exc, "orig", None) or exc).splitlines() if ln.strip()]
    return mask_url(lines[0] if lines else type(exc).__name__)


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


# --- text --------------------------------------------------------------------------------------------------------

TEXT = {
    "ko": {
        "page_title": "오늘의 복습",
        "heading": "📚 오늘 복습 {n}개",
        "empty": "🎉 오늘 복습할 노트가 없습니다.",
        "late": "{n}일 지남",
        "on_time": "오늘",
        "done_button": "✅ 복습 완료",
        "open": "노트 열기",
        "progress": "진행률",
        "flash_done": "✅ 복습 완료로 기록했습니다.",
        "flash_already": "이미 완료된 복습입니다.",
        "marked": "복습 완료: {n}개",
        "already": "이미 완료된 복습입니다.",
        "snoozed": "{day}까지 알림을 미뤘습니다.",
        "already_snoozed": "이미 {day}까지 미뤄져 있습니다.",
        "invalid": "링크가 올바르지 않습니다.",
        "expired": "링크가 만료되었습니다. 가장 최근 알림의 버튼을 사용하세요.",
        "error_title": "사용할 수 없는 링크",
        "unavailable": "지금은 처리할 수 없습니다. 잠시 후 다시 시도하세요.",
    },
    "en": {
        "page_title": "Today's reviews",
        "heading": "📚 {n} review{s} due today",
        "empty": "🎉 Nothing to review today.",
        "late": "{n} day{s} late",
        "on_time": "due today",
        "done_button": "✅ Done",
        "open": "Open note",
        "progress": "Progress",
        "flash_done": "✅ Review recorded.",
        "flash_already": "That review was already done.",
        "marked": "Marked {n} review{s} done.",
        "already": "Already done.",
        "snoozed": "Snoozed until {day}.",
        "already_snoozed": "Already snoozed until {day}.",
        "invalid": "This link is not valid.",
        "expired": "This link has expired. Use the buttons of the latest notification.",
        "error_title": "Link not usable",
        "unavailable": "This cannot be done right now. Try again in a moment.",
    },
}


def _t(language: str, name: str, **values: Any) -> str:
    if "n" in values:
        values.setdefault("s", "" if values["n"] == 1 else "s")
    return TEXT[language][name].format(**values)


# --- HTML ----------------------------------------------------------------------------------------------------------

STYLE = """
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI","Noto Sans KR","NanumGothic",sans-serif}
body{margin:0;padding:16px;font-size:17px;line-height:1.5}
main{max-width:40rem;margin:0 auto}
h1{font-size:1.4rem;margin:0}
.date{margin:0 0 16px;opacity:.7}
.flash{margin:0 0 16px;padding:12px 14px;border-radius:10px;background:#e8f5e9;color:#1b5e20}
.error{background:#fdecea;color:#8a1c1c}
ul{list-style:none;margin:0;padding:0}
li{border:1px solid #8886;border-radius:12px;padding:12px 14px;margin:0 0 12px}
h2{font-size:1.1rem;margin:0 0 4px;overflow-wrap:anywhere}
.meta{margin:0 0 6px;opacity:.85}
.late{color:#c62828;font-weight:600}
.bar{display:flex;align-items:center;gap:10px}
progress{flex:1;height:14px}
.open{display:inline-block;min-height:44px;line-height:44px}
button{width:100%;min-height:52px;margin-top:10px;border:0;border-radius:10px;font-size:1.1rem;
background:#2e7d32;color:#fff;cursor:pointer}
.empty{font-size:1.2rem}
""".strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
# Only the one stylesheet above may apply: no scripts, no frames, forms only back to this service.
CSP = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # the page's URL holds a token
]
HTML_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
]


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _document(language: str, title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{_e(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _safe_link(link: str | None) -> str | None:
    if not link:
        return None
    return link if urlsplit(link).scheme.lower() in LINK_SCHEMES else None


def render_today(
    language: str,
    today: date,
    due: Iterable[schedule.DueNote],
    done_token: Callable[[int], str],
    page_token: str,
    flash: str | None = None,
) -> str:
    """Today's page. ``done_token(note_id)`` signs the button of one note; ``page_token`` brings the form back."""
    due = list(due)
    parts = [f"<h1>{_e(_t(language, 'heading', n=len(due)))}</h1>\n"]
    parts.append(f'<p class="date">{_e(today.isoformat())}</p>\n')
    if flash in ("done", "already"):
        parts.append(f'<p class="flash" role="status">{_e(_t(language, "flash_" + flash))}</p>\n')
    if not due:
        parts.append(f'<p class="empty">{_e(_t(language, "empty"))}</p>\n')
    else:
        parts.append('<ul class="notes">\n')
        for item in due:
            when = (
                f'<span class="late">{_e(_t(language, "late", n=item.days_late))}</span>'
                if item.days_late > 0
                else _e(_t(language, "on_time"))
            )
            stage = _e(schedule.stage_label(item.stage, item.extra, language))
            link = _safe_link(item.link)
            open_link = (
                f'<a class="open" href="{_e(link)}" rel="noopener noreferrer">{_e(_t(language, "open"))}</a>\n'
                if link
                else ""
            )
            # Relative to /today/<token>: "../a/done/..." stays under any path prefix the proxy adds.
            parts.append(
                f'<li class="note" data-note-id="{item.note_id}">\n'
                f"<h2>{_e(item.title)}</h2>\n"
                f'<p class="meta">{stage} · {when}</p>\n'
                f'<div class="bar"><progress max="100" value="{item.progress}" '
                f'aria-label="{_e(_t(language, "progress"))}">{item.progress}%</progress>'
                f"<span>{item.progress}%</span></div>\n"
                f"{open_link}"
                f'<form method="post" action="../a/done/{_e(done_token(item.note_id))}">'
                f'<input type="hidden" name="page" value="{_e(page_token)}">'
                f'<button type="submit">{_e(_t(language, "done_button"))}</button></form>\n'
                "</li>\n"
            )
        parts.append("</ul>\n")
    return _document(language, _t(language, "page_title"), "".join(parts))


def render_message(language: str, message: str, *, error: bool = True) -> str:
    """A page with one message: a refused link, or the result of a press whose page link has expired."""
    title = _t(language, "error_title" if error else "page_title")
    css = "flash error" if error else "flash"
    return _document(language, title, f'<h1>{_e(title)}</h1>\n<p class="{css}">{_e(message)}</p>\n')


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


ROUTES: dict[str, tuple[str, ...]] = {"healthz": ("GET", "HEAD"), "a": ("POST",), "today": ("GET", "HEAD")}


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
            log.warning("store error answering %s: %s", _route_name(environ), _one_line(exc))
            message = _t(self.language, "unavailable")
            if _wants_html(environ):
                response = _html("503 Service Unavailable", render_message(self.language, message))
            else:
                response = _json(
                    "503 Service Unavailable", {"status": "error", "reason": "unavailable", "message": message}
                )
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
        elif len(parts) == 3 and parts[0] == "a" and parts[1] in ("done", "snooze") and parts[2]:
            allowed = ROUTES["a"]
            action, token = parts[1], parts[2]
            handler = (lambda: self.done(environ, token)) if action == "done" else (lambda: self.snooze(environ, token))
        elif len(parts) == 2 and parts[0] == "today" and parts[1]:
            allowed = ROUTES["today"]
            token = parts[1]
            handler = lambda: self.today_page(environ, token)  # noqa: E731
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
            message = _t(self.language, reason)
            if _wants_html(environ):
                return _html("403 Forbidden", render_message(self.language, message))
            return _json("403 Forbidden", {"status": "error", "reason": reason, "message": message})

    def _local_now(self) -> tuple[datetime, date]:
        now = self.now()
        return now, now.astimezone(self.zone).date()

    def _write_back(self, session: Any, note: Any, today: date) -> None:
        """The review is recorded; the vault writes it into the note's file (with write-back). A file that cannot
        be written is logged: the button's answer is about the review, which is done."""
        from reminder.vault import Delivery, WriteBack, write_back_note

        result = write_back_note(
            session,
            note,
            today=today,
            extra_every=self.settings.extra_every,
            delivery=Delivery(self.settings.cron, self.settings.timezone),
        )
        if result.outcome in (WriteBack.FAILED, WriteBack.LOST):
            log.warning("write-back note=%s result=%s reason=%s", note.id, result.outcome.value, result.reason)

    def done(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim(environ, token, "done")
        if isinstance(claim, Response):
            return claim
        _, today = self._local_now()
        marked, already, gone = [], [], []
        with self.store.write() as session:
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
                        session, note, day=today, today=today, extra_every=self.settings.extra_every
                    )
                except notes.NoteError:
                    already.append(note_id)  # issued for a day ahead of ours: nothing is due yet
                    continue
                (marked if result.marked else already).append(note_id)
                if result.marked and note.vault_id is not None:
                    self._write_back(session, note, today)
        status = "done" if marked else "already_done"
        message = _t(self.language, "marked", n=len(marked)) if marked else _t(self.language, "already")
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

    def _return_page(self, environ: dict[str, Any]) -> str | None:
        """The page token sent by the page's form, if it is genuine (never an address to redirect to)."""
        if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0 or length > FORM_BODY_MAX:
            return None
        body = environ["wsgi.input"].read(length).decode("ascii", "replace")
        page = parse_qs(body).get("page", [""])[0]
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
                "message": _t(self.language, name, day=until.isoformat()),
            },
        )

    def today_page(self, environ: dict[str, Any], token: str) -> Response:
        claim = self._claim({"HTTP_ACCEPT": "text/html"}, token, "page")
        if isinstance(claim, Response):
            return claim
        _, today = self._local_now()
        with self.store.read() as session:
            due = notes.due_on(session, today, self.settings.extra_every)
        key = self.key()
        flash = parse_qs(environ.get("QUERY_STRING", "")).get("m", [None])[0]
        page = render_today(
            self.language,
            today,
            due,
            lambda note_id: actions.sign(key, "done", [note_id], today),
            token,
            flash,
        )
        return _html("200 OK", page)


def _route_name(environ: dict[str, Any]) -> str:
    """The route without its token, for the log."""
    parts = environ.get("PATH_INFO", "").split("/")[1:]
    if parts[:1] == ["a"] and len(parts) > 1 and parts[1] in ("done", "snooze"):
        return f"/a/{parts[1]}/<token>"
    if parts[:1] == ["today"]:
        return "/today/<token>"
    return "/healthz" if parts == ["healthz"] else "(other path)"


def make_app(store: Any, settings: Any, *, started_at: datetime | None = None) -> ReminderApp:
    """The WSGI app. ``started_at`` (aware; default: now) is when the service started, for /healthz."""
    return ReminderApp(store, settings, started_at=started_at)


# --- the server ----------------------------------------------------------------------------------------------------


class ServerError(Exception):
    """The server cannot start (address in use, unknown host). One line, for the user."""


class WebServer:
    """A running waitress server. ``stop()`` closes the listening socket, lets requests in progress finish
    (a few seconds at most) and closes every connection, keep-alive ones included."""

    def __init__(self, server: Any, socket_map: dict[int, Any], thread: threading.Thread, host: str, port: int):
        from waitress.trigger import trigger

        self._server = server
        self._map = socket_map
        # waitress's wake-up pipe: the one way to run code in the loop's thread, which alone may touch its sockets.
        self._trigger = next(ch for ch in socket_map.values() if isinstance(ch, trigger))
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False
        self.host = host
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    def __repr__(self) -> str:
        return f"WebServer(url={self.url!r})"

    def _in_loop(self, thunk: Callable[[], None], timeout: float) -> bool:
        """Run ``thunk`` in the server's loop thread and wait for it; False if the loop did not run it."""
        ran = threading.Event()

        def run() -> None:
            try:
                thunk()
            finally:
                ran.set()

        if not self._thread.is_alive():
            return False
        try:
            self._trigger.pull_trigger(run)
        except OSError:
            return False
        return ran.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer

        def close_listeners() -> None:
            for channel in list(self._map.values()):
                if isinstance(channel, BaseWSGIServer):
                    # dispatcher.close, not the server's own close(): that one would also close the trigger.
                    wasyncore.dispatcher.close(channel)

        # No new connections, then let the requests in progress finish, then close every connection.
        self._in_loop(close_listeners, timeout)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        if not self._in_loop(lambda: wasyncore.close_all(self._map), timeout):
            log.warning("the web server's loop did not stop by itself; closing its sockets from outside")
            wasyncore.close_all(self._map, ignore_all=True)
        self._thread.join(timeout)

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    store: Any,
    settings: Any,
    host: str | None = None,
    port: int | None = None,
    *,
    started_at: datetime | None = None,
    threads: int = 4,
) -> WebServer:
    """Serve the app with waitress in a daemon thread. ``host``/``port`` default to the settings; port 0 picks a
    free port (see ``.port``/``.url``)."""
    from waitress.server import create_server

    host = settings.host if host is None else host
    port = settings.port if port is None else port
    app = make_app(store, settings, started_at=started_at)
    socket_map: dict[int, Any] = {}
    try:
        server = create_server(
            app,
            map=socket_map,
            host=host,
            port=port,
            threads=threads,
            ident="reminder",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=64 * 1024,
            channel_timeout=60,
        )
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None
    if hasattr(server, "effective_listen"):
        bound_host, bound_port = server.effective_listen[0]
    else:
        bound_host, bound_port = server.effective_host, server.effective_port
    thread = threading.Thread(target=server.run, name="reminder-web", daemon=True)
    thread.start()
    return WebServer(server, socket_map, thread, str(bound_host), int(bound_port))

"""The phone's buttons, today's page and /healthz, through a real waitress server on loopback and real HTTP.

The clock is frozen at 2024-07-11 09:30 in Seoul: the seed note (first studied 2024-07-07) is due for D+4 that
day, and the daily 08:00 slot has just passed.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
import requests
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from setups import add_note
from setups import web_settings as make_settings
from sqlalchemy import select

from reminder import actions, notes
from reminder.config import Settings
from reminder.db import Store, open_store
from reminder.db.models import Meta, Note, Slot
from reminder.digest import build_digest
from reminder.errors import ConfigError, NoteError, StoreError, VaultError
from reminder.i18n import format_day
from reminder.server import WebServer, start_server
from reminder.web import health

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2024, 7, 11, 9, 30, tzinfo=SEOUL)
TODAY = date(2024, 7, 11)
SEED_TITLE = "Kubernetes 3.2 오브젝트"
SEED_LINK = "obsidian://open?vault=study&file=k8s%2F3.2"
TIMEOUT = 10


# --- fixtures and helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def frozen() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(NOW) as factory:
        yield factory


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, language="en")


@pytest.fixture
def server(frozen: FrozenDateTimeFactory, store: Store, settings: Settings) -> Iterator[WebServer]:
    srv = start_server(store, settings, port=0, started_at=NOW - timedelta(days=2))  # a service long up
    yield srv
    srv.stop()


@pytest.fixture
def key(store: Store, settings: Settings) -> str:
    return actions.secret_key(store, settings)


def due_ids(store: Store, day: date = TODAY) -> list[int]:
    with store.read() as session:
        return sorted(d.note_id for d in notes.due_on(session, day, 30))


def due_notes(store: Store, day: date = TODAY) -> list[Any]:
    with store.read() as session:
        return notes.due_on(session, day, 30)


def snapshot(store: Store) -> list[tuple[Any, ...]]:
    """Everything a button could change: each note's reviews, snooze and long-term mark."""
    with store.read() as session:
        rows = []
        for note_id in sorted(session.scalars(select(Note.id))):
            note = notes.resolve_note(session, str(note_id))
            reviews = tuple((r.offset, r.extra, r.done_on) for r in note.reviews)
            rows.append((note.id, reviews, note.snoozed_until, note.long_term_on))
        return rows


def stage_done(store: Store, note_id: int) -> dict[int, date | None]:
    with store.read() as session:
        note = notes.resolve_note(session, str(note_id))
        return {r.offset: r.done_on for r in note.reviews if not r.extra}


def claim_slot(store: Store, key_: str, zone: str | None = "Asia/Seoul") -> None:
    """A digest slot claimed as the runner claims it (``zone`` None: claimed before zones were recorded)."""
    local = datetime.fromisoformat(key_).replace(tzinfo=ZoneInfo(zone or "Asia/Seoul"))
    at = local.astimezone(UTC).replace(tzinfo=None)
    with store.write() as session:
        session.add(Slot(local_key=key_, zone=zone, scheduled_at=at, claimed_at=at, claimed_by="test", due_count=0))


def post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=TIMEOUT, **kwargs)


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


class Page(HTMLParser):
    """The notes of today's page as a browser sees them: id, title, text, done form."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.notes: dict[int, dict[str, Any]] = {}
        self.text: list[str] = []
        self._current: dict[str, Any] | None = None
        self._in_h2 = False
        self.meta: dict[str, str] = {}
        self.lang = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
        if tag == "li" and "data-note-id" in a:
            self._current = {"title": "", "text": "", "form": None, "page": None}
            self.notes[int(a["data-note-id"])] = self._current
        if self._current is not None:
            if tag == "h2":
                self._in_h2 = True
            if tag == "form":
                self._current["form"] = (a.get("method", ""), a.get("action", ""))
            if tag == "input" and a.get("name") == "page":
                self._current["page"] = a.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
        if tag == "li":
            self._current = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._current is not None:
            self._current["text"] += data
            if self._in_h2:
                self._current["title"] += data


def page_url(server: WebServer, key: str, day: date = TODAY) -> str:
    return f"{server.url}/today/{actions.sign(key, 'page', [], day)}"


# --- the done button ------------------------------------------------------------------------------------------------


def test_done_button_marks_the_due_stages_of_every_listed_note(server: WebServer, store: Store, key: str) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))  # D+1 and D+4 both still open
    second = add_note(store, "Pods", date(2024, 7, 10))  # D+1 due today
    unlisted = add_note(store, "Services", date(2024, 7, 10))  # due, but not in this notification
    listed = [d for d in due_notes(store) if d.note_id in (seed, second)]
    buttons = actions.digest_actions(server.url, key, listed, language="en", day=TODAY)

    resp = post(buttons[0]["url"])

    assert resp.status_code == 200
    assert resp.json()["status"] == "done"
    assert sorted(resp.json()["marked"]) == [seed, second]
    assert stage_done(store, seed) == {1: TODAY, 4: TODAY, 7: None, 14: None}
    assert stage_done(store, second) == {1: TODAY, 4: None, 7: None, 14: None}
    assert due_ids(store) == [unlisted]


def test_pressing_done_twice_is_harmless_and_says_already_done(server: WebServer, store: Store, key: str) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    url = actions.digest_actions(server.url, key, due_notes(store), language="en", day=TODAY)[0]["url"]
    assert post(url).json()["status"] == "done"
    after_first = snapshot(store)

    again = post(url)

    assert again.status_code == 200
    assert again.json()["status"] == "already_done"
    assert again.json()["already_done"] == [seed]
    assert again.json()["message"] == "Already done."
    assert snapshot(store) == after_first


def test_an_old_done_button_does_not_tick_a_stage_that_came_due_later(
    server: WebServer, store: Store, key: str, frozen: FrozenDateTimeFactory
) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    url = f"{server.url}/a/done/{actions.sign(key, 'done', [seed], TODAY)}"
    assert post(url).json()["status"] == "done"
    frozen.move_to(datetime(2024, 7, 14, 9, 0, tzinfo=SEOUL))  # D+7 is due now, within the token's week

    resp = post(url)

    assert resp.json()["status"] == "already_done"
    assert stage_done(store, seed)[7] is None
    assert due_ids(store, date(2024, 7, 14)) == [seed]


def test_a_button_pressed_days_late_records_the_review_on_the_day_it_was_pressed(
    server: WebServer, store: Store, key: str, frozen: FrozenDateTimeFactory
) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    url = f"{server.url}/a/done/{actions.sign(key, 'done', [seed], TODAY)}"
    frozen.move_to(datetime(2024, 7, 15, 21, 0, tzinfo=SEOUL))  # D+7 came due meanwhile: one review covers all

    assert post(url).json()["status"] == "done"
    assert stage_done(store, seed) == {1: date(2024, 7, 15), 4: date(2024, 7, 15), 7: date(2024, 7, 15), 14: None}


# --- snooze ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "until"),
    [
        ("0 8 * * *", date(2024, 7, 12)),  # the next slot is tomorrow at 08:00
        ("0 8,20 * * *", date(2024, 7, 12)),  # a slot later today would hide nothing: the first one tomorrow
        ("0 8 * * 1", date(2024, 7, 15)),  # weekly on Monday (2024-07-11 is a Thursday)
    ],
)
def test_snooze_hides_the_notes_until_the_day_of_the_next_slot(
    frozen: FrozenDateTimeFactory, store: Store, tmp_path: Path, db_url: str, cron: str, until: date
) -> None:
    settings = make_settings(tmp_path, db_url, cron=cron, language="ko")
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    other = add_note(store, "Pods", date(2024, 7, 10))
    key = actions.secret_key(store, settings)
    with start_server(store, settings, port=0) as server:
        url = actions.digest_actions(server.url, key, due_notes(store), language="ko", day=TODAY)[1]["url"]
        resp = post(url)
        again = post(url)

    assert resp.status_code == 200
    assert resp.json()["status"] == "snoozed"
    assert resp.json()["until"] == until.isoformat()
    assert resp.json()["message"] == f"{format_day(until, 'ko')}까지 알림을 미뤘습니다."  # the ISO day is "until"
    assert due_ids(store, TODAY) == []
    assert due_ids(store, until - timedelta(days=1)) == []
    assert due_ids(store, until) == sorted([seed, other])
    assert again.status_code == 200 and again.json()["status"] == "already_snoozed"


# --- tokens that must not work ------------------------------------------------------------------------------------


def _tamper_payload(token: str, note_ids: list[int]) -> str:
    """The same signature over a different payload: what an attacker editing the URL would send."""
    payload, timestamp, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["n"] = note_ids
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{forged}.{timestamp}.{signature}"


def _alter_signature(token: str) -> str:
    """One character of the signature changed. Not the last one: its low bits are base64 padding, ignored on
    decoding, so changing it may leave the signature's bytes as they were."""
    payload, timestamp, signature = token.rsplit(".", 2)
    changed = ("B" if signature[0] == "A" else "A") + signature[1:]
    return f"{payload}.{timestamp}.{changed}"


@pytest.mark.parametrize(
    "make_path",
    [
        pytest.param(lambda key, ids: f"/a/done/{actions.sign('some-other-key', 'done', ids, TODAY)}", id="other-key"),
        pytest.param(lambda key, ids: "/a/done/not-a-token", id="garbage"),
        pytest.param(lambda key, ids: f"/a/done/{_alter_signature(actions.sign(key, 'done', ids, TODAY))}", id="sig"),
        pytest.param(
            lambda key, ids: f"/a/done/{_tamper_payload(actions.sign(key, 'done', ids[:1], TODAY), ids)}", id="ids"
        ),
        pytest.param(lambda key, ids: f"/a/done/{actions.sign(key, 'snooze', ids, TODAY)}", id="snooze-as-done"),
        pytest.param(lambda key, ids: f"/a/done/{actions.sign(key, 'page', [], TODAY)}", id="page-as-done"),
        pytest.param(lambda key, ids: f"/a/snooze/{actions.sign(key, 'done', ids, TODAY)}", id="done-as-snooze"),
    ],
)
def test_forged_or_altered_tokens_get_403_and_change_nothing(
    server: WebServer, store: Store, key: str, make_path: Any
) -> None:
    ids = [add_note(store, SEED_TITLE, date(2024, 7, 7)), add_note(store, "Pods", date(2024, 7, 10))]
    before = snapshot(store)

    resp = post(server.url + make_path(key, ids))

    assert resp.status_code == 403
    assert resp.json()["reason"] == "invalid"
    assert snapshot(store) == before


def test_a_token_for_one_note_cannot_act_on_another(server: WebServer, store: Store, key: str) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    other = add_note(store, "Pods", date(2024, 7, 10))
    token = actions.sign(key, "done", [seed], TODAY)

    assert post(f"{server.url}/a/done/{_tamper_payload(token, [other])}").status_code == 403
    assert due_ids(store) == sorted([seed, other])
    assert post(f"{server.url}/a/done/{token}").json()["marked"] == [seed]
    assert due_ids(store) == [other]


@pytest.mark.parametrize(
    ("age", "status"),
    [(timedelta(days=6, hours=23), 200), (timedelta(days=7, minutes=1), 403)],
)
def test_tokens_expire_after_seven_days(
    server: WebServer, store: Store, key: str, frozen: FrozenDateTimeFactory, age: timedelta, status: int
) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    done = f"{server.url}/a/done/{actions.sign(key, 'done', [seed], TODAY)}"
    page = page_url(server, key)
    before = snapshot(store)
    frozen.move_to(NOW + age)

    resp = post(done)
    from_page = post(done, data={"page": "x"}, headers={"Accept": "text/html"})  # the page's form, in a browser
    page_resp = get(page)

    assert resp.status_code == status
    assert page_resp.status_code == status
    assert from_page.status_code == status
    if status == 403:
        assert resp.json()["reason"] == "expired"
        assert "expired" in page_resp.text and SEED_TITLE not in page_resp.text
        assert from_page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "This link has expired." in from_page.text
        assert snapshot(store) == before
    else:
        assert resp.json()["status"] == "done"


def test_wrong_method_is_405_and_unknown_paths_404(server: WebServer, store: Store, key: str) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    done = f"{server.url}/a/done/{actions.sign(key, 'done', [seed], TODAY)}"
    snooze = f"{server.url}/a/snooze/{actions.sign(key, 'snooze', [seed], TODAY)}"
    before = snapshot(store)

    for method, url, allow in [
        ("GET", done, "POST"),
        ("PUT", done, "POST"),
        ("DELETE", snooze, "POST"),
        ("POST", page_url(server, key), "GET, HEAD"),
        ("POST", f"{server.url}/healthz", "GET, HEAD"),
    ]:
        resp = requests.request(method, url, timeout=TIMEOUT)
        assert resp.status_code == 405, (method, url)
        assert resp.headers["Allow"] == allow
    for path in ("/", "/notes", "/today/", "/a/delete/x", "/a/done/", "/a/done/x/y", "/healthz/x"):
        assert get(server.url + path).status_code == 404, path
        assert post(server.url + path).status_code == 404, path
    assert snapshot(store) == before
    assert due_ids(store) == [seed]


# --- today's page -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "on_time", "late", "button"),
    [
        ("ko", "📚 오늘 복습 3개", "오늘", "1일 지남", "✅ 복습 완료"),
        ("en", "📚 3 reviews due today", "due today", "1 day late", "✅ Done"),
    ],
)
def test_todays_page_lists_the_due_notes_in_the_configured_language(
    frozen: FrozenDateTimeFactory,
    store: Store,
    tmp_path: Path,
    db_url: str,
    language: str,
    heading: str,
    on_time: str,
    late: str,
    button: str,
) -> None:
    settings = make_settings(tmp_path, db_url, language=language)
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7), link=SEED_LINK)  # D+4 due today
    pods = add_note(store, "Pods", date(2024, 7, 6))  # D+4 was due yesterday
    nasty = add_note(store, '<script>alert("x")</script> & <b>bold</b>', date(2024, 7, 10))
    later = add_note(store, "Not due yet", date(2024, 7, 11))
    key = actions.secret_key(store, settings)
    with start_server(store, settings, port=0) as server:
        resp = get(page_url(server, key))

    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Frame-Options"] == "DENY"
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "unsafe-inline" not in csp
    page = Page(resp.text)
    assert page.lang == language
    assert page.meta["viewport"].startswith("width=device-width")
    assert heading in "".join(page.text)
    assert set(page.notes) == {seed, pods, nasty}
    assert later not in page.notes
    assert page.notes[nasty]["title"] == '<script>alert("x")</script> & <b>bold</b>'
    assert "<script>" not in resp.text and "<b>bold" not in resp.text
    assert "D+4" in page.notes[seed]["text"] and on_time in page.notes[seed]["text"]
    assert late not in page.notes[seed]["text"]
    assert "D+4" in page.notes[pods]["text"] and late in page.notes[pods]["text"]
    assert "0%" in page.notes[pods]["text"]
    assert f'href="{SEED_LINK}"' in resp.text.replace("&amp;", "&")
    for item in page.notes.values():
        assert button in item["text"]
        assert item["form"][0] == "post" and item["form"][1].startswith("../a/done/")


def test_the_done_form_on_the_page_marks_one_note_and_returns_to_the_page(
    server: WebServer, store: Store, key: str
) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
    pods = add_note(store, "Pods", date(2024, 7, 10))
    url = page_url(server, key)
    page = Page(get(url).text)
    action = urljoin(url, page.notes[seed]["form"][1])

    # What a browser sends for the plain form: no JavaScript involved.
    resp = post(action, data={"page": page.notes[seed]["page"]}, headers={"Accept": "text/html"})

    assert [r.status_code for r in resp.history] == [303]
    assert resp.url.startswith(url)
    assert resp.status_code == 200
    after = Page(resp.text)
    assert set(after.notes) == {pods}
    assert "✅ Review recorded." in "".join(after.text)
    assert due_ids(store) == [pods]
    assert stage_done(store, seed)[4] == TODAY


def test_the_page_needs_a_valid_token_and_shows_nothing_without_one(server: WebServer, store: Store, key: str) -> None:
    add_note(store, SEED_TITLE, date(2024, 7, 7))
    done_token = actions.sign(key, "done", [1], TODAY)
    altered = _alter_signature(actions.sign(key, "page", [], TODAY))
    for path in ("/today/nope", f"/today/{done_token}", f"/today/{altered}"):
        resp = get(server.url + path)
        assert resp.status_code == 403, path
        assert SEED_TITLE not in resp.text
        assert "This link is not valid." in resp.text


def test_head_of_the_page_sends_headers_only(server: WebServer, store: Store, key: str) -> None:
    add_note(store, SEED_TITLE, date(2024, 7, 7))
    resp = requests.head(page_url(server, key), timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.content == b""


# --- digest buttons -------------------------------------------------------------------------------------------------


def test_digest_buttons_for_several_notes_fit_ntfy(store: Store, key: str) -> None:
    with freeze_time(NOW):
        add_note(store, SEED_TITLE, date(2024, 7, 7), link=SEED_LINK)
        add_note(store, "Pods", date(2024, 7, 10))
        due = due_notes(store)
        buttons = actions.digest_actions("https://reminder.example.com", key, due, language="en", day=TODAY)
    assert [b["label"] for b in buttons] == ["✅ Done", "⏰ Tomorrow", "📋 Today's list"]
    for button in buttons[:2]:
        assert button["action"] == "http" and button["method"] == "POST" and button["clear"] is True
    assert buttons[0]["url"].startswith("https://reminder.example.com/a/done/")
    assert buttons[1]["url"].startswith("https://reminder.example.com/a/snooze/")
    assert buttons[2]["action"] == "view"
    assert buttons[2]["url"].startswith("https://reminder.example.com/today/")
    message = build_digest(
        due,
        day=NOW.date(),
        topic="t",
        language="en",
        priority=3,
        overdue_priority=4,
        overdue_days=3,
        tags=(),
        listed_actions=lambda _: buttons,
    )
    assert message["actions"] == buttons  # validated by the ntfy rules inside build_digest


def test_digest_buttons_for_one_note_open_its_link(store: Store, key: str) -> None:
    with freeze_time(NOW):
        add_note(store, SEED_TITLE, date(2024, 7, 7), link=SEED_LINK)
        due = due_notes(store)
    buttons = actions.digest_actions("https://r.example.com/", key, due, language="ko", day=TODAY)
    assert [b["label"] for b in buttons] == ["✅ 복습 완료", "⏰ 내일", "📖 노트 열기"]
    assert buttons[2] == {"action": "view", "label": "📖 노트 열기", "url": SEED_LINK}
    assert buttons[0]["url"].startswith("https://r.example.com/a/done/")  # no double slash


def test_digest_buttons_for_one_note_without_link_open_todays_page(store: Store, key: str) -> None:
    with freeze_time(NOW):
        add_note(store, "Pods", date(2024, 7, 10))
        due = due_notes(store)
    buttons = actions.digest_actions("https://r.example.com", key, due, language="en", day=TODAY)
    assert buttons[2]["url"].startswith("https://r.example.com/today/")


# --- the key ------------------------------------------------------------------------------------------------------


def test_the_key_is_generated_once_and_stored(store: Store, settings: Settings, db_url: str) -> None:
    first = actions.secret_key(store, settings)
    other = open_store(db_url)
    try:
        assert actions.secret_key(other, settings) == first
    finally:
        other.dispose()
    assert len(first) >= 43  # 32 random bytes, base64url
    with store.read() as session:
        assert session.get(Meta, "secret_key").value == first


def test_the_configured_key_wins_and_nothing_is_stored(store: Store, tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, secret_key="configured-key-0123456789-abcdefghij")
    assert actions.secret_key(store, settings) == "configured-key-0123456789-abcdefghij"
    with store.read() as session:
        assert session.get(Meta, "secret_key") is None


def test_processes_starting_together_agree_on_one_key(settings: Settings, db_url: str) -> None:
    open_store(db_url).dispose()  # migrated once, as the first process would
    stores = [open_store(db_url) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    keys: list[str] = []
    errors: list[BaseException] = []

    def worker(s: Store) -> None:
        try:
            barrier.wait(TIMEOUT)
            keys.append(actions.secret_key(s, settings))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    for s in stores:
        s.dispose()
    assert errors == []
    assert len(keys) == len(stores) and len(set(keys)) == 1


# --- /healthz -------------------------------------------------------------------------------------------------------


def test_healthz_is_200_when_the_last_slot_ran(server: WebServer, store: Store) -> None:
    claim_slot(store, "2024-07-10T08:00")
    claim_slot(store, "2024-07-11T08:00")
    resp = get(f"{server.url}/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
    assert resp.json()["last_slot"] == "2024-07-11T08:00"


def test_healthz_is_503_when_the_last_slot_did_not_run(server: WebServer, store: Store) -> None:
    claim_slot(store, "2024-07-10T08:00")
    resp = get(f"{server.url}/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "error"
    assert "2024-07-11T08:00" in body["reason"] and "2024-07-10T08:00" in body["reason"]


def test_a_store_that_does_not_answer_gives_503_not_a_traceback(
    frozen: FrozenDateTimeFactory, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, db_url, secret_key="configured-key-0123456789-abcdefghij", language="en")
    broken = tmp_path / "broken.db"
    s = open_store(f"sqlite:///{broken}")
    s.dispose()
    broken.write_bytes(b"this is not a database file at all, not even close" * 100)
    token = actions.sign("configured-key-0123456789-abcdefghij", "done", [1], TODAY)
    with start_server(s, settings, port=0) as server:
        health_resp = get(f"{server.url}/healthz")
        done_resp = post(f"{server.url}/a/done/{token}")
    s.dispose()

    assert health_resp.status_code == 503
    assert health_resp.json()["reason"].startswith("the store does not answer")
    assert str(broken) not in health_resp.text
    assert done_resp.status_code == 503
    assert done_resp.json()["message"] == "This cannot be done right now. Try again in a moment."
    assert token not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (StoreError("cannot open database /data/r.db: disk I/O error"), 503),
        (ConfigError("timezone: unknown zone 'Mars/Base'"), 500),
        (NoteError("no note 7"), 409),
        (VaultError("vault {name}: folder {path} does not exist", name="study", path="/data/vault"), 500),
    ],
)
def test_a_user_error_reaching_the_web_is_its_status_and_one_log_line(
    server: WebServer,
    store: Store,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    status: int,
) -> None:
    note_id = add_note(store, SEED_TITLE, date(2024, 7, 7))
    token = actions.sign(key, "done", [note_id], TODAY)

    def refuse() -> Any:
        raise error

    monkeypatch.setattr(store, "write", refuse)  # the store refusing the press, however it comes to refuse
    resp = post(f"{server.url}/a/done/{token}")

    assert resp.status_code == status
    assert resp.json()["status"] == "error" and resp.json()["message"] == str(error)
    assert stage_done(store, note_id)[4] is None  # nothing changed
    assert "Traceback" not in caplog.text and token not in caplog.text
    assert f"{type(error).__name__} answering" in caplog.text


@pytest.mark.parametrize(
    ("now", "claimed", "started_at", "healthy"),
    [
        # 08:10: within the grace after today's slot, yesterday's is the one demanded
        (datetime(2024, 7, 11, 8, 10, tzinfo=SEOUL), ["2024-07-10T08:00"], None, True),
        (datetime(2024, 7, 11, 8, 16, tzinfo=SEOUL), ["2024-07-10T08:00"], None, False),
        # a fresh store: fine while no slot has come since the service started, not otherwise
        (NOW, [], datetime(2024, 7, 11, 8, 5, tzinfo=SEOUL), True),
        (NOW, [], datetime(2024, 7, 11, 7, 55, tzinfo=SEOUL), False),
        (NOW, [], None, False),
        # restarted after a missed slot: the runner gets the grace to catch up, then it must have
        (NOW, ["2024-07-10T08:00"], datetime(2024, 7, 11, 9, 20, tzinfo=SEOUL), True),
        (NOW, ["2024-07-10T08:00"], datetime(2024, 7, 11, 9, 10, tzinfo=SEOUL), False),
    ],
)
def test_health_rule(
    store: Store,
    settings: Settings,
    now: datetime,
    claimed: list[str],
    started_at: datetime | None,
    healthy: bool,
) -> None:
    for k in claimed:
        claim_slot(store, k)
    ok, info = health(store, settings, now, started_at=started_at)
    assert ok is healthy, info
    assert info["status"] == ("ok" if healthy else "error")
    if not healthy:
        assert info["expected_slot"] in info["reason"]


def test_health_after_a_change_of_zone_asks_for_the_slot_of_the_new_zone(
    store: Store, tmp_path: Path, db_url: str
) -> None:
    # The learner moved from Seoul to UTC. 08:00 in Seoul on the 11th (23:00 UTC on the 10th) has the local key
    # of 08:00 UTC on the 11th, which no runner claimed: the phone got no digest that day, health must say so.
    claim_slot(store, "2024-07-11T08:00", zone="Asia/Seoul")
    utc = make_settings(tmp_path, db_url, timezone="UTC", language="en")
    ok, info = health(store, utc, datetime(2024, 7, 11, 8, 20, tzinfo=UTC))
    assert not ok and "2024-07-11T08:00 (UTC) has not run" in info["reason"], info
    claim_slot(store, "2024-07-11T08:00", zone="UTC")
    assert health(store, utc, datetime(2024, 7, 11, 8, 20, tzinfo=UTC))[0] is True


def test_health_accepts_a_day_served_under_the_zone_set_before(store: Store, tmp_path: Path, db_url: str) -> None:
    # 15:00 in Seoul is 06:00 UTC, the same UTC day: the runner does not send that day's digest twice, so the
    # slot it passes over is no alarm.
    claim_slot(store, "2024-07-11T15:00", zone="Asia/Seoul")
    utc = make_settings(tmp_path, db_url, timezone="UTC", language="en")
    ok, info = health(store, utc, datetime(2024, 7, 11, 8, 20, tzinfo=UTC))
    assert ok, info
    assert not health(store, utc, datetime(2024, 7, 12, 8, 20, tzinfo=UTC))[0]  # the next day is owed again


# --- the server and `reminder serve` --------------------------------------------------------------------------------


def test_stop_returns_promptly_with_a_keep_alive_connection_open(store: Store, settings: Settings) -> None:
    server = start_server(store, settings, port=0)
    session = requests.Session()
    assert session.get(f"{server.url}/healthz", timeout=TIMEOUT).status_code in (200, 503)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/healthz", timeout=TIMEOUT)
    session.close()


# A cold `reminder serve` imports SQLAlchemy and migrates a new store before it logs its URL: well under a second
# on a quiet machine, but once more than the old 10 s under a loaded CI runner. The wait ends as soon as the line
# comes (or the process ends); the deadline is only there to fail clearly instead of hanging.
STARTUP_DEADLINE = 120.0


def _read_stderr(proc: subprocess.Popen[str], needle: str, deadline: float = STARTUP_DEADLINE) -> tuple[list[str], str]:
    """Collect stderr lines in a thread; return them (still growing) and the first line holding ``needle``.
    Fails with the process's exit code and what it wrote when it ends without the line or ``deadline`` passes."""
    lines: list[str] = []
    seen = threading.Event()

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if needle in line:
                seen.set()
        seen.set()  # the process ended without it

    threading.Thread(target=reader, daemon=True).start()
    arrived = seen.wait(deadline)
    found = next((ln for ln in lines if needle in ln), None)
    if found is None:
        written = "".join(lines) or "(nothing)\n"
        if not arrived:
            pytest.fail(f"no {needle!r} line within {deadline:g} s; stderr so far:\n{written}")
        code = proc.wait(TIMEOUT)  # its stderr is closed: it has ended or is about to
        pytest.fail(f"the process exited with {code} without a {needle!r} line; its stderr:\n{written}")
    return lines, found


def test_the_startup_wait_fails_clearly_when_the_line_never_comes() -> None:
    """The helper the serve test waits with: a process that ends without the line, or stays silent past the
    deadline, fails at once with its exit code and what it wrote, not later with an IndexError on the line."""
    ended = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stderr.write('Error: no store\\n'); sys.exit(3)"],
        stderr=subprocess.PIPE,
        text=True,
    )
    with pytest.raises(pytest.fail.Exception, match=r"(?s)exited with 3 .*Error: no store"):
        _read_stderr(ended, "event=serve")
    silent = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        with pytest.raises(pytest.fail.Exception, match=r"no 'event=serve' line within 0.5 s"):
            _read_stderr(silent, "event=serve", deadline=0.5)
    finally:
        assert silent.stdin is not None
        silent.stdin.close()
        silent.wait(TIMEOUT)


def test_reminder_serve_logs_its_url_answers_and_stops_on_sigterm(tmp_path: Path, db_url: str) -> None:
    key = "serve-test-key-do-not-print-0123456789"
    env = {**os.environ, "REMINDER_DATABASE_URL": db_url, "REMINDER_SECRET_KEY": key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reminder", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines, line = _read_stderr(proc, "event=serve")
        url = line.split("url=", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        # The first answers import what the routes need (the runner's slot rule, the pages): startup too.
        health = requests.get(f"{url}/healthz", timeout=STARTUP_DEADLINE)
        assert health.json()["status"] == "ok"  # a fresh store, started after the last slot
        assert get(f"{url}/today/forged").status_code == 403
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STARTUP_DEADLINE) == 0  # it stops within seconds; the margin is for a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:
        output = "".join(lines) + proc.stdout.read()
    assert key not in output
    assert "event=stopped" in output


def test_reminder_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path: Path, db_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "REMINDER_DATABASE_URL": db_url}
        result = subprocess.run(
            [sys.executable, "-m", "reminder", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT * 3,
        )
    assert result.returncode == 2
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert errors == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_two_presses_at_once_on_postgresql_record_one_review(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL runs two presses side by side (SQLite's BEGIN IMMEDIATE queues them): a second press while
    the first was still in its transaction read the stages as open, waited for the first only at its own
    UPDATE, then ticked them again: two reviews in the history for one, answered "done" twice. The second press
    now waits for the first before it reads, and says it was already done."""
    import psycopg

    store = open_store(pg_url, auto_upgrade=True)
    settings = make_settings(tmp_path, pg_url, language="en")
    with freeze_time(NOW):
        seed = add_note(store, SEED_TITLE, date(2024, 7, 7))
        key = actions.secret_key(store, settings)
        srv = start_server(store, settings, port=0, started_at=NOW - timedelta(days=2))
        try:
            url = actions.digest_actions(srv.url, key, due_notes(store), language="en", day=TODAY)[0]["url"]
            answers: list[requests.Response] = []
            with store.write() as first:  # the first press, inside its transaction
                note = notes.resolve_note(first, str(seed))
                notes.mark_done(first, note, day=TODAY, today=TODAY, extra_every=30, source="phone")
                first.flush()
                second = threading.Thread(target=lambda: answers.append(post(url)))
                second.start()
                admin = pg_url.replace("postgresql+psycopg", "postgresql")
                with psycopg.connect(admin, autocommit=True) as watch:
                    for _ in range(500):  # until the second press waits on the first's lock
                        waiting = watch.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database()"
                        ).fetchone()
                        if waiting and waiting[0]:
                            break
                        time.sleep(0.01)
            second.join(TIMEOUT)
        finally:
            srv.stop()
    with store.read() as session:
        events = notes.resolve_note(session, str(seed)).events
        assert [(e.stage, e.reviewed_on) for e in events] == [(1, TODAY), (4, TODAY)]
    store.dispose()
    assert answers[0].json()["status"] == "already_done"

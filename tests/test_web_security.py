"""Headers on every answer and the cross-site POST check, through the real waitress server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from setups import web_settings

from reminder import actions, notes
from reminder.db import Store
from reminder.server import WebServer, start_server

SEOUL = ZoneInfo("Asia/Seoul")
EXPECTED = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
def server(tmp_path: Path, store: Store, db_url: str) -> Iterator[WebServer]:
    settings = web_settings(tmp_path, db_url, language="en", public_url="https://reminder.example")
    srv = start_server(store, settings, port=0)
    yield srv
    srv.stop()


def _security(headers: requests.structures.CaseInsensitiveDict) -> dict[str, str]:
    found = {name: headers.get(name) for name in EXPECTED}
    found["csp"] = "default-src" in headers.get("content-security-policy", "")
    return found


def test_healthz_and_the_pages_carry_the_same_security_headers(server: WebServer, store: Store) -> None:
    key = actions.secret_key(store, web_settings(Path("."), "sqlite://", language="en"))
    page = actions.action_url(server.url, "page", actions.sign(key, "page", [], datetime.now(SEOUL).date()))
    health = requests.get(f"{server.url}/healthz", timeout=10)
    today = requests.get(page.replace("/a/page/", "/today/"), timeout=10, headers={"Accept": "text/html"})
    missing = requests.get(f"{server.url}/nowhere", timeout=10)
    assert _security(health.headers) == {**EXPECTED, "csp": True}
    assert _security(missing.headers) == {**EXPECTED, "csp": True}
    assert _security(today.headers)["x-frame-options"] == "DENY"


def _raw(server: WebServer, request: bytes) -> tuple[str, dict[str, str]]:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return head[0], {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nonsense\r\n\r\n",  # waitress: 400
        b"POST /a/done/x HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n",  # over the body limit: 413
    ],
    ids=["bad-request", "too-large"],
)
def test_waitress_own_error_answers_carry_them_too(server: WebServer, request_bytes: bytes) -> None:
    status, headers = _raw(server, request_bytes)
    assert status.split()[1] in ("400", "413"), status
    assert {name: headers.get(name) for name in EXPECTED} == EXPECTED
    assert "default-src" in headers.get("content-security-policy", "")


def _due_done_url(server: WebServer, store: Store, tmp_path: Path, db_url: str) -> tuple[str, int]:
    today = datetime.now(SEOUL).date()
    with store.write() as s:
        note = notes.add_note(
            s, title="Pods", first_studied_on=date.fromordinal(today.toordinal() - 1), today=today,
            ladder=(1, 4, 7, 14), extra_every=30,
        )  # fmt: skip
        due = notes.due_on(s, today, 30)
    key = actions.secret_key(store, web_settings(tmp_path, db_url, language="en"))
    return actions.digest_actions(server.url, key, due, language="en", day=today)[0]["url"], note.id


def test_a_post_from_another_sites_page_is_refused(server: WebServer, store: Store, tmp_path: Path, db_url: str):
    url, note_id = _due_done_url(server, store, tmp_path, db_url)
    refused = requests.post(url, headers={"Origin": "https://evil.example"}, timeout=10)
    null_origin = requests.post(url, headers={"Origin": "null"}, timeout=10)
    fetch_site = requests.post(url, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}, timeout=10)
    assert (refused.status_code, null_origin.status_code, fetch_site.status_code) == (403, 403, 403)
    assert _security(refused.headers) == {**EXPECTED, "csp": True}
    with store.read() as s:
        assert [d.note_id for d in notes.due_on(s, datetime.now(SEOUL).date(), 30)] == [note_id]  # nothing changed
    own = requests.post(url, headers={"Origin": "https://reminder.example"}, timeout=10)
    assert own.status_code == 200 and own.json()["status"] == "done"


def test_the_ntfy_app_sends_no_origin_and_is_served(server: WebServer, store: Store, tmp_path: Path, db_url: str):
    url, note_id = _due_done_url(server, store, tmp_path, db_url)
    answer = requests.post(url, timeout=10)
    assert answer.status_code == 200 and answer.json()["marked"] == [note_id]


def test_ntfys_web_app_on_a_sibling_subdomain_can_press_the_buttons(
    server: WebServer, store: Store, tmp_path: Path, db_url: str
):
    """The deploy layout puts ntfy and reminder on two names of one domain (ntfy.example.com and
    reminder.example.com). ntfy's web app presses an http button with fetch() from its own page, so the browser
    says Sec-Fetch-Site: same-site with ntfy's Origin: that press is the learner's and is served. A page on
    another site stays refused."""
    url, note_id = _due_done_url(server, store, tmp_path, db_url)
    elsewhere = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    assert requests.post(url, headers=elsewhere, timeout=10).status_code == 403
    with store.read() as s:
        assert [d.note_id for d in notes.due_on(s, datetime.now(SEOUL).date(), 30)] == [note_id]
    sibling = {"Origin": "https://ntfy.reminder.example", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}
    pressed = requests.post(url, headers=sibling, timeout=10)
    assert pressed.status_code == 200 and pressed.json()["marked"] == [note_id]
    with store.read() as s:
        assert notes.due_on(s, datetime.now(SEOUL).date(), 30) == []


NTFY = "https://ntfy.reminder.example"  # the deploy layout: ntfy and reminder on two names of one domain


@pytest.fixture
def beside_ntfy(tmp_path: Path, store: Store, db_url: str) -> Iterator[WebServer]:
    settings = web_settings(tmp_path, db_url, language="en", public_url="https://reminder.example", ntfy_server=NTFY)
    srv = start_server(store, settings, port=0)
    yield srv
    srv.stop()


def _open_reviews(store: Store) -> list[int]:
    with store.read() as s:
        return [d.note_id for d in notes.due_on(s, datetime.now(SEOUL).date(), 30)]


def test_ntfys_web_app_may_read_the_answer_to_a_press_so_it_shows_the_press_as_done(
    beside_ntfy: WebServer, store: Store, tmp_path: Path, db_url: str
) -> None:
    """ntfy's web app presses with fetch(): a browser hides an answer without Access-Control-Allow-Origin from
    the page, fetch() rejects, and the web app showed a recorded press as failed. A press from the configured
    ntfy server's origin is answered with that origin allowed (not "*"), whether the browser calls it same-site
    (the deploy layout) or cross-site (a learner on ntfy.sh's web app)."""
    url, note_id = _due_done_url(beside_ntfy, store, tmp_path, db_url)
    same_site = {"Origin": NTFY, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}
    pressed = requests.post(url, headers=same_site, timeout=10)
    assert pressed.status_code == 200 and pressed.json()["marked"] == [note_id]
    assert pressed.headers["access-control-allow-origin"] == NTFY
    assert "Origin" in pressed.headers["vary"]
    assert _open_reviews(store) == []
    # ntfy's own server on another site: the browser says cross-site, and the press is still the learner's.
    url, note_id = _due_done_url(beside_ntfy, store, tmp_path, db_url)
    cross_site = {**same_site, "Sec-Fetch-Site": "cross-site"}
    pressed = requests.post(url, headers=cross_site, timeout=10)
    assert pressed.status_code == 200 and pressed.json()["marked"] == [note_id]
    assert pressed.headers["access-control-allow-origin"] == NTFY
    assert _open_reviews(store) == []


def test_only_presses_from_the_ntfy_origin_are_opened_to_it_and_the_token_still_decides(
    beside_ntfy: WebServer, store: Store, tmp_path: Path, db_url: str
) -> None:
    url, note_id = _due_done_url(beside_ntfy, store, tmp_path, db_url)
    # Another site is refused as before, and gets no CORS header.
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    refused = requests.post(url, headers=evil, timeout=10)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    # A forged token from ntfy's origin changes nothing; its refusal is readable, so the web app says why.
    ntfy = {"Origin": NTFY, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    forged = requests.post(url[: -len(url.rsplit("/", 1)[1])] + "forged", headers=ntfy, timeout=10)
    assert forged.status_code == 403 and forged.json()["reason"] == "invalid"
    assert forged.headers["access-control-allow-origin"] == NTFY
    assert _open_reviews(store) == [note_id]
    # The pages hold the learner's notes: not readable from ntfy's origin, and a form POST from it is refused.
    key = actions.secret_key(store, web_settings(tmp_path, db_url, language="en"))
    today = datetime.now(SEOUL).date()
    page = f"{beside_ntfy.url}/today/{actions.sign(key, 'page', [], today)}"
    read = requests.get(page, headers=ntfy, timeout=10)
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers
    review = f"{beside_ntfy.url}/review/{actions.sign(key, 'review', [note_id], today)}"
    rated = requests.post(review, data={"rating": "good"}, headers=ntfy, timeout=10)
    assert rated.status_code == 403 and "access-control-allow-origin" not in rated.headers
    health = requests.get(f"{beside_ntfy.url}/healthz", headers=ntfy, timeout=10)
    assert "access-control-allow-origin" not in health.headers
    assert _open_reviews(store) == [note_id]

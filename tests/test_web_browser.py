"""Today's page in a real browser: headless Chromium (Debian's `chromium` package) at phone size.

The test drives Chromium through the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages
ending in a NUL byte on file descriptors 3 and 4, as Playwright does), so it needs no websocket library and opens
no debugging port. It loads the page, reads the notes it lists, clicks a done button with a real mouse event
(the plain HTML form, no JavaScript on the page), reads the review back from the store, and saves screenshots at
phone width to test-artifacts/.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from setups import add_note, web_settings

from reminder import actions, notes
from reminder.config import load_settings
from reminder.db import Store
from reminder.server import start_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2024, 7, 11, 9, 30, tzinfo=SEOUL)
TODAY = date(2024, 7, 11)
TIMEOUT = 30  # seconds for one DevTools answer; a cold Chromium start in CI can be slow


def _chromium() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path:
        return path
    reason = "Chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: the browser test is required in CI")
    pytest.skip(reason)


class DevTools:
    """A minimal DevTools protocol client over Chromium's debugging pipe."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes answers on fd 4. A small Python trampoline puts the pipes
        # there and execs the browser (Debian's launcher is a shell script, which keeps them open; dash cannot
        # redirect descriptors above 9 itself).
        trampoline = (
            "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
            "[os.close(fd) for fd in (r, w) if fd not in (3, 4)]; os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.log = profile.parent / "chromium.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", trampoline, str(to_chrome_r), str(from_chrome_w), *args],
                pass_fds=(to_chrome_r, from_chrome_w),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                self._events.put({"method": "__closed__"})
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._answers.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    self._events.put(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            box: queue.Queue[dict[str, Any]] = queue.Queue()
            self._answers[message_id] = box
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        try:
            answer = box.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"Chromium did not answer {method}; see {self.log}") from None
        if "error" in answer:
            raise AssertionError(f"{method} failed: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        while True:
            try:
                event = self._events.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {method} event from Chromium; see {self.log}") from None
            if event["method"] == "__closed__":
                raise AssertionError(f"Chromium closed the pipe; see {self.log}")
            if event["method"] == method and (session is None or event.get("sessionId") == session):
                return event.get("params", {})

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.call("Browser.close")
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        os.close(self._to_chrome)
        self._reader.join(TIMEOUT)
        os.close(self._from_chrome)


class Tab:
    """One page target of the browser, sized like a phone."""

    def __init__(self, browser: DevTools) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", PHONE)
        self.call("Emulation.setTouchEmulationEnabled", {"enabled": True})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def load(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element, as a finger tap would land."""
        box = self.js(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
            "el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    chromium = _chromium()
    devtools = DevTools(chromium, tmp_path / "chromium-profile")
    try:
        yield devtools
    finally:
        devtools.close()


NOTES_JS = (
    "[...document.querySelectorAll('li.note')].map(li => "
    "({id: Number(li.dataset.noteId), title: li.querySelector('h2').textContent, text: li.innerText}))"
)


def test_todays_page_in_chromium_lists_the_due_notes_and_its_done_button_works(
    browser: DevTools, store: Store, tmp_path: Path, db_url: str
) -> None:
    settings = web_settings(tmp_path, db_url, language="ko")
    with freeze_time(NOW):
        seed = add_note(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), link="obsidian://open?vault=s&file=k8s")
        pods = add_note(store, "파드와 컨트롤러", date(2024, 7, 6))
        add_note(store, "아직 아님", date(2024, 7, 11))
        page_token = actions.sign(actions.secret_key(store, settings), "page", [], TODAY)
        with start_server(store, settings, port=0) as server:
            tab = Tab(browser)
            tab.load(f"{server.url}/today/{page_token}")

            listed = tab.js(NOTES_JS)
            assert [n["id"] for n in listed] == [pods, seed]  # the most overdue first
            assert listed[1]["title"] == "Kubernetes 3.2 오브젝트"
            assert "1일 지남" in listed[0]["text"] and "D+4" in listed[1]["text"]
            assert tab.js("document.querySelector('h1').textContent") == "📚 오늘 복습 2개"
            # The stylesheet passed the page's CSP (its hash): a phone-sized tap target, full width.
            button = tab.js(
                "(() => { const s = getComputedStyle(document.querySelector('button')); "
                "return [s.minHeight, document.querySelector('button').getBoundingClientRect().width]; })()"
            )
            assert button[0] == "52px" and button[1] > 300
            assert tab.js("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
            tab.screenshot(ARTIFACTS / "today-page.png")

            tab.click(f"li.note[data-note-id='{seed}'] button")
            browser.wait_event("Page.loadEventFired", tab.session)

            after = tab.js(NOTES_JS)
            assert [n["id"] for n in after] == [pods]
            assert "복습 완료로 기록했습니다" in tab.js("document.body.innerText")
            tab.screenshot(ARTIFACTS / "today-page-after-done.png")

    with store.read() as session:
        note = notes.resolve_note(session, str(seed))
        assert {r.offset: r.done_on for r in note.reviews if not r.extra} == {
            1: TODAY,
            4: TODAY,
            7: None,
            14: None,
        }
        assert [d.note_id for d in notes.due_on(session, TODAY, 30)] == [pods]
    assert (ARTIFACTS / "today-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_review_page_in_chromium_reveals_an_answer_and_good_leads_to_the_next_note(
    browser: DevTools, store: Store, tmp_path: Path, db_url: str
) -> None:
    from sqlalchemy import update

    from reminder.db.models import Note

    settings = web_settings(tmp_path, db_url, language="ko")
    cues = [
        {"q": "쿠버네티스의 대표적인 오브젝트 4가지", "a": "1. **파드**: 컨테이너 집합\n2. **볼륨**: 영구 데이터"},
        {"q": "kubectl apply 명령어의 역할은?", "a": "해당 오브젝트의 설정을 업데이트합니다."},
    ]
    with freeze_time(NOW):
        pods = add_note(store, "파드와 컨트롤러", date(2024, 7, 6))
        seed = add_note(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), link="obsidian://open?vault=s&file=k8s")
        with store.write() as session:
            session.execute(
                update(Note)
                .where(Note.id == pods)
                .values(cue_questions=json.dumps(cues, ensure_ascii=False), cue_summary="**핵심**: 파드가 기본 단위")
            )
        page_token = actions.sign(actions.secret_key(store, settings), "page", [], TODAY)
        with start_server(store, settings, port=0) as server:
            tab = Tab(browser)
            tab.load(f"{server.url}/today/{page_token}")
            tab.click(f"li.note[data-note-id='{pods}'] a.review")
            browser.wait_event("Page.loadEventFired", tab.session)
            assert tab.js("document.querySelector('h1').textContent") == "파드와 컨트롤러"
            folded = tab.js(
                "(() => { const d = document.querySelector('details'); "
                "return [d.open, d.querySelector('.answer').checkVisibility()]; })()"
            )
            assert folded == [False, False]  # the answer is hidden until tapped
            tab.screenshot(ARTIFACTS / "review-page.png")

            tab.click("details summary")
            shown = tab.js(
                "(() => { const d = document.querySelector('details'); "
                "return [d.open, d.querySelector('.answer').checkVisibility(), d.querySelector('.answer').innerText]; "
                "})()"
            )
            assert shown[:2] == [True, True] and "파드: 컨테이너 집합" in shown[2]
            labels = tab.js("[...document.querySelectorAll('button.rate')].map(b => b.innerText.replace('\\n', ' '))")
            assert labels == ["다시 내일", "어려움 2일 후", "좋음 2일 후", "쉬움 2일 후"]  # D+7 is 07-13
            assert tab.js("document.documentElement.scrollWidth") <= PHONE["width"]
            tab.screenshot(ARTIFACTS / "review-page-answer.png")

            tab.click("button.rate.good")
            browser.wait_event("Page.loadEventFired", tab.session)
            assert tab.js("document.querySelector('h1').textContent") == "Kubernetes 3.2 오브젝트"
            assert "복습을 기록했습니다" in tab.js("document.body.innerText")
            assert "/review/" in tab.js("location.pathname")
            tab.screenshot(ARTIFACTS / "review-page-next.png")

    with store.read() as session:
        note = notes.resolve_note(session, str(pods))
        assert [(e.rating, e.source) for e in note.events] == [("good", "phone"), ("good", "phone")]
        assert [d.note_id for d in notes.due_on(session, TODAY, 30)] == [seed]


@pytest.mark.parametrize(
    ("language", "heading", "day", "late", "done"),
    [
        ("ko", "📚 오늘 복습 2개", "7월 11일 (목)", "1일 지남", "✅ 복습 완료"),
        ("en", "📚 2 reviews due today", "Thu, Jul 11", "1 day late", "✅ Done"),
    ],
)
def test_todays_page_in_chromium_speaks_the_learners_language(
    browser: DevTools,
    store: Store,
    tmp_path: Path,
    db_url: str,
    language: str,
    heading: str,
    day: str,
    late: str,
    done: str,
) -> None:
    settings = load_settings(
        environ={"REMINDER_DATABASE_URL": db_url, "REMINDER_TIMEZONE": "Asia/Seoul", "REMINDER_LANGUAGE": language},
        config_path=tmp_path / "absent.toml",
    )
    with freeze_time(NOW):
        add_note(store, "Kubernetes 3.2 오브젝트", date(2024, 7, 7), link="obsidian://open?vault=s&file=k8s")
        add_note(store, "파드와 컨트롤러", date(2024, 7, 6))
        page_token = actions.sign(actions.secret_key(store, settings), "page", [], TODAY)
        with start_server(store, settings, port=0) as server:
            tab = Tab(browser)
            tab.load(f"{server.url}/today/{page_token}")
            assert tab.js("document.documentElement.lang") == language
            assert tab.js("document.querySelector('h1').textContent") == heading
            assert tab.js("document.querySelector('p.date').textContent") == day
            assert tab.js("document.querySelector('p.date time').getAttribute('datetime')") == TODAY.isoformat()
            listed = tab.js(NOTES_JS)
            assert late in listed[0]["text"]
            assert tab.js("[...document.querySelectorAll('li.note button')].map(b => b.textContent)") == [done, done]
            # Korean text is wider than English: neither language makes the page scroll sideways on a phone.
            assert tab.js("document.documentElement.scrollWidth") <= PHONE["width"]
            tab.screenshot(ARTIFACTS / f"today-page-{language}.png")
    assert (ARTIFACTS / f"today-page-{language}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class PageServer:
    """A plain page on its own loopback origin, standing in for ntfy's web app (or another site)."""

    def __init__(self, host: str) -> None:
        import http.server

        class Blank(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"<!doctype html><title>ntfy</title><p>web app</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Blank)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# What ntfy's web app does when an http button is pressed (web/src/components/Notifications.jsx,
# performHttpAction): fetch(url, {method, headers: action.headers ?? {}, body: action.body}), success being a 2xx.
PRESS_JS = (
    "fetch({url}, {{method: 'POST', headers: {{}}, body: undefined}})"
    ".then(r => r.json().then(b => ({{status: r.status, body: b}})))"
    ".catch(e => ({{error: String(e)}}))"
)


@pytest.mark.parametrize("ntfy_host", ["127.0.0.1", "localhost"], ids=["same-site", "cross-site"])
def test_a_press_from_ntfys_web_app_in_chromium_succeeds_and_another_sites_fails(
    browser: DevTools, store: Store, tmp_path: Path, db_url: str, ntfy_host: str
) -> None:
    """ntfy's web app, on its own origin, presses an http button with fetch(): the browser lets the page read
    the answer only with Access-Control-Allow-Origin, else fetch() rejects and the web app shows failure (the
    press was recorded all the same). reminder is on http://127.0.0.1:<port>; the "ntfy" page on the same host
    and another port is the same site to the browser (the README's two names of one domain), on localhost
    another site (as ntfy.sh is to a learner's server). A page on a third origin (127.0.0.2) is refused."""
    ntfy_page, other_page = PageServer("127.0.0.1"), PageServer("127.0.0.2")
    ntfy_origin = f"http://{ntfy_host}:{ntfy_page.port}"
    settings = web_settings(tmp_path, db_url, language="en", ntfy_server=ntfy_origin)
    today = datetime.now(SEOUL).date()
    first = add_note(store, "Pods", date.fromordinal(today.toordinal() - 1), today)
    second = add_note(store, "Services", date.fromordinal(today.toordinal() - 1), today)
    key = actions.secret_key(store, settings)
    try:
        with start_server(store, settings, port=0) as server:

            def press(page: str, note_id: int) -> dict[str, Any]:
                with store.read() as session:
                    due = [d for d in notes.due_on(session, today, 30) if d.note_id == note_id]
                url = actions.digest_actions(server.url, key, due, language="en", day=today)[0]["url"]
                tab = Tab(browser)
                tab.load(page)
                answer = tab.call(
                    "Runtime.evaluate",
                    {"expression": PRESS_JS.format(url=json.dumps(url)), "awaitPromise": True, "returnByValue": True},
                )
                return answer["result"]["value"]

            elsewhere = press(f"http://127.0.0.2:{other_page.port}/", second)
            assert "error" in elsewhere  # fetch() rejected: the web app would show a failure, and so it was
            pressed = press(f"{ntfy_origin}/", first)
            assert "error" not in pressed, pressed  # before: "TypeError: Failed to fetch"
            assert pressed["status"] == 200 and pressed["body"]["marked"] == [first]
    finally:
        ntfy_page.close()
        other_page.close()
    with store.read() as session:
        assert [d.note_id for d in notes.due_on(session, today, 30)] == [second]  # the other site's press refused

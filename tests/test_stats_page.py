"""The stats page: over HTTP (signed like today's page, its own token), then in Chromium at phone size in light
and dark mode, with screenshots in test-artifacts/."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from freezegun import freeze_time
from setups import web_settings
from test_web_browser import ARTIFACTS, PHONE, DevTools, Tab, browser  # noqa: F401

from reminder import actions, notes
from reminder.db import Store
from reminder.server import start_server

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2024, 7, 20, 9, 30, tzinfo=SEOUL)
TODAY = date(2024, 7, 20)


def seed(store: Store) -> None:
    """Kubernetes (07-07, D+1 done 07-08, D+4 done 07-12, D+7 done 07-14) and kubectl (07-15, D+1 done 07-16,
    D+4 due 07-19 still open), both 쿠버네티스; TCP (Network, 07-19, nothing done yet: D+1 due today)."""
    with store.write() as s:

        def add(title: str, first: date, subject: str) -> notes.Note:
            return notes.add_note(
                s,
                title=title,
                first_studied_on=first,
                today=TODAY,
                ladder=(1, 4, 7, 14),
                extra_every=30,
                subject=subject,
            )

        kube = add("Kubernetes 오브젝트", date(2024, 7, 7), "쿠버네티스")
        ctl = add("kubectl 명령어", date(2024, 7, 15), "쿠버네티스")
        add("TCP handshake", date(2024, 7, 19), "Network")
        for note, stage, day in ((kube, 1, 8), (kube, 4, 12), (kube, 7, 14), (ctl, 1, 16)):
            notes.mark_done(s, note, day=date(2024, 7, day), today=TODAY, extra_every=30, stage=stage)


def test_stats_page_needs_its_own_token_and_allows_only_its_stylesheet(
    store: Store, tmp_path: Path, db_url: str
) -> None:
    settings = web_settings(tmp_path, db_url, language="ko", daily_limit="1")
    with freeze_time(NOW):
        seed(store)
        key = actions.secret_key(store, settings)
        stats_token = actions.sign(key, "stats", [], TODAY)
        page_token = actions.sign(key, "page", [], TODAY)
        with start_server(store, settings, port=0) as server:
            ok = requests.get(f"{server.url}/stats/{stats_token}", timeout=10)
            wrong = requests.get(f"{server.url}/stats/{page_token}", timeout=10)
            head, _, sig = stats_token.rpartition(".")
            altered = f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
            forged = requests.get(f"{server.url}/stats/{altered}", timeout=10)
            post = requests.post(f"{server.url}/stats/{stats_token}", timeout=10)
            today = requests.get(f"{server.url}/today/{page_token}", timeout=10)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith("text/html")
    assert wrong.status_code == 403 and forged.status_code == 403  # a today's-page token does not open it
    assert post.status_code == 405
    csp = ok.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert "<script" not in ok.text and "style=" not in ok.text  # nothing the CSP would have to refuse
    # 30 forecast rows, 84 days of history, the two subjects; streak 0 (kubectl's D+4 was left open on 07-19).
    # (the 84 days from Sunday 04-28 to Saturday 07-20 touch 13 calendar weeks, Monday first)
    assert ok.text.count('<tr><td><time datetime="2024-') == 30 + 13
    assert '<p class="date"><time datetime="2024-07-20">7월 20일 (토)</time></p>' in ok.text  # as people read a day
    assert len(re.findall(r'<rect class="l\d"', ok.text)) == 84
    assert "쿠버네티스" in ok.text and "Network" in ok.text and ">0일<" in ok.text
    # Under a daily limit of 1, today's page lists the most overdue (kubectl, a day late) and says TCP waits.
    assert "<h1>📚 오늘 복습 1개 (대기 1)</h1>" in today.text
    assert "kubectl 명령어" in today.text and "TCP handshake" not in today.text
    # Today's page links to the stats page, with a stats token for today.
    link = re.search(r'href="\.\./stats/([^"]+)"', today.text)
    assert link and actions.verify(key, link.group(1), "stats", NOW).day == TODAY


DARK = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
LIGHT = {"features": [{"name": "prefers-color-scheme", "value": "light"}]}
FILLS_JS = (
    "(() => { const f = s => getComputedStyle(document.querySelector(s)).fill; "
    "return {bar: f('#forecast-chart rect.fbar'), none: f('#history-chart rect.l0'), "
    "background: getComputedStyle(document.body).backgroundColor}; })()"
)


def test_stats_page_in_chromium_light_and_dark(browser: DevTools, store: Store, tmp_path: Path, db_url: str) -> None:  # noqa: F811
    settings = web_settings(tmp_path, db_url, language="ko", daily_limit="2")
    with freeze_time(NOW):
        seed(store)
        page_token = actions.sign(actions.secret_key(store, settings), "page", [], TODAY)
        with start_server(store, settings, port=0) as server:
            tab = Tab(browser)
            tab.call("Emulation.setEmulatedMedia", LIGHT)
            tab.load(f"{server.url}/today/{page_token}")
            # The daily limit of 2 lists kubectl (1 day late) and TCP (due today): nothing waits.
            assert tab.js("document.querySelector('h1').textContent") == "📚 오늘 복습 2개"
            tab.click("a[href^='../stats/']")  # a real tap on the link from today's page
            browser.wait_event("Page.loadEventFired", tab.session)
            assert tab.js("location.pathname").startswith("/stats/")

            # Each chart is an image with a title and a description, and its numbers are in a table too.
            charts = tab.js(
                "[...document.querySelectorAll('svg')].map(s => [s.getAttribute('role'), "
                "s.querySelector('title').textContent, s.querySelector('desc').textContent])"
            )
            assert [c[0] for c in charts] == ["img", "img"]
            assert charts[0][1] == "앞으로 30일" and "하루 최대 2개" in charts[0][2]
            assert "모두 4개" in charts[1][2]  # reviews done on 07-08, 07-12, 07-14 and 07-16
            bars = tab.js(
                "[...document.querySelectorAll('#forecast-chart rect.fbar')].map(r => "
                "[r.dataset.date, Number(r.dataset.count), r.getBoundingClientRect().height])"
            )
            # Today: kubectl's D+4 and TCP's D+1 (2, the limit); 07-21 Kubernetes D+14; 07-22 kubectl D+7;
            # 07-23 TCP D+4; 07-26 TCP D+7; 07-29 kubectl D+14; 08-02 TCP D+14.
            assert [(b[0], b[1]) for b in bars] == [
                ("2024-07-20", 2),
                ("2024-07-21", 1),
                ("2024-07-22", 1),
                ("2024-07-23", 1),
                ("2024-07-26", 1),
                ("2024-07-29", 1),
                ("2024-08-02", 1),
            ]
            assert bars[0][2] > bars[1][2] > 0  # drawn to scale
            rows = tab.js("document.querySelectorAll('#forecast-table tbody tr').length")
            assert rows == 30
            cells = tab.js("document.querySelectorAll('#history-chart rect').length")
            assert cells == 84
            assert "0일" in tab.js("document.querySelector('#streak').textContent")
            # Four reviews, each recorded as `good` (the done stages): 100 % not rated `again`.
            assert tab.js("document.querySelector('#recall b').textContent") == "100%"

            light = tab.js(FILLS_JS)
            # The stylesheet applied under the CSP: the bars have the page's green, not SVG's default black.
            assert light["bar"] == "rgb(46, 125, 50)"
            assert tab.js("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
            tab.screenshot(ARTIFACTS / "stats-page.png")

            tab.call("Emulation.setEmulatedMedia", DARK)
            dark = tab.js(FILLS_JS)
            assert dark["bar"] == "rgb(102, 187, 106)" and dark["none"] != light["none"]
            assert dark["background"] == "rgb(18, 18, 18)"
            tab.screenshot(ARTIFACTS / "stats-page-dark.png")
    assert (ARTIFACTS / "stats-page-dark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

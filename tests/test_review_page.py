"""The review page on a real waitress server: the note's cue questions with folded answers, safe Markdown, the
four ratings with when the note comes back, and the walk from one due note to the next; the notification's tap
target; and no note text in anything sent to ntfy."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from freezegun import freeze_time
from ntfy_server import FakeNtfy
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from test_web import NOW, SEED_LINK, SEED_TITLE, TODAY, add_note, frozen, key, make_settings, server, settings

from reminder import actions
from reminder.db import Store
from reminder.db.models import Note
from reminder.server import WebServer, start_server

__all__ = ["frozen", "key", "server", "settings"]  # fixtures shared with test_web

QUESTIONS = [
    {"q": "쿠버네티스의 대표적인 오브젝트 4가지", "a": "1. **파드**: 컨테이너 집합\n2. **볼륨**: 영구 데이터"},
    {"q": "Is `<script>` run?", "a": "<script>alert(1)</script>\n\n```sh\nkubectl get pods\n```"},
]


def set_cues(store: Store, note_id: int, questions: list[dict[str, str]], summary: str | None) -> None:
    with store.write() as session:
        session.execute(
            update(Note)
            .where(Note.id == note_id)
            .values(cue_questions=json.dumps(questions, ensure_ascii=False), cue_summary=summary)
        )


def review_url(server: WebServer, key: str, note_id: int, day: date = TODAY) -> str:
    return f"{server.url}/review/{actions.sign(key, 'review', [note_id], day)}"


def test_the_review_page_shows_questions_folded_safe_markdown_summary_and_four_ratings(
    server: WebServer, store: Store, key: str
) -> None:
    seed = add_note(store, SEED_TITLE, date(2024, 7, 7), link=SEED_LINK)
    set_cues(store, seed, QUESTIONS, "**AI 요약**\n\n파드 업데이트는 `kubectl apply`로.")
    resp = requests.get(review_url(server, key, seed), timeout=10)
    assert resp.status_code == 200
    assert "script-src" not in resp.headers["Content-Security-Policy"]
    html = resp.text
    assert html.count("<details") == 2 and html.count("<summary>") == 2
    assert "<summary>쿠버네티스의 대표적인 오브젝트 4가지</summary>" in html
    assert "<li><strong>파드</strong>: 컨테이너 집합</li>" in html
    assert "<summary>Is <code>&lt;script&gt;</code> run?</summary>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert '<code class="language-sh">kubectl get pods\n</code>' in html
    assert "<strong>AI 요약</strong>" in html and "<code>kubectl apply</code>" in html
    assert f'href="{SEED_LINK.replace("&", "&amp;")}"' in html and "Open in Obsidian" in html
    # D+1 and D+4 are open on 2024-07-11: a review brings D+7 (07-14) next; again brings it back tomorrow.
    for rating, label, when in [
        ("again", "Again", "tomorrow"),
        ("hard", "Hard", "in 3 days"),
        ("good", "Good", "in 3 days"),
        ("easy", "Easy", "in 3 days"),
    ]:
        assert f'value="{rating}" class="rate {rating}">{label}<small>{when}</small></button>' in html


def test_korean_buttons_and_a_note_without_questions_still_gets_the_page(
    frozen, tmp_path: Path, store: Store, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_url, language="ko")
    note_id = add_note(store, "질문 없는 노트", date(2024, 7, 10))
    secret = actions.secret_key(store, settings)
    with start_server(store, settings, port=0) as srv:
        html = requests.get(review_url(srv, secret, note_id), timeout=10).text
    assert "이 노트에는 단서 질문이 없습니다" in html and "<details" not in html
    for label, when in [("다시", "내일"), ("어려움", "3일 후"), ("좋음", "3일 후"), ("쉬움", "3일 후")]:
        assert f">{label}<small>{when}</small></button>" in html


def test_a_rating_goes_to_the_next_due_note_and_after_the_last_to_todays_page(
    server: WebServer, store: Store, key: str
) -> None:
    first = add_note(store, "Pods", date(2024, 7, 7))  # 4 days late... D+4 due today, D+1 three days late
    second = add_note(store, "Services", date(2024, 7, 10))  # D+1 due today
    url = review_url(server, key, first)
    resp = requests.post(url, data={"rating": "good"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 303
    nxt = urljoin(url, resp.headers["Location"])
    assert "/review/" in nxt
    claim = actions.verify(key, nxt.split("/review/")[1].split("?")[0], "review", NOW)
    assert claim.note_ids == (second,)
    page = requests.get(nxt, timeout=10)
    assert "<h1>Services</h1>" in page.text and "Review recorded" in page.text
    last = requests.post(nxt.split("?")[0], data={"rating": "again"}, allow_redirects=False, timeout=10)
    assert last.status_code == 303 and "../today/" in last.headers["Location"]
    today = requests.get(urljoin(nxt, last.headers["Location"]), timeout=10)
    assert "Nothing to review today" in today.text
    with store.read() as session:
        rows = session.scalars(select(Note).options(selectinload(Note.events)).order_by(Note.id)).all()
        history = {n.title: [(e.rating, e.source, e.stage) for e in n.events] for n in rows}
    assert history == {"Pods": [("good", "phone", 1), ("good", "phone", 4)], "Services": [("again", "phone", 1)]}
    # The back button sends the again once more: nothing is recorded twice.
    requests.post(nxt.split("?")[0], data={"rating": "again"}, allow_redirects=False, timeout=10)
    with store.read() as session:
        note = session.scalar(select(Note).where(Note.id == second).options(selectinload(Note.events)))
        assert note is not None and len(note.events) == 1


def test_todays_page_links_each_note_to_its_review_page(server: WebServer, store: Store, key: str) -> None:
    note_id = add_note(store, "Pods", date(2024, 7, 10))
    page_url = f"{server.url}/today/{actions.sign(key, 'page', [], TODAY)}"
    html = requests.get(page_url, timeout=10).text
    href = html.split('class="review" href="')[1].split('"')[0]
    review = requests.get(urljoin(page_url, href), timeout=10)
    assert review.status_code == 200 and "<h1>Pods</h1>" in review.text
    assert actions.verify(key, href.split("/review/")[1], "review", NOW).note_ids == (note_id,)


@pytest.mark.parametrize("rating", ["", "perfect"])
def test_a_bad_rating_changes_nothing(server: WebServer, store: Store, key: str, rating: str) -> None:
    note_id = add_note(store, "Pods", date(2024, 7, 10))
    resp = requests.post(review_url(server, key, note_id), data={"rating": rating}, allow_redirects=False, timeout=10)
    assert resp.status_code == 400
    with store.read() as session:
        note = session.scalar(select(Note).where(Note.id == note_id).options(selectinload(Note.events)))
        assert note is not None and note.events == []


def test_a_done_token_is_not_a_review_token(server: WebServer, store: Store, key: str) -> None:
    note_id = add_note(store, "Pods", date(2024, 7, 10))
    token = actions.sign(key, "done", [note_id], TODAY)
    assert requests.get(f"{server.url}/review/{token}", timeout=10).status_code == 403


@freeze_time("2024-07-11 00:30:00")  # 09:30 in Seoul, after the 08:00 slot
def test_the_notification_opens_the_review_page_and_carries_no_note_text(
    run_cli, ntfy_server: FakeNtfy, monkeypatch, store: Store
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_NTFY_SERVER", ntfy_server.url)
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
    monkeypatch.setenv("REMINDER_PUBLIC_URL", "https://reminder.example")
    monkeypatch.setenv("REMINDER_SECRET_KEY", "k" * 32)
    note_id = add_note(store, SEED_TITLE, date(2024, 7, 7), link=SEED_LINK)
    set_cues(store, note_id, QUESTIONS, "파드 업데이트 요약문")
    assert run_cli("run", "--once").exit_code == 0
    [message] = ntfy_server.messages("study-reviews")
    assert message["click"].startswith("https://reminder.example/review/")
    assert actions.verify("k" * 32, message["click"].rsplit("/", 1)[1], "review", NOW).note_ids == (note_id,)
    assert [a["label"] for a in message["actions"]] == ["✅ 복습 완료", "⏰ 내일", "📖 노트 열기"]
    # Two notes due: the tap opens today's page.
    add_note(store, "Services", date(2024, 7, 10))
    with freeze_time("2024-07-12 00:30:00"):
        assert run_cli("run", "--once").exit_code == 0
    second = ntfy_server.messages("study-reviews")[1]
    assert second["click"].startswith("https://reminder.example/today/")
    sent = json.dumps([r.body.decode("utf-8", "replace") for r in ntfy_server.requests], ensure_ascii=False)
    for text in ("오브젝트 4가지", "컨테이너 집합", "script", "요약문", "kubectl"):
        assert text not in sent

"""The vault sync keeps each note's cue questions and summary, without the vault template's placeholders, and
a flag ticked in Obsidian is a `good` event in the note's history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import SEED_NOTE
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from reminder import cues
from reminder import vault as sync
from reminder.db import Store
from reminder.db.models import Note

TODAY = date(2024, 10, 27)
TEMPLATE = "---\n❤1일복습여부: false\n---\n### 단서 질문\n\n- 질문1\n    - 답변1\n\n### 핵심 요약\n\n- 핵심 요약 접기\n"
MINE = (
    "---\n❕첫 학습날: 2024-10-20\n❤1일복습여부: false\n---\n### 단서 질문\n\n- 질문1\n    - 답변1\n"
    "- 파드란?\n    컨테이너의 **묶음**\n- ㅇㅇ\n\n### 핵심 요약\n\n- 핵심 요약 접기\n"
)


def _sync(store: Store, root: Path) -> None:
    with store.write() as session:
        vault_id = sync.add_vault(session, root, "study", True).id
    sync.sync_vault(store, vault_id, today=TODAY, ladder=(1, 4, 7, 14), extra_every=30)


def _again(store: Store) -> None:
    with store.read() as session:
        vault_id = session.scalar(select(Note.vault_id).limit(1))
    sync.sync_vault(store, vault_id, today=TODAY, ladder=(1, 4, 7, 14), extra_every=30)


def _cues(store: Store, rel: str) -> tuple[list[dict[str, str]], str | None]:
    with store.read() as session:
        note = session.scalar(select(Note).where(Note.vault_path == rel))
        assert note is not None
        return json.loads(note.cue_questions or "null"), note.cue_summary


def test_sync_stores_questions_without_the_templates_placeholders(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "study"
    (root / "05 - Template").mkdir(parents=True)
    (root / "05 - Template" / "필기 템플릿.md").write_text(TEMPLATE, encoding="utf-8")
    (root / "k8s").mkdir()
    (root / "k8s" / "objects.md").write_bytes(SEED_NOTE.read_bytes())
    (root / "mine.md").write_text(MINE, encoding="utf-8")
    _sync(store, root)
    questions, summary = _cues(store, "mine.md")
    assert questions == [{"q": "파드란?", "a": "컨테이너의 **묶음**"}]
    assert summary is None
    seed_questions, seed_summary = _cues(store, "k8s/objects.md")
    assert seed_questions[0] == {
        "q": "쿠버네티스의 대표적인 오브젝트 4가지",
        "a": "1. **파드**: 한 가지 서비스를 위한 한 개 이상의 컨테이너 집합\n"
        "2. **볼륨**: 영구 데이터를 저장하기 위한 오브젝트\n"
        "3. **네임스페이스**: 리소스를 구분하는 그룹\n"
        "4. **서비스**: 파드와 외부에 연결을 지원하는 서비스",
    }
    assert len(seed_questions) == 10
    assert seed_summary and seed_summary.startswith("**AI 요약**")

    # An edit to the questions is picked up by the next sync; a note stored before questions were kept is
    # filled in although its file did not change.
    (root / "mine.md").write_text(MINE.replace("- 파드란?", "- 서비스란?"), encoding="utf-8")
    with store.write() as session:
        session.execute(update(Note).where(Note.vault_path == "k8s/objects.md").values(cue_questions=None))
    _again(store)
    assert _cues(store, "mine.md")[0] == [{"q": "서비스란?", "a": "컨테이너의 **묶음**"}]
    assert len(_cues(store, "k8s/objects.md")[0]) == 10


def test_the_placeholders_come_from_the_templates_folder_the_sync_uses(tmp_path: Path, store: Store) -> None:
    # A templates folder named only by `vault add --templates` (its name says nothing): its note's lines are
    # still placeholders, so "질문1" is not shown to the learner as a question of their own.
    root = tmp_path / "study"
    (root / "Forms").mkdir(parents=True)
    (root / "Forms" / "cornell.md").write_text(TEMPLATE, encoding="utf-8")
    (root / "mine.md").write_text(MINE, encoding="utf-8")
    with store.write() as session:
        vault_id = sync.add_vault(session, root, "study", True, templates="Forms").id
    report = sync.sync_vault(store, vault_id, today=TODAY, ladder=(1, 4, 7, 14), extra_every=30)
    assert "Forms/" in report.templates
    assert _cues(store, "mine.md")[0] == [{"q": "파드란?", "a": "컨테이너의 **묶음**"}]


def test_a_flag_ticked_in_obsidian_is_a_good_event_and_unticking_keeps_history(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "study"
    root.mkdir()
    path = root / "mine.md"
    path.write_text(MINE, encoding="utf-8")
    _sync(store, root)
    path.write_text(MINE.replace("❤1일복습여부: false", "❤1일복습여부: true"), encoding="utf-8")
    _again(store)
    path.write_text(MINE, encoding="utf-8")
    _again(store)
    with store.read() as session:
        note = session.scalar(select(Note).options(selectinload(Note.events), selectinload(Note.reviews)))
        assert note is not None
        events = [(e.stage, e.rating, e.source, e.reviewed_on) for e in note.events]
        stage_one = next(r for r in note.reviews if r.offset == 1 and not r.extra)
    assert events == [(1, "good", "vault", TODAY)]
    assert stage_one.done_on is None  # the file's untick wins; the history keeps the review


def test_a_new_note_with_ticked_flags_brings_its_reviews_into_the_history(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "study"
    root.mkdir()
    (root / "objects.md").write_bytes(SEED_NOTE.read_bytes())
    _sync(store, root)
    with store.read() as session:
        note = session.scalar(select(Note).options(selectinload(Note.events)))
        assert note is not None
        events = [(e.stage, e.rating, e.source, e.reviewed_on.isoformat()) for e in note.events]
    # All four flags ticked in the file: done on their due days (the file does not say when).
    assert events == [
        (1, "good", "vault", "2024-07-08"),
        (4, "good", "vault", "2024-07-11"),
        (7, "good", "vault", "2024-07-14"),
        (14, "good", "vault", "2024-07-21"),
    ]


def test_reminder_scheduler_fsrs_puts_the_notes_a_sync_imports_on_fsrs(
    tmp_path: Path, db_url: str, run_cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    root = tmp_path / "study"
    root.mkdir()
    (root / "mine.md").write_text(MINE, encoding="utf-8")
    monkeypatch.setenv("REMINDER_SCHEDULER", "fsrs")
    with freeze_time("2024-10-21 03:00:00"):
        assert run_cli("vault", "add", str(root), "--name", "study").exit_code == 0
        assert run_cli("sync").exit_code == 0
        shown = json.loads(run_cli("show", "mine", "--json").stdout)
    assert shown["scheduler"] == "fsrs"
    # First studied 2024-10-20: FSRS's first interval after a good first study is 2 days with the defaults.
    assert shown["next_review"]["due_on"] == "2024-10-22"


def test_a_sync_of_more_notes_than_a_chunk_stores_every_notes_questions(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The columns leave memory a chunk at a time (to a temporary file) and come back for the update: with a
    # chunk of 2, five notes make two chunks spilled and one kept, and a sixth, stored before questions were
    # kept, is read again and joins them. Each note's own question lands on its own row.
    monkeypatch.setattr(cues, "_CHUNK", 2)
    root = tmp_path / "study"
    root.mkdir()
    for n in range(5):
        (root / f"note {n}.md").write_text(MINE.replace("- 파드란?", f"- 질문 {n}번은?"), encoding="utf-8")
    _sync(store, root)

    def asked(rel: str) -> list[str]:
        return [cue["q"] for cue in _cues(store, rel)[0]]  # no templates folder: 질문1 is a question here

    for n in range(5):
        assert asked(f"note {n}.md") == ["질문1", f"질문 {n}번은?"]
    with store.write() as session:
        session.execute(update(Note).where(Note.vault_path == "note 3.md").values(cue_questions=None))
    (root / "note 1.md").write_text(MINE.replace("- 파드란?", "- 고친 질문은?"), encoding="utf-8")
    _again(store)
    assert asked("note 1.md") == ["질문1", "고친 질문은?"]
    assert asked("note 3.md") == ["질문1", "질문 3번은?"]
    assert asked("note 4.md") == ["질문1", "질문 4번은?"]

"""Vault sync on real folders and a real store: imports, renames, deletions, the flag merge, write-back, bad files."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import SEED_NOTE
from notefiles import crlf, note
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from reminder import notes
from reminder import vault as sync
from reminder.db import Store, open_store
from reminder.db.models import Note
from reminder.errors import VaultError
from reminder.vault import SyncReport
from reminder.vault import sync as sync_engine
from reminder.vault.writeback import WriteBack, mirror_values
from reminder.vault_format import obsidian_link, set_flag, set_mirrors

LADDER = (1, 4, 7, 14)
EVERY = 30
TODAY = date(2024, 10, 27)
BOM = b"\xef\xbb\xbf"
SEED_REL = "Kubernetes/kubernetes-3.2-objects.md"
HOUR_NS = 3600 * 10**9


def seed() -> bytes:
    return SEED_NOTE.read_bytes()


def mirrored(data: bytes, *done: int, long_term: bool = False) -> bytes:
    """``data`` with the template's 학습률/진행바 mirrors showing these stages done (of the 1/4/7/14 ladder)."""
    flags = {stage: stage in done for stage in LADDER} | {None: long_term}
    return set_mirrors(data, mirror_values(LADDER, flags))


def write_back(session, note: Note):  # type: ignore[no-untyped-def]
    return sync.write_back_note(
        session, note, today=TODAY, extra_every=EVERY, delivery=sync.Delivery("0 8 * * *", "Asia/Seoul")
    )


def replace_line(data: bytes, old: str, new: str) -> bytes:
    """``data`` with the line starting with ``old`` replaced by ``new`` (line ending kept)."""
    lines = data.split(b"\n")
    hits = [i for i, line in enumerate(lines) if line.decode("utf-8", "replace").lstrip("\ufeff").startswith(old)]
    assert len(hits) == 1, (old, hits)
    ending = b"\r" if lines[hits[0]].endswith(b"\r") else b""
    lines[hits[0]] = (BOM if lines[hits[0]].startswith(BOM) else b"") + new.encode() + ending
    return b"\n".join(lines)


def changed_bytes(before: bytes, after: bytes) -> tuple[bytes, bytes, bytes]:
    """(the end of the line up to the change, the bytes replaced, their replacement): the one differing span."""
    start = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b), min(len(before), len(after))
    )
    tail = zip(reversed(before[start:]), reversed(after[start:]), strict=False)
    end = next((i for i, (a, b) in enumerate(tail) if a != b), min(len(before), len(after)) - start)
    line_start = before.rfind(b"\n", 0, start) + 1
    return before[line_start:start], before[start : len(before) - end], after[start : len(after) - end]


def write(path: Path, data: bytes, *, age_hours: float = 1) -> Path:
    """Write a note last modified ``age_hours`` ago: a file edited the second before a sync is read again on the
    next one (racily clean), which the tests about skipping unchanged files must not trip over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    age(path, age_hours)
    return path


def age(path: Path, hours: float) -> None:
    when = time.time_ns() - int(hours * HOUR_NS)
    os.utime(path, ns=(when, when))


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    write(root / SEED_REL, seed())
    return root


def register(
    store: Store, root: Path, *, write_back: bool = False, name: str | None = "study", status: bool = False
) -> int:
    """A vault; without the status block unless asked (these tests are about the flags, byte for byte)."""
    with store.write() as session:
        return sync.add_vault(session, root, name, write_back, status_block=status).id


def run(store: Store, vault_id: int, *, today: date = TODAY, dry_run: bool = False) -> SyncReport:
    return sync.sync_vault(store, vault_id, today=today, ladder=LADDER, extra_every=EVERY, dry_run=dry_run)


def by_path(store: Store, rel: str) -> Note:
    with store.read() as session:
        found = session.scalar(select(Note).where(Note.vault_path == rel).options(selectinload(Note.reviews)))
        assert found is not None, rel
        return found


def view(store: Store, rel: str, today: date = TODAY) -> notes.NoteView:
    return notes.view_note(by_path(store, rel), today, EVERY)


def done_stages(store: Store, rel: str) -> dict[int, bool]:
    return {s.stage: s.done_on is not None for s in view(store, rel).stages}


def active_paths(store: Store) -> set[str]:
    with store.read() as session:
        return set(session.scalars(select(Note.vault_path).where(Note.archived_at.is_(None))))


def mark(store: Store, rel: str, stage: int, *, done: bool = True) -> None:
    """A review marked done (or undone) from the phone or the CLI: a store change the file has not seen."""
    with store.write() as session:
        target = session.scalar(select(Note).where(Note.vault_path == rel).options(selectinload(Note.reviews)))
        assert target is not None
        if done:
            notes.mark_done(session, target, day=TODAY, today=TODAY, extra_every=EVERY, stage=stage)
        else:
            notes.undo(session, target, stage=stage, extra_every=EVERY)


# --- importing ---------------------------------------------------------------------------------------------------


def test_seed_note_imports_as_the_learner_wrote_it(store: Store, vault_dir: Path) -> None:
    report = run(store, register(store, vault_dir))
    assert (report.added, report.skipped) == (1, [])
    shown = view(store, SEED_REL)
    assert shown.title == "kubernetes-3.2-objects"
    assert shown.first_studied_on == date(2024, 7, 7)
    assert (shown.subject, shown.source, shown.pages) == (
        "Kubernetes",
        "컨테이너 인프라 환경 구축을 위한 쿠버네티스 도커",
        "p93~",
    )
    assert [(s.stage, s.done_on is not None) for s in shown.stages] == [(1, True), (4, True), (7, True), (14, True)]
    assert shown.long_term_on is None
    assert shown.progress == 60
    assert shown.link == "obsidian://open?vault=study&file=Kubernetes%2Fkubernetes-3.2-objects"
    # All stages done and not long-term: due for the extra review, as the note's "복습: 추가 복습" says.
    assert shown.due is not None and shown.due.extra


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            note("first_study: 2024-07-07", "subject: Kubernetes", "book: The Book", "pages: 1:30", "review_1d: yes"),
            ("Kubernetes", "The Book", "1:30", {1: True, 4: False, 7: False, 14: False}),
            id="english keys",
        ),
        pytest.param(crlf(seed()), ("Kubernetes", None, "p93~", {1: True, 4: True, 7: True, 14: True}), id="crlf"),
        pytest.param(BOM + seed(), ("Kubernetes", None, "p93~", {1: True, 4: True, 7: True, 14: True}), id="bom"),
        pytest.param(
            note(
                '❕첫 학습날: "@2024년 7월 7일"',
                "❕과목: 네트워크",
                '"1일차복습여부1,0": "1"',
                '"4일차복습여부1,0": "0"',
            ),
            ("네트워크", None, None, {1: True, 4: False, 7: False, 14: False}),
            id="notion date and derived flags",
        ),
    ],
)
def test_variants_import(store: Store, tmp_path: Path, data: bytes, expected: tuple) -> None:  # type: ignore[type-arg]
    write(tmp_path / "v" / "note.md", data)
    assert run(store, register(store, tmp_path / "v")).added == 1
    shown = view(store, "note.md")
    subject, source, pages, stages = expected
    assert shown.first_studied_on == date(2024, 7, 7)
    assert (shown.subject, shown.pages) == (subject, pages)
    if source:
        assert shown.source == source
    assert done_stages(store, "note.md") == stages


def test_nested_korean_folders_with_spaces(store: Store, tmp_path: Path) -> None:
    rel = "과목 01 네트워크/3장 전송 계층/TCP 혼잡 제어 (정리).md"
    write(tmp_path / "v" / rel, seed())
    run(store, register(store, tmp_path / "v", name="내 공부"))
    shown = view(store, rel)
    assert shown.title == "TCP 혼잡 제어 (정리)"
    assert shown.link == obsidian_link("내 공부", rel)
    assert shown.link.startswith("obsidian://open?vault=%EB%82%B4%20%EA%B3%B5%EB%B6%80&file=%EA%B3%BC")
    assert " " not in shown.link and "(" not in shown.link


def test_only_markdown_notes_inside_the_vault_are_read(store: Store, tmp_path: Path) -> None:
    root, outside = tmp_path / "v", tmp_path / "elsewhere"
    write(root / "real.md", seed())
    for hidden in (".obsidian/templates/t.md", ".trash/old.md", ".hidden dir/n.md", "sub/.draft.md"):
        write(root / hidden, seed())
    write(root / "notes.txt", seed())
    write(root / "image.md.png", seed())
    write(outside / "secret.md", seed())
    (root / "linked-outside.md").symlink_to(outside / "secret.md")
    (root / "linked-folder").symlink_to(outside, target_is_directory=True)
    (root / "alias.md").symlink_to(root / "real.md")  # inside: the target is synced under its own path
    write(root / "README.md", b"# A vault\n\nNo frontmatter: not a study note.\n")
    report = run(store, register(store, root))
    assert (report.added, report.skipped) == (1, [])
    assert active_paths(store) == {"real.md"}


# --- identity: renames, deletions, returns ------------------------------------------------------------------------


def test_renamed_and_moved_files_are_followed_with_their_history(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    first = by_path(store, SEED_REL)
    mark(store, SEED_REL, 14, done=False)  # a store-only change the move must not lose
    moved = vault_dir / "아카이브 2024" / "쿠버네티스 오브젝트.md"
    moved.parent.mkdir()
    (vault_dir / SEED_REL).rename(moved)
    report = run(store, vault_id)
    assert (report.renamed, report.added, report.archived) == (1, 0, 0)
    after = by_path(store, "아카이브 2024/쿠버네티스 오브젝트.md")
    assert after.id == first.id
    assert after.title == "쿠버네티스 오브젝트"
    assert after.link == obsidian_link("study", "아카이브 2024/쿠버네티스 오브젝트.md")
    assert done_stages(store, "아카이브 2024/쿠버네티스 오브젝트.md") == {1: True, 4: True, 7: True, 14: False}
    assert active_paths(store) == {"아카이브 2024/쿠버네티스 오브젝트.md"}


def test_deleted_file_archives_and_its_return_restores_the_same_note(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    write(vault_dir / "other.md", note("first_study: 2024-10-01"))
    run(store, vault_id)
    original = by_path(store, SEED_REL)
    (vault_dir / SEED_REL).unlink()
    report = run(store, vault_id)
    assert report.archived == 1
    gone = view(store, SEED_REL)
    assert gone.archived and gone.progress == 60  # history kept
    assert active_paths(store) == {"other.md"}
    write(vault_dir / SEED_REL, seed())
    report = run(store, vault_id)
    assert (report.added, report.updated) == (0, 1)
    back = by_path(store, SEED_REL)
    assert back.id == original.id and back.archived_at is None
    assert done_stages(store, SEED_REL) == {1: True, 4: True, 7: True, 14: True}


def test_note_whose_first_study_date_is_removed_keeps_its_date(store: Store, vault_dir: Path) -> None:
    """Its flags still make it a study note; the date once known is kept, not moved to the file's mtime."""
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    write(vault_dir / SEED_REL, replace_line(seed(), "❕첫 학습날:", "❕첫 학습날:"))
    report = run(store, vault_id)
    assert (report.archived, report.dated) == (0, [])
    assert view(store, SEED_REL).first_studied_on == date(2024, 7, 7)


def test_note_that_stops_looking_like_a_study_note_is_archived(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    write(vault_dir / SEED_REL, note("title: just a page", "tags: [k8s]"))
    assert run(store, vault_id).archived == 1
    assert active_paths(store) == set()


def test_empty_vault_folder_archives_nothing(store: Store, vault_dir: Path) -> None:
    """A folder that lost every file at once (an unmounted drive, a sync tool mid-way) is not a mass deletion."""
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    (vault_dir / SEED_REL).unlink()
    report = run(store, vault_id)
    assert report.archived == 0
    assert len(report.skipped) == 1 and "no Markdown file found" in report.skipped[0]
    assert active_paths(store) == {SEED_REL}


# --- incremental --------------------------------------------------------------------------------------------------


def test_unchanged_size_and_mtime_are_not_read_and_a_touched_file_is(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    path = vault_dir / SEED_REL
    recorded = path.stat()
    # Same size and the recorded mtime, different content: the sync must not open it.
    path.write_bytes(replace_line(seed(), "❕페이지:", "❕페이지: p94~"))
    assert path.stat().st_size == recorded.st_size
    os.utime(path, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))
    report = run(store, vault_id)
    assert (report.unchanged, report.updated) == (1, 0)
    assert view(store, SEED_REL).pages == "p93~"
    # A new mtime (an editor's save, `touch`) and it is read.
    age(path, 0.5)
    report = run(store, vault_id)
    assert (report.unchanged, report.updated) == (0, 1)
    assert view(store, SEED_REL).pages == "p94~"


def test_progress_counts_the_files_read(store: Store, vault_dir: Path) -> None:
    for i in range(3):
        write(vault_dir / f"n{i}.md", note(f"first_study: 2024-10-0{i + 1}"))
    vault_id = register(store, vault_dir)
    calls: list[tuple[int, int]] = []
    sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=EVERY, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    sync.sync_vault(store, vault_id, today=TODAY, ladder=LADDER, extra_every=EVERY, progress=lambda *a: calls.append(a))
    assert calls == []  # nothing to read


def test_a_file_edited_right_after_a_sync_is_read_again(store: Store, vault_dir: Path) -> None:
    """Within the file system's timestamp tick of the last sync, size and mtime prove nothing (racily clean)."""
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    path = vault_dir / SEED_REL
    recorded = path.stat()
    path.write_bytes(replace_line(seed(), "❕페이지:", "❕페이지: p94~"))
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    with store.write() as session:  # the recorded fingerprint claims this very mtime and size
        target = session.scalar(select(Note).where(Note.vault_path == SEED_REL))
        assert target is not None and target.file_size == recorded.st_size
        target.file_mtime_ns = now
    assert run(store, vault_id).updated == 1
    assert view(store, SEED_REL).pages == "p94~"


def test_body_and_derived_field_edits_change_nothing_in_the_store(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    before = by_path(store, SEED_REL)
    edited = replace_line(seed(), "🛑오늘:", '🛑오늘: "⏰오늘 : 2024/10/28"') + "\n- 새 질문\n".encode()
    write(vault_dir / SEED_REL, edited, age_hours=0.5)
    report = run(store, vault_id)
    assert (report.unchanged, report.updated) == (1, 0)
    after = by_path(store, SEED_REL)
    assert after.updated_at == before.updated_at
    assert after.file_size == len(edited)


def test_first_study_date_edited_in_the_file_moves_the_schedule(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    write(vault_dir / SEED_REL, replace_line(seed(), "❕첫 학습날:", "❕첫 학습날: 2024/07/10"), age_hours=0.5)
    assert run(store, vault_id).updated == 1
    shown = view(store, SEED_REL)
    assert shown.first_studied_on == date(2024, 7, 10)
    assert [s.due_on for s in shown.stages] == [
        date(2024, 7, 11),
        date(2024, 7, 14),
        date(2024, 7, 17),
        date(2024, 7, 24),
    ]


# --- which side wins a flag ---------------------------------------------------------------------------------------


def test_a_flag_unticked_in_the_file_is_undone(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    write(vault_dir / SEED_REL, replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false"), age_hours=0.5)
    assert run(store, vault_id).updated == 1
    assert done_stages(store, SEED_REL) == {1: True, 4: True, 7: True, 14: False}
    assert view(store, SEED_REL).progress == 45


def test_store_change_survives_an_unchanged_file_without_write_back(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    data = replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false")
    write(root / "k8s.md", data)
    vault_id = register(store, root)
    run(store, vault_id)
    mark(store, "k8s.md", 14)  # done on the phone; the file still says false
    for _ in range(2):
        report = run(store, vault_id)
        assert (report.unchanged, report.written_back) == (1, 0)
    assert done_stages(store, "k8s.md")[14] is True
    assert (root / "k8s.md").read_bytes() == data  # read-only vault: never written


def test_store_change_survives_an_unrelated_edit_of_the_file(store: Store, tmp_path: Path) -> None:
    """The file changed, but not that flag: the review done on the phone stays done (the merge is per flag)."""
    root = tmp_path / "v"
    data = replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false")
    write(root / "k8s.md", data)
    vault_id = register(store, root)
    run(store, vault_id)
    mark(store, "k8s.md", 14)
    mark(store, "k8s.md", 1, done=False)
    write(root / "k8s.md", replace_line(data, "❕페이지:", "❕페이지: p93~p120"), age_hours=0.5)
    assert run(store, vault_id).updated == 1
    assert view(store, "k8s.md").pages == "p93~p120"
    assert done_stages(store, "k8s.md") == {1: False, 4: True, 7: True, 14: True}


def test_a_flag_respelled_in_the_file_is_not_a_change(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir, write_back=True)
    run(store, vault_id)
    mark(store, SEED_REL, 7, done=False)  # undone with the CLI, while the learner wrote "yes" for "true"
    write(vault_dir / SEED_REL, replace_line(seed(), "💛7일복습여부:", "💛7일복습여부: yes"), age_hours=0.5)
    report = run(store, vault_id)
    assert report.written_back == 1
    assert done_stages(store, SEED_REL)[7] is False
    assert (vault_dir / SEED_REL).read_bytes() == mirrored(
        set_flag(replace_line(seed(), "💛7일복습여부:", "💛7일복습여부: no"), 7, False), 1, 4, 14
    )
    assert '학습률: "0.45"\n진행바: 🟩🟩🟩🟩⬜⬜⬜⬜⬜⬜ 45%'.encode() in (vault_dir / SEED_REL).read_bytes()


def test_the_file_wins_when_both_sides_set_the_same_flag(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    without_14 = seed().replace("💚14일복습여부: true\n".encode(), b"")
    write(root / "k8s.md", without_14)
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    mark(store, "k8s.md", 14)  # done on the phone, while the learner adds the flag, unticked, to the note
    edited = without_14.replace(
        "💛7일복습여부: true\n".encode(), "💛7일복습여부: true\n💚14일복습여부: false\n".encode()
    )
    write(root / "k8s.md", edited, age_hours=0.5)
    report = run(store, vault_id)
    assert (report.updated, report.written_back) == (1, 0)
    assert done_stages(store, "k8s.md")[14] is False
    assert (root / "k8s.md").read_bytes() == edited


def test_long_term_ticked_in_the_file_ends_the_reminders(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    write(vault_dir / SEED_REL, replace_line(seed(), "🧠장기기억:", "🧠장기기억: true"), age_hours=0.5)
    run(store, vault_id)
    shown = view(store, SEED_REL)
    assert (shown.long_term_on, shown.progress, shown.due) == (TODAY, 100, None)
    write(vault_dir / SEED_REL, seed(), age_hours=0.25)
    run(store, vault_id)
    shown = view(store, SEED_REL)
    assert (shown.long_term_on, shown.progress) == (None, 60)
    assert shown.due is not None and shown.due.extra  # the extra reviews are back


# --- write-back ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [lambda d: d, lambda d: BOM + crlf(d)], ids=["lf", "bom+crlf"])
def test_write_back_changes_only_the_flag_value(store: Store, tmp_path: Path, encode) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "v"
    before = encode(replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false"))
    path = write(root / "k8s.md", before)
    os.chmod(path, 0o640)
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    mark(store, "k8s.md", 14)
    report = run(store, vault_id)
    assert report.written_back == 1
    after = path.read_bytes()
    assert after == encode(replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: true"))
    assert after == set_flag(before, 14, True)
    assert changed_bytes(before, after) == ("💚14일복습여부: ".encode(), b"fals", b"tru")  # "false" -> "true"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in root.iterdir()) == ["k8s.md"]  # no temporary file left behind
    # Written once: the next syncs find nothing to do.
    age(path, 0.5)
    report = run(store, vault_id)
    assert (report.written_back, report.updated, report.unchanged) == (0, 0, 1)


def test_write_back_undo_and_a_missing_flag_key(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    without_14 = seed().replace("💚14일복습여부: true\n".encode(), b"")
    path = write(root / "k8s.md", without_14)
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    mark(store, "k8s.md", 14)
    mark(store, "k8s.md", 4, done=False)
    assert run(store, vault_id).written_back == 1
    expected = replace_line(without_14, "🧡4일복습여부:", "🧡4일복습여부: false")
    expected = expected.replace("💛7일복습여부: true\n".encode(), "💛7일복습여부: true\n14일복습여부: true\n".encode())
    # The template's derived copy of the flag follows it.
    expected = replace_line(expected, '"4일차복습여부1,0":', '"4일차복습여부1,0": "0"')
    assert path.read_bytes() == mirrored(expected, 1, 7, 14)


def test_a_file_changed_between_read_and_write_is_merged_not_overwritten(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "v"
    path = write(root / "k8s.md", replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false"))
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    mark(store, "k8s.md", 14)
    # The learner saves the note (unticking D+1, a new line in the body) after the sync read it, before it writes.
    learners = replace_line(path.read_bytes(), "❤1일복습여부:", "❤1일복습여부: false") + "\n추가 메모\n".encode()
    real = sync_engine.replace_if_unchanged
    calls = []

    def learner_saves_first(file_path: str, expected, new: bytes, *, dry_run: bool):  # type: ignore[no-untyped-def]
        if not calls:
            Path(file_path).write_bytes(learners)
        calls.append(file_path)
        return real(file_path, expected, new, dry_run=dry_run)

    monkeypatch.setattr(sync_engine, "replace_if_unchanged", learner_saves_first)
    report = run(store, vault_id)
    assert len(calls) == 2 and report.written_back == 1
    # Both edits survive: the learner's (body and D+1) and the phone's D+14.
    assert path.read_bytes() == mirrored(set_flag(learners, 14, True), 4, 7, 14)
    assert done_stages(store, "k8s.md") == {1: False, 4: True, 7: True, 14: True}


def test_write_back_note_right_after_done(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    original = replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false")
    path = write(root / "k8s.md", original)
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    with store.write() as session:
        target = session.scalar(select(Note).where(Note.vault_path == "k8s.md").options(selectinload(Note.reviews)))
        assert target is not None
        notes.mark_done(session, target, day=TODAY, today=TODAY, extra_every=EVERY, stage=14)
        assert write_back(session, target).outcome is WriteBack.WRITTEN
        assert write_back(session, target).outcome is WriteBack.NOTHING  # nothing left to write
    assert path.read_bytes() == set_flag(original, 14, True)
    age(path, 0.5)
    report = run(store, vault_id)
    assert (report.unchanged, report.written_back, report.updated) == (1, 0, 0)


def test_write_back_note_keeps_an_edit_not_synced_yet(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    original = replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false")
    path = write(root / "k8s.md", original)
    vault_id = register(store, root, write_back=True)
    run(store, vault_id)
    unsynced = replace_line(original, "❤1일복습여부:", "❤1일복습여부: false")  # the learner, since the last sync
    write(path, unsynced, age_hours=0.5)
    with store.write() as session:
        target = session.scalar(select(Note).where(Note.vault_path == "k8s.md").options(selectinload(Note.reviews)))
        assert target is not None
        notes.mark_done(session, target, day=TODAY, today=TODAY, extra_every=EVERY, stage=14)
        assert write_back(session, target).outcome is WriteBack.WRITTEN
    assert path.read_bytes() == mirrored(set_flag(unsynced, 14, True), 4, 7, 14)  # D+1 stays unticked in the file
    run(store, vault_id)  # and the next sync takes the learner's untick
    assert done_stages(store, "k8s.md") == {1: False, 4: True, 7: True, 14: True}


def test_write_back_note_on_a_read_only_vault_writes_nothing(store: Store, vault_dir: Path) -> None:
    run(store, register(store, vault_dir))
    with store.write() as session:
        target = session.scalar(select(Note).options(selectinload(Note.reviews)))
        assert target is not None
        notes.undo(session, target, stage=4, extra_every=EVERY)
        assert write_back(session, target).outcome is WriteBack.NOTHING
    assert (vault_dir / SEED_REL).read_bytes() == seed()


# --- bad input ----------------------------------------------------------------------------------------------------


def test_bad_files_are_skipped_with_a_line_and_the_rest_syncs(store: Store, vault_dir: Path) -> None:
    vault_id = register(store, vault_dir)
    run(store, vault_id)
    bad = {
        "broken yaml.md": (replace_line(seed(), "❕과목:", "❕과목: Kubernetes: 1.29"), 3, "not valid YAML"),
        "list.md": (b"---\n- a\n- b\n---\n", 2, "not a mapping"),
        "bad date.md": (note("first_study: 2024-02-30"), 2, "is not a real date"),
        "cp949.md": ("---\n첫 학습날: 2024-07-07\n과목: 국어\n---\n".encode("cp949"), 2, "not UTF-8"),
        "huge.md": (note("first_study: 2024-07-07", body="x" * (sync.MAX_NOTE_BYTES + 1)), 1, "limit for a note"),
        "future.md": (note("x: 1", "first_study: 2024-10-28"), 3, "after today (2024-10-27)"),
        "long.md": (note("studied: 2024-07-07", "subject: " + "가" * 201), 3, "subject is longer than 200 characters"),
        "nul.md": (note("studied: 2024-07-07", "x: y", 'pages: "1\\0"'), 4, "pages holds a NUL"),
    }
    for name, (data, _, _) in bad.items():
        write(vault_dir / "bad" / name, data)
    write(vault_dir / "good.md", note("first_study: 2024-10-20", "review_1d: true"))
    # The seed note breaks too: its stored schedule must survive.
    write(vault_dir / SEED_REL, replace_line(seed(), "❤1일복습여부:", "❤1일복습여부: maybe"), age_hours=0.5)
    report = run(store, vault_id)
    assert (report.added, report.archived, report.updated) == (1, 0, 0)
    lines = {line.split(":", 1)[0]: line for line in report.skipped}
    assert len(report.skipped) == len(bad) + 1
    for name, (_, line, why) in bad.items():
        path = str(vault_dir / "bad" / name)
        assert lines[path].startswith(f"{path}:{line}: ") and why in lines[path], lines[path]
        assert "\n" not in lines[path]
    assert lines[str(vault_dir / SEED_REL)].startswith(f"{vault_dir / SEED_REL}:7: ")
    assert active_paths(store) == {SEED_REL, "good.md"}
    assert view(store, SEED_REL).progress == 60
    # Reported again until fixed; fixed, it syncs.
    assert len(run(store, vault_id).skipped) == len(bad) + 1
    write(vault_dir / SEED_REL, replace_line(seed(), "❤1일복습여부:", "❤1일복습여부: false"), age_hours=0.25)
    report = run(store, vault_id)
    assert report.updated == 1 and len(report.skipped) == len(bad)
    assert done_stages(store, SEED_REL)[1] is False


def test_missing_vault_folder(store: Store, vault_dir: Path, tmp_path: Path) -> None:
    vault_id = register(store, vault_dir)
    register(store, write(tmp_path / "other" / "n.md", seed()).parent, name="other")
    run(store, vault_id)
    vault_dir.rename(tmp_path / "moved away")
    with pytest.raises(VaultError, match=r"vault study: folder .* does not exist"):
        run(store, vault_id)
    reports = sync.sync_all(store, today=TODAY, ladder=LADDER, extra_every=EVERY)
    assert reports["study"].error is not None and "does not exist" in reports["study"].error
    assert isinstance(reports["study"].failure, VaultError)  # the command line shows it in the learner's language
    assert reports["other"].added == 1  # the other vault still syncs
    assert SEED_REL in active_paths(store)  # and nothing of the missing one is archived


def test_dry_run_changes_nothing(store: Store, vault_dir: Path) -> None:
    data = replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false")
    write(vault_dir / "k8s.md", data)
    vault_id = register(store, vault_dir, write_back=True)
    report = run(store, vault_id, dry_run=True)
    assert report.added == 2
    assert active_paths(store) == set()
    run(store, vault_id)
    mark(store, "k8s.md", 14)
    (vault_dir / SEED_REL).unlink()
    write(vault_dir / "new.md", note("first_study: 2024-10-01"))
    with store.read() as session:
        synced_at = sync.list_vaults(session)[0].synced_at
    report = run(store, vault_id, dry_run=True)
    assert (report.added, report.archived, report.written_back) == (1, 1, 1)
    assert active_paths(store) == {SEED_REL, "k8s.md"}
    assert (vault_dir / "k8s.md").read_bytes() == data
    assert sorted(p.name for p in vault_dir.iterdir()) == ["Kubernetes", "k8s.md", "new.md"]
    with store.read() as session:
        assert sync.list_vaults(session)[0].synced_at == synced_at


# --- vaults -------------------------------------------------------------------------------------------------------


def test_vault_registration_rules(store: Store, vault_dir: Path, tmp_path: Path) -> None:
    with store.write() as session:
        registered = sync.add_vault(session, vault_dir, None, False)
        assert registered.name == "study" and registered.path == str(vault_dir)
        with pytest.raises(VaultError, match="already registered"):
            sync.add_vault(session, tmp_path / "..", "study", False)
        with pytest.raises(VaultError, match="already registered as vault 'study'"):
            sync.add_vault(session, vault_dir / "Kubernetes" / "..", "again", False)
        with pytest.raises(VaultError, match="does not exist"):
            sync.add_vault(session, tmp_path / "nope", None, False)
        with pytest.raises(VaultError, match="not a folder"):
            sync.add_vault(session, vault_dir / SEED_REL, "file", False)


def test_removing_a_vault_archives_its_notes_and_leaves_the_files(store: Store, vault_dir: Path) -> None:
    run(store, register(store, vault_dir))
    with store.write() as session:
        assert sync.remove_vault(session, "study") == 1
        assert sync.list_vaults(session) == []
        with pytest.raises(VaultError, match="no vault named 'study'"):
            sync.remove_vault(session, "study")
    shown = view(store, SEED_REL)
    assert shown.archived and shown.progress == 60
    assert (vault_dir / SEED_REL).read_bytes() == seed()
    # Registered again, the folder brings the note back: same id, history kept.
    before = by_path(store, SEED_REL).id
    report = run(store, register(store, vault_dir))
    assert (report.added, report.updated) == (0, 1)
    back = by_path(store, SEED_REL)
    assert back.id == before and back.archived_at is None
    assert view(store, SEED_REL).progress == 60


# --- PostgreSQL too -----------------------------------------------------------------------------------------------


@pytest.fixture
def any_store(any_db_url: str) -> Iterator[Store]:
    s = open_store(any_db_url)
    yield s
    s.dispose()


def test_sync_on_sqlite_and_postgres(any_store: Store, tmp_path: Path) -> None:
    root = tmp_path / "v"
    for i in range(30):
        write(root / f"과목 {i % 3}" / f"노트 {i}.md", replace_line(seed(), "❕과목:", f"❕과목: 과목{i}"))
    write(root / "k8s.md", replace_line(seed(), "💚14일복습여부:", "💚14일복습여부: false"))
    vault_id = register(any_store, root, write_back=True)
    report = run(any_store, vault_id)
    assert (report.added, report.skipped) == (31, [])
    shown = view(any_store, "과목 1/노트 4.md")
    assert (shown.subject, shown.first_studied_on, shown.progress) == ("과목4", date(2024, 7, 7), 60)
    mark(any_store, "k8s.md", 14)
    (root / "과목 2" / "노트 5.md").rename(root / "노트 5 (옮김).md")
    (root / "과목 0" / "노트 0.md").unlink()
    report = run(any_store, vault_id)
    assert (report.renamed, report.archived, report.written_back, report.added) == (1, 1, 1, 0)
    assert b"14\xec\x9d\xbc\xeb\xb3\xb5\xec\x8a\xb5\xec\x97\xac\xeb\xb6\x80: true" in (root / "k8s.md").read_bytes()
    assert view(any_store, "노트 5 (옮김).md").subject == "과목5"
    assert len(active_paths(any_store)) == 30

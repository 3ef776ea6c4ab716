"""The learner's kind of vault, end to end through the CLI: notes made from their Obsidian template (flags, no
date), Notion exports, the flags people really write, templates folders, a vault kept in git, write-back of the
date, mirrors and the status block, a vault removed and added again, `rm --forget-file`, read-only notes.

The vault is tests/data/vault (small, committed) plus the learner's example note, copied into a temporary folder
with set modification times."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SEED_NOTE
from freezegun import freeze_time
from sqlalchemy import select

from reminder.db import open_store
from reminder.db.models import Note

DATA = Path(__file__).resolve().parent / "data" / "vault"
SEED_REL = "Kubernetes/kubernetes-3.2-objects.md"
NOW = "2026-02-01 00:30:00"  # 09:30 in Seoul
# 23:30 UTC on 01-05 is already 01-06 in Seoul: the learner's zone decides the day.
MTIME = datetime(2026, 1, 5, 23, 30, tzinfo=UTC).timestamp()
TEMPLATE = "05 - Template/필기 템플릿.md"
FROM_TEMPLATE = ("Docker/도커 볼륨.md", "Kubernetes/3.3 서비스.md")
SUMMARY = (
    "study: {} added, 0 updated, 0 renamed, 0 archived, {} written back, 0 skipped, {} not scheduled; {} unchanged"
)


def make_vault(root: Path) -> Path:
    # Bytes only, not modes: a read-only checkout must still give the test writable notes.
    shutil.copytree(DATA, root, copy_function=shutil.copyfile)
    shutil.copyfile(SEED_NOTE, root / SEED_REL)
    for path in root.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    return root


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return make_vault(tmp_path / "study")


def notes_by_path(db_url: str) -> dict[str, Note]:
    store = open_store(db_url)
    try:
        with store.read() as session:
            rows = session.scalars(select(Note)).all()
            session.expunge_all()
            return {row.vault_path: row for row in rows if row.vault_path}
    finally:
        store.dispose()


def listed(run_cli) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    result = run_cli("list", "--json")
    assert result.exit_code == 0, result.output
    return {note["title"]: note for note in json.loads(result.stdout)}


@freeze_time(NOW, tick=True)
def test_every_study_note_is_scheduled_or_reported(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("vault", "add", str(vault)).exit_code == 0
    first = run_cli("sync")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        SUMMARY.format(10, 0, 1, 0),
        "  templates folder 05 - Template/ (its name says so)",
        *(
            f"  {vault / rel}: no first-study date; scheduled from its modification time, 2026-01-06"
            for rel in FROM_TEMPLATE
        ),
        f"  {vault / TEMPLATE}: not scheduled: a template (templates folder)",
    ]
    # A second sync changes nothing, and says the same about the template (never dropped in silence).
    again = run_cli("sync")
    assert again.stdout.splitlines() == [
        SUMMARY.format(0, 0, 1, 10),
        "  templates folder 05 - Template/ (its name says so)",
        f"  {vault / TEMPLATE}: not scheduled: a template (templates folder)",
    ]
    shown = listed(run_cli)
    assert len(shown) == 10 and "필기 템플릿" not in shown and "2026-01-30" not in shown
    for title in ("도커 볼륨", "3.3 서비스"):
        assert shown[title]["first_studied_on"] == "2026-01-06"
        assert shown[title]["ladder"] == [1, 4, 7, 14]
    assert [s["done_on"] is not None for s in shown["도커 볼륨"]["stages"]] == [True, False, False, False]
    # The ladder comes from the flags the note carries; 완료 is not a stage.
    assert shown["정렬 알고리즘"]["ladder"] == [1, 7, 30]
    assert [s["done_on"] is not None for s in shown["정렬 알고리즘"]["stages"]] == [True, False, False]
    assert shown["자료구조 트리"]["ladder"] == [1, 7, 14, 60]
    assert [s["done_on"] is not None for s in shown["자료구조 트리"]["stages"]] == [True, False, True, False]
    assert shown["해시 테이블"]["ladder"] == [1, 3, 7]
    assert shown["리눅스 권한"]["first_studied_on"] == "2026-01-18"  # "2026년 1월 18일 오후 10:28"
    assert shown["binary search"]["ladder"] == [1, 4, 7, 14]
    assert shown["spaced repetition"]["first_studied_on"] == "2025-12-05"
    assert notes_by_path(db_url)["Docker/도커 볼륨.md"].first_study_from == "mtime"


@freeze_time(NOW, tick=True)
def test_a_later_touch_does_not_move_the_chosen_date(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault))
    run_cli("sync")
    path = vault / "Docker/도커 볼륨.md"
    path.write_bytes(path.read_bytes() + "\n더 공부함\n".encode())
    later = datetime(2026, 1, 30, 3, 0, tzinfo=UTC).timestamp()
    os.utime(path, (later, later))
    result = run_cli("sync")
    assert result.stdout.splitlines()[0] == SUMMARY.format(0, 0, 1, 10)
    assert "scheduled from" not in result.stdout
    assert listed(run_cli)["도커 볼륨"]["first_studied_on"] == "2026-01-06"


# --- git --------------------------------------------------------------------------------------------------------


def git(repo: Path, *args: str, when: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="learner", GIT_AUTHOR_EMAIL="l@example.org", GIT_COMMITTER_NAME="learner")
    env.update(GIT_COMMITTER_EMAIL="l@example.org", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_SYSTEM=os.devnull)
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@freeze_time(NOW, tick=True)
def test_a_vault_in_git_takes_the_day_git_added_each_file(db_url: str, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The vault is a subfolder of the repository (Obsidian Git on a repo holding more than the vault); a fresh
    clone gives every file the same mtime, so git's date decides. A renamed file keeps the day it was added."""
    repo = tmp_path / "repo"
    vault = make_vault(repo / "notes")
    (repo / "README.md").write_text("repo\n", encoding="utf-8")
    odd = vault / 'Docker/it\'s "quoted" 노트.md'
    shutil.copyfile(vault / "Docker/도커 볼륨.md", odd)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first", when="2025-12-01T23:30:00+00:00")  # 2025-12-02 in Seoul
    git(repo, "mv", "notes/Kubernetes/3.3 서비스.md", "notes/Kubernetes/3.3 서비스 정리.md")
    git(repo, "commit", "-qm", "rename", when="2026-01-10T10:00:00+09:00")
    fresh = vault / "Docker/새 노트.md"  # not committed yet: its mtime
    shutil.copyfile(vault / "Docker/도커 볼륨.md", fresh)
    for path in vault.rglob("*.md"):
        os.utime(path, (MTIME, MTIME))
    run_cli("vault", "add", str(vault), "--name", "study")
    result = run_cli("sync")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == SUMMARY.format(12, 0, 1, 0)
    dated = sorted(line for line in lines if "no first-study date" in line)
    assert dated == sorted(
        [
            f"  {vault / 'Docker/도커 볼륨.md'}: no first-study date; scheduled from the date git added it, 2025-12-02",
            f"  {odd}: no first-study date; scheduled from the date git added it, 2025-12-02",
            f"  {vault / 'Kubernetes/3.3 서비스 정리.md'}: no first-study date; scheduled from the date git added it, "
            "2025-12-02",
            f"  {fresh}: no first-study date; scheduled from its modification time, 2026-01-06",
        ]
    )
    by_path = notes_by_path(db_url)
    assert by_path["Docker/도커 볼륨.md"].first_study_from == "git"
    assert by_path["Docker/새 노트.md"].first_study_from == "mtime"


# --- write-back: the date, mirrors, the status block ------------------------------------------------------------


@freeze_time(NOW, tick=True)
def test_write_back_inserts_the_date_in_the_vaults_own_style(db_url: str, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vault = tmp_path / "v"
    (vault / "Notion").mkdir(parents=True)
    for rel in ("Notion/네트워크 기초.md", "Notion/리눅스 권한.md", "Docker/도커 볼륨.md"):
        (vault / rel).parent.mkdir(exist_ok=True)
        shutil.copyfile(DATA / rel, vault / rel)
        os.utime(vault / rel, (MTIME, MTIME))
    before = (vault / "Docker/도커 볼륨.md").read_bytes()
    run_cli("vault", "add", str(vault), "--write-back", "--no-status", "--name", "study")
    result = run_cli("sync")
    assert result.stdout.splitlines()[0] == SUMMARY.format(3, 1, 0, 0)
    after = (vault / "Docker/도커 볼륨.md").read_bytes()
    # One line inserted, in the key the vault's notes use; not another byte changed.
    assert after == b"---\n" + "⭕첫 학습날: 2026-01-06\n".encode() + before[4:]
    again = run_cli("sync")
    assert again.stdout.splitlines()[0] == SUMMARY.format(0, 0, 0, 3)
    assert (vault / "Docker/도커 볼륨.md").read_bytes() == after


@freeze_time(NOW, tick=True)
def test_mirrors_follow_done_and_undo_byte_for_byte(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault), "--write-back", "--no-status")
    run_cli("sync")
    path = vault / "Notion/네트워크 기초.md"
    before = path.read_bytes()
    done = run_cli("done", "네트워크", "--stage", "7")
    assert done.exit_code == 0, done.output
    expected = (
        before.decode()
        .replace("💛7일복습여부: false", "💛7일복습여부: true")
        .replace('"7일차복습여부1,0": "0"', '"7일차복습여부1,0": "1"')
        .replace('학습률: "0.3"', '학습률: "0.45"')
        .replace("진행바: 🟩🟩🟩⬜⬜⬜⬜⬜⬜⬜ 30%", "진행바: 🟩🟩🟩🟩⬜⬜⬜⬜⬜⬜ 45%")
    )
    assert path.read_text(encoding="utf-8") == expected
    assert run_cli("undo", "네트워크", "--stage", "7").exit_code == 0
    assert path.read_bytes() == before


@freeze_time(NOW, tick=True)
def test_the_status_block_under_the_reminders_heading(db_url: str, run_cli, vault: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-topic-8d2f7")
    monkeypatch.setenv("REMINDER_NTFY_TOKEN", "tk_secret_4471")
    run_cli("vault", "add", str(vault), "--write-back")
    first = run_cli("sync")
    assert first.exit_code == 0, first.output
    korean = (vault / "Notion/네트워크 기초.md").read_text(encoding="utf-8")
    block = korean.split("### 복습알림\n", 1)[1].split("<!-- /reminder:status -->\n", 1)[0]
    assert block == (
        "<!-- reminder:status -->\n"
        "- 다음 복습: 2024-11-07 (D+14), 451일 지남 (2026-02-01 기준)\n"
        "- 진행: 🟩🟩🟩⬜⬜⬜⬜⬜⬜⬜ 30%\n"
        "- 알림: 매일 08:00 (Asia/Seoul) ntfy 알림\n"
    )
    english = (vault / "English/binary search.md").read_text(encoding="utf-8")
    assert "## Review reminders\n<!-- reminder:status -->\n- Next review: 2025-11-16 (D+14), 77 days late" in english
    assert "- Reminders: every day at 08:00 (Asia/Seoul) by ntfy\n<!-- /reminder:status -->\n" in english
    for path in vault.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert "study-topic-8d2f7" not in text and "tk_secret" not in text and "sig=" not in text
        assert text.count("<!-- reminder:status -->") <= 1
    # Notes without the heading get no block; the template gets nothing.
    assert "reminder:status" not in (vault / "Notion/정렬 알고리즘.md").read_text(encoding="utf-8")
    assert "reminder:status" not in (vault / TEMPLATE).read_text(encoding="utf-8")
    assert run_cli("sync").stdout.splitlines()[0].startswith("study: 0 added, 0 updated, 0 renamed, 0 archived, 0 wri")
    # A review done elsewhere rewrites it; nothing outside the markers moves.
    run_cli("done", "네트워크")
    updated = (vault / "Notion/네트워크 기초.md").read_text(encoding="utf-8")
    assert "- 다음 복습: " in updated and "(추가 D+" in updated and "- 진행: 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%" in updated
    outside = korean.split("<!-- reminder:status -->")[0]
    for old, new in [
        ("💛7일복습여부: false", "💛7일복습여부: true"),
        ("💚14일복습여부: false", "💚14일복습여부: true"),
        ('"7일차복습여부1,0": "0"', '"7일차복습여부1,0": "1"'),
        ('학습률: "0.3"', '학습률: "0.6"'),
        ("🟩🟩🟩⬜⬜⬜⬜⬜⬜⬜ 30%", "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),
    ]:
        outside = outside.replace(old, new)
    assert updated.split("<!-- reminder:status -->")[0] == outside
    assert updated.split("<!-- /reminder:status -->")[1] == korean.split("<!-- /reminder:status -->")[1]
    # Deleted by hand: respected, recorded, not added again.
    path = vault / "Notion/네트워크 기초.md"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("<!-- reminder:status -->"), text.index("<!-- /reminder:status -->\n")
    path.write_text(text[:start] + text[end + len("<!-- /reminder:status -->\n") :], encoding="utf-8")
    run_cli("sync")
    run_cli("undo", "네트워크", "--stage", "14")
    assert "reminder:status" not in path.read_text(encoding="utf-8")
    assert notes_by_path(db_url)["Notion/네트워크 기초.md"].status_block == "removed"


@freeze_time(NOW, tick=True)
def test_no_status_writes_no_block(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault), "--write-back", "--no-status")
    run_cli("sync")
    assert not any("reminder:status" in p.read_text(encoding="utf-8") for p in vault.rglob("*.md"))


# --- templates folders --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "content", "why"),
    [
        (".obsidian/templates.json", {"folder": "Templates"}, "Obsidian's Templates plugin setting"),
        (".obsidian/plugins/templater-obsidian/data.json", {"templates_folder": "Templates/"}, "Templater's setting"),
    ],
)
@freeze_time(NOW, tick=True)
def test_obsidians_templates_setting_decides(run_cli, vault: Path, setting: str, content: dict, why: str) -> None:  # type: ignore[no-untyped-def]
    (vault / setting).parent.mkdir(parents=True, exist_ok=True)
    (vault / setting).write_text(json.dumps(content), encoding="utf-8")
    (vault / "Templates").mkdir()
    shutil.copyfile(DATA / TEMPLATE, vault / "Templates/notes.md")
    run_cli("vault", "add", str(vault))
    lines = run_cli("sync").stdout.splitlines()
    assert lines[1] == f"  templates folder Templates/ ({why})"
    assert f"  {vault / 'Templates/notes.md'}: not scheduled: a template (templates folder)" in lines
    # 05 - Template is an ordinary folder now: its file is a note made from a template.
    assert any(line.startswith(f"  {vault / TEMPLATE}: no first-study date") for line in lines)


@freeze_time(NOW, tick=True)
def test_vault_add_templates_overrides(run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("vault", "add", str(vault), "--templates", "Docker").exit_code == 0
    lines = run_cli("sync").stdout.splitlines()
    assert lines[1] == "  templates folder Docker/ (set with vault add --templates)"
    assert f"  {vault / 'Docker/도커 볼륨.md'}: not scheduled: a template (templates folder)" in lines
    bad = run_cli("vault", "add", str(vault / "Notion"), "--templates", "nope")
    assert bad.exit_code == 2 and "--templates: nope is not a folder inside the vault" in bad.stderr


# --- the vault leaving and coming back; rm ---------------------------------------------------------------------


@freeze_time(NOW, tick=True)
def test_vault_rm_then_add_restores_ids_history_and_snoozes(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    from reminder import notes

    run_cli("vault", "add", str(vault))
    run_cli("sync")
    run_cli("done", "kubernetes")  # the extra review, recorded from the CLI
    store = open_store(db_url)
    with store.write() as session:
        network = session.scalar(select(Note).where(Note.title == "네트워크 기초"))
        assert network is not None
        notes.snooze_notes(session, [network.id], datetime(2026, 2, 3).date())
    store.dispose()
    before = listed(run_cli)
    assert run_cli("vault", "rm", "study", "--yes").exit_code == 0
    assert listed(run_cli) == {}
    added = run_cli("vault", "add", str(vault))
    assert "10 notes removed with this folder earlier are back" in added.stdout
    result = run_cli("sync")
    assert result.stdout.splitlines()[0] == SUMMARY.format(0, 0, 1, 0).replace("0 updated", "10 updated")
    after = listed(run_cli)
    assert {t: n["id"] for t, n in after.items()} == {t: n["id"] for t, n in before.items()}
    assert after == before
    assert after["네트워크 기초"]["snoozed_until"] == "2026-02-03"


@freeze_time(NOW, tick=True)
def test_rm_forget_file(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault))
    run_cli("sync")
    plain = run_cli("rm", "해시 테이블", "--yes")
    assert plain.exit_code == 0
    assert "the next sync brings the note back while the file exists" in plain.stdout
    assert "1 added" in run_cli("sync").stdout
    forgot = run_cli("rm", "해시 테이블", "--yes", "--forget-file")
    assert "The sync ignores Notion/해시 테이블.md from now on." in forgot.stdout
    lines = run_cli("sync").stdout.splitlines()
    assert lines[0] == SUMMARY.format(0, 0, 2, 9)
    why = "not scheduled: its note was deleted with `reminder rm --forget-file`"
    assert f"  {vault / 'Notion/해시 테이블.md'}: {why}" in lines
    assert "해시 테이블" not in listed(run_cli)


# --- read-only -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["file", "folder"])
@freeze_time(NOW, tick=True)
def test_a_read_only_note_is_not_written_and_the_command_says_so(db_url: str, run_cli, vault: Path, what: str) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault), "--write-back", "--no-status")
    run_cli("sync")
    path = vault / "Notion/네트워크 기초.md"
    before = path.read_bytes()
    os.chmod(path if what == "file" else path.parent, 0o444 if what == "file" else 0o555)
    try:
        result = run_cli("done", "네트워크")
        assert result.exit_code == 1
        reason = "the note is read-only (mode 444)" if what == "file" else "is read-only (mode 555)"
        assert result.stderr.startswith("Error: not written back to the note: ") and reason in result.stderr
        assert "done D+7" in result.stdout  # the review itself is recorded
        assert path.read_bytes() == before
        synced = run_cli("sync")
        assert synced.exit_code == 1 and "not written back" in synced.stderr
        assert path.read_bytes() == before
    finally:
        os.chmod(path if what == "file" else path.parent, 0o644 if what == "file" else 0o755)


@freeze_time(NOW, tick=True)
def test_the_service_log_names_each_file_not_scheduled(db_url: str, run_cli, vault: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import App
    from reminder.cli.run import _vault_sync

    (vault / "Notion/깨진 노트.md").write_text("---\n1일후 복습: maybe\n---\n", encoding="utf-8")
    run_cli("vault", "add", str(vault))
    app = App({"database_url": db_url, "timezone": None}, None)
    with caplog.at_level("INFO", logger="reminder.runner"):
        _vault_sync(app)(datetime(2026, 2, 1).date())
    text = caplog.text
    assert "event=sync vault=study added=10" in text and "skipped=1 not_scheduled=1" in text
    assert "event=sync_skipped" in text and "깨진 노트.md:2: 1일후 복습 should be true or false" in text
    assert "event=sync_file" in text and "필기 템플릿.md: not scheduled: a template" in text
    assert "도커 볼륨.md: no first-study date; scheduled from its modification time, 2026-01-06" in text


@freeze_time(NOW, tick=True)
def test_a_note_open_for_writing_elsewhere_waits_for_the_next_sync(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault), "--write-back", "--no-status")
    run_cli("sync")
    path = vault / "Notion/네트워크 기초.md"
    before = path.read_bytes()
    with open(path, "ab") as held:  # a program keeping the note open for writing
        result = run_cli("done", "네트워크")
        assert result.exit_code == 0
        assert "not written back yet:" in result.stdout and "is open for writing in another program" in result.stdout
        assert path.read_bytes() == before
        held.write("메모\n".encode())
    synced = run_cli("sync")
    assert synced.exit_code == 0 and "1 written back" in synced.stdout
    after = path.read_text(encoding="utf-8")
    assert after.endswith("메모\n") and "💛7일복습여부: true" in after and "💚14일복습여부: true" in after


@freeze_time(NOW, tick=True)
def test_the_syncs_lines_about_each_file_speak_korean(db_url: str, run_cli, vault: Path) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import use_language

    (vault / "깨진 노트.md").write_text("---\n❕첫 학습날: 2026-13-01\n❕1일복습여부: false\n---\n", encoding="utf-8")
    use_language("ko")
    assert run_cli("vault", "add", str(vault)).exit_code == 0
    first = run_cli("sync")
    assert first.exit_code == 1
    assert first.stdout.splitlines() == [
        "study: 추가 10, 갱신 0, 이름 변경 0, 보관 처리 0, 노트에 기록 0, 건너뜀 1, 일정 없음 1, 그대로 0",
        "  템플릿 폴더 05 - Template/ (폴더 이름으로 판단)",
        *(
            f"  {vault / rel}: 첫 학습날이 없어 파일을 마지막으로 고친 날인 2026-01-06부터 복습 일정을 잡았습니다"
            for rel in FROM_TEMPLATE
        ),
        f"  {vault / TEMPLATE}: 일정 없음: 템플릿입니다 (템플릿 폴더)",
    ]
    # The line to fix, in the learner's words; the date the file holds is quoted as written.
    assert first.stderr.splitlines() == [
        f"{vault / '깨진 노트.md'}:2: ❕첫 학습날 '2026-13-01'은(는) 실제 날짜와 시각이 아닙니다"
    ]
    # The same report read by the log (and by English speakers) stays English.
    use_language("en")
    again = run_cli("sync")
    assert again.stderr.splitlines() == [
        f"{vault / '깨진 노트.md'}:2: ❕첫 학습날 '2026-13-01' is not a real date and time"
    ]

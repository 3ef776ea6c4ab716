"""`reminder vault ...` and `reminder sync` through click, on a real store and real vault folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED_NOTE
from freezegun import freeze_time

import reminder.cli.vault as cli_vault

SEED_REL = "Kubernetes/kubernetes-3.2-objects.md"


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    (root / "Kubernetes").mkdir(parents=True)
    (root / SEED_REL).write_bytes(SEED_NOTE.read_bytes())
    return root


@freeze_time("2024-10-27 05:01:00")  # 14:01 in Seoul, the seed's 오늘1
def test_seed_note_synced_and_shown(any_db_url: str, run_cli, vault_dir: Path) -> None:  # type: ignore[no-untyped-def]
    added = run_cli("vault", "add", str(vault_dir))
    assert added.exit_code == 0, added.output
    assert "Added vault study" in added.output and "read-only" in added.output
    result = run_cli("sync")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "study: 1 added, 0 updated, 0 renamed, 0 archived, 0 written back, 0 skipped, 0 not scheduled; 0 unchanged\n"
    )
    shown = _json(run_cli("show", "kubernetes", "--json"))
    assert shown["first_studied_on"] == "2024-07-07"
    assert (shown["subject"], shown["source"], shown["pages"]) == (
        "Kubernetes",
        "컨테이너 인프라 환경 구축을 위한 쿠버네티스 도커",
        "p93~",
    )
    assert [(s["stage"], s["done_on"] is not None) for s in shown["stages"]] == [
        (1, True),
        (4, True),
        (7, True),
        (14, True),
    ]
    assert shown["long_term"] is False
    assert shown["progress"] == 60
    assert shown["progress_bar"] == "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"
    assert shown["link"] == "obsidian://open?vault=study&file=Kubernetes%2Fkubernetes-3.2-objects"
    # Day 112: due for the extra review, like `reminder add` of the same note.
    due = _json(run_cli("due", "--json"))["notes"]
    assert [(d["stage"], d["extra"], d["days_late"]) for d in due] == [(104, True, 8)]
    again = run_cli("sync")
    assert again.stdout.endswith("0 skipped, 0 not scheduled; 1 unchanged\n")


def test_vault_add_list_rm(db_url: str, run_cli, vault_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "No vaults yet" in run_cli("vault", "list").output
    assert run_cli("vault", "add", str(vault_dir), "--name", "공부 노트", "--write-back").exit_code == 0
    listed = run_cli("vault", "list").output.splitlines()
    assert listed[0].split() == ["NAME", "PATH", "WRITE-BACK", "NOTES", "LAST", "SYNC"]
    assert listed[1].split()[:5] == ["공부", "노트", str(vault_dir), "yes", "0"] and listed[1].endswith("never")
    run_cli("sync")
    assert run_cli("vault", "list").output.splitlines()[1].split()[4] == "1"
    synced = (vault_dir / SEED_REL).read_bytes()  # with its status block under 복습알림
    assert b"<!-- reminder:status -->" in synced

    duplicate = run_cli("vault", "add", str(tmp_path), "--name", "공부 노트")
    assert duplicate.exit_code == 2
    assert duplicate.stderr == "Error: a vault named '공부 노트' is already registered; pick another name with --name\n"
    missing = run_cli("vault", "add", str(tmp_path / "nope"))
    assert (missing.exit_code, missing.stderr) == (2, f"Error: vault folder {tmp_path / 'nope'} does not exist\n")

    unknown = run_cli("vault", "rm", "study")
    assert (unknown.exit_code, unknown.stderr) == (2, "Error: no vault named 'study' (registered: 공부 노트)\n")
    declined = run_cli("vault", "rm", "공부 노트", input="n\n")
    assert declined.exit_code == 1 and "archive its 1 note?" in declined.output
    removed = run_cli("vault", "rm", "공부 노트", input="y\n")
    assert removed.exit_code == 0 and "Removed vault 공부 노트; 1 note archived." in removed.output
    assert _json(run_cli("list", "--json")) == []
    archived = _json(run_cli("list", "--all", "--json"))
    assert [(n["title"], n["archived"], n["progress"]) for n in archived] == [("kubernetes-3.2-objects", True, 60)]
    assert (vault_dir / SEED_REL).read_bytes() == synced


@freeze_time("2024-10-27 05:01:00")
def test_bad_files_exit_1_and_the_rest_syncs(db_url: str, run_cli, vault_dir: Path) -> None:  # type: ignore[no-untyped-def]
    broken = vault_dir / "깨진 노트.md"
    broken.write_text("---\n❕첫 학습날: 2024-07-07\n❕과목: a: b\n---\n", encoding="utf-8")
    future = vault_dir / "future.md"
    future.write_text("---\nfirst_study: 2024-11-01\n---\n", encoding="utf-8")
    run_cli("vault", "add", str(vault_dir))
    result = run_cli("sync")
    assert result.exit_code == 1
    assert result.stdout == (
        "study: 1 added, 0 updated, 0 renamed, 0 archived, 0 written back, 2 skipped, 0 not scheduled; 0 unchanged\n"
    )
    assert sorted(result.stderr.splitlines()) == sorted(
        [
            f"{broken}:3: the frontmatter is not valid YAML: mapping values are not allowed in this context",
            f"{future}:2: first-study date 2024-11-01 is after today (2024-10-27): "
            "register a note once it has been studied",
        ]
    )
    assert [n["title"] for n in _json(run_cli("list", "--json"))] == ["kubernetes-3.2-objects"]


def test_missing_vault_folder_exits_2_with_one_line(db_url: str, run_cli, vault_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault_dir))
    assert run_cli("sync").exit_code == 0
    vault_dir.rename(tmp_path / "elsewhere")
    result = run_cli("sync")
    assert result.exit_code == 2
    assert result.stderr == f"Error: vault study: folder {vault_dir} does not exist\n"
    assert result.stdout == ""
    assert len(_json(run_cli("list", "--json"))) == 1  # nothing archived


def test_dry_run_prints_what_would_change(db_url: str, run_cli, vault_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run_cli("vault", "add", str(vault_dir), "--write-back")
    result = run_cli("sync", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.startswith("study (dry run, nothing changed): would be 1 added, 0 updated")
    assert _json(run_cli("list", "--json")) == []
    assert run_cli("vault", "list").output.splitlines()[1].endswith("never")


def test_sync_without_vaults(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sync")
    assert (result.exit_code, result.output) == (0, "No vaults yet. Add one with: reminder vault add PATH\n")


def test_no_progress_bar_when_stderr_is_not_a_terminal(  # type: ignore[no-untyped-def]
    db_url: str, run_cli, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_vault, "PROGRESS_MIN_FILES", 2)
    for i in range(5):
        (vault_dir / f"n{i}.md").write_bytes(SEED_NOTE.read_bytes())
    run_cli("vault", "add", str(vault_dir))
    result = run_cli("sync")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "6 added" in result.stdout


@freeze_time("2024-10-27 05:01:00")
def test_a_copy_left_by_an_interrupted_write_back_is_shown_by_sync_and_status(  # type: ignore[no-untyped-def]
    db_url: str, run_cli, vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reminder.cli import use_language

    run_cli("vault", "add", str(vault_dir), "--write-back")
    assert run_cli("sync").exit_code == 0
    note = vault_dir / SEED_REL
    # What a crash between writing the note and deleting the copy of the learner's bytes leaves beside it.
    copy = note.with_name(f".{note.name}.reminder-backup")
    copy.write_bytes(b"the learner's bytes, as they were before the write-back\n")
    shown = f"{copy}: left by an interrupted write-back of {note}; that note is not written back until you look"

    done = run_cli("done", "kubernetes")
    assert done.exit_code == 1 and "is left from an interrupted write-back" in done.stderr
    synced = run_cli("sync")
    # The sync, too, leaves the note unwritten (the press is pending for its file) and says why.
    assert synced.exit_code == 1 and "is left from an interrupted write-back" in synced.stderr
    assert f"  {shown} at the copy and delete it\n" in synced.stdout
    assert run_cli("sync").stdout.count(shown) == 1  # said at every sync until the learner deals with it
    status = run_cli("status")
    assert status.exit_code == 0
    assert "write-back copies:  1\n" in status.output
    assert shown in status.output
    assert _json(run_cli("status", "--json"))["write_back_copies"] == [str(copy)]

    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    use_language("ko")
    korean = f"{copy}: {note}에 기록하다 중단되어 남은 사본입니다. 사본을 확인하고 지울 때까지 그 노트에는 기록하지 "
    korean += "않습니다"
    assert f"  {korean}\n" in run_cli("sync").stdout
    status_ko = run_cli("status").output
    assert "노트 기록 사본:" in status_ko and korean in status_ko

    assert copy.read_bytes() == b"the learner's bytes, as they were before the write-back\n"  # never touched
    copy.unlink()
    use_language("en")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert "interrupted write-back" not in run_cli("sync").stdout
    assert "write-back copies" not in run_cli("status").output
    assert _json(run_cli("status", "--json"))["write_back_copies"] == []

"""Write-back racing other programs that write the note: another process edits it at the worst moments (on the
file's inotify events: reminder's temporary file appearing, being written, the swap), and a writer appends to it
continuously. Whatever happens, no byte the other program wrote is lost and a deleted note stays deleted; the
write-back may lose, and then the note is exactly the other program's version."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import SEED_NOTE

from reminder.vault import files
from reminder.vault.files import Outcome, read_file, replace_if_unchanged
from reminder.vault_format import set_flag

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify, renameat2 and leases are Linux's")

WRITER = str(Path(__file__).with_name("race_writer.py"))
MODES = ("append", "inplace", "rename", "delete")
# The events a write-back causes in the note's folder: the note opened, its backup created, written, closed and
# deleted, the note written.
EVENTS = ("open", "create", "modify", "close", "delete")
# Swapping instead: the temporary file created and written, the swap, the displaced file opened to be checked.
SWAP_EVENTS = ("create", "modify", "moved", "open", "close")


def base_note() -> bytes:
    """The learner's note with D+14 not ticked, ending with a line break (the writers append lines)."""
    return SEED_NOTE.read_bytes().replace("💚14일복습여부: true".encode(), "💚14일복습여부: false".encode()) + b"\n"


@pytest.fixture
def editor(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "v"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, WRITER, "editor", str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield folder, proc
    proc.stdin.close()  # type: ignore[union-attr]
    proc.wait(timeout=10)


@pytest.mark.parametrize("leases", [True, False], ids=["lease", "no-lease-swap"])
def test_an_editor_on_the_file_events_never_loses_a_byte(editor, leases: bool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """100 trials, each a different edit (append, rewrite in place, save by rename, delete) fired on a different
    event of the write-back. ``no-lease-swap``: a file system without leases, where the note is swapped."""
    folder, proc = editor
    events = EVENTS if leases else SWAP_EVENTS
    if not leases:
        monkeypatch.setattr(files, "_under_lease", lambda *args: None)
    before = base_note()
    after = set_flag(before, 14, True)
    outcomes: Counter[str] = Counter()
    for trial in range(100):
        mode, event = MODES[trial % len(MODES)], events[(trial // len(MODES)) % len(events)]
        name = f"note-{trial}.md"
        path = folder / name
        path.write_bytes(before)
        got = read_file(str(path))
        marker = f"edited-by-the-other-program-{trial}"
        proc.stdin.write(f"{name} {mode} {event} {marker}\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "armed"
        result = replace_if_unchanged(str(path), got, after, dry_run=False)
        assert proc.stdout.readline().strip() in ("done", "late")
        outcomes[f"{mode}:{result.outcome.value}"] += 1
        line = marker.encode() + b"\n"
        if mode == "delete":
            assert not path.exists(), (trial, event, result)  # a deleted note stays deleted
        else:
            final = path.read_bytes()
            kept = [p.read_bytes() for p in folder.glob(f".{name}.reminder-kept-*")]
            # The other program's bytes are all there: on top of the learner's note as read (the write-back
            # lost) or on top of the note as written back (it wrote after the swap, into the written file).
            assert final in (before + line, after + line) or any(k == before + line for k in kept), (
                trial,
                mode,
                event,
                result,
            )
            if result.outcome is Outcome.WRITTEN:
                assert final == after + line
        leftovers = [p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and ".tmp" in p.name]
        assert leftovers == []
    print(sorted(outcomes.items()))
    # Some write-backs went through (the editor wrote after them, into the written note), some lost.
    assert sum(n for key, n in outcomes.items() if key.endswith(":written")) > 0
    assert sum(n for key, n in outcomes.items() if not key.endswith(":written")) > 0


@pytest.mark.parametrize("how", ["keep", "reopen"])
def test_a_writer_appending_all_along_never_loses_a_line(tmp_path: Path, how: str) -> None:
    """A log-like writer appends a numbered line every 2 ms, for 3 s, while the flag is written back over and
    over. ``keep``: one descriptor held open the whole time (its bytes go to the inode it opened, whatever is at
    the path); ``reopen``: opened for each line."""
    path = tmp_path / "note.md"
    path.write_bytes(base_note())
    proc = subprocess.Popen(
        [sys.executable, WRITER, "appender", str(path), "3", "2", how], stdout=subprocess.PIPE, text=True
    )
    outcomes: Counter[Outcome] = Counter()
    done = True
    start = len(path.read_bytes())
    while len(path.read_bytes()) == start:  # the writer has started (in keep mode: its descriptor is open)
        pass
    lines_when_written: list[int] = []
    while proc.poll() is None:
        got = read_file(str(path))
        done = not done
        outcome = replace_if_unchanged(str(path), got, set_flag(got.data, 14, done), dry_run=False).outcome
        outcomes[outcome] += 1
        if outcome is Outcome.WRITTEN:
            lines_when_written.append(got.data.count(b"\nline "))
    written = int(proc.stdout.read())  # type: ignore[union-attr]
    data = path.read_bytes()
    lines = [line for line in data.split(b"\n") if line.startswith(b"line ")]
    assert lines == [f"line {n:06d}".encode() for n in range(written)]
    assert sum(outcomes.values()) > 40
    if how == "keep":
        # While its descriptor is open every write-back loses, and says why (BUSY); one goes through only once
        # the writer has closed it, with every line in.
        assert outcomes[Outcome.BUSY] > 0
        assert all(count == written for count in lines_when_written)
    else:
        assert outcomes[Outcome.WRITTEN] > 0


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 KiB tmpfs: a file system that fills up (mounting needs root, as CI runs)."""
    import os

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path, leave_pages: int) -> None:
    """Fill ``disk`` with page-sized files until only ``leave_pages`` pages are free."""
    import os

    for i in range(10_000):
        if os.statvfs(disk).f_bavail <= leave_pages:
            return
        (disk / f".fill{i}").write_bytes(b"x" * 4096)


@pytest.mark.parametrize("free_pages", [0, 1], ids=["no-room-for-the-copy", "room-for-the-copy-only"])
def test_a_full_disk_never_costs_the_learner_a_byte(small_disk: Path, free_pages: int) -> None:
    """A write-back that grows the note on a full disk: pwrite wrote what fitted and the rest of the note (the
    learner's text) became NUL bytes, reported as written, its copy deleted. Now it is refused with the disk's
    error, the note as the learner left it, and nothing left behind that would block the next write-back."""
    note = small_disk / "note.md"
    old = base_note() + "본문 끝\n".encode() * 300  # a little over one page
    note.write_bytes(old)
    got = read_file(str(note))
    new = set_flag(old, 14, True).replace("본문 끝".encode(), "본문 끝!".encode(), 1) + b"x" * 4096
    fill(small_disk, free_pages)
    with pytest.raises(OSError, match="No space left"):
        replace_if_unchanged(str(note), got, new, dry_run=False)
    assert note.read_bytes() == old
    assert sorted(p.name for p in small_disk.iterdir() if not p.name.startswith(".fill")) == ["note.md"]
    for p in small_disk.glob(".fill*"):
        p.unlink()
    assert replace_if_unchanged(str(note), read_file(str(note)), new, dry_run=False).outcome is Outcome.WRITTEN
    assert note.read_bytes() == new


def test_an_error_checking_the_displaced_note_keeps_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Swapping (no leases): the note an editor had just appended to is swapped out, and reading it back to
    check it fails (an I/O error). The clean-up then deleted the swapped-out file, the learner's newest bytes
    with it; now it is swapped back to the note's path and the error is raised."""
    import errno

    monkeypatch.setattr(files, "_under_lease", lambda *args: None)  # a file system without leases
    (tmp_path / "v").mkdir()
    note = tmp_path / "v" / "note.md"
    old = base_note()
    note.write_bytes(old)
    got = read_file(str(note))
    new = set_flag(old, 14, True)
    real_exchange = files.exchange

    def editor_appends_first(a: str, b: str) -> None:
        with open(b, "ab") as fh:  # the learner's editor saves a line just before the swap
            fh.write("마지막 줄\n".encode())
        real_exchange(a, b)

    def unreadable(fd: int, expected: files.FileRead) -> bool:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(files, "exchange", editor_appends_first)
    monkeypatch.setattr(files, "_holds", unreadable)
    with pytest.raises(OSError, match="Input/output error"):
        replace_if_unchanged(str(note), got, new, dry_run=False)
    assert note.read_bytes() == old + "마지막 줄\n".encode()
    assert [p.name for p in note.parent.iterdir()] == ["note.md"]

"""The vault's files: walking a vault, reading a note, replacing a file only if it did not change, and the
fields a note file gives its store row."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import date
from typing import Any

from reminder import notes, vault_format
from reminder.notes import NoteError
from reminder.vault_format import NoteFormatError, ParsedNote, obsidian_link

MAX_NOTE_BYTES = 1_000_000
WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class _File:
    rel: str  # vault-relative, "/"-separated: the note's identity
    path: str  # absolute, under the vault's real path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Read:
    data: bytes
    size: int
    mtime_ns: int
    mode: int
    uid: int
    gid: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _walk(root: str, skipped: list[str]) -> list[_File]:
    """Every candidate note under ``root`` (a real path), in no particular order."""
    files: list[_File] = []
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            it = os.scandir(folder)
        except OSError as exc:
            if folder == root:
                raise NoteError(f"cannot read vault folder {root}: {exc.strerror}") from None
            skipped.append(f"{folder}:1: cannot read the folder: {exc.strerror}")
            continue
        with it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, f"{prefix}{name}/"))
                        continue
                    if not name.lower().endswith(".md") or not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    skipped.append(f"{entry.path}:1: cannot read the file: {exc.strerror}")
                    continue
                rel = prefix + name
                try:
                    rel.encode("utf-8")
                except UnicodeEncodeError:
                    shown = os.fsencode(entry.path).decode("utf-8", "backslashreplace")
                    skipped.append(f"{shown}:1: the file name is not UTF-8 (rename it)")
                    continue
                files.append(_File(rel, entry.path, st.st_size, st.st_mtime_ns))
    return files


def _read(path: str, max_bytes: int = MAX_NOTE_BYTES) -> _Read:
    """The file's bytes and the fingerprint they were read with. Never follows a symlink (O_NOFOLLOW)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NoteFormatError(1, "not a regular file")
        if st.st_size > max_bytes:
            raise NoteFormatError(1, f"the file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for a note")
        # Plain os.read: a buffered file object per note costs more than the read itself in a large vault. A
        # short read is the end of the file; a full one means it grew since fstat, so read on up to the bound.
        data = os.read(fd, st.st_size + 1)
        while st.st_size < len(data) <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise NoteFormatError(1, f"the file is over the {max_bytes:,}-byte limit for a note")
    return _Read(data, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)


def _replace_if_unchanged(path: str, expected: _Read, new: bytes, *, dry_run: bool) -> tuple[bool, _Read]:
    """Write ``new`` over ``path`` if the file still is ``expected``: (True, the written file). Otherwise leave
    it and return (False, what is there now), so the caller merges the newer content instead of losing it."""
    current = _read(path)
    if (current.size, current.mtime_ns, current.data) != (expected.size, expected.mtime_ns, expected.data):
        return False, current
    if dry_run:
        return True, current
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(current.mode))
        with contextlib.suppress(OSError):
            # A service running as another user (root in a container) must not hand the note to itself.
            os.chown(tmp, current.uid, current.gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    st = os.stat(path, follow_symlinks=False)
    return True, _Read(new, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)


def _field_line(data: bytes, wanted: str | int | None) -> int:
    """The 1-based line of the frontmatter key for ``wanted`` (a vault_format field name), for skip messages."""
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[1:], start=2):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if text.rstrip() == "---":
            break
        key = text.split(":", 1)[0].strip().strip("\"'")
        kind = vault_format._classify(key) if key else None
        if kind is not None and kind[0] == wanted:
            return number
    return 2


_LIMITS = notes.FIELD_LIMITS  # one definition of the column limits, shared with the CLI


def _problem(rel: str, data: bytes, parsed: ParsedNote, today: date) -> tuple[int, str] | None:
    """Why the store cannot take this note as it is, with the line to fix; None when it can."""
    if parsed.first_studied_on > today:
        return (
            _field_line(data, vault_format.FIRST_STUDY),
            f"first-study date {parsed.first_studied_on.isoformat()} is after today ({today.isoformat()})",
        )
    for name, limit in _LIMITS.items():
        value = getattr(parsed, name)
        if value is None:
            continue
        if len(value) > limit:
            return _field_line(data, name), f"{name} is longer than {limit} characters"
        # YAML escapes ("\0", "\ud800") can spell what no database column takes.
        if "\x00" in value or _unencodable(value):
            return _field_line(data, name), f"{name} holds a NUL or an unpaired surrogate escape"
    if not _title(rel):
        return 1, f"the file name makes an empty title or one over {notes.TITLE_MAX} characters"
    return None


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _title(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    title = " ".join(name[:-3].split())
    return title if 0 < len(title) <= notes.TITLE_MAX else None


def _fields(vault_name: str, rel: str, parsed: ParsedNote) -> dict[str, Any]:
    return {
        "title": _title(rel),
        "link": obsidian_link(vault_name, rel),
        "first_studied_on": parsed.first_studied_on,
        "subject": parsed.subject,
        "source": parsed.source,
        "pages": parsed.pages,
        "level": parsed.level,
    }

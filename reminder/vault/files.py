"""The vault's files: walking a vault, reading a note, replacing a file only if nothing else wrote it, and the
fields a note file gives its store row."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import enum
import errno
import fcntl
import functools
import hashlib
import os
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from reminder import checks, vault_format
from reminder.errors import NoteError, VaultError
from reminder.i18n import Phrase
from reminder.vault_format import NoteFormatError, ParsedNote, obsidian_link, title_from_path

MAX_NOTE_BYTES = 1_000_000
WRITE_ATTEMPTS = 3
SETTLE_SECONDS = 0.002


@dataclass(frozen=True, slots=True)
class VaultFile:
    rel: str  # vault-relative, "/"-separated: the note's identity
    path: str  # absolute, under the vault's real path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileRead:
    """A note's bytes and the fingerprint of the inode they were read from."""

    data: bytes
    size: int
    mtime_ns: int
    mode: int
    uid: int
    gid: int
    ino: int = 0
    digest: str = ""  # the bytes' sha256, kept when the bytes are let go (without_data)

    @property
    def sha256(self) -> str:
        return self.digest or hashlib.sha256(self.data).hexdigest()

    def without_data(self, digest: str | None = None) -> FileRead:
        """The same read without its bytes (a sync need not hold every file of a large vault), its hash kept:
        ``digest`` when the caller already has it (the parse hashed the bytes), else hashed now."""
        return dataclasses.replace(self, data=b"", digest=digest or self.sha256)

    @classmethod
    def of(cls, data: bytes, st: os.stat_result) -> FileRead:
        return cls(data, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid, st.st_ino)


BACKUP_SUFFIX = ".reminder-backup"


def backup_path(path: str) -> str:
    """Where replace_if_unchanged keeps the learner's bytes of ``path`` while it writes it: a hidden file beside
    the note, ``.NAME.reminder-backup``, which only a crash leaves behind."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}{BACKUP_SUFFIX}")


def backed_up_note(backup: str) -> str:
    """The note a leftover ``backup_path`` copy belongs to."""
    folder, name = os.path.split(backup)
    return os.path.join(folder, name[1 : -len(BACKUP_SUFFIX)])


def walk_vault(root: str, skipped: list[str], backups: list[str] | None = None) -> list[VaultFile]:
    """Every candidate note under ``root`` (a real path), in no particular order. ``backups`` collects the paths
    of write-back copies a crash left (backup_path): each blocks the write-back of its note until the learner
    looks at it, so the sync says so rather than skip it with the other hidden files."""
    files: list[VaultFile] = []
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            it = os.scandir(folder)
        except OSError as exc:
            if folder == root:
                raise VaultError("cannot read vault folder {root}: {reason}", root=root, reason=exc.strerror) from None
            skipped.append(Phrase("{path}:1: cannot read the folder: {reason}", path=folder, reason=exc.strerror))
            continue
        with it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    if backups is not None and name.endswith(BACKUP_SUFFIX):
                        backups.append(entry.path)
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
                    skipped.append(
                        Phrase("{path}:1: cannot read the file: {reason}", path=entry.path, reason=exc.strerror)
                    )
                    continue
                rel = prefix + name
                try:
                    rel.encode("utf-8")
                except UnicodeEncodeError:
                    shown = os.fsencode(entry.path).decode("utf-8", "backslashreplace")
                    skipped.append(Phrase("{path}:1: the file name is not UTF-8 (rename it)", path=shown))
                    continue
                files.append(VaultFile(rel, entry.path, st.st_size, st.st_mtime_ns))
    return files


def read_file(path: str, max_bytes: int = MAX_NOTE_BYTES) -> FileRead:
    """The file's bytes and the fingerprint they were read with. Never follows a symlink (O_NOFOLLOW)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NoteFormatError(1, Phrase("not a regular file"))
        if st.st_size > max_bytes:
            raise NoteFormatError(
                1,
                Phrase(
                    "the file is {size:,} bytes, over the {limit:,}-byte limit for a note",
                    size=st.st_size,
                    limit=max_bytes,
                ),
            )
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
        raise NoteFormatError(1, Phrase("the file is over the {limit:,}-byte limit for a note", limit=max_bytes))
    return FileRead(data, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid, st.st_ino)


class WriteRefused(VaultError):
    """A note reminder must not write: the file or its folder is read-only, or the file system cannot swap two
    files atomically. ``str()`` says which, in a phrase ("the note is read-only")."""


class Outcome(enum.Enum):
    WRITTEN = "written"
    CHANGED = "changed"  # the file changed since it was read: merge the newer content (``Replace.now``)
    GONE = "gone"  # the file was deleted: it stays deleted
    BUSY = "busy"  # another program holds it open for writing: try again at the next sync
    KEPT = "kept"  # a race with two other writers: the learner's versions are both on disk (``Replace.kept``)


@dataclass(frozen=True, slots=True)
class Replace:
    outcome: Outcome
    now: FileRead | None = None  # the file as written (WRITTEN) or as found (CHANGED)
    kept: str | None = None  # KEPT: where the displaced version of the learner's file was kept


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange(a: str, b: str) -> None:
    """Swap the files at ``a`` and ``b`` in one step (Linux renameat2 RENAME_EXCHANGE): neither name is ever
    missing, and whatever was at ``b`` at that instant ends up at ``a``, not overwritten."""
    fn = _renameat2()
    if fn is None:
        raise WriteRefused("this system cannot swap two files atomically (renameat2), so notes are not written")
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        raise WriteRefused("the vault's file system cannot swap two files atomically, so notes are not written")
    raise OSError(err, os.strerror(err), b)


def open_for_writing(dev: int, ino: int) -> bool:
    """Whether a process we can see holds this inode open for writing (Linux /proc; False where there is none).
    Processes of other users are invisible to an unprivileged service: see the write-back notes in the README."""
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return False
    for pid in pids:
        base = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(base)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"{base}/{fd}")
                if st.st_ino != ino or st.st_dev != dev:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    flags = next((int(line.split()[1], 8) for line in info if line.startswith("flags:")), 0)
            except (OSError, ValueError):
                continue
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                return True
    return False


def check_writable(path: str, got: FileRead) -> None:
    """WriteRefused when the learner made the note or its folder read-only (mode bits, whoever we run as: a
    service running as root must not overrule a chmod) or we may not write them."""
    if not got.mode & 0o222 or not os.access(path, os.W_OK):
        raise WriteRefused("the note is read-only (mode {mode:o})", mode=stat.S_IMODE(got.mode))
    folder = os.path.dirname(path)
    try:
        mode = os.stat(folder).st_mode
    except OSError as exc:
        raise WriteRefused("its folder cannot be read: {reason}", reason=exc.strerror) from None
    if not mode & 0o222 or not os.access(folder, os.W_OK | os.X_OK):
        raise WriteRefused("its folder {folder} is read-only (mode {mode:o})", folder=folder, mode=stat.S_IMODE(mode))


def replace_if_unchanged(path: str, expected: FileRead, new: bytes, *, dry_run: bool) -> Replace:
    """Put ``new`` at ``path`` only if the file still holds exactly ``expected`` (the read ``new`` was computed
    from), so that another writer can make this write lose but never make the learner lose a byte.

    The way, and why each interleaving is safe (Linux):
    1. The note is opened and a write lease taken on it. The kernel grants a write lease only while no other
       process has the file open, and while it is held anyone opening the file (to read, write or truncate)
       waits until we let go. Refused because the file is open elsewhere (an editor, a writer appending through
       a descriptor it keeps): BUSY, try again at the next sync, nothing touched.
    2. Under the lease, the open file must still be the inode read and hold exactly the bytes read (size, mtime,
       content); otherwise CHANGED: the caller merges the newer content. No one can write it from here on: there
       is no other descriptor, and new ones wait.
    3. The learner's bytes are first copied to a hidden file beside the note (fsynced), then ``new`` is written
       into the note in place (same inode: a writer that opens it after us appends to what we wrote) and
       fsynced, and the copy is deleted. A crash in between leaves the copy, ``.NAME.reminder-backup``.
    4. Before letting go, the path must still name this inode: an editor that saved by rename meanwhile (rename
       does not wait for leases) put its own file there, and ours went to the replaced inode: CHANGED, its save
       stands. A note deleted meanwhile: GONE, and nothing is recreated.
    What is left: writes through a shared memory map made before the lease, and writers on another machine
    (network file systems, where leases are not offered). Where the kernel refuses a lease for a reason other
    than an open file (a file system without leases, a note owned by another user without CAP_LEASE), the note
    is swapped instead (``_by_swap``), which checks after the fact: a little weaker, see there.
    """
    check_writable(path, expected)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Replace(Outcome.GONE)
    if (st.st_ino, st.st_size, st.st_mtime_ns) != (expected.ino, expected.size, expected.mtime_ns):
        return _now(path)
    if dry_run:
        return Replace(Outcome.WRITTEN, expected)
    done = _in_place(path, expected, new)
    return done if done is not None else _by_swap(path, expected, new)


def _now(path: str) -> Replace:
    try:
        return Replace(Outcome.CHANGED, read_file(path))
    except FileNotFoundError:
        return Replace(Outcome.GONE)


def _in_place(path: str, expected: FileRead, new: bytes) -> Replace | None:
    """Steps 1-4 of replace_if_unchanged; None when the kernel offers no lease here."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return Replace(Outcome.GONE)
    except PermissionError:
        raise WriteRefused("the note cannot be opened for writing") from None
    try:
        done = _under_lease(fd, path, expected, new)
    finally:
        os.close(fd)  # and with it the lease: whoever waits to open the note goes on, and finds ``new``
    # Read again only now: our own open of the note would wait for our own lease to go.
    return _now(path) if isinstance(done, _Reread) else done


class _Reread:
    """What _under_lease answers when the note must be read again once the lease is gone."""


_REREAD = _Reread()


def _under_lease(fd: int, path: str, expected: FileRead, new: bytes) -> Replace | _Reread | None:
    if os.fstat(fd).st_ino != expected.ino:
        return _REREAD
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)  # a lease break signals us: SIGURG is ignored
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError as exc:
        return Replace(Outcome.BUSY) if exc.errno == errno.EAGAIN else None
    if not _holds(fd, expected):
        return _REREAD
    folder = os.path.dirname(path)
    backup = backup_path(path)
    try:
        with _creating(folder), open(backup, "xb") as fh:
            try:
                fh.write(expected.data)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                os.unlink(backup)  # a full disk: the note is untouched, and a partial copy must not block the next try
                raise
    except FileExistsError:
        raise WriteRefused(
            "{backup} is left from an interrupted write-back: look at it, then delete it", backup=backup
        ) from None
    # Two fsyncs per note, and they stay per note: they are most of a large write-back's time (10k status blocks),
    # but each guards one crash. Without the first, a crash while the note is half overwritten finds neither the
    # old bytes (the copy not yet on disk) nor the new ones. Without the second, the copy could go before the new
    # bytes are on disk. Gathering them for many notes (every copy, one sync of the file system, every note, one
    # sync, every unlink) would keep that order, but only if each note stayed leased from its check to its
    # overwrite; holding thousands of leases that long makes the learner's editor wait for the kernel's
    # lease-break timeout, after which the kernel takes the lease away and the editor's write could land
    # between our check and our overwrite, and be lost. So a note is written, and made durable, while leased.
    try:
        _write_whole(fd, new)  # the new bytes are on disk before the copy of the old ones goes
    except OSError:
        # A full disk mid-write: the learner's bytes go back into the note (they fit in the blocks it had); only
        # then is the copy deleted. Should that fail too, the copy stays beside the note.
        _write_whole(fd, expected.data)
        os.unlink(backup)
        raise
    os.unlink(backup)
    written = os.fstat(fd)
    try:
        at_path = os.lstat(path)
    except FileNotFoundError:
        return Replace(Outcome.GONE)
    if at_path.st_ino != written.st_ino:
        return _REREAD  # an editor saved by rename meanwhile: its file stands, ours went to the old inode
    return Replace(Outcome.WRITTEN, FileRead.of(new, written))


def _write_whole(fd: int, data: bytes) -> None:
    """``data`` as the file's whole content, on disk. pwrite may write less than asked (a full disk writes what
    fits, then refuses): each short write is continued, so a refusal is an OSError, never a silent gap."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        written = os.pwrite(fd, view[done:], done)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += written
    os.ftruncate(fd, len(data))
    os.fsync(fd)  # the new bytes are on disk before the copy of the old ones goes


@contextlib.contextmanager
def _creating(folder: str) -> Iterator[None]:
    """Creating a file beside the note: a folder or file system that refuses is WriteRefused."""
    try:
        yield
    except PermissionError:
        raise WriteRefused("its folder {folder} is read-only", folder=folder) from None
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise WriteRefused("the vault is on a read-only file system") from None
        raise


def _by_swap(path: str, expected: FileRead, new: bytes) -> Replace:
    """Without leases: the new content is swapped in whole (renameat2 RENAME_EXCHANGE, so the path is never
    missing and nothing is overwritten), then the displaced file O is checked: still the inode read, no process
    holding it open for writing (a look through /proc), the bytes read. All pass: O is deleted. Any fails: O is
    swapped back, unless the file we put in was written to meanwhile (an opener found it at the path): then it
    stays, and O is kept beside it under a hidden name (KEPT), so both versions survive. Left: a process that
    found O by the path just before the swap and gets its descriptor after the check (it waits SETTLE_SECONDS
    for that), and writers hidden from /proc (other users).
    """
    folder, name = os.path.split(path)
    with _creating(folder):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(expected.mode))
        with contextlib.suppress(OSError):
            # A service running as another user (root in a container) must not hand the note to itself.
            os.chown(tmp, expected.uid, expected.gid)
        ours = os.lstat(tmp)
        try:
            exchange(tmp, path)
        except FileNotFoundError:
            return Replace(Outcome.GONE)
        try:
            # An open() that found the old file by its path just before the swap is still inside the kernel: let
            # it finish, so its descriptor is there to be seen (the lease refused, the /proc look finds it).
            time.sleep(SETTLE_SECONDS)
            outcome = _settle(path, tmp, expected, ours, new)
        except BaseException:
            # ``tmp`` may hold the learner's displaced file now: it goes back to the path if it can, and whatever
            # is not ours is kept, never cleaned up with ours.
            with contextlib.suppress(OSError):
                if os.lstat(tmp).st_ino != ours.st_ino:
                    exchange(tmp, path)
            with contextlib.suppress(OSError):
                if os.lstat(tmp).st_ino != ours.st_ino:
                    _keep(tmp, path)
            raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_folder(folder)
    return outcome


def _settle(path: str, aside: str, expected: FileRead, ours: os.stat_result, new: bytes) -> Replace:
    """Steps 4 and 5 of replace_if_unchanged: ``aside`` holds what the path held at the swap."""
    fd = os.open(aside, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        old = os.fstat(fd)
        same = old.st_ino == expected.ino
        busy = False
        if same:
            # A write lease is granted only while no other process has the file open; while it is held, anyone
            # opening the file waits for us. So with the lease, nothing can write O any more.
            leased = _lease(fd)
            busy = not leased and open_for_writing(old.st_dev, old.st_ino)
            if not busy and _holds(fd, expected) and (not leased or _still_leased(fd)):
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    return Replace(Outcome.GONE)  # deleted right after the swap: it stays deleted
                if st.st_ino == ours.st_ino:
                    os.unlink(aside)
                    return Replace(Outcome.WRITTEN, FileRead.of(new, st))
    finally:
        os.close(fd)  # and with it the lease
    # The learner's version goes back. After this swap ``aside`` holds what was at the path: ours, normally.
    try:
        exchange(aside, path)
    except FileNotFoundError:
        # Ours was deleted since the swap: the deletion stands, and the learner's displaced bytes are kept.
        return Replace(Outcome.KEPT, kept=_keep(aside, path))
    back = os.lstat(aside)
    touched = (back.st_size, back.st_mtime_ns) != (ours.st_size, ours.st_mtime_ns)
    if back.st_ino != ours.st_ino or touched or open_for_writing(back.st_dev, back.st_ino):
        # A third save replaced ours, or someone wrote into ours: that is the newest, it goes back to the path.
        exchange(aside, path)
        return Replace(Outcome.KEPT, kept=_keep(aside, path))
    if busy:
        return Replace(Outcome.BUSY)
    try:
        return Replace(Outcome.CHANGED, read_file(path))
    except FileNotFoundError:
        return Replace(Outcome.GONE)


def _lease(fd: int) -> bool:
    """Take a write lease (Linux): True when granted, i.e. no other process has the file open. The lease-break
    signal is SIGURG, ignored by default: a break only makes the caller wait the microseconds we hold it."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except (OSError, AttributeError):
        return False  # open elsewhere (EAGAIN), or no leases here: the /proc check decides
    return True


def _still_leased(fd: int) -> bool:
    """False once someone started opening the file (the lease is being broken)."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_WRLCK
    except OSError:
        return False


def _holds(fd: int, expected: FileRead) -> bool:
    """Whether the open file holds exactly the bytes read (size, mtime and content)."""
    st = os.fstat(fd)
    if (st.st_size, st.st_mtime_ns) != (expected.size, expected.mtime_ns):
        return False
    data = os.pread(fd, st.st_size + 1, 0)
    return data == expected.data


def _keep(aside: str, path: str) -> str:
    folder, name = os.path.split(path)
    kept = os.path.join(folder, f".{name}.reminder-kept-{time.time_ns()}")
    os.rename(aside, kept)
    return kept


def _fsync_folder(folder: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _field_line(data: bytes, wanted: str | int | None) -> int:
    """The 1-based line of the frontmatter key for ``wanted`` (a vault_format field name), for skip messages."""
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[1:], start=2):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if text.rstrip() == "---":
            break
        key = text.split(":", 1)[0].strip().strip("\"'")
        kind = vault_format.classify_key(key) if key else None
        if kind is not None and kind[0] == wanted:
            return number
    return 2


FIELD_LIMITS = checks.FIELD_LIMITS  # one definition of the column limits, shared with the CLI


def note_problem(rel: str, data: bytes, parsed: ParsedNote, today: date) -> tuple[int, str | Exception] | None:
    """Why the store cannot take this note as it is, with the line to fix; None when it can."""
    if parsed.first_studied_on is not None:
        try:
            checks.check_first_study(parsed.first_studied_on, today)
        except NoteError as exc:
            return _field_line(data, vault_format.FIRST_STUDY), exc  # shown in the reader's language
    for name, limit in FIELD_LIMITS.items():
        value = getattr(parsed, name)
        if value is None:
            continue
        if len(value) > limit:
            return _field_line(data, name), Phrase("{name} is longer than {limit} characters", name=name, limit=limit)
        # YAML escapes ("\0", "\ud800") can spell what no database column takes.
        if "\x00" in value or _unencodable(value):
            return _field_line(data, name), Phrase("{name} holds a NUL or an unpaired surrogate escape", name=name)
    if not _title(rel):
        return 1, Phrase("the file name makes an empty title or one over {limit} characters", limit=checks.TITLE_MAX)
    return None


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _title(rel: str) -> str | None:
    title = title_from_path(rel)
    return title if 0 < len(title) <= checks.TITLE_MAX else None


def note_fields(vault_name: str, rel: str, parsed: ParsedNote) -> dict[str, Any]:
    return {
        "title": _title(rel),
        "link": obsidian_link(vault_name, rel),
        "first_studied_on": parsed.first_studied_on,
        "subject": parsed.subject,
        "source": parsed.source,
        "pages": parsed.pages,
        "level": parsed.level,
    }

"""The embedded store's files on disk: which file a URL names, read-only URIs, the SQLite header check, and
their permissions.

Standard library only, so the light read path of `reminder due` can use it without importing SQLAlchemy.
The store holds the generated signing key of the phone's buttons: whoever can read the file can forge them, so
the file and its ``-wal``/``-shm`` companions are the owner's alone (0600), and the default data folder is 0700.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import unquote

# The first 16 bytes of every SQLite 3 database file (https://www.sqlite.org/fileformat.html#the_database_header).
SQLITE_HEADER = b"SQLite format 3\x00"
FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANIONS = ("-wal", "-shm", "-journal")
# How long a writer waits for another's write lock: the store's and the light write path's alike.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite[+driver]://`` URL names, read as SQLAlchemy's make_url reads it (what follows the
    third slash, up to any ``?``, percent-decoded; no ``~`` expansion, as SQLite does none), or None for another
    database, an in-memory one, or none. Every part of reminder that needs the store's file asks this."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.partition("+")[0] != "sqlite":
        return None
    _host, slash, database = rest.partition("/")
    database = unquote(database.partition("?")[0])
    if not slash or not database or database == ":memory:":
        return None
    return Path(database)


def sqlite_url(path: Path) -> str:
    """The ``sqlite:///`` URL of the file at ``path``, the inverse of sqlite_path: a ``%`` or ``?`` in a folder's
    name is percent-encoded, since make_url would decode the one and cut the URL at the other (another file)."""
    text = str(path).replace("%", "%25").replace("?", "%3F")
    return f"sqlite:///{text}"


def read_only_uri(path: Path) -> str:
    """A ``file:`` URI that opens ``path`` read-only and never creates it. ``Path.as_uri()`` percent-encodes
    ``#``, ``?`` and ``%``, which string formatting would hand to SQLite as the URI's query or fragment."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def is_sqlite_file(path: Path) -> bool:
    """Whether the existing file at ``path`` can be the store: it starts with SQLite's header, or it is empty.

    An empty file is accepted because SQLite itself treats a 0-byte file as an empty database, and it is what
    ``create_private_file`` (or a ``touch`` that prepares the file with chosen permissions) leaves: nothing in it
    can be lost. Any other file, whatever its size, is someone's data and is refused."""
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    return head == SQLITE_HEADER or head == b""


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist. SQLite then creates the ``-wal`` and ``-shm``
    files with the same mode as the database file."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def make_private(path: Path) -> None:
    """Mode 0600 for the store file and whichever companions exist (a store created by an older version)."""
    for candidate in [path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)]:
        with contextlib.suppress(FileNotFoundError):
            if candidate.stat().st_mode & 0o777 != FILE_MODE:
                os.chmod(candidate, FILE_MODE)

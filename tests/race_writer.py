"""Another program writing a note while reminder writes it back: run as a separate process by test_writeback_race.

`editor FOLDER`: for each line "NAME MODE EVENT MARKER" on stdin, watch FOLDER with inotify and, at the first EVENT
touching the note or the files beside it, edit the note NAME by MODE (append / inplace / rename / delete), then
print "done". It prints "ready" once watching, so the test starts the write-back only then.
`appender PATH SECONDS INTERVAL_MS keep|reopen`: append numbered lines to PATH for SECONDS, keeping one file
descriptor open (keep) or opening the file for each line (reopen); prints the number of lines written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import inotify_simple
from inotify_simple import flags

EVENTS = {
    "create": flags.CREATE,  # reminder's temporary file appears
    "moved": flags.MOVED_FROM | flags.MOVED_TO,  # the swap
    "modify": flags.MODIFY,  # reminder writes its temporary file
    "open": flags.OPEN,  # any open in the folder
    "close": flags.CLOSE_WRITE,
    "delete": flags.DELETE,
}
WATCH = flags.CREATE | flags.MOVED_FROM | flags.MOVED_TO | flags.MODIFY | flags.OPEN | flags.CLOSE_WRITE | flags.DELETE


def edit(path: str, mode: str, marker: bytes) -> None:
    if mode == "append":
        with open(path, "ab") as fh:
            fh.write(marker)
    elif mode == "inplace":
        # Overwrite the note's first body byte onwards with the same bytes plus the marker (an editor that writes
        # in place, truncating).
        with open(path, "r+b") as fh:
            data = fh.read()
            fh.seek(0)
            fh.write(data + marker)
            fh.truncate()
    elif mode == "rename":
        with open(path, "rb") as fh:
            data = fh.read()
        tmp = path + ".editor-save"
        with open(tmp, "wb") as fh:
            fh.write(data + marker)
        os.rename(tmp, path)
    elif mode == "delete":
        os.unlink(path)


def editor(folder: str) -> None:
    ino = inotify_simple.INotify()
    ino.add_watch(folder, WATCH)
    print("ready", flush=True)
    for line in sys.stdin:
        name, mode, event, marker = line.split()
        path = os.path.join(folder, name)
        ino.read(timeout=0)  # drop what the test did to set the trial up
        print("armed", flush=True)
        deadline = time.monotonic() + 2
        fired = False
        while not fired and time.monotonic() < deadline:
            for ev in ino.read(timeout=200):
                if ev.mask & EVENTS[event] and not ev.name.endswith(".editor-save"):
                    fired = True
                    break
        with contextlib.suppress(FileNotFoundError):  # already deleted
            edit(path, mode, marker.encode() + b"\n")
        print("done" if fired else "late", flush=True)


def appender(path: str, seconds: float, interval_ms: float, how: str) -> None:
    end = time.monotonic() + seconds
    count = 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND) if how == "keep" else None
    while time.monotonic() < end:
        line = f"line {count:06d}\n".encode()
        if fd is not None:
            os.write(fd, line)
        else:
            with open(path, "ab") as fh:
                fh.write(line)
        count += 1
        time.sleep(interval_ms / 1000)
    if fd is not None:
        os.close(fd)
    print(count, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "editor":
        editor(sys.argv[2])
    else:
        appender(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])

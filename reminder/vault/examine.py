"""What a vault sync learns from one note file's bytes, for the read phase (reminder.vault.reading): the file read
and fingerprinted, its frontmatter parsed, what would stop the store from taking it, its cue columns and its Spaced
Repetition state.

That depends on the file and a few settings alone, never on the store, so a batch large enough (a first sync of a
large vault, where this is nearly all of the time) is spread over worker processes, one per core. They only read
files; every decision that needs the store stays with the read phase, in the sync's own process, which takes the
results in the order of the files.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from reminder.cues import cue_columns
from reminder.i18n import Phrase
from reminder.schedulers import SrState
from reminder.srnote import read_sr
from reminder.srnote import study_note as sr_study_note
from reminder.vault.files import MAX_NOTE_BYTES, FileRead, note_problem, read_file
from reminder.vault_format import NoteFormatError, ParsedNote, parse_note

# Below this many files a batch is examined in the sync's own process: starting the workers (an interpreter each,
# importing the parsers) costs about as much as examining a few hundred notes.
POOL_FROM = 2000
MAX_WORKERS = 8
_CHUNKSIZE = 64  # files per message to a worker: fewer round trips, and results still come back steadily
_AHEAD = 8  # chunks of results a worker's drain holds for the sync before it waits (a bound on their memory)


@dataclass(frozen=True, slots=True)
class Settings:
    """What examining a file depends on besides its bytes (the same for every file of one sync)."""

    today: date
    placeholders: frozenset[str]  # the vault's template lines (reminder.cornell)
    keep_data: bool  # with write-back: the bytes of every note are kept for writing
    rename_hashes: frozenset[str]  # hashes of notes whose file is gone: a new file with these bytes is a rename


@dataclass(frozen=True, slots=True)
class Task:
    path: str
    rel: str
    seen_hash: str | None  # the hash the store holds, when the same bytes mean the file needs nothing more
    existing: bool  # a stored note's file: its bytes are kept for the apply phase


@dataclass(frozen=True, slots=True)
class Examined:
    """One file as read. ``got`` is None only when ``failure`` is set; its bytes are let go (its hash kept) where
    nothing after the read phase needs them."""

    got: FileRead | None
    failure: tuple[int, str] | None = None  # (line, why): the file is reported and skipped
    same: bool = False  # the bytes the store holds (``seen_hash``): not parsed
    parsed: ParsedNote | None = None  # None: not a study note
    problem: tuple[int, str | Exception] | None = None  # a study note the store cannot take as it is
    cues: tuple[str, str | None] | None = None  # (questions JSON, summary) of a note the store can take
    sr_state: SrState | None = None


def parse_file(rel: str, data: bytes, today: date) -> ParsedNote | None:
    """The one parse of a note file per sync: a note of the template, else maybe one of the Spaced Repetition
    plugin; None when it is neither (NoteFormatError for a broken one)."""
    parsed = parse_note(rel, data, max_bytes=MAX_NOTE_BYTES)
    return parsed if parsed is not None else sr_study_note(rel, data, today)


def examine(task: Task, settings: Settings) -> Examined:
    try:
        got = read_file(task.path)
        if task.seen_hash is not None and got.sha256 == task.seen_hash:
            return Examined(got.without_data(task.seen_hash), same=True)
        parsed = parse_file(task.rel, got.data, settings.today)
    except NoteFormatError as exc:
        return Examined(None, failure=(exc.line, exc.reason))
    except OSError as exc:
        return Examined(None, failure=(1, Phrase("cannot read the file: {reason}", reason=exc.strerror)))
    if parsed is None:
        return Examined(got.without_data())
    problem = note_problem(task.rel, got.data, parsed, settings.today)
    if problem:
        return Examined(got.without_data(parsed.content_hash), parsed=parsed, problem=problem)
    columns = cue_columns(got.data, settings.placeholders)
    sr_state = read_sr(got.data)
    if not (task.existing or settings.keep_data or parsed.content_hash in settings.rename_hashes):
        # Nothing after the read phase looks at the bytes of a new note that is no rename; the parse hashed them.
        got = got.without_data(parsed.content_hash)
    return Examined(got, parsed=parsed, cues=(columns["b_questions"], columns["b_summary"]), sr_state=sr_state)


def workers_for(count: int) -> int:
    """How many worker processes examine ``count`` files: none below POOL_FROM or on a single core."""
    if count < POOL_FROM:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (a container's share)
    except (AttributeError, OSError):  # not on this system, or refused by a system-call filter
        cores = os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if cores > 1 and sys.executable else 0


def examine_all(
    tasks: Sequence[Task], settings: Settings, workers: int | None = None
) -> Generator[Examined, None, None]:
    """Each task's result, in order: in worker processes when the batch is large enough (``workers``, by default
    workers_for), else here. Workers that cannot start or that die leave the rest to this process."""
    count = workers_for(len(tasks)) if workers is None else workers
    done = 0
    if count > 0:
        with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):  # a worker failed: finish here
            for result in _in_workers(tasks, settings, count):
                yield result
                done += 1
    for task in tasks[done:]:
        yield examine(task, settings)


def _in_workers(tasks: Sequence[Task], settings: Settings, count: int) -> Iterator[Examined]:
    """The tasks in chunks dealt round-robin to ``count`` workers (``python -m reminder.vault.examine``), their
    results read back in the same order. A thread per worker feeds it, and another drains its answers as they
    come, so that neither side waits on a full pipe, and a worker goes on while this process works on the results
    it has (the sync inserts new notes meanwhile).

    Plain child processes talking pickle over their pipes, rather than multiprocessing: its spawned workers import
    the caller's main module again (a script calling sync_vault would run twice), and forked ones would inherit
    the store's connections and any lock another thread held."""
    chunks = [tasks[i : i + _CHUNKSIZE] for i in range(0, len(tasks), _CHUNKSIZE)]
    procs: list[subprocess.Popen[bytes]] = []
    threads: list[threading.Thread] = []
    answers: list[queue.Queue[list[Examined] | BaseException]] = []
    stop = threading.Event()  # set when the answers are no longer wanted
    try:
        for n in range(count):
            # A worker's own error would be a traceback on the learner's terminal: it is silenced, and this
            # process then examines the files left, where the same error, if it is one, is raised as the sync's.
            proc = subprocess.Popen(
                worker_command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_worker_env(),
            )
            procs.append(proc)
            mine = chunks[n::count]
            answers.append(queue.Queue(maxsize=_AHEAD))
            feeder = threading.Thread(target=_feed, args=(proc, settings, mine), daemon=True)
            drain = threading.Thread(target=_drain, args=(proc, len(mine), answers[-1], stop), daemon=True)
            threads += [feeder, drain]
            feeder.start()
            drain.start()
        for n in range(len(chunks)):
            answer = answers[n % count].get()
            if isinstance(answer, BaseException):
                raise answer
            yield from answer
    finally:
        stop.set()
        for proc in procs:
            proc.kill()  # done or not: each has answered every chunk it was given, or its answers are not wanted
            proc.wait()
        for thread in threads:
            thread.join()  # a feeder still writing fails at once (the pipe has no reader); a drain reads the end
        for proc in procs:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()


def _drain(
    proc: subprocess.Popen[bytes],
    chunks: int,
    answers: queue.Queue[list[Examined] | BaseException],
    stop: threading.Event,
) -> None:
    """Each of a worker's ``chunks`` answers, unpickled as it comes, handed on in order; what ends it early (the
    worker died or was killed, the pipe closed, an answer that cannot be read) is handed on instead. Gives up
    once ``stop`` is set."""
    stdout = proc.stdout
    assert stdout is not None
    answer: list[Examined] | BaseException
    for _ in range(chunks):
        try:
            answer = pickle.load(stdout)
        except ValueError:  # the pipe was closed under it, or the answer is not one: the worker failed
            answer = EOFError()
        except Exception as exc:  # handed on, to be raised as the sync's (not lost with this thread)
            answer = exc
        while not stop.is_set():
            try:
                answers.put(answer, timeout=0.05)
                break
            except queue.Full:  # the sync is busy with the answers it has: wait, unless it no longer wants them
                continue
        if stop.is_set() or isinstance(answer, BaseException):
            return


def _worker_env() -> dict[str, str]:
    """The environment with this package's folder first on the import path: the workers run the code this
    process runs, installed or from a checkout."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def worker_command() -> list[str]:
    """How a worker is started: this interpreter, this module (serve); -P: the folder the sync runs in (maybe the
    vault, with any file name in it) is not put on the worker's import path."""
    return [sys.executable, "-P", "-m", __name__]


def _feed(proc: subprocess.Popen[bytes], settings: Settings, chunks: list[Sequence[Task]]) -> None:
    stdin = proc.stdin
    assert stdin is not None
    with contextlib.suppress(OSError, ValueError):  # the worker is gone (killed, or closed by examine_all)
        pickle.dump(settings, stdin)
        for chunk in chunks:
            pickle.dump(list(chunk), stdin)
        stdin.close()


def serve() -> None:
    """A worker: the settings, then chunks of tasks on stdin until it closes; each chunk's results on stdout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        settings: Settings = pickle.load(stdin)
    except EOFError:
        return  # the sync let this worker go before giving it anything
    while True:
        try:
            chunk: list[Task] = pickle.load(stdin)
        except EOFError:
            return
        pickle.dump([examine(task, settings) for task in chunk], stdout)
        stdout.flush()


if __name__ == "__main__":
    # Run as a script this file is __main__; the results must be pickled as the classes of reminder.vault.examine.
    from reminder.vault.examine import serve

    serve()

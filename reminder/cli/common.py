"""Small input and output helpers the commands share; light to import (no store, no SQLAlchemy)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reminder import schedule
from reminder.cli import UserError, _, shown
from reminder.config import parse_ladder

if TYPE_CHECKING:
    import threading

T = TypeVar("T")
DATE_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def parse_date(value: str, what: str, today: date) -> date:
    """ISO 2024-07-07 (or 2024/07/07), `today`, `yesterday`. An impossible date is an error, not a guess."""
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    match = DATE_RE.match(text)
    if not match:
        raise UserError("{what}: {value!r} is not a date (use YYYY-MM-DD)", what=what, value=value)
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise UserError(
            "{what}: {value!r} is not a valid date ({reason})", what=what, value=value, reason=exc
        ) from None


def checked_option(option: str, parse: Callable[[str], T], value: str | None) -> T | None:
    """``parse(value)`` for a command-line option, its ValueError as a one-line error naming the option."""
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise UserError("{option}: {reason}", option=option, reason=exc) from None


def ladder_option(value: str | None) -> tuple[int, ...] | None:
    return checked_option("--ladder", parse_ladder, value)


def parse_stage(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> int | None:
    """A stage as a number of days, or as list and show print it: "4", "D+4"."""
    if value is None:
        return None
    text = value.strip()
    if text[:2].upper() == "D+":
        text = text[2:]
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise UserError("--stage: {value!r} is not a stage (days after the first study, e.g. 4 or D+4)", value=value)
    return int(text)


def fsrs_options(settings: Any) -> Any:
    """The FSRS options a note gets from the settings (REMINDER_FSRS_RETENTION, REMINDER_FSRS_MAX_INTERVAL)."""
    from reminder.recording import FsrsOptions

    return FsrsOptions(settings.fsrs_retention, settings.fsrs_max_interval, settings.fsrs_parameters)


def adopt_default_scheduler(app: Any, since: Any) -> None:
    """After a sync: the notes it imported get REMINDER_SCHEDULER, like a note added with `reminder add`."""
    if app.settings.scheduler == "ladder":
        return
    from reminder.notes import adopt_scheduler

    with app.store.write() as session:
        adopt_scheduler(
            session,
            created_since=since,
            scheduler=app.settings.scheduler,
            extra_every=app.settings.extra_every,
            fsrs=fsrs_options(app.settings),
        )


def stage_text(stage: int, extra: bool) -> str:
    from reminder import cli

    return schedule.stage_label(stage, extra, cli.LANGUAGE)


def configure_logging() -> None:
    """One `key=value` line per event on stderr, for the long-running commands (run, serve)."""
    import logging  # here, not at the top: the short commands never log

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
    )


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT. The signals are blocked (threads started later inherit the mask) and
    taken by a waiting thread with sigwait, so no handler runs at an arbitrary point of the main thread and none
    can deadlock on a lock it interrupted. Call it before starting other threads."""
    import logging
    import signal
    import threading

    stop = threading.Event()
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    def wait() -> None:
        received = signal.sigwait(signals)
        logging.getLogger("reminder").info("event=signal signal=%s", signal.Signals(received).name)
        stop.set()

    threading.Thread(target=wait, name="signals", daemon=True).start()
    return stop


def prepare_write_back(app: Any, session: Any, note: Any) -> Any:
    """In the transaction that recorded a review (done, undo): the write-back of the note's Obsidian file when
    its vault has write-back, for ``finish_write_back`` once the transaction has committed (no file is touched
    inside it); None for a note without a vault (the vault code and its YAML parser are not loaded then)."""
    if note.vault_id is None:
        return None
    from reminder.vault import prepare_write_back as prepare

    return prepare(session, note, app.today(), app.settings)


def finish_write_back(app: Any, pending: Any) -> Any:
    """Write the file ``prepare_write_back`` took and record what it learned: the vault's WriteBackResult, or
    None when there was nothing to write."""
    if pending is None:
        return None
    from reminder.vault import finish_write_back as finish

    return finish(app.store, pending)


def report_write_back(result: Any) -> None:
    """Say what became of the write-back; a file that could not be written (read-only, broken) exits 1 after
    the review is recorded in the store."""
    if result is None or not result.reason:
        return
    from reminder.vault import WriteBack

    reason = shown(result.reason)
    if result.outcome is WriteBack.FAILED:
        click.echo(_("Error: not written back to the note: {reason}").format(reason=reason), err=True)
        sys.exit(1)
    click.echo(_("  not written back yet: {reason}").format(reason=reason))


def copy_left_text(copy: str) -> str:
    """The line for a write-back copy a crash left (vault.files.backup_path), in the reader's language: said by
    `sync` and by `status`, which stays on the light path (hence here, not in cli.vault with SQLAlchemy)."""
    from reminder.vault.files import backed_up_note

    text = _(
        "{copy}: left by an interrupted write-back of {note}; that note is not written back until you look at "
        "the copy and delete it"
    )
    return text.format(copy=copy, note=backed_up_note(copy))

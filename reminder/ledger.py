"""The runner's reads and writes of slots and the outbox, written once and run by one of two ledgers.

The delivery rules live in reminder.runner; what they read and write is here, as SQLAlchemy Core statements
(``statements()``), by name. Two ledgers run them:

- StoreLedger: through the store's SQLAlchemy sessions (PostgreSQL, and SQLite whenever the ORM is loaded
  anyway, e.g. for the vault sync);
- LightLedger: on an up-to-date SQLite file through the standard library's sqlite3, with the same statements
  compiled for SQLite ahead of time (reminder.compile_sql, reminder/compiled_sql.py's ``RUNNER``), in
  BEGIN IMMEDIATE transactions like the store's writes (reminder.lightwrite.immediate). `reminder run --once`
  then does not import SQLAlchemy, which is most of what it costs from a shell.

Both give the runner the same transaction object (``tx``): ``scalar``, ``column``, ``row``, ``execute`` by
statement name, the due reviews, and a unique-key conflict as ``Conflict``. So a rule such as "the slot's claim
and its outbox row are one transaction" is written once, and the tests run it on both ledgers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from reminder.db import Store
    from reminder.schedule import DueNote


class OutboxStatus(StrEnum):
    """Where a notification is: queued, being sent, sent, given up on, or replaced by a newer one. Defined here,
    without SQLAlchemy, for the light ledger; reminder.db.models uses it for the outbox's column."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"


# The notes the latest digest listed, for that day's nudge (reminder.runner.LISTED_KEY explains it).
LISTED_KEY = "digest_listed"


class Conflict(Exception):
    """A unique key refused a row (another runner claimed the slot first): the transaction was rolled back."""


def statements() -> dict[str, Any]:
    """Every statement the runner's digest slot and outbox delivery run, by name, with named parameters."""
    from sqlalchemy import Boolean, String, bindparam, func, insert, null, or_, select, update

    from reminder import slots
    from reminder.db.models import Meta, Outbox, Slot, Vault

    pending, sending, sent = OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT
    digest_slots = slots.digest_slots()  # a nudge or summary sets no high-water mark for digests
    by_id = Outbox.id == bindparam("row_id", type_=Outbox.id.type)
    return {
        # claim_refusal: the high-water mark, this very slot, a slot of this local day under another zone.
        "runner_newest_digest_slot": select(func.max(Slot.scheduled_at)).where(digest_slots),
        "runner_same_slot": select(Slot.id).where(
            Slot.zone == bindparam("slot_zone"), Slot.local_key == bindparam("slot_key")
        ),
        "runner_day_served": select(Slot.id)
        .where(Slot.scheduled_at >= bindparam("start"), Slot.scheduled_at < bindparam("end"))
        .where((Slot.zone != bindparam("slot_zone")) | Slot.zone.is_(None), digest_slots)
        .limit(1),
        # The claim: the unique (zone, local_key) decides which runner owns the slot.
        "runner_insert_slot": insert(Slot)
        .values(
            local_key=bindparam("slot_key"),
            zone=bindparam("slot_zone"),
            scheduled_at=bindparam("at"),
            claimed_at=bindparam("claimed"),
            claimed_by=bindparam("runner"),
            due_count=bindparam("due"),
        )
        .returning(Slot.id),
        "runner_supersede": update(Outbox)
        .where(Outbox.status == pending, Outbox.kind == "digest")
        .values(status=OutboxStatus.SUPERSEDED, last_error=bindparam("reason", type_=String)),
        "runner_insert_outbox": insert(Outbox)
        .values(
            slot_id=bindparam("slot_row"),
            kind=bindparam("message_kind"),
            payload=bindparam("message"),
            status=pending,
            attempts=0,
            next_attempt_at=bindparam("now"),
            created_at=bindparam("now"),
            uncertain=False,
        )
        .returning(Outbox.id),
        # Meta's one listing row, rewritten by each digest slot (claims are serialised, so update-then-insert
        # cannot race another claim).
        "runner_listed_update": update(Meta).where(Meta.key == LISTED_KEY).values(value=bindparam("listing")),
        "runner_listed_insert": insert(Meta).values(key=LISTED_KEY, value=bindparam("listing")),
        # Delivery.
        "runner_recover": update(Outbox)
        .where(Outbox.status == sending, Outbox.next_attempt_at <= bindparam("cutoff"))
        .values(status=pending, uncertain=True)
        .returning(Outbox.id),
        "runner_next_pending": select(Outbox.id, Outbox.attempts, Outbox.payload, Outbox.uncertain, Outbox.created_at)
        .where(Outbox.status == pending, Outbox.next_attempt_at <= bindparam("now"))
        .order_by(Outbox.id)
        .limit(1)
        # Another runner on the same PostgreSQL store may be taking this row right now (SQLite: BEGIN IMMEDIATE).
        .with_for_update(skip_locked=True),
        "runner_mark_sending": update(Outbox)
        .where(by_id)
        .values(status=sending, attempts=bindparam("attempt"), next_attempt_at=bindparam("now")),
        "runner_attempt_failed": update(Outbox)
        .where(by_id)
        .values(
            status=bindparam("new_status", type_=String),
            next_attempt_at=bindparam("retry_at"),
            last_error=bindparam("error", type_=String),
            # Once an attempt may have reached ntfy, it stays uncertain until a send is recorded.
            uncertain=or_(Outbox.uncertain, bindparam("ambiguous", type_=Boolean)),
        ),
        "runner_sent": update(Outbox)
        .where(by_id)
        .values(
            status=sent, ntfy_id=bindparam("message_id"), sent_at=bindparam("now"), last_error=null(), uncertain=False
        ),
        "runner_owner_of": select(Outbox.id).where(Outbox.ntfy_id == bindparam("message_id")).limit(1),
        "runner_next_retry": select(func.min(Outbox.next_attempt_at)).where(Outbox.status == pending),
        # Whether `run --once` may take the light ledger: the vault sync before a slot needs the ORM.
        "runner_has_vault": select(Vault.id).limit(1),
    }


def unlimited(due: Sequence[DueNote]) -> tuple[list[DueNote], int]:
    """What a digest lists without a daily limit (reminder.history.choose_due with ``limit`` None)."""
    from reminder import schedule

    return schedule.apply_daily_limit(due, None)


class Tx(Protocol):
    """One transaction of a ledger, as the runner sees it."""

    def lock_claims(self) -> None: ...

    def scalar(self, name: str, **params: Any) -> Any: ...

    def column(self, name: str, **params: Any) -> list[Any]: ...

    def row(self, name: str, **params: Any) -> dict[str, Any] | None: ...

    def execute(self, name: str, **params: Any) -> int: ...

    def due(self, day: date, extra_every: int) -> list[DueNote]: ...

    def choose_due(self, due: Sequence[DueNote], day: date, limit: int | None) -> tuple[list[DueNote], int]: ...


class Ledger(Protocol):
    def write(self) -> Any: ...

    def read(self) -> Any: ...


# --- through SQLAlchemy ----------------------------------------------------------------------------------------


class StoreTx:
    """A Tx on an ORM session (the store path)."""

    _statements: dict[str, Any] | None = None

    def __init__(self, session: Any, is_sqlite: bool) -> None:
        self.session = session
        self.is_sqlite = is_sqlite
        if StoreTx._statements is None:
            StoreTx._statements = statements()
        self.statements = StoreTx._statements

    def lock_claims(self) -> None:
        if not self.is_sqlite:
            from sqlalchemy import text

            # Claims are serialised like SQLite's BEGIN IMMEDIATE does, so the high-water mark read next cannot
            # race another runner's claim. Readers are not blocked.
            self.session.execute(text("LOCK TABLE slots IN SHARE ROW EXCLUSIVE MODE"))

    def _run(self, name: str, params: dict[str, Any]) -> Any:
        # Core execution on the session's connection and transaction: these statements name tables, not ORM
        # objects, and an INSERT run through the ORM would not report its row count.
        return self.session.connection().execute(self.statements[name], params)

    def scalar(self, name: str, **params: Any) -> Any:
        return self._run(name, params).scalar()

    def column(self, name: str, **params: Any) -> list[Any]:
        return list(self._run(name, params).scalars())

    def row(self, name: str, **params: Any) -> dict[str, Any] | None:
        found = self._run(name, params).mappings().first()
        return dict(found) if found is not None else None

    def execute(self, name: str, **params: Any) -> int:
        return int(self._run(name, params).rowcount)

    def due(self, day: date, extra_every: int) -> list[DueNote]:
        from reminder import notes

        return notes.due_on(self.session, day, extra_every)

    def choose_due(self, due: Sequence[DueNote], day: date, limit: int | None) -> tuple[list[DueNote], int]:
        if limit is None:
            return unlimited(due)  # without importing the statistics the limit reads
        from reminder.history import choose_due

        return choose_due(self.session, due, day, limit)


class StoreLedger:
    """The runner's statements through the store (any database the store opens)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def write(self) -> Iterator[StoreTx]:
        from sqlalchemy.exc import IntegrityError

        try:
            with self.store.write() as session:
                yield StoreTx(session, self.store.is_sqlite)
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc

    @contextmanager
    def read(self) -> Iterator[StoreTx]:
        with self.store.read() as session:
            yield StoreTx(session, self.store.is_sqlite)


# --- through sqlite3 -------------------------------------------------------------------------------------------


class LightTx:
    """A Tx on a sqlite3 connection, with the statements compiled for SQLite."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def lock_claims(self) -> None:
        pass  # BEGIN IMMEDIATE holds SQLite's only write lock already

    def _cursor(self, name: str, params: dict[str, Any]) -> tuple[sqlite3.Cursor, tuple[tuple[str, str], ...]]:
        from reminder.compiled_sql import RUNNER
        from reminder.lightwrite import TO_SQL

        sql, names, kinds, columns, fixed = RUNNER[name]
        given = {**fixed, **params}
        args = []
        for param, kind in zip(names, kinds, strict=True):
            value = given[param]
            args.append(TO_SQL[kind](value) if kind and value is not None else value)
        return self.conn.execute(sql, args), columns

    def _rows(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from reminder.lightread import CONVERT

        cursor, columns = self._cursor(name, params)
        rows = []
        for raw in cursor.fetchall():
            row = {}
            for (key, kind), value in zip(columns, raw, strict=True):
                row[key] = CONVERT[kind](value) if kind and value is not None else value
            rows.append(row)
        return rows

    def scalar(self, name: str, **params: Any) -> Any:
        rows = self._rows(name, params)
        return next(iter(rows[0].values())) if rows else None

    def column(self, name: str, **params: Any) -> list[Any]:
        return [next(iter(row.values())) for row in self._rows(name, params)]

    def row(self, name: str, **params: Any) -> dict[str, Any] | None:
        rows = self._rows(name, params)
        return rows[0] if rows else None

    def execute(self, name: str, **params: Any) -> int:
        cursor, _ = self._cursor(name, params)
        return cursor.rowcount

    def due(self, day: date, extra_every: int) -> list[DueNote]:
        from reminder.duelist import group_due
        from reminder.lightread import fetch

        return group_due(list(fetch(self.conn, "due", day=day)), day, extra_every)

    def choose_due(self, due: Sequence[DueNote], day: date, limit: int | None) -> tuple[list[DueNote], int]:
        if limit is not None:
            # The daily limit reads the review history through the store; the command takes the store path then.
            raise NotImplementedError("the light ledger has no daily limit")
        return unlimited(due)


class LightLedger:
    """The runner's statements on the SQLite file at ``path``, without SQLAlchemy. One connection serves every
    transaction of the ledger (opening one, with its pragmas, cost more than the statements of a short run); it
    holds no lock between transactions. A runner is used by one thread at a time, not always the one it was made
    in."""

    is_sqlite = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        from reminder.lightwrite import open_for_writes

        if self._conn is None:
            self._conn = open_for_writes(self.path, any_thread=True)
        return self._conn

    @contextmanager
    def write(self) -> Iterator[LightTx]:
        from reminder.lightwrite import begin_immediate

        try:
            with begin_immediate(self._connection()) as conn:
                yield LightTx(conn)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    @contextmanager
    def read(self) -> Iterator[LightTx]:
        conn = self._connection()
        conn.execute("BEGIN")  # one snapshot for the reads of the block
        try:
            yield LightTx(conn)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def light_ledger(url: str, settings: Any) -> LightLedger | None:
    """The light ledger for `run --once` on the store at ``url``, or None when the store path must run it: not
    a plain SQLite file at this version's schema, a vault registered (its sync needs the ORM), or a setting
    whose part of the run reads through the store (a daily limit, nudge or summary slots, phone buttons)."""
    if not url.startswith("sqlite"):
        return None  # PostgreSQL: the store, without loading the light read path for nothing
    if settings.daily_limit is not None or settings.nudge_cron or settings.summary_cron or settings.public_url:
        return None
    from reminder.lightread import Unavailable, sqlite_file

    path = sqlite_file(url)
    if path is None:
        return None
    ledger = LightLedger(path)
    try:
        with ledger.read() as tx:
            if tx.scalar("runner_has_vault") is None:
                return ledger
    except (Unavailable, sqlite3.Error):
        pass
    ledger.close()
    return None

"""The store's tables. Dates of study are calendar dates in the learner's zone; instants are naive UTC.

Every table the service uses is declared here and created by the initial Alembic revision; a test checks that
autogenerate finds no difference between these models and the migrations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from reminder.checks import FIELD_LIMITS, TITLE_MAX
from reminder.ledger import OutboxStatus as OutboxStatus  # defined without SQLAlchemy, for the light ledger

# Named constraints keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: naive UTC in the column (the stored form reminder always had, so no migration), aware UTC in
    Python. The one place the two meet; a naive value given to it is taken as UTC already."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every model maps one plain table (DeclarativeBase allows any FromClause), so Core statements can take it.
    __table__: ClassVar[Table]


class Vault(Base):
    """An Obsidian vault whose study notes are synced into the store."""

    __tablename__ = "vaults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    write_back: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # `vault add --templates FOLDER`: the vault-relative folder of templates, overriding what Obsidian's settings
    # or the folder names say (None: found at each sync).
    templates: Mapped[str | None] = mapped_column(Text)
    # `vault add --no-status` turns off the status block written under the notes' 복습알림 heading.
    status_block: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The lengths are the input checks' limits (reminder.checks), so what passes them fits on both databases.
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    subject: Mapped[str | None] = mapped_column(String(FIELD_LIMITS["subject"]))
    source: Mapped[str | None] = mapped_column(String(FIELD_LIMITS["source"]))
    pages: Mapped[str | None] = mapped_column(String(FIELD_LIMITS["pages"]))
    level: Mapped[str | None] = mapped_column(String(FIELD_LIMITS["level"]))
    link: Mapped[str | None] = mapped_column(Text)
    first_studied_on: Mapped[date] = mapped_column(Date)
    # The ladder is copied onto the note when it is registered, so changing the global ladder later does not
    # rewrite the schedule of notes already under way ("1,4,7,14").
    ladder: Mapped[str] = mapped_column(String(200))
    long_term_on: Mapped[date | None] = mapped_column(Date)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where a synced note comes from: identity is the vault-relative path; size, mtime and hash let a sync skip
    # unchanged files and follow a renamed one.
    vault_id: Mapped[int | None] = mapped_column(ForeignKey("vaults.id", ondelete="SET NULL"))
    vault_path: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The review flags the file stated when the sync last read or wrote it ("1=1,4=1,7=0,lt=0"): the base of a
    # three-way merge, so a flag changes in the store only when the learner changed it in the file, and a review
    # done on the phone is not undone by a file that still shows the old value.
    file_flags: Mapped[str | None] = mapped_column(Text)
    # Where first_studied_on came from: "file" (the note states it), "git" (the commit that added the file) or
    # "mtime" (the file's modification time). A date not from the file is chosen once and kept.
    first_study_from: Mapped[str | None] = mapped_column(String(10))
    # The status block under the note's 복습알림 heading: "shown" once written, "removed" when the learner deleted
    # it by hand (it is not written again), None before either.
    status_block: Mapped[str | None] = mapped_column(String(10))
    # The real path of the vault folder a note was detached from by `vault rm`: adding that folder again
    # re-attaches the note (id, history and snoozes kept) instead of importing it afresh.
    detached_from: Mapped[str | None] = mapped_column(Text)
    # Which rule decides when the note is due next (reminder.schedulers): "ladder", "fsrs" or "sr". A server
    # default, because the vault sync inserts notes with plain INSERTs that name only the columns it knows.
    scheduler: Mapped[str] = mapped_column(String(10), default="ladder", server_default="ladder")
    # That scheduler's state as JSON (the FSRS card, the SR plugin's due/interval/ease); None for the ladder, whose
    # state is the review rows themselves.
    scheduler_state: Mapped[str | None] = mapped_column(Text)
    # The note's cue questions with their answers (JSON list of {"q", "a"}) and its summary, as the last sync read
    # them from the file (reminder.cornell); None for notes added with the CLI.
    cue_questions: Mapped[str | None] = mapped_column(Text)
    cue_summary: Mapped[str | None] = mapped_column(Text)

    reviews: Mapped[list[Review]] = relationship(
        back_populates="note", cascade="all, delete-orphan", order_by="Review.offset", passive_deletes=True
    )
    events: Mapped[list[ReviewEvent]] = relationship(
        back_populates="note",
        cascade="all, delete-orphan",
        order_by="(ReviewEvent.reviewed_on, ReviewEvent.id)",
        passive_deletes=True,
    )

    # The two ways reminder.recording and reminder.editing make rows, shared with lightwrite.LightNote.
    def add_review(self, offset: int, extra: bool, due_on: date) -> Review:
        review = Review(offset=offset, extra=extra, due_on=due_on)
        self.reviews.append(review)
        return review

    def add_event(self, **columns: Any) -> ReviewEvent:
        event = ReviewEvent(**columns)
        self.events.append(event)
        return event

    __table_args__ = (
        UniqueConstraint("vault_id", "vault_path"),
        Index("ix_notes_title", "title"),
        # Ids are never reused: a deleted note's id must not name a new note (signed phone buttons carry ids).
        {"sqlite_autoincrement": True},
    )


class ForgottenFile(Base):
    """A vault file the sync ignores: its note was deleted with `reminder rm --forget-file`."""

    __tablename__ = "forgotten_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The vault folder's real path rather than the vault's id, so `vault rm` then `vault add` keeps the record.
    vault_folder: Mapped[str] = mapped_column(Text)
    vault_path: Mapped[str] = mapped_column(Text)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("vault_folder", "vault_path"),)


class Review(Base):
    """One review of a note: a ladder stage (extra=False) or the next extra review after the ladder."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    offset: Mapped[int] = mapped_column(Integer)
    extra: Mapped[bool] = mapped_column(Boolean, default=False)
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)

    note: Mapped[Note] = relationship(back_populates="reviews")

    __table_args__ = (
        UniqueConstraint("note_id", "extra", "offset"),
        # The due query reads only pending reviews by due date: a partial index keeps it proportional to what
        # is due, not to every review ever done.
        Index(
            "ix_reviews_pending_due",
            "due_on",
            "note_id",
            sqlite_where=text("done_on IS NULL"),
            postgresql_where=text("done_on IS NULL"),
        ),
    )


class ReviewEvent(Base):
    """One review the learner did: the history every scheduler is derived from, never rewritten by a sync.

    ``stage`` is the ladder stage or extra-review occurrence (days after the first study) the review answered,
    with ``extra`` telling which; None for a review that answered no row (an FSRS review of a note whose ladder
    flags are all ticked still names its occurrence, so None is rare).
    """

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    stage: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[str] = mapped_column(String(10))  # again, hard, good, easy
    reviewed_on: Mapped[date] = mapped_column(Date)  # the learner's local day
    source: Mapped[str] = mapped_column(String(10))  # cli, phone, vault, web
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    note: Mapped[Note] = relationship(back_populates="events")

    __table_args__ = (Index("ix_review_events_note_id_reviewed_on", "note_id", "reviewed_on"),)


class Slot(Base):
    """A cron slot claimed by a runner. The unique local key makes each scheduled day and time run once."""

    __tablename__ = "slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Wall-clock time of the slot in the learner's zone, "2025-03-09T08:00" (no offset): the same local time
    # yielded twice (DST fall-back) maps to one key. With the zone (IANA name; NULL for slots claimed before it
    # was recorded) it identifies the slot: 08:00 in Asia/Seoul and 08:00 in UTC are different instants.
    local_key: Mapped[str] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(64))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(200))
    due_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("zone", "local_key"),)


class Outbox(Base):
    """A notification to send. Written in the slot's transaction, updated after each attempt."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="digest")
    payload: Mapped[str] = mapped_column(Text)  # the ntfy JSON message, topic included
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)  # an OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    ntfy_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True once an attempt ended without an answer (read timeout, cut connection, crash mid-send): ntfy may hold
    # the message, so the next attempt looks on the topic first. ntfy has no idempotency key.
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class Meta(Base):
    """Small key/value facts the service keeps about itself (the generated signing key, for one)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

"""The service loop: claim each cron slot once, put its digest in the outbox, deliver the outbox to ntfy.

Delivery rules (README, "Delivery"):
- A slot is claimed by inserting its row (unique wall-clock key) in the same transaction that writes its digest
  into the outbox. A second runner, a restart, or a local time that occurs twice cannot claim it again.
- Catch-up: at every wake the runner looks at the most recent slot only. After downtime that is the last missed
  slot, processed once; older missed slots are not replayed (the last one's digest lists every overdue review).
- Each new slot supersedes digests still waiting: its own digest lists everything still due, and with nothing
  due an old digest would only report reviews already done.
- Sends are written before and after: the row is marked ``sending`` (committed) before the request and ``sent``
  with ntfy's id as soon as the answer arrives. A row found ``sending`` at start (a crash in between) is looked
  up on the topic first and resent only if ntfy does not have it, so a crash duplicates at most one message.
- Transient failures stay pending with exponential backoff and jitter; permanent ones are marked failed with
  ntfy's words and are not retried. A review stays due until it is done, so the next slot carries it again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from reminder import digest, notes, slots
from reminder.config import Settings
from reminder.db import Store
from reminder.db.models import Outbox, Slot
from reminder.events import log_event, runner_name
from reminder.ntfy import InvalidMessage, NtfyClient, NtfyError

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
# The loop sleeps until the next slot or retry. Sleeping uses the monotonic clock, which stands still while a
# machine is suspended, so the runner also wakes once an hour to look at the wall clock again.
MAX_SLEEP = timedelta(hours=1)
# Short enough that SIGTERM during a send still exits within 10 s.
SEND_TIMEOUTS = (3.0, 6.0)
# A row still ``sending`` this long after its attempt began belongs to a runner that died mid-send: a live one
# finishes or times out well within it. Younger rows may be another runner's send in progress.
STUCK_AFTER = timedelta(minutes=2)

PENDING, SENDING, SENT, FAILED, SUPERSEDED = "pending", "sending", "sent", "failed", "superseded"


def utcnow() -> datetime:
    return datetime.now(UTC)


def naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: 30 s, 1 min, 2 min ... capped at 30 min, each scaled by 0.5-1.0."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))
    return delay * rng.uniform(0.5, 1.0)


def _release_memory() -> None:
    """Before a long sleep, hand the memory a slot's work freed back to the system. CPython keeps freed heap in
    the process; glibc's malloc_trim returns it, so an idle service stays at its import size."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass(frozen=True)
class SlotOutcome:
    key: str
    claimed: bool  # False: another runner (or an earlier run) had it
    due: int
    outbox_id: int | None


@dataclass(frozen=True)
class SendOutcome:
    outbox_id: int
    status: str
    error: str | None = None
    ntfy_id: str | None = None


class Runner:
    """One runner on one store. ``clock`` returns an aware UTC datetime; tests pass a frozen one.

    ``before_slot(day)`` runs before each slot is claimed (the vault sync); ``actions(notes, day)`` gives the
    phone buttons for the notes a digest lists (done, snooze, open), when the service has a public URL.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: NtfyClient | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
        rng: random.Random | None = None,
        before_slot: Callable[[date], None] | None = None,
        actions: Callable[[Sequence[Any], date], list[dict[str, Any]]] | None = None,
        last_key: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.clock = clock
        self.name = name or runner_name()
        self.rng = rng or random.Random()
        self.before_slot = before_slot
        self.actions = actions
        self.last_key = last_key  # the slot this runner processed last (a child of `run` is told it)
        self.worked = False  # whether the last step processed a slot or sent something

    # --- slots ---

    def build_message(self, due: list[Any], day: date) -> dict[str, Any]:
        s = self.settings
        return digest.build_digest(
            due,
            topic=s.ntfy_topic,
            language=s.language,
            priority=s.priority,
            overdue_priority=s.overdue_priority,
            overdue_days=s.overdue_days,
            tags=s.tags,
            listed_actions=(lambda listed: self.actions(listed, day)) if self.actions else None,
        )

    def preview(self, slot: datetime) -> dict[str, Any] | None:
        """The digest the slot would send, without claiming it (for --dry-run)."""
        day = slot.date()
        with self.store.read() as session:
            due = notes.due_on(session, day, self.settings.extra_every)
        return self.build_message(due, day) if due else None

    def process_slot(self, slot: datetime) -> SlotOutcome:
        """Claim ``slot`` (aware, in the learner's zone) and queue its digest, in one transaction."""
        key = slots.local_key(slot)
        day = slot.date()  # "today" is the calendar day in the learner's zone at the slot's instant
        if self.before_slot is not None:
            self.before_slot(day)
        now = naive(self.clock())
        try:
            with self.store.write() as session:
                row = Slot(local_key=key, scheduled_at=naive(slot), claimed_at=now, claimed_by=self.name)
                session.add(row)
                session.flush()  # the unique key decides here which runner owns the slot
                due = notes.due_on(session, day, self.settings.extra_every)
                row.due_count = len(due)
                outbox_id = None
                # Whatever an older digest still waiting lists and is still due, this slot lists too; and when
                # nothing is due any more, the older one would only report reviews already done.
                session.execute(
                    update(Outbox)
                    .where(Outbox.status == PENDING, Outbox.kind == "digest")
                    .values(status=SUPERSEDED, last_error=f"superseded by slot {key}")
                )
                if due:
                    message = self.build_message(due, day)
                    entry = Outbox(
                        slot_id=row.id,
                        kind="digest",
                        payload=json.dumps(message, ensure_ascii=False),
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    session.add(entry)
                    session.flush()
                    outbox_id = entry.id
        except IntegrityError:
            log_event("slot", slot=key, result="already-claimed", runner=self.name)
            return SlotOutcome(key, False, 0, None)
        log_event("slot", slot=key, result="claimed", due=len(due), outbox=outbox_id or "-", runner=self.name)
        return SlotOutcome(key, True, len(due), outbox_id)

    def current_slot(self, now: datetime | None = None) -> datetime:
        return slots.previous_slot(self.settings.cron, self.settings.timezone, now or self.clock())

    def next_slot(self, now: datetime | None = None) -> datetime:
        return slots.next_slot(self.settings.cron, self.settings.timezone, now or self.clock())

    # --- delivery ---

    def _recover_in_flight(self) -> None:
        """Rows left ``sending`` by a crash: ntfy may have the message already. Look before resending."""
        cutoff = naive(self.clock()) - STUCK_AFTER
        with self.store.write() as session:
            stuck = session.scalars(
                select(Outbox).where(Outbox.status == SENDING, Outbox.next_attempt_at <= cutoff)
            ).all()
            for entry in stuck:
                message = json.loads(entry.payload)
                found = self._find_published(message, entry.next_attempt_at)
                if found:
                    entry.status, entry.ntfy_id, entry.sent_at = SENT, found, naive(self.clock())
                    log_event("send", outbox=entry.id, result="recovered", ntfy_id=found)
                else:
                    entry.status = PENDING
                    log_event("send", outbox=entry.id, result="retry-after-crash")

    def _find_published(self, message: dict[str, Any], since: datetime | None) -> str | None:
        if self.client is None or since is None:
            return None
        try:
            seen = self.client.poll(message["topic"], since=str(int(aware(since).timestamp()) - 5))
        except (NtfyError, InvalidMessage):
            return None  # a write-only token cannot read the topic: resend (at least once)
        for item in seen:
            if item.get("title") == message.get("title") and item.get("message") == message.get("message"):
                return str(item.get("id"))
        return None

    def next_retry(self) -> datetime | None:
        with self.store.read() as session:
            at = session.scalar(select(func.min(Outbox.next_attempt_at)).where(Outbox.status == PENDING))
        return aware(at) if at else None

    def dispatch(self, stop: threading.Event | None = None) -> list[SendOutcome]:
        """Send every pending message whose time has come, oldest first."""
        if self.client is None:
            return []
        self._recover_in_flight()
        outcomes = []
        while stop is None or not stop.is_set():
            now = naive(self.clock())
            with self.store.write() as session:
                entry = session.scalars(
                    select(Outbox)
                    .where(Outbox.status == PENDING, Outbox.next_attempt_at <= now)
                    .order_by(Outbox.id)
                    .limit(1)
                    # Another runner on the same PostgreSQL store may be taking this row right now.
                    .with_for_update(skip_locked=True)
                ).first()
                if entry is None:
                    break
                # Written before the send: a crash from here on leaves a trace that _recover_in_flight reads.
                entry.status, entry.attempts, entry.next_attempt_at = SENDING, entry.attempts + 1, now
                entry_id, attempts, payload = entry.id, entry.attempts, json.loads(entry.payload)
            outcomes.append(self._send(entry_id, attempts, payload))
        return outcomes

    def _send(self, entry_id: int, attempts: int, payload: dict[str, Any]) -> SendOutcome:
        assert self.client is not None
        try:
            result = self.client.publish(payload)
        except (NtfyError, InvalidMessage) as exc:
            transient = isinstance(exc, NtfyError) and exc.transient
            now = naive(self.clock())
            with self.store.write() as session:
                entry = session.get(Outbox, entry_id)
                assert entry is not None
                entry.last_error = str(exc)
                if transient:
                    entry.status = PENDING
                    entry.next_attempt_at = now + backoff(attempts, self.rng)
                else:
                    entry.status = FAILED
                    entry.next_attempt_at = None
                status, retry_at = entry.status, entry.next_attempt_at
            log_event(
                "send", outbox=entry_id, result=status, attempt=attempts, retry_at=retry_at or "-", error=str(exc)
            )
            return SendOutcome(entry_id, status, str(exc))
        # Recorded the moment the answer arrives: this is the whole at-least-once window.
        with self.store.write() as session:
            entry = session.get(Outbox, entry_id)
            assert entry is not None
            entry.status, entry.ntfy_id, entry.sent_at, entry.last_error = SENT, result.id, naive(self.clock()), None
        log_event("send", outbox=entry_id, result=SENT, attempt=attempts, ntfy_id=result.id)
        return SendOutcome(entry_id, SENT, None, result.id)

    # --- the loop ---

    def step(self, stop: threading.Event | None = None) -> timedelta:
        """Do what is due now (the latest slot if not yet seen, then the outbox); return the time to sleep."""
        now = self.clock()
        slot = self.current_slot(now)
        key = slots.local_key(slot)
        self.worked = False
        if key != self.last_key:
            self.process_slot(slot)
            self.last_key = key
            self.worked = True
        if self.dispatch(stop):
            self.worked = True
        now = self.clock()
        wake = min(self.next_slot(now), now + MAX_SLEEP)
        retry = self.next_retry()
        if retry is not None:
            wake = min(wake, retry)
        return max(wake - now, timedelta(0))

    def run(self, stop: threading.Event, wait: Callable[[threading.Event, float], bool] | None = None) -> None:
        """Until ``stop`` is set: step, then sleep until the next slot or retry. ``wait`` is Event.wait-like."""
        waiter = wait or (lambda event, seconds: event.wait(seconds))
        log_event("start", runner=self.name, cron=self.settings.cron, timezone=self.settings.timezone)
        while not stop.is_set():
            delay = self.step(stop)
            if stop.is_set():
                break
            if self.worked:
                _release_memory()
            log_event("sleep", seconds=round(delay.total_seconds(), 1), until=(self.clock() + delay).isoformat())
            waiter(stop, max(delay.total_seconds(), 0.05))
        log_event("stop", runner=self.name)


# --- status --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    last_slot: Slot | None
    next_slot: datetime
    pending: list[Outbox]
    failed: list[Outbox]
    last_sent: Outbox | None


def status(store: Store, settings: Settings, now: datetime) -> Status:
    with store.read() as session:
        last_slot = session.scalars(select(Slot).order_by(Slot.scheduled_at.desc(), Slot.id.desc()).limit(1)).first()
        pending = session.scalars(select(Outbox).where(Outbox.status.in_([PENDING, SENDING])).order_by(Outbox.id)).all()
        failed = session.scalars(
            select(Outbox).where(Outbox.status == FAILED).order_by(Outbox.id.desc()).limit(5)
        ).all()
        last_sent = session.scalars(
            select(Outbox).where(Outbox.status == SENT).order_by(Outbox.sent_at.desc()).limit(1)
        ).first()
    nxt = slots.next_slot(settings.cron, settings.timezone, now)
    return Status(last_slot, nxt, list(pending), list(failed), last_sent)

"""The service loop: claim each cron slot once, put its digest in the outbox, deliver the outbox to ntfy.

Delivery rules (README, "Delivery"):
- A slot is claimed by inserting its row (unique zone and wall-clock key) in the same transaction that writes its
  digest into the outbox. A second runner, a restart, or a local time that occurs twice cannot claim it again.
- The newest claimed slot is a high-water mark: a slot at or before it is never claimed (a clock set back, a
  restored VM, an NTP step). After a change of ``timezone``, a local day on which a slot of the old zone was
  already claimed is not served again.
- Catch-up: at every wake the runner looks at the most recent slot only. After downtime that is the last missed
  slot, processed once; older missed slots are not replayed (the last one's digest lists every overdue review).
- Each new slot supersedes digests still waiting: its own digest lists everything still due, and with nothing
  due an old digest would only report reviews already done.
- Sends are written before and after: the row is marked ``sending`` (committed) before the request and ``sent``
  with ntfy's id as soon as the answer arrives. ntfy has no idempotency key, so an attempt whose answer never came
  (a read timeout, a connection cut after the request went out, a runner killed mid-send and found ``sending``
  later) leaves the row ``uncertain``: before sending it again the runner looks on the topic and, if ntfy has
  it, records that message instead. A token that may publish but not read cannot look: then the resend can
  duplicate the message (once per lost answer), and the log says so.
- Network I/O never happens inside a write transaction (on SQLite one holds the store's only write lock): rows are
  claimed in a short transaction, sent or looked up outside it, and the outcome written in another. Claims use
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two runners never take the same row.
- A nudge slot (REMINDER_NUDGE_CRON) and a summary slot (REMINDER_SUMMARY_CRON) are claimed once in the same
  way, under keys of their own kind; their messages go into the same outbox with their ``kind`` and supersede
  nothing. A nudge lists the notes of that day's digest still open, and is not sent when there are none; both are
  processed only on their own day (after downtime past midnight they are skipped, not replayed).
- Transient failures stay pending with exponential backoff and jitter; permanent ones are marked failed with
  ntfy's words and are not retried. A review stays due until it is done, so the next slot carries it again.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import os
import random
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import sleep
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reminder import digest, slots
from reminder.clock import utcnow as utcnow  # the runner's default clock, importable from here as before
from reminder.config import ConfigError, Settings
from reminder.events import log_event, runner_name
from reminder.ledger import LISTED_KEY as LISTED_KEY
from reminder.ledger import Conflict, Ledger, OutboxStatus, StoreLedger, StoreTx, Tx
from reminder.ntfy import NtfyError, is_stored
from reminder.slots import Status as Status  # defined beside the slots, so the light read path can make one

if TYPE_CHECKING:
    from reminder.db import Store
    from reminder.ntfy import NtfyClient

# What the runner reads and writes is in reminder.ledger, run through the store (SQLAlchemy) or, for `run --once`
# on a plain SQLite file, through sqlite3 (LightLedger): this module holds the rules, and imports no SQLAlchemy.

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
# How far before a row was written the lost-answer look-up starts: ntfy stamps a message by its own clock, and
# this machine's may be minutes ahead of it. Wider is safe: the look-up matches the stored title, text and tags
# and skips messages another row has recorded, and the digest's and nudge's titles carry their day.
LOOKUP_BEFORE = timedelta(hours=1)
# After a wake the store failed: try again this much later.
STORE_RETRY = timedelta(minutes=1)

PENDING, SENDING, SENT, FAILED, SUPERSEDED = OutboxStatus  # the short names the runner has always used
# LISTED_KEY: the notes the latest digest listed, for that day's nudge: {"day": ..., "outbox": id or null,
# "notes": [ids]}. One row, rewritten by each digest slot: a nudge is only ever about its own day's latest digest.


FAULT_ENV = "REMINDER_TEST_FAULTS"


def fault_point(name: str) -> None:
    """A named point where the fault-injection tests (tests/test_faults.py) hold the process so that a SIGKILL
    lands exactly there. ``REMINDER_TEST_FAULTS="publish:0.5,claimed:0.2"`` sleeps that many seconds at those
    points; unset (always, outside those tests) this does nothing."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for part in spec.split(","):
        point, _, seconds = part.partition(":")
        if point == name:
            print(f"fault-point {name}", file=sys.stderr, flush=True)
            sleep(float(seconds or 0))


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


# Why a slot was not claimed (SlotOutcome.reason).
ALREADY_CLAIMED = "already-claimed"  # this slot: another runner, or an earlier run
OLDER_THAN_CLAIMED = "older-than-claimed"  # at or before the newest slot claimed: the clock went back
DAY_SERVED = "day-served"  # the zone changed and this local day was already served in the old one
SKIPPED_LATE = "skipped-late"  # a nudge or summary slot of a day already over (after downtime)


@dataclass(frozen=True)
class SlotOutcome:
    key: str
    claimed: bool  # False: see reason
    due: int
    outbox_id: int | None
    reason: str = "claimed"


@dataclass(frozen=True)
class SendOutcome:
    outbox_id: int
    status: OutboxStatus
    error: str | None = None
    ntfy_id: str | None = None


def claim_refusal(session: Any, slot: datetime, key: str, zone: str) -> str | None:
    """Why ``slot`` (aware, in ``zone``; ``key`` its local key) must not be claimed, or None when a runner
    still has to claim it. Read inside the claiming transaction; /healthz asks it too (reminder.web.health), so a
    slot the runner rightly passes over is no alarm and one it still owes is. ``session``: the store's."""
    return refusal(StoreTx(session, session.get_bind().dialect.name == "sqlite"), slot, key, zone)


def refusal(tx: Tx, slot: datetime, key: str, zone: str) -> str | None:
    """claim_refusal in a transaction of either ledger."""
    newest = tx.scalar("runner_newest_digest_slot")
    if newest is not None and slot <= newest:
        same = tx.scalar("runner_same_slot", slot_zone=zone, slot_key=key)
        return ALREADY_CLAIMED if same is not None else OLDER_THAN_CLAIMED
    # A slot claimed under another zone (or before zones were recorded) whose instant falls on this local day
    # served the learner's day already: REMINDER_TIMEZONE changed from Asia/Seoul to UTC must not send again.
    tz = ZoneInfo(zone)
    start = datetime.combine(slot.date(), time(0), tzinfo=tz)
    end = datetime.combine(slot.date() + timedelta(days=1), time(0), tzinfo=tz)
    other = tx.scalar("runner_day_served", start=start, end=end, slot_zone=zone)
    return DAY_SERVED if other is not None else None


class Runner:
    """One runner on one store. ``clock`` returns an aware UTC datetime; tests pass a frozen one.

    ``before_slot(day)`` runs before each slot is claimed (the vault sync); ``actions(notes, day)`` gives the
    phone buttons for the notes a digest lists (done, snooze, open), when the service has a public URL.
    ``ledger`` runs the digest slot's and the outbox's reads and writes (default: through ``store``); a
    LightLedger needs no store for them, but the nudge and summary slots build their messages through the store.
    """

    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        client: NtfyClient | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
        rng: random.Random | None = None,
        before_slot: Callable[[date], None] | None = None,
        actions: Callable[[Sequence[Any], date], list[dict[str, Any]]] | None = None,
        last_key: str | None = None,
        click: Callable[[Sequence[Any], date], str] | None = None,
        stats_url: Callable[[date], str] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.store = store
        if ledger is None:
            assert store is not None, "a runner needs a store or a ledger"
            ledger = StoreLedger(store)
        self.ledger = ledger
        self.settings = settings
        self.client = client
        self.clock = clock
        self.name = name or runner_name()
        self.rng = rng or random.Random()
        self.before_slot = before_slot
        self.actions = actions
        self.click = click
        self.last_key = last_key  # the slot this runner processed last (a child of `run` is told it)
        self.stats_url = stats_url
        self.last_other: dict[str, str] = {}  # kind -> key of the nudge / summary slot last seen
        self.worked = False  # whether the last step processed a slot or sent something

    # --- slots ---

    def topic(self) -> str:
        """The topic every message goes to (the commands check it at start; the runner says so too)."""
        if not self.settings.ntfy_topic:
            raise ConfigError("no ntfy topic is configured: run `reminder setup` first (or set REMINDER_NTFY_TOPIC)")
        return self.settings.ntfy_topic

    def build_message(self, due: list[Any], day: date, waiting: int = 0, title: str | None = None) -> dict[str, Any]:
        s = self.settings
        actions, click = self.actions, self.click
        return digest.build_digest(
            due,
            day=day,
            topic=self.topic(),
            language=s.language,
            priority=s.priority,
            overdue_priority=s.overdue_priority,
            overdue_days=s.overdue_days,
            tags=s.tags,
            listed_actions=(lambda listed: actions(listed, day)) if actions else None,
            waiting=waiting,
            title=title,
            click=(lambda listed: click(listed, day)) if click else None,
        )

    def digest_notes(self, tx: Tx, due: list[Any], day: date) -> tuple[list[Any], int]:
        """What a slot's digest lists (the most urgent the daily limit still allows today) and how many wait;
        nothing when too few are due to be worth a notification."""
        s = self.settings
        if not digest.worth_a_digest(due, s.min_due, s.overdue_days):
            return [], 0
        return tx.choose_due(due, day, s.daily_limit)

    def preview(self, slot: datetime) -> dict[str, Any] | None:
        """The digest the slot would send, without claiming it (for --dry-run)."""
        day = slot.date()
        with self.ledger.read() as tx:
            due = tx.due(day, self.settings.extra_every)
            listed, waiting = self.digest_notes(tx, due, day)
        return self.build_message(listed, day, waiting) if listed else None

    def process_slot(self, slot: datetime) -> SlotOutcome:
        """Claim ``slot`` (aware, in the learner's zone) and queue its digest, in one transaction."""
        key = slots.local_key(slot)
        zone = self.settings.timezone
        day = slot.date()  # "today" is the calendar day in the learner's zone at the slot's instant
        if self.before_slot is not None:
            self.before_slot(day)
        now = self.clock()
        fault_point("before-claim")
        try:
            with self.ledger.write() as tx:
                tx.lock_claims()  # serialised, so the high-water mark read next cannot race another claim
                refused = refusal(tx, slot, key, zone)
                if refused is not None:
                    log_event("slot", slot=key, zone=zone, result=refused, runner=self.name)
                    return SlotOutcome(key, False, 0, None, refused)
                due = tx.due(day, self.settings.extra_every)
                slot_id = self._claim(tx, key, slot, now, len(due))
                outbox_id = None
                # Whatever an older digest still waiting lists and is still due, this slot lists too; and when
                # nothing is due any more, the older one would only report reviews already done.
                tx.execute("runner_supersede", reason=f"superseded by slot {key}")
                listed, waiting = self.digest_notes(tx, due, day)
                if listed:
                    outbox_id = self._queue(tx, self.build_message(listed, day, waiting), now, slot_id=slot_id)
                listing = {"day": day.isoformat(), "outbox": outbox_id, "notes": [n.note_id for n in listed]}
                if not tx.execute("runner_listed_update", listing=json.dumps(listing)):
                    tx.execute("runner_listed_insert", listing=json.dumps(listing))
                fault_point("outbox")  # inside the claiming transaction, before it commits
        except Conflict:
            log_event("slot", slot=key, zone=zone, result=ALREADY_CLAIMED, runner=self.name)
            return SlotOutcome(key, False, 0, None, ALREADY_CLAIMED)
        log_event("slot", slot=key, result="claimed", due=len(due), outbox=outbox_id or "-", runner=self.name)
        return SlotOutcome(key, True, len(due), outbox_id)

    def _claim(self, tx: Tx, key: str, slot: datetime, now: datetime, count: int) -> int:
        """Insert the slot's row; the unique (zone, key) decides here which runner owns it (Conflict: another)."""
        zone = self.settings.timezone
        row = tx.scalar(
            "runner_insert_slot", slot_key=key, slot_zone=zone, at=slot, claimed=now, runner=self.name, due=count
        )
        return int(row)

    @staticmethod
    def _queue(tx: Tx, message: dict[str, Any], now: datetime, *, slot_id: int | None, kind: str = "digest") -> int:
        payload = json.dumps(message, ensure_ascii=False)
        return int(tx.scalar("runner_insert_outbox", slot_row=slot_id, message_kind=kind, message=payload, now=now))

    def queue_now(self) -> int | None:
        """Put what is due now into the outbox as one message outside any slot (``reminder notify now``); None
        when nothing is due. The dispatcher sends it like a slot's digest, with the same delivery rules."""
        now = self.clock()
        day = now.astimezone(ZoneInfo(self.settings.timezone)).date()
        with self.ledger.write() as tx:
            due = tx.due(day, self.settings.extra_every)
            if not due:
                return None
            listed, waiting = tx.choose_due(due, day, self.settings.daily_limit)
            if not listed:
                return None  # the day's limit is reached: the rest wait, as in a digest
            message = self.build_message(listed, day, waiting)
            outbox_id = self._queue(tx, message, now, slot_id=None, kind="now")
        log_event("now", due=len(due), outbox=outbox_id)
        return outbox_id

    # --- nudge and weekly summary slots ---

    def other_crons(self) -> dict[str, str]:
        s = self.settings
        return {kind: cron for kind, cron in (("nudge", s.nudge_cron), ("summary", s.summary_cron)) if cron}

    def build_nudge(self, session: Any, day: date) -> tuple[dict[str, Any] | None, int]:
        """The nudge for ``day``: the notes that day's digest listed (once it was sent) that are still due."""
        from sqlalchemy import select

        from reminder import notes
        from reminder.db.models import Meta, Outbox

        row = session.get(Meta, LISTED_KEY)
        listing = json.loads(row.value) if row is not None else {}
        if listing.get("day") != day.isoformat() or listing.get("outbox") is None:
            return None, 0
        if session.scalar(select(Outbox.status).where(Outbox.id == listing["outbox"])) != SENT:
            return None, 0  # the phone has not shown that digest: nothing to remind of
        listed = set(listing["notes"])
        still_open = [n for n in notes.due_on(session, day, self.settings.extra_every) if n.note_id in listed]
        if not still_open:
            return None, 0
        title = digest.nudge_title(len(still_open), self.settings.language)
        return self.build_message(still_open, day, title=title), len(still_open)

    def build_summary(self, session: Any, day: date) -> tuple[dict[str, Any] | None, int]:
        from reminder.history import read_stats

        s = self.settings
        data = read_stats(session, day, s.extra_every, daily_limit=s.daily_limit)
        if not data.subjects:
            return None, 0  # no notes: nothing to summarise
        done = sum(d.count for d in data.history[-7:])
        message = digest.build_summary(
            topic=self.topic(),
            language=s.language,
            tags=s.tags,
            done_this_week=done,
            recall=data.recall,
            streak=data.streak,
            next_week=sum(d.count for d in data.forecast[1:8]),
            stats_url=self.stats_url(day) if self.stats_url else None,
        )
        return message, done

    def process_other_slots(self, now: datetime) -> list[SlotOutcome]:
        """The latest nudge and summary slots at ``now``, each the first time this runner sees it."""
        outcomes = []
        for kind, cron in self.other_crons().items():
            slot = slots.previous_slot(cron, self.settings.timezone, now)
            key = slots.kind_key(kind, slot)
            if key != self.last_other.get(kind):
                outcomes.append(self.process_other_slot(kind, slot))
                self.last_other[kind] = key
        return outcomes

    def process_other_slot(self, kind: str, slot: datetime) -> SlotOutcome:
        """Claim a nudge or summary ``slot`` and queue its message, if it has one, in one transaction.

        The message is built first, in a read: the summary's statistics read the whole store, and inside the
        claiming transaction they would hold SQLite's write lock (a phone button, `reminder add`, the other
        runner's claim all waiting) for as long as they take. The claim and the queued message stay one short
        transaction, so a slot still gets exactly one message; a runner that loses the claim drops what it built.
        """
        key = slots.kind_key(kind, slot)
        day = slot.date()
        now = self.clock()
        if self.clock().astimezone(slot.tzinfo).date() != day:
            log_event("slot", slot=key, result=SKIPPED_LATE, runner=self.name)
            return SlotOutcome(key, False, 0, None, SKIPPED_LATE)
        if kind == "nudge" and self.before_slot is not None:
            self.before_slot(day)  # a review ticked in Obsidian since the digest is not open any more
        build = self.build_nudge if kind == "nudge" else self.build_summary
        zone = self.settings.timezone
        with self.ledger.read() as tx:
            # Served already (by another runner): not worth reading the statistics for.
            claimed = tx.scalar("runner_same_slot", slot_zone=zone, slot_key=key) is not None
        if claimed:
            return self._not_claimed(key)
        assert self.store is not None, "the nudge and summary slots read through the store"
        with self.store.read() as session:
            message, count = build(session, day)
        try:
            with self.ledger.write() as tx:
                slot_id = self._claim(tx, key, slot, now, count)
                outbox_id = None
                if message is not None:
                    outbox_id = self._queue(tx, message, now, slot_id=slot_id, kind=kind)
        except Conflict:  # claimed by another runner between the read and the claim
            return self._not_claimed(key)
        log_event("slot", slot=key, result="claimed", count=count, outbox=outbox_id or "-", runner=self.name)
        return SlotOutcome(key, True, count, outbox_id)

    def _not_claimed(self, key: str) -> SlotOutcome:
        log_event("slot", slot=key, result=ALREADY_CLAIMED, runner=self.name)
        return SlotOutcome(key, False, 0, None, ALREADY_CLAIMED)

    def current_slot(self, now: datetime | None = None) -> datetime:
        return slots.previous_slot(self.settings.cron, self.settings.timezone, now or self.clock())

    def next_slot(self, now: datetime | None = None) -> datetime:
        return slots.next_slot(self.settings.cron, self.settings.timezone, now or self.clock())

    # --- delivery ---

    def _recover_in_flight(self) -> None:
        """Rows left ``sending`` by a runner that died mid-send: ntfy may have the message. Put them back as
        pending and uncertain in one statement (no I/O here); whoever claims one next looks on the topic first."""
        cutoff = self.clock() - STUCK_AFTER
        with self.ledger.write() as tx:
            ids = tx.column("runner_recover", cutoff=cutoff)
        for entry_id in ids:
            log_event("send", outbox=entry_id, result="stuck-sending", action="look-before-resend")

    def _find_published(self, message: dict[str, Any], since: datetime) -> tuple[str | None, bool]:
        """(ntfy's id of ``message`` if the topic holds it, whether the topic could be read at all)."""
        assert self.client is not None
        try:
            seen = self.client.poll(message["topic"], since=str(int((since - LOOKUP_BEFORE).timestamp())))
        except NtfyError:
            return None, False  # e.g. a write-only token: the resend may duplicate
        matching = [str(item.get("id")) for item in seen if is_stored(message, item)]
        if not matching:
            return None, True
        # A message another outbox row already owns (the same text sent twice on purpose) is not this one.
        with self.ledger.read() as tx:
            known = {
                ntfy_id for ntfy_id in set(matching) if tx.scalar("runner_owner_of", message_id=ntfy_id) is not None
            }
        for item in seen:
            if str(item.get("id")) not in known and is_stored(message, item):
                return str(item.get("id")), True
        return None, True

    def next_retry(self) -> datetime | None:
        with self.ledger.read() as tx:
            at: datetime | None = tx.scalar("runner_next_retry")
        return at

    def dispatch(self, stop: threading.Event | None = None) -> list[SendOutcome]:
        """Send every pending message whose time has come, oldest first."""
        if self.client is None:
            return []
        self._recover_in_flight()
        outcomes = []
        while stop is None or not stop.is_set():
            now = self.clock()
            with self.ledger.write() as tx:
                # Locked (FOR UPDATE SKIP LOCKED on PostgreSQL): another runner may be taking a row right now.
                entry = tx.row("runner_next_pending", now=now)
                if entry is None:
                    break
                entry_id, attempts = entry["id"], entry["attempts"] + 1
                # Written before the send: a crash from here on leaves a trace that _recover_in_flight reads.
                tx.execute("runner_mark_sending", row_id=entry_id, attempt=attempts, now=now)
                payload, uncertain, created = json.loads(entry["payload"]), entry["uncertain"], entry["created_at"]
            fault_point("claimed")
            if uncertain:
                found, readable = self._find_published(payload, created)
                if found is not None:
                    outcomes.append(self._record_sent(entry_id, attempts, found, result="recovered"))
                    continue
                if not readable:
                    log_event("send", outbox=entry_id, result="resend-unchecked", reason="cannot read the topic")
            outcomes.append(self._send(entry_id, attempts, payload))
        return outcomes

    def _send(self, entry_id: int, attempts: int, payload: dict[str, Any]) -> SendOutcome:
        assert self.client is not None
        try:
            fault_point("publish")
            result = self.client.publish(payload)
        except NtfyError as exc:
            transient = exc.transient
            now = self.clock()
            status, retry_at = (PENDING, now + backoff(attempts, self.rng)) if transient else (FAILED, None)
            with self.ledger.write() as tx:
                # ambiguous: ntfy may have stored it, so the row becomes uncertain (look before the next attempt).
                tx.execute(
                    "runner_attempt_failed",
                    row_id=entry_id,
                    new_status=status,
                    retry_at=retry_at,
                    error=str(exc),
                    ambiguous=exc.ambiguous,
                )
            log_event(
                "send", outbox=entry_id, result=status, attempt=attempts, retry_at=retry_at or "-", error=str(exc)
            )
            return SendOutcome(entry_id, status, exc.text)  # English as text; the command line translates it
        fault_point("answered")
        # Recorded the moment the answer arrives: this is the whole at-least-once window.
        return self._record_sent(entry_id, attempts, result.id, result=SENT)

    def _record_sent(self, entry_id: int, attempts: int, ntfy_id: str, *, result: str) -> SendOutcome:
        with self.ledger.write() as tx:
            tx.execute("runner_sent", row_id=entry_id, message_id=ntfy_id, now=self.clock())
        log_event("send", outbox=entry_id, result=result, attempt=attempts, ntfy_id=ntfy_id)
        return SendOutcome(entry_id, SENT, None, ntfy_id)

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
        if self.process_other_slots(now):
            self.worked = True
        if self.dispatch(stop):
            self.worked = True
        now = self.clock()
        wake = min(self.next_slot(now), now + MAX_SLEEP)
        for cron in self.other_crons().values():
            wake = min(wake, slots.next_slot(cron, self.settings.timezone, now))
        retry = self.next_retry()
        if retry is not None:
            wake = min(wake, retry)
        return max(wake - now, timedelta(0))

    def run(self, stop: threading.Event, wait: Callable[[threading.Event, float], bool] | None = None) -> None:
        """Until ``stop`` is set: step, then sleep until the next slot or retry. ``wait`` is Event.wait-like."""
        waiter = wait or (lambda event, seconds: event.wait(seconds))
        log_event("start", runner=self.name, cron=self.settings.cron, timezone=self.settings.timezone)
        from sqlalchemy.exc import SQLAlchemyError  # the service always runs on the store

        from reminder.db import one_line

        while not stop.is_set():
            try:
                delay = self.step(stop)
            except SQLAlchemyError as exc:
                # The store busy beyond its timeout, or PostgreSQL restarting: nothing was committed halfway (each
                # write is one transaction), and the next wake does it again, as the supervisor does for a child.
                reason = one_line(exc)  # not the SQL and its parameters
                retry_in = STORE_RETRY.total_seconds()
                log_event("step", level=logging.ERROR, result="store-error", error=reason, retry_in=retry_in)
                delay = STORE_RETRY
            if stop.is_set():
                break
            if self.worked:
                _release_memory()
            log_event("sleep", seconds=round(delay.total_seconds(), 1), until=(self.clock() + delay).isoformat())
            waiter(stop, max(delay.total_seconds(), 0.05))
        log_event("stop", runner=self.name)


# --- status --------------------------------------------------------------------------------------------------


def status_statements() -> dict[str, Any]:
    """The queries of `reminder status`, written once: run here by the store path, and compiled for the light
    read path (reminder.compile_sql, reminder.lightread.status_from_sqlite_file)."""
    from sqlalchemy import select

    from reminder.db.models import Outbox, Slot, Vault

    return {
        "status_last_slot": select(Slot)
        .where(slots.digest_slots())
        .order_by(Slot.scheduled_at.desc(), Slot.id.desc())
        .limit(1),
        "status_pending": select(Outbox).where(Outbox.status.in_([PENDING, SENDING])).order_by(Outbox.id),
        "status_failed": select(Outbox).where(Outbox.status == FAILED).order_by(Outbox.id.desc()).limit(5),
        "status_last_sent": select(Outbox).where(Outbox.status == SENT).order_by(Outbox.sent_at.desc()).limit(1),
        # The registered vaults' folders, walked for the write-back copies a crash left (cli.run._copies_left).
        "status_vault_folders": select(Vault.path).order_by(Vault.name),
    }


def status(store: Store, settings: Settings, now: datetime) -> Status:
    queries = status_statements()
    with store.read() as session:
        last_slot = session.scalars(queries["status_last_slot"]).first()
        pending = session.scalars(queries["status_pending"]).all()
        failed = session.scalars(queries["status_failed"]).all()
        last_sent = session.scalars(queries["status_last_sent"]).first()
    nxt = slots.next_slot(settings.cron, settings.timezone, now)
    return Status(last_slot, nxt, list(pending), list(failed), last_sent)

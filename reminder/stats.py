"""How it is going: forecast, history, streak, recall and subjects. Pure: plain rows in, ``today`` a parameter.

Rules (README, "Statistics"):
- forecast: the reviews shown on each of the next FORECAST_DAYS days, today first with everything overdue, if the
  learner does each day what is shown that day; under a daily limit a day shows at most that many (the most
  urgent) and the rest move on to the next day, so the forecast is the load the phone will actually show;
- history: reviews done on each of the last HISTORY_DAYS days (12 weeks, today included);
- streak: days in a row on which everything due was done. A day is kept when no review due by its end was still
  open then, or, under a daily limit, when that many reviews were done on it (the phone showed no more); today
  counts once what is due today is done, and does not break the streak while it is still open;
  days before the first study are not counted. Open reviews of notes that no longer get reminders (archived or
  long-term) break nothing; a snoozed review is due from the end of its snooze;
- recall: the share of rated reviews over the last RECALL_DAYS days not rated `again`; None without ratings;
- subjects: per subject, the notes, how many are in long-term memory, and their average progress (archived
  notes are left out).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from reminder import schedule

RATINGS = ("again", "hard", "good", "easy")


@dataclass(frozen=True)
class NoteHistory:
    """A note and all its review slots (schedule.Review, done ones with their done_on)."""

    id: int
    title: str
    subject: str | None
    first_studied_on: date
    ladder: tuple[int, ...]
    long_term_on: date | None
    snoozed_until: date | None
    archived: bool
    reviews: tuple[schedule.Review, ...]
    scheduler: str = "ladder"  # ladder, fsrs or sr (reminder.schedulers)
    state: Any = None  # the scheduler's state (FSRS card, SR fields); None for the ladder


@dataclass(frozen=True)
class ReviewEvent:
    """One review the learner did on ``day``. ``rating`` is one of RATINGS, or None when only the day is known."""

    note_id: int
    day: date
    rating: str | None = None


FORECAST_DAYS = 30
HISTORY_DAYS = 84
RECALL_DAYS = 30


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class SubjectStats:
    subject: str | None
    notes: int
    long_term: int
    progress: int  # average percent, rounded


@dataclass(frozen=True)
class Stats:
    today: date
    forecast: tuple[DayCount, ...]
    history: tuple[DayCount, ...]
    streak: int
    recall: float | None
    subjects: tuple[SubjectStats, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "forecast": [{"date": d.day.isoformat(), "count": d.count} for d in self.forecast],
            "history": [{"date": d.day.isoformat(), "reviews": d.count} for d in self.history],
            "streak": self.streak,
            "recall": None if self.recall is None else round(self.recall, 4),
            "subjects": [
                {"subject": s.subject, "notes": s.notes, "long_term": s.long_term, "progress": s.progress}
                for s in self.subjects
            ],
        }


def _gets_reminders(note: NoteHistory) -> bool:
    return not note.archived and note.long_term_on is None


# --- forecast ----------------------------------------------------------------------------------------------------


def forecast(
    notes: Iterable[NoteHistory],
    today: date,
    extra_every: int,
    *,
    daily_limit: int | None = None,
    days: int = FORECAST_DAYS,
    reviewed_today: int = 0,
) -> tuple[DayCount, ...]:
    """Reviews shown on each day from ``today`` on, simulating a learner who does each day what is shown.

    A daily limit is a quota for the day: ``reviewed_today`` reviews already done today count against today's.
    On the ladder, doing a review ticks every stage due that day (as `done` does) and replaces a pending extra
    review by the next one after that day, so a note comes back on its next stage's absolute date whatever day it
    was reviewed. A note with another scheduler (FSRS, the SR plugin) comes back when that scheduler says after a
    review rated `good` on that day.
    """
    from reminder.schedulers import scheduler_named

    # Only the notes due on a day are looked at that day: the others wait in a heap by the day they come due.
    pending: dict[int, list[schedule.Review]] = {}
    active: dict[int, NoteHistory] = {}
    coming: list[tuple[date, int]] = []
    for note in notes:
        open_reviews = [r for r in note.reviews if r.done_on is None]
        if _gets_reminders(note) and open_reviews:
            active[note.id] = note
            pending[note.id] = open_reviews
            first_due = min(r.due_on for r in open_reviews)
            if note.snoozed_until is not None:
                first_due = max(first_due, note.snoozed_until)
            coming.append((first_due, note.id))
    heapq.heapify(coming)
    waiting: set[int] = set()  # due, not yet shown (a daily limit held them back)
    result = []
    for i in range(days):
        day = today + timedelta(days=i)
        while coming and coming[0][0] <= day:
            waiting.add(heapq.heappop(coming)[1])
        due = []
        for note_id in waiting:
            note = active[note_id]
            if note.state is not None:
                summary = schedule.summarise_scheduled(pending[note_id], day)
            else:
                summary = schedule.summarise_due(note.first_studied_on, note.ladder, extra_every, pending[note_id], day)
            if summary is not None:
                stage, extra, due_on = summary
                due.append(schedule.DueNote(note_id, note.title, None, stage, extra, due_on, (day - due_on).days, 0))
        limit = daily_limit - reviewed_today if daily_limit is not None and i == 0 else daily_limit
        shown, _ = schedule.apply_daily_limit(due, limit)
        for item in shown:
            note = active[item.note_id]
            if note.state is not None:
                scheduler = scheduler_named(note.scheduler)
                state = scheduler.review(note.state, "good", day)
                active[item.note_id] = note = replace(note, state=state)
                nxt = scheduler.due_on(state)
                # One slot standing for the scheduler's next day (the offset only labels it).
                left = [schedule.Review((nxt - note.first_studied_on).days, False, nxt)] if nxt else []
            else:
                left = [r for r in pending[item.note_id] if r.due_on > day]
            if note.state is None and any(r.extra and r.due_on <= day for r in pending[item.note_id]):
                offset = schedule.next_extra_offset(note.first_studied_on, note.ladder, extra_every, day)
                left.append(schedule.Review(offset, True, schedule.due_date(note.first_studied_on, offset)))
            pending[item.note_id] = left
            waiting.discard(item.note_id)
            if left:
                heapq.heappush(coming, (min(r.due_on for r in left), item.note_id))
        result.append(DayCount(day, len(shown)))
    return tuple(result)


# --- history, recall ---------------------------------------------------------------------------------------------


def history(events: Iterable[ReviewEvent], today: date, days: int = HISTORY_DAYS) -> tuple[DayCount, ...]:
    """Reviews done on each of the ``days`` days ending with ``today``, oldest first."""
    start = today - timedelta(days=days - 1)
    counts = Counter(e.day for e in events if start <= e.day <= today)
    return tuple(DayCount(start + timedelta(days=i), counts[start + timedelta(days=i)]) for i in range(days))


def recall(events: Iterable[ReviewEvent], today: date, days: int = RECALL_DAYS) -> float | None:
    """Share of the rated reviews of the ``days`` days ending with ``today`` not rated `again`."""
    start = today - timedelta(days=days - 1)
    rated = [e.rating for e in events if e.rating is not None and start <= e.day <= today]
    if not rated:
        return None
    return sum(1 for r in rated if r != "again") / len(rated)


# --- streak ------------------------------------------------------------------------------------------------------


# A review's span: (the day it is due from, the day it was done or None while open), and how many reviews have it.
Spans = Counter[tuple[date, date | None]]


def review_spans(notes: Iterable[NoteHistory]) -> Spans:
    """The reviews the streak counts, by span: an open review of a note that gets no reminders (archived or
    long-term) breaks nothing, and an open review of a snoozed note is due from the end of its snooze.
    reminder.history.read_summary counts the same in SQL."""
    spans: Spans = Counter()
    for note in notes:
        for review in note.reviews:
            if review.done_on is None and not _gets_reminders(note):
                continue
            due = review.due_on
            if review.done_on is None and note.snoozed_until is not None:
                due = max(due, note.snoozed_until)
            spans[(due, review.done_on)] += 1
    return spans


def streak(
    notes: Iterable[NoteHistory],
    today: date,
    events: Iterable[ReviewEvent] = (),
    daily_limit: int | None = None,
) -> int:
    """Days in a row, ending today, on which everything due was done (see the module's rules).

    Under a daily limit the phone shows at most that many a day, so a day on which the learner did that many
    reviews (``events``) is kept too, though a backlog is still open at its end.
    """
    notes = list(notes)
    start = min((n.first_studied_on for n in notes), default=None)
    return streak_of_spans(review_spans(notes), start, today, events, daily_limit)


def streak_of_spans(
    spans: Spans,
    start: date | None,
    today: date,
    events: Iterable[ReviewEvent] = (),
    daily_limit: int | None = None,
    earlier: Mapping[date, int] | None = None,
) -> int:
    """The streak from the reviews' spans; ``start`` is the first study of the store's first note (days before
    it are not counted), None for a store without notes. ``earlier``: the notes reviewed on days ``events`` does
    not reach back to (reminder.history.days_at_limit), for the daily limit's rule."""
    if start is None:
        return 0
    span = (today - start).days + 1
    # open_at_end[i]: how many reviews were still open at the end of day start + i (a difference array).
    delta = [0] * (span + 1)
    for (due, done_on), count in spans.items():
        # Open at the end of each day from its due date to the day before it was done.
        last = done_on - timedelta(days=1) if done_on else today
        first, last = max(due, start), min(last, today)
        if first <= last:
            delta[(first - start).days] += count
            delta[(last - start).days + 1] -= count
    done = Counter(e.day for e in events) if daily_limit else Counter()
    for day, count in (earlier or {}).items():
        done[day] = max(done[day], count)  # a day both cover is counted once
    kept = 0
    open_at_end = 0
    days_open = []
    for i in range(span):
        open_at_end += delta[i]
        days_open.append(open_at_end)
    for i in range(span - 1, -1, -1):
        day = start + timedelta(days=i)
        if days_open[i] == 0 or (daily_limit and done[day] >= daily_limit):
            kept += 1
        elif day != today:  # today still has time: it breaks nothing yet
            break
    return kept


# --- subjects ----------------------------------------------------------------------------------------------------


def note_progress(note: NoteHistory) -> int:
    done = sum(1 for r in note.reviews if not r.extra and r.done_on is not None)
    return schedule.progress(done, len(note.ladder), note.long_term_on is not None)


# Notes by what their progress and subject depend on: (subject, stages on the ladder, long-term, stages done).
Groups = Counter[tuple[str | None, int, bool, int]]


def subject_groups(notes: Iterable[NoteHistory]) -> Groups:
    """The notes the subjects count (archived ones are left out), grouped; reminder.history.read_summary counts
    the same in SQL."""
    groups: Groups = Counter()
    for note in notes:
        if not note.archived:
            done = sum(1 for r in note.reviews if not r.extra and r.done_on is not None)
            groups[(note.subject, len(note.ladder), note.long_term_on is not None, done)] += 1
    return groups


def subjects(notes: Iterable[NoteHistory]) -> tuple[SubjectStats, ...]:
    """Per subject (None for notes without one, listed last), sorted by name."""
    return subjects_of_groups(subject_groups(notes))


def subjects_of_groups(groups: Groups) -> tuple[SubjectStats, ...]:
    by_subject: dict[str | None, list[tuple[int, bool, int]]] = {}  # (notes, long-term, their progress summed)
    for (subject, stages, long_term, done), count in groups.items():
        pct = schedule.progress(done, stages, long_term)
        by_subject.setdefault(subject, []).append((count, long_term, pct * count))
    result = []
    for subject in sorted(by_subject, key=lambda s: (s is None, (s or "").casefold())):
        members = by_subject[subject]
        notes = sum(count for count, _, _ in members)
        average = sum(total for _, _, total in members) / notes
        in_long_term = sum(count for count, is_long_term, _ in members if is_long_term)
        result.append(SubjectStats(subject, notes, in_long_term, int(average + 0.5)))
    return tuple(result)


# --- all of it ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What the statistics need of the store, far less than every note with every review: the notes that still
    have open reviews and get reminders (with just those reviews: the forecast), the reviews' spans (the
    streak), the notes grouped by subject and progress (the subjects), and the first study of all."""

    pending: tuple[NoteHistory, ...]
    spans: Spans
    groups: Groups
    first_study: date | None

    @classmethod
    def of(cls, notes: Sequence[NoteHistory]) -> Summary:
        pending = []
        for note in notes:
            open_reviews = tuple(r for r in note.reviews if r.done_on is None)
            if _gets_reminders(note) and open_reviews:
                pending.append(replace(note, reviews=open_reviews))
        first = min((n.first_studied_on for n in notes), default=None)
        return cls(tuple(pending), review_spans(notes), subject_groups(notes), first)


def compute(
    notes: Sequence[NoteHistory],
    events: Sequence[ReviewEvent],
    today: date,
    extra_every: int,
    *,
    daily_limit: int | None = None,
) -> Stats:
    return compute_summary(Summary.of(notes), events, today, extra_every, daily_limit=daily_limit)


def compute_summary(
    summary: Summary,
    events: Sequence[ReviewEvent],
    today: date,
    extra_every: int,
    *,
    daily_limit: int | None = None,
) -> Stats:
    return Stats(
        today=today,
        forecast=forecast(
            summary.pending,
            today,
            extra_every,
            daily_limit=daily_limit,
            reviewed_today=len({e.note_id for e in events if e.day == today}),
        ),
        history=history(events, today),
        streak=streak_of_spans(summary.spans, summary.first_study, today, events, daily_limit),
        recall=recall(events, today),
        subjects=subjects_of_groups(summary.groups),
    )


def events_since(today: date) -> date:
    """The first day whose reviews compute() needs for the charts and the recall. The streak under a daily limit
    may need earlier days too (streak_reaches_back)."""
    return today - timedelta(days=max(HISTORY_DAYS, RECALL_DAYS) - 1)


def streak_reaches_back(streak_days: int, today: date) -> bool:
    """Whether a streak computed from the events since events_since(today) kept every day they cover (today, still
    open, need not count), so that under a daily limit it may go on before them."""
    return streak_days >= (today - events_since(today)).days

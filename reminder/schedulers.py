"""The schedulers a note can have, behind one small interface: given its state and a rating on a day, the new
state and the day it is due next. Pure, like reminder.schedule: no I/O, no clock, ``day`` is always a parameter.

- ``ladder``: the template's fixed stages (reminder.schedule). ``again`` keeps the stage open and brings the note
  back tomorrow; ``hard``/``good``/``easy`` mark every due stage done, as a plain review always has.
- ``fsrs``: the FSRS model through py-fsrs (the reference implementation), in whole days: no minute learning
  steps (a note is reviewed once a day at most), no fuzz (the same history always gives the same days).
- ``sr``: the Obsidian Spaced Repetition plugin's note algorithm (its SM-2 variant), on the note's own
  ``sr-due``/``sr-interval``/``sr-ease`` fields, so a note reviewed here and in Obsidian stays on one schedule.

The rest of the service asks only "when is this note due next, given its history" (``Scheduler.review`` and
``Scheduler.due_on``), whichever scheduler the note has.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from reminder import schedule

RATINGS = ("again", "hard", "good", "easy")
SCHEDULERS = ("ladder", "fsrs", "sr")


def check_rating(rating: str) -> str:
    if rating not in RATINGS:
        raise ValueError(f"{rating!r} is not a rating (again, hard, good or easy)")
    return rating


class Scheduler(Protocol):
    """What every scheduler answers. ``State`` is the scheduler's own small frozen dataclass."""

    name: str

    def review(self, state: Any, rating: str, day: date) -> Any:
        """The state after a review rated ``rating`` on ``day``."""
        ...

    def due_on(self, state: Any) -> date | None:
        """The day the note is due next (None: never again, e.g. long-term memory)."""
        ...


def preview(scheduler: Scheduler, state: Any, day: date) -> dict[str, date | None]:
    """When the note would come back for each rating given on ``day`` (the review page's buttons)."""
    return {rating: scheduler.due_on(scheduler.review(state, rating, day)) for rating in RATINGS}


# --- the ladder --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderState:
    first_studied_on: date
    ladder: tuple[int, ...]
    extra_every: int
    done: frozenset[int] = frozenset()  # ladder stages done
    extra_offset: int | None = None  # the pending extra review's offset; None: the first one after the ladder
    again_until: date | None = None  # an `again` holds the note until this day (the stage stays open)
    long_term: bool = False


class Ladder:
    name = "ladder"

    def review(self, state: LadderState, rating: str, day: date) -> LadderState:
        check_rating(rating)
        if rating == "again":
            return replace(state, again_until=day + timedelta(days=1))
        due = {o for o in state.ladder if schedule.due_date(state.first_studied_on, o) <= day}
        extra = self._extra(state)
        if schedule.due_date(state.first_studied_on, extra) <= day:
            extra = schedule.next_extra_offset(state.first_studied_on, state.ladder, state.extra_every, day)
        return replace(state, done=state.done | due, extra_offset=extra, again_until=None)

    def due_on(self, state: LadderState) -> date | None:
        if state.long_term:
            return None
        pending = [schedule.due_date(state.first_studied_on, o) for o in state.ladder if o not in state.done]
        pending.append(schedule.due_date(state.first_studied_on, self._extra(state)))
        nxt = min(pending)
        if state.again_until is not None:
            nxt = max(nxt, state.again_until)
        return nxt

    @staticmethod
    def _extra(state: LadderState) -> int:
        if state.extra_offset is not None:
            return state.extra_offset
        return schedule.first_extra_offset(state.ladder, state.extra_every)


# --- FSRS --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FsrsState:
    """The FSRS card as py-fsrs serialises it (JSON), with the options it is scheduled with. The options are
    copied onto the note when it gets FSRS (as the ladder is), so changing REMINDER_FSRS_RETENTION later does not
    silently move notes already under way; switching the note again applies the new ones."""

    card: str
    desired_retention: float = 0.9
    maximum_interval: int = 365
    parameters: tuple[float, ...] | None = None

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.card)


def _instant(day: date) -> datetime:
    # py-fsrs works in aware instants; a review day is its UTC midnight, so whole-day intervals stay whole days.
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@lru_cache(maxsize=16)
def _fsrs_scheduler(retention: float, maximum_interval: int, parameters: tuple[float, ...] | None) -> Any:
    import fsrs

    options: dict[str, Any] = {
        "desired_retention": retention,
        "maximum_interval": maximum_interval,
        "learning_steps": (),
        "relearning_steps": (),
        "enable_fuzzing": False,
    }
    if parameters is not None:
        options["parameters"] = parameters
    return fsrs.Scheduler(**options)


class Fsrs:
    name = "fsrs"

    def start(
        self,
        first_studied_on: date,
        *,
        desired_retention: float = 0.9,
        maximum_interval: int = 365,
        parameters: Sequence[float] | None = None,
    ) -> FsrsState:
        """The first study is the first review: a ``good`` on the first-study day."""
        import fsrs

        params = tuple(parameters) if parameters is not None else None
        scheduler = _fsrs_scheduler(desired_retention, maximum_interval, params)
        card, _ = scheduler.review_card(fsrs.Card(card_id=1), fsrs.Rating.Good, _instant(first_studied_on))
        return FsrsState(card.to_json(), desired_retention, maximum_interval, params)

    def review(self, state: FsrsState, rating: str, day: date) -> FsrsState:
        import fsrs

        check_rating(rating)
        card = fsrs.Card.from_json(state.card)
        card, _ = self._scheduler(state).review_card(card, fsrs.Rating[rating.capitalize()], _instant(day))
        if rating == "again":
            # Without relearning steps FSRS puts a lapse at its post-lapse stability, which can be two or three
            # days; a forgotten note comes back tomorrow on every scheduler here (the learner's rule), and FSRS
            # takes the actual elapsed days into account at that next review.
            card.due = min(card.due, _instant(day + timedelta(days=1)))
        return replace(state, card=card.to_json())

    def due_on(self, state: FsrsState) -> date:
        return datetime.fromisoformat(state.data["due"]).astimezone(UTC).date()

    def recall(self, state: FsrsState, day: date) -> float:
        """The predicted probability of recalling the note on ``day``."""
        import fsrs

        card = fsrs.Card.from_json(state.card)
        return float(self._scheduler(state).get_card_retrievability(card, _instant(day)))

    def replay(self, start: FsrsState, first_studied_on: date, reviews: Iterable[tuple[date, str]]) -> FsrsState:
        """``start`` (the first study) and then ``reviews`` (day, rating), one per day at most: of several ratings
        on one day the last counts; reviews on the first-study day are the first study itself."""
        by_day: dict[date, str] = {}
        for day, rating in reviews:
            if day > first_studied_on:
                by_day[day] = rating
        state = start
        for day in sorted(by_day):
            state = self.review(state, by_day[day], day)
        return state

    @staticmethod
    def _scheduler(state: FsrsState) -> Any:
        return _fsrs_scheduler(state.desired_retention, state.maximum_interval, state.parameters)


# --- the Obsidian Spaced Repetition plugin ------------------------------------------------------------------------

# The plugin's default settings (src/settings.ts, "algorithm"): base ease 250, lapses interval change 0.5, easy
# bonus 1.3, maximum interval 36525 days.
SR_BASE_EASE = 250
SR_LAPSES_INTERVAL_CHANGE = 0.5
SR_EASY_BONUS = 1.3
SR_MAXIMUM_INTERVAL = 36525
SR_MIN_EASE = 130


@dataclass(frozen=True)
class SrState:
    """The three frontmatter fields of an SR note: ``sr-due`` (YYYY-MM-DD), ``sr-interval`` (days), ``sr-ease``."""

    due: date
    interval: int
    ease: int

    def fields(self) -> dict[str, str]:
        """The values as the plugin writes them (formatDateYYYYMMDD, and plain numbers)."""
        return {"sr-due": self.due.isoformat(), "sr-interval": str(self.interval), "sr-ease": str(self.ease)}


def _js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(value + 0.5)


class Sr:
    """The plugin's note scheduling, as in st3v3nmw/obsidian-spaced-repetition
    src/algorithms/osr/note-scheduling.ts (osrSchedule) with src/algorithms/osr/rep-item-schedule-info-osr.ts:

    - the delay is the whole days the review comes after ``sr-due`` (0 when on time or early);
    - easy: ease + 20, interval = (interval + delay) * ease / 100 * easy bonus (1.3);
    - good: interval = (interval + delay / 2) * ease / 100, ease unchanged;
    - hard: ease = max(130, ease - 20), interval = max(1, (interval + delay / 4) * 0.5) (the lapses change);
    - the interval is capped at the maximum interval, rounded (Math.round, as the schedule info stores it), and
      ``sr-due`` is the review day plus the interval.

    Notes in the plugin have three answers (Easy, Good, Hard); ``again`` is taken as its lowest, Hard. The
    plugin's optional load balancing (moving intervals over a week to the least busy day of the vault's due-date
    histogram) depends on every other note of the vault, so it is not applied here: the interval is the rounded
    one the plugin computes before balancing.
    """

    name = "sr"

    def review(self, state: SrState, rating: str, day: date) -> SrState:
        check_rating(rating)
        delay = max(0, (day - state.due).days)
        interval: float = state.interval
        ease = state.ease
        if rating == "easy":
            ease += 20
            interval = (interval + delay) * ease / 100
            interval *= SR_EASY_BONUS
        elif rating == "good":
            interval = (interval + delay / 2) * ease / 100
        else:  # hard, and again
            ease = max(SR_MIN_EASE, ease - 20)
            interval = max(1, (interval + delay / 4) * SR_LAPSES_INTERVAL_CHANGE)
        interval = min(interval, SR_MAXIMUM_INTERVAL)
        days = _js_round(interval)
        return SrState(due=day + timedelta(days=days), interval=days, ease=ease)

    def due_on(self, state: SrState) -> date:
        return state.due


def parse_sr_due(text: str) -> date:
    """``sr-due`` in the formats the plugin reads (constants.ts ALLOWED_DATE_FORMATS): YYYY-MM-DD (what it
    writes), DD-MM-YYYY, and "ddd MMM DD YYYY" (Date.toDateString, from its oldest versions)."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%a %b %d %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"sr-due {text!r} is not a date (YYYY-MM-DD)")


# --- state in the store -------------------------------------------------------------------------------------------


def encode_state(state: FsrsState | SrState) -> str:
    if isinstance(state, FsrsState):
        return json.dumps(
            {
                "fsrs": json.loads(state.card),
                "desired_retention": state.desired_retention,
                "maximum_interval": state.maximum_interval,
                "parameters": list(state.parameters) if state.parameters is not None else None,
            },
            sort_keys=True,
        )
    return json.dumps({"sr": {"due": state.due.isoformat(), "interval": state.interval, "ease": state.ease}})


def decode_state(text: str) -> FsrsState | SrState:
    data = json.loads(text)
    if "fsrs" in data:
        params = data.get("parameters")
        return FsrsState(
            json.dumps(data["fsrs"], sort_keys=True),
            float(data.get("desired_retention", 0.9)),
            int(data.get("maximum_interval", 365)),
            tuple(params) if params is not None else None,
        )
    sr = data["sr"]
    return SrState(date.fromisoformat(sr["due"]), int(sr["interval"]), int(sr["ease"]))


def decode_fsrs_state(text: str) -> FsrsState:
    state = decode_state(text)
    if not isinstance(state, FsrsState):
        raise ValueError("scheduler_state holds no FSRS state")
    return state


def decode_sr_state(text: str) -> SrState:
    state = decode_state(text)
    if not isinstance(state, SrState):
        raise ValueError("scheduler_state holds no SR state")
    return state


SCHEDULER_OBJECTS: dict[str, Any] = {"ladder": Ladder(), "fsrs": Fsrs(), "sr": Sr()}


def scheduler_named(name: str) -> Any:
    return SCHEDULER_OBJECTS[name]

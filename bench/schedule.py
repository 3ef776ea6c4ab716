"""Benchmark: how many reviews a year each scheduler asks for, and how much of them the learner recalls.

Simulated learners: every note has a known forgetting curve, FSRS's own memory model with its default
parameters (py-fsrs), which decides, at each review, the probability the note is recalled; the outcome is drawn
from it, rated `good` when recalled and `again` when not, and the note's true memory moves on with that rating.
The same notes and the same random draws go through:

- ladder (the baseline): the template's stages 1, 4, 7, 14, then every 30 days; `again` brings it back tomorrow;
- fsrs: reminder's FSRS scheduler at 0.9 desired retention, 365-day maximum interval.

Printed per scheduler: reviews per note over the year (median and mean), the share of reviews recalled, and
the mean probability of recall on the year's last day. FSRS here schedules with the very model that generates
the outcomes (its defaults), so it is at its best; a learner unlike the defaults is what `fsrs optimize` is for.

    python bench/schedule.py [--notes 500] [--days 365] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine

from reminder.schedulers import Fsrs, Ladder, LadderState

START = date(2025, 1, 1)


def _instant(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Truth:
    """A note's real memory: FSRS-6 with its default parameters, in whole days."""

    def __init__(self) -> None:
        import fsrs

        self.fsrs = fsrs
        self.scheduler = fsrs.Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)

    def start(self, day: date, first: str) -> Any:
        card, _ = self.scheduler.review_card(self.fsrs.Card(card_id=1), self.fsrs.Rating[first], _instant(day))
        return card

    def recall(self, card: Any, day: date) -> float:
        return float(self.scheduler.get_card_retrievability(card, _instant(day)))

    def review(self, card: Any, rating: str, day: date) -> Any:
        card, _ = self.scheduler.review_card(card, self.fsrs.Rating[rating.capitalize()], _instant(day))
        return card


@dataclass
class Result:
    name: str
    reviews: list[int]
    recalled: int
    total: int
    end_recall: list[float]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "scheduler": self.name,
            "reviews_per_note_median": statistics.median(self.reviews),
            "reviews_per_note_mean": round(statistics.fmean(self.reviews), 2),
            "share_recalled": round(self.recalled / self.total, 4) if self.total else None,
            "recall_on_last_day_mean": round(statistics.fmean(self.end_recall), 4),
            "seconds": round(self.seconds, 2),
        }


def simulate(name: str, notes: int, days: int, seed: int) -> Result:
    truth = Truth()
    ladder, fsrs = Ladder(), Fsrs()
    end = START + timedelta(days=days)
    reviews: list[int] = []
    recalled = total = 0
    end_recall: list[float] = []
    began = time.perf_counter()
    for index in range(notes):
        # Notes differ in how well the first study went (FSRS's first rating sets the initial difficulty and
        # stability), and each note's draws are its own, the same for both schedulers.
        first = START + timedelta(days=index % 30)
        note_rng = random.Random(seed * 1_000_003 + index)
        first_rating = note_rng.choices(["Hard", "Good", "Easy"], weights=[2, 6, 2])[0]
        card = truth.start(first, first_rating)
        state: Any
        if name == "ladder":
            scheduler: Any = ladder
            state = LadderState(first_studied_on=first, ladder=(1, 4, 7, 14), extra_every=30)
        else:
            scheduler = fsrs
            state = fsrs.start(first, desired_retention=0.9, maximum_interval=365)
        count = 0
        while True:
            day = scheduler.due_on(state)
            if day is None or day >= end:
                break
            p = truth.recall(card, day)
            ok = note_rng.random() < p
            rating = "good" if ok else "again"
            recalled += ok
            total += 1
            count += 1
            card = truth.review(card, rating, day)
            state = scheduler.review(state, rating, day)
        reviews.append(count)
        end_recall.append(truth.recall(card, end))
    return Result(name, reviews, recalled, total, end_recall, time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = [simulate(name, args.notes, args.days, args.seed) for name in ("ladder", "fsrs")]
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "notes": args.notes,
                    "days": args.days,
                    "seed": args.seed,
                    "baseline": "ladder",
                    "results": [r.as_json() for r in results],
                },
                indent=2,
            )
        )
        return
    print(f"machine: {machine()}")
    print(f"{args.notes} simulated notes over {args.days} days (truth: FSRS-6 defaults), seed {args.seed}\n")
    print(f"{'scheduler':<18}{'reviews/note':>14}{'(mean)':>9}{'recalled':>10}{'recall, last day':>18}{'time':>8}")
    base = results[0]
    for r in results:
        j = r.as_json()
        label = f"{r.name} (baseline)" if r is base else r.name
        print(
            f"{label:<18}{j['reviews_per_note_median']:>14}{j['reviews_per_note_mean']:>9}"
            f"{j['share_recalled']:>10.1%}{j['recall_on_last_day_mean']:>18.1%}{r.seconds:>7.1f}s"
        )
    ratio = statistics.fmean(results[1].reviews) / statistics.fmean(base.reviews)
    print(f"\nfsrs asks for {ratio:.2f}x the ladder's reviews")


if __name__ == "__main__":
    main()

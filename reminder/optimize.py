"""Fitting FSRS to the learner's own history, and saying whether it helps: pure, except that the fit runs the
Rust optimizer of fsrs-rs-python (burn, no PyTorch: py-fsrs's own optimizer needs torch, a multi-gigabyte
dependency).

Each note's history is its first study (a ``good`` on the first-study day) and then its reviews, one per day
(of several ratings on one day the last counts, as reminder.schedulers replays them). Every review after the
first is one thing to predict: "recalled or not" (``again`` is a lapse) from the reviews before it. The latest
fifth of those reviews, by day, is held out: the parameters are fitted on the earlier ones and both the default
and the fitted parameters are scored on the held-out ones with log loss and RMSE (fsrs-rs' binned RMSE, the
metric of the FSRS benchmark). Lower is better for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

MIN_REVIEWS = 100  # reviews after a note's first study, train and held-out together
HOLD_OUT = 0.2
RATING_NUMBERS = {"again": 1, "hard": 2, "good": 3, "easy": 4}


class NotEnoughHistory(Exception):
    def __init__(self, have: int, need: int) -> None:
        super().__init__(f"{have} reviews logged; fitting FSRS needs at least {need} (reviews after a first study)")
        self.have, self.need = have, need


@dataclass(frozen=True)
class Case:
    """One review to predict: the note's (rating, days since the previous review) up to and including it."""

    day: date
    reviews: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Report:
    reviews: int
    train: int
    held_out: int
    default_log_loss: float
    default_rmse: float
    fitted_log_loss: float
    fitted_rmse: float
    parameters: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "reviews": self.reviews,
            "train": self.train,
            "held_out": self.held_out,
            "default": {"log_loss": round(self.default_log_loss, 4), "rmse": round(self.default_rmse, 4)},
            "fitted": {"log_loss": round(self.fitted_log_loss, 4), "rmse": round(self.fitted_rmse, 4)},
            "parameters": [round(p, 4) for p in self.parameters],
        }


def cases(histories: Iterable[tuple[date, Sequence[tuple[date, str]]]]) -> list[Case]:
    """Every review to predict, from (first-study day, [(day, rating), ...]) per note."""
    out: list[Case] = []
    for first, events in histories:
        by_day: dict[date, str] = {}
        for day, rating in events:
            if day > first:
                by_day[day] = rating
        reviews: list[tuple[int, int]] = [(RATING_NUMBERS["good"], 0)]
        previous = first
        for day in sorted(by_day):
            reviews.append((RATING_NUMBERS[by_day[day]], (day - previous).days))
            previous = day
            out.append(Case(day, tuple(reviews)))
    return out


def split(all_cases: Sequence[Case]) -> tuple[list[Case], list[Case]]:
    """The earlier four fifths to fit on, the latest fifth (by day) held out."""
    ordered = sorted(all_cases, key=lambda c: c.day)
    cut = len(ordered) - max(1, int(len(ordered) * HOLD_OUT))
    return ordered[:cut], ordered[cut:]


def _items(selected: Sequence[Case]) -> list[Any]:
    import fsrs_rs_python as rs

    return [rs.FSRSItem([rs.FSRSReview(rating, delta) for rating, delta in case.reviews]) for case in selected]


def fit(all_cases: Sequence[Case], *, minimum: int = MIN_REVIEWS) -> Report:
    if len(all_cases) < minimum:
        raise NotEnoughHistory(len(all_cases), minimum)
    import fsrs_rs_python as rs

    train, test = split(all_cases)
    defaults = rs.FSRS(list(rs.DEFAULT_PARAMETERS))
    parameters = defaults.compute_parameters(_items(train))
    held_out = _items(test)
    before = defaults.evaluate(held_out)
    after = rs.FSRS(list(parameters)).evaluate(held_out)
    return Report(
        reviews=len(all_cases),
        train=len(train),
        held_out=len(test),
        default_log_loss=before.log_loss,
        default_rmse=before.rmse_bins,
        fitted_log_loss=after.log_loss,
        fitted_rmse=after.rmse_bins,
        parameters=tuple(parameters),
    )

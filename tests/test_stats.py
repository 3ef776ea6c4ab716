"""The statistics on a made-up history, every number worked out by hand in the comments; then `reminder stats`.

The history (today is 2024-07-20, ladder 1/4/7/14, extra reviews every 30 days):
- #1 "Kubernetes 오브젝트" (쿠버네티스), first studied 07-07: stages due 07-08, 07-11, 07-14, 07-21; done on 07-08,
  07-12 (a day late) and 07-14; the D+14 stage and the extra review (D+44, 08-20) are pending.
- #2 "kubectl 명령어" (쿠버네티스), first studied 07-15: stages due 07-16, 07-19, 07-22, 07-29; D+1 done on 07-16;
  D+4 (07-19) done as the variant says (still open, on 07-19, or late on 07-20).
- #3 "TCP handshake" (Network), first studied 06-01: every stage done on its day (06-02, 06-05, 06-08, 06-15),
  marked long-term on 07-10.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from reminder import schedule, stats
from reminder.cli.output import width
from reminder.cli.stats import render
from reminder.stats import NoteHistory, ReviewEvent

TODAY = date(2024, 7, 20)
LADDER = (1, 4, 7, 14)


def d(month: int, day: int) -> date:
    return date(2024, month, day)


def note(
    id: int,
    title: str,
    subject: str | None,
    first: date,
    done: dict[int, date | None],
    *,
    long_term_on: date | None = None,
    extra_pending: bool = True,
) -> NoteHistory:
    reviews = [schedule.Review(o, False, first + timedelta(days=o), done.get(o)) for o in LADDER]
    if extra_pending and long_term_on is None:
        reviews.append(schedule.Review(44, True, first + timedelta(days=44)))
    return NoteHistory(id, title, subject, first, LADDER, long_term_on, None, False, tuple(reviews))


def made_up(kubectl_d4: date | None) -> list[NoteHistory]:
    return [
        note(1, "Kubernetes 오브젝트", "쿠버네티스", d(7, 7), {1: d(7, 8), 4: d(7, 12), 7: d(7, 14)}),
        note(2, "kubectl 명령어", "쿠버네티스", d(7, 15), {1: d(7, 16), 4: kubectl_d4}),
        note(
            3,
            "TCP handshake",
            "Network",
            d(6, 1),
            {1: d(6, 2), 4: d(6, 5), 7: d(6, 8), 14: d(6, 15)},
            long_term_on=d(7, 10),
        ),
    ]


def events_of(notes: list[NoteHistory]) -> list[ReviewEvent]:
    return sorted(
        {ReviewEvent(n.id, r.done_on) for n in notes for r in n.reviews if r.done_on}, key=lambda e: (e.day, e.note_id)
    )


def test_forecast_counts_the_overdue_review_today_and_each_stage_on_its_date() -> None:
    counts = {f.day: f.count for f in stats.forecast(made_up(None), TODAY, 30)}
    assert len(counts) == 30 and min(counts) == TODAY and max(counts) == d(8, 18)
    # 07-20: kubectl's D+4 (due 07-19, overdue); 07-21: Kubernetes D+14; 07-22, 07-29: kubectl D+7, D+14.
    # Kubernetes' extra review (08-20) is past the 30 days; TCP is long-term and never comes back.
    assert {day: c for day, c in counts.items() if c} == {d(7, 20): 1, d(7, 21): 1, d(7, 22): 1, d(7, 29): 1}


def test_forecast_brings_an_overdue_extra_review_back_every_30_days_after_it_is_done() -> None:
    # First studied 06-01, ladder done: the extra review D+44 was due 07-15. Done today (07-20, D+49), the next
    # one is the first D+14+30k after today: D+74 = 08-14.
    done = {o: d(6, 1) + timedelta(days=o) for o in LADDER}
    counts = {f.day: f.count for f in stats.forecast([note(1, "extra", None, d(6, 1), done)], TODAY, 30)}
    assert {day: c for day, c in counts.items() if c} == {d(7, 20): 1, d(8, 14): 1}


def test_forecast_under_a_daily_limit_moves_the_rest_to_the_next_day() -> None:
    # D+1 of three notes: first studied 07-17, 07-18, 07-19, so on 07-20 they are 2, 1 and 0 days late.
    three = [note(i, f"note {i}", None, d(7, 16 + i), {}) for i in (1, 2, 3)]
    free = {f.day: f.count for f in stats.forecast(three, TODAY, 30)}
    # Without a limit: all three today, then each one's D+4 on 07-21, 07-22, 07-23, and note 1's D+7 on 07-24.
    assert [free[d(7, n)] for n in range(20, 25)] == [3, 1, 1, 1, 1]
    capped = {f.day: f.count for f in stats.forecast(three, TODAY, 30, daily_limit=2)}
    # At most 2: today the two most overdue; on 07-21 the one that waited plus note 1's D+4; then 07-22 note 2's
    # D+4, 07-23 note 3's D+4 (its D+1 was done on 07-21: stages keep their absolute dates), 07-24 note 1's D+7.
    assert [capped[d(7, n)] for n in range(20, 25)] == [2, 2, 1, 1, 1]
    assert max(capped.values()) == 2
    # One review already done today leaves room for one more today; the other two move on.
    used = {f.day: f.count for f in stats.forecast(three, TODAY, 30, daily_limit=2, reviewed_today=1)}
    assert used[TODAY] == 1


def test_daily_limit_lists_the_most_overdue_first() -> None:
    due = [
        schedule.DueNote(i, t, None, 1, False, TODAY, late, 0) for i, t, late in ((1, "b", 0), (2, "a", 3), (3, "c", 3))
    ]
    listed, waiting = schedule.apply_daily_limit(due, 2)
    assert [n.note_id for n in listed] == [2, 3] and waiting == 1
    assert schedule.apply_daily_limit(due, None) == ([due[1], due[2], due[0]], 0)
    # Between notes as late, the one a scheduler predicts is slipping most comes first.
    listed, _ = schedule.apply_daily_limit(due, 2, recall={3: 0.4, 2: 0.8})
    assert [n.note_id for n in listed] == [3, 2]


def test_history_counts_reviews_per_day_over_twelve_weeks() -> None:
    history = stats.history(events_of(made_up(d(7, 19))), TODAY)
    assert len(history) == 84 and history[0].day == d(4, 28) and history[-1].day == TODAY
    by_day = {h.day: h.count for h in history}
    # Nine reviews: 06-02, 06-05, 06-08, 06-15 (TCP), 07-08, 07-12, 07-14 (Kubernetes), 07-16, 07-19 (kubectl).
    assert sum(by_day.values()) == 9
    assert by_day[d(7, 19)] == 1 and by_day[d(7, 11)] == 0 and by_day[TODAY] == 0
    # Two stages ticked by one review on the same day are one review.
    assert stats.history([ReviewEvent(1, TODAY), ReviewEvent(2, TODAY)], TODAY)[-1].count == 2


@pytest.mark.parametrize(
    ("kubectl_d4", "expected"),
    [
        # kubectl's D+4 (due 07-19) still open: 07-19 ended with it open, and today is not done yet -> 0.
        (None, 0),
        # Done on 07-19: the last day left open is 07-11 (Kubernetes D+4, done on 07-12); kept since: 07-12 ..
        # 07-19 (8 days), and today nothing is due -> 9.
        (d(7, 19), 9),
        # Done a day late, today: 07-19 ended open; today is kept -> 1.
        (d(7, 20), 1),
    ],
)
def test_streak_counts_the_days_in_a_row_with_everything_due_done(kubectl_d4: date | None, expected: int) -> None:
    assert stats.streak(made_up(kubectl_d4), TODAY) == expected


def test_streak_today_open_does_not_break_it_yet_and_an_archived_note_breaks_nothing() -> None:
    # Kubernetes' D+14 comes due 07-21: on that day, still open, the streak counts the days before it.
    notes = made_up(d(7, 19))
    assert stats.streak(notes, d(7, 21)) == 9
    # The next day it has been open at the end of 07-21: the streak starts again.
    assert stats.streak(notes, d(7, 22)) == 0
    gone = [NoteHistory(**{**n.__dict__, "archived": n.id == 1}) for n in notes]
    assert stats.streak(gone, d(7, 22)) == 10
    assert stats.streak([], TODAY) == 0


def test_recall_is_the_share_not_rated_again_over_30_days_and_none_without_ratings() -> None:
    events = [
        ReviewEvent(3, d(6, 15), "again"),  # more than 30 days ago (the window starts 06-21): left out
        ReviewEvent(1, d(7, 8), "good"),
        ReviewEvent(1, d(7, 12), "again"),
        ReviewEvent(1, d(7, 14), "hard"),
        ReviewEvent(2, d(7, 16), "easy"),
        ReviewEvent(2, d(7, 19), None),  # known only by its day: not rated
    ]
    assert stats.recall(events, TODAY) == 0.75  # 3 of the 4 rated reviews were not `again`
    assert stats.recall(events_of(made_up(d(7, 19))), TODAY) is None


def test_subjects_count_notes_long_term_and_average_progress() -> None:
    result = stats.subjects(made_up(None))
    # Network: TCP with every stage and long-term: 60 + 40 = 100 %. 쿠버네티스: Kubernetes 3 of 4 stages = 45 %,
    # kubectl 1 of 4 = 15 %: 30 % on average.
    assert [(s.subject, s.notes, s.long_term, s.progress) for s in result] == [
        ("Network", 1, 1, 100),
        ("쿠버네티스", 2, 0, 30),
    ]


def test_json_shape() -> None:
    notes = made_up(None)
    data = stats.compute(notes, events_of(notes), TODAY, 30).as_json()
    assert set(data) == {"forecast", "history", "streak", "recall", "subjects"}
    assert data["forecast"][0] == {"date": "2024-07-20", "count": 1}
    assert data["history"][-1] == {"date": "2024-07-20", "reviews": 0}
    assert data["streak"] == 0 and data["recall"] is None
    assert data["subjects"][1] == {"subject": "쿠버네티스", "notes": 2, "long_term": 0, "progress": 30}


def test_terminal_charts_line_up_with_korean_text() -> None:
    notes = [*made_up(d(7, 19)), note(4, "짧은", "네트워크 기초 이론", d(7, 18), {1: d(7, 19)})]
    text = render(stats.compute(notes, events_of(notes), TODAY, 30), "ko", None)
    lines = text.splitlines()
    forecast = [ln for ln in lines if ln.startswith("  07-") or ln.startswith("  08-")]
    assert len(forecast) == 30
    # Every bar starts in the same display column, Korean weekday names (two columns) included.
    starts = {width(ln[: ln.index("█")]) for ln in forecast if "█" in ln}
    assert len(starts) == 1
    assert "  07-20 토" in text
    subjects = lines[lines.index("과목: 평균 진행률") + 1 :]
    assert len(subjects) == 3
    # The percentage after each subject's bar is in the same display column, whatever the subject's width.
    columns = {width(ln[: ln.index("%")]) for ln in subjects}
    assert len(columns) == 1, subjects
    grid = [ln for ln in lines if len(ln) > 3 and ln[2] in "월화수목금토일"]
    assert len(grid) == 7
    english = render(stats.compute(notes, events_of(notes), TODAY, 30), "en", None).splitlines()
    assert "Subjects: average progress" in english and "  07-20 Sa" in "\n".join(english)
    assert {width(ln[: ln.index("█")]) for ln in english if ln.startswith("  07-") and "█" in ln} == starts
    # Each heatmap cell (two columns and a space) starts at display column 5 + 3k in every row.
    for row in grid:
        cells = [width(row[:i]) for i in range(3, len(row)) if row[i] != " " and row[i - 1] == " "]
        assert cells and all(c % 3 == 2 for c in cells), row


def test_stats_command_json(run_cli, any_db_url: str) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    with freeze_time("2024-07-20 01:00:00"):  # 10:00 in Seoul
        assert (
            run_cli("add", "Kubernetes 오브젝트", "--first-study", "2024-07-07", "--subject", "쿠버네티스").exit_code
            == 0
        )
        assert run_cli("done", "1", "--on", "2024-07-08").exit_code == 0  # rated good
        assert run_cli("add", "kubectl", "--first-study", "2024-07-18", "--subject", "쿠버네티스").exit_code == 0
        assert run_cli("done", "2", "--rating", "again").exit_code == 0  # forgotten: D+1 stays open
        assert run_cli("done", "2", "--rating", "good").exit_code == 0  # a second try the same day
        result = run_cli("stats", "--json")
        text = run_cli("stats")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # Kubernetes' stages due 07-11 and 07-14 are open: one review today covers both. kubectl's D+4 is 07-22.
    assert data["forecast"][0] == {"date": "2024-07-20", "count": 1}
    assert data["forecast"][1] == {"date": "2024-07-21", "count": 1}  # Kubernetes D+14
    assert data["forecast"][2] == {"date": "2024-07-22", "count": 1}  # kubectl D+4
    # One review a note and day: kubectl's `again` then `good` today is one review, rated by the first try.
    assert [h for h in data["history"] if h["reviews"]] == [
        {"date": "2024-07-08", "reviews": 1},
        {"date": "2024-07-20", "reviews": 1},
    ]
    assert data["recall"] == 0.5  # 07-08 good, today again: half not rated `again`
    assert data["streak"] == 0
    # Kubernetes 1 of 4 stages (15 %), kubectl 1 of 4 (15 %).
    assert data["subjects"] == [{"subject": "쿠버네티스", "notes": 2, "long_term": 0, "progress": 15}]
    assert text.exit_code == 0 and "쿠버네티스" in text.output and "Streak: 0 days" in text.output


def test_streak_under_a_daily_limit_keeps_a_day_on_which_the_limit_was_reviewed() -> None:
    notes = made_up(None)  # kubectl's D+4 (07-19) left open: 07-19 ended with a review open
    events = [*events_of(notes), ReviewEvent(3, d(7, 19))]  # ... but one review was done on 07-19
    assert stats.streak(notes, TODAY, events) == 0
    # With a limit of 1 a day the phone showed one review on 07-19, and it was done: the day is kept. The last day
    # not kept is 07-11 (Kubernetes' D+4 open at its end, no review that day): 07-12 .. 07-19 = 8; today is open.
    assert stats.streak(notes, TODAY, events, daily_limit=1) == 8
    assert stats.streak(notes, TODAY, events, daily_limit=2) == 0


def test_forecast_follows_the_notes_own_scheduler(run_cli, db_url: str, store) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    from reminder import history, schedulers
    from reminder import notes as notes_module

    with freeze_time("2024-07-20 01:00:00"):
        # FSRS puts a note studied 07-18 due today; the ladder note's D+1 is today too.
        assert run_cli("add", "zz FSRS note", "--first-study", "2024-07-18", "--scheduler", "fsrs").exit_code == 0
        assert run_cli("add", "ladder note", "--first-study", "2024-07-19").exit_code == 0
        with store.read() as s:
            rows = history.read_notes(s)
            fsrs_note = rows[0]
            # Equally late: under a limit of 1 the note FSRS predicts is slipping comes first, though its title
            # sorts last.
            due = notes_module.due_on(s, TODAY, 30)
            listed, waiting = history.choose_due(s, due, TODAY, 1)
            recall = history.predicted_recall(s, [d.note_id for d in due], TODAY)
    assert fsrs_note.scheduler == "fsrs" and isinstance(fsrs_note.state, schedulers.FsrsState)
    assert [d.title for d in listed] == ["zz FSRS note"] and waiting == 1
    assert set(recall) == {fsrs_note.id} and 0 < recall[fsrs_note.id] < 1
    # The FSRS note comes back when FSRS says after each `good` review, not on the ladder's D+4, D+7, D+14.
    fsrs = schedulers.scheduler_named("fsrs")
    state, expected, day = fsrs_note.state, [], min(r.due_on for r in fsrs_note.reviews if r.done_on is None)
    day = max(day, TODAY)
    while day < TODAY + timedelta(days=30):
        expected.append(day)
        state = fsrs.review(state, "good", day)
        day = fsrs.due_on(state)
    only_fsrs = [d.day for d in stats.forecast([fsrs_note], TODAY, 30) if d.count]
    assert only_fsrs == expected and len(expected) >= 2, expected
    ladder_days = [d.day for d in stats.forecast([rows[1]], TODAY, 30) if d.count]
    assert ladder_days == [TODAY, d(7, 23), d(7, 26), d(8, 2)] and only_fsrs != ladder_days


def _fill_store(url: str) -> None:
    """A store with every kind of note the statistics count differently: reviews done on time, late and not
    yet; long-term, archived and snoozed notes; FSRS and SR notes; subjects and none; two ladders."""
    from reminder import notes
    from reminder.db import open_store
    from reminder.schedulers import SrState

    store = open_store(url, auto_upgrade=True)
    day = d(7, 20)
    with store.write() as s:
        for i in range(60):
            first = day - timedelta(days=2 * i)
            ladder = (1, 4, 7, 14) if i % 5 else (1, 3, 7, 21)
            fsrs = i % 9 == 4
            note = notes.add_note(
                s,
                title=f"note {i:02d}",
                first_studied_on=first,
                today=day,
                ladder=ladder,
                extra_every=30,
                subject=("쿠버네티스", "Network", None)[i % 3],
                scheduler="fsrs" if fsrs else "ladder",
            )
            for stage in [] if fsrs else ladder[: i % 4]:  # done on the day, a day or two late, or not at all
                done_on = first + timedelta(days=stage + i % 3)
                if done_on <= day:
                    notes.mark_done(s, note, day=done_on, today=day, extra_every=30, stage=stage)
            if fsrs and note.reviews[0].due_on <= day:
                notes.mark_done(s, note, day=day, today=day, extra_every=30, rating="hard")
            if i % 11 == 0:
                notes.mark_done(s, note, day=day, today=day, extra_every=30, long_term=True)
            if i % 13 == 7:
                note.archived_at = notes.utcnow()
        sr = notes.add_note(s, title="sr", first_studied_on=day, today=day, ladder=(1,), extra_every=30)
        notes.set_scheduler(sr, "sr", extra_every=30, sr=SrState(day + timedelta(days=3), 5, 250))
        notes.snooze_notes(s, [2, 3], day + timedelta(days=2))
    store.dispose()


def test_the_store_summed_up_in_sql_gives_the_same_statistics(any_db_url: str) -> None:
    from reminder import history
    from reminder.db import open_store

    _fill_store(any_db_url)
    store = open_store(any_db_url)
    with store.read() as s:
        every_note = history.read_notes(s)
        summary = history.read_summary(s)
        # The SQL counts are the ones the statistics computed from every note, and far fewer rows.
        assert summary == stats.Summary.of(every_note)
        assert len(summary.pending) < len(every_note) and sum(summary.spans.values()) > len(summary.spans)
        assert sum(summary.groups.values()) == sum(1 for n in every_note if not n.archived)
        for today in (d(7, 20), d(7, 21), d(8, 30), d(5, 1)):
            for limit in (None, 3):
                events = history.read_events(s, stats.events_since(today))
                expected = stats.compute(every_note, events, today, 30, daily_limit=limit)
                assert history.read_stats(s, today, 30, daily_limit=limit) == expected
        figures = history.read_stats(s, d(7, 21), 30)
        assert figures.streak >= 0 and len(figures.subjects) == 3 and sum(f.count for f in figures.forecast) > 0
    store.dispose()


def test_a_streak_under_a_daily_limit_is_counted_past_the_charts_twelve_weeks(any_db_url: str) -> None:
    """Under a daily limit a day is kept when the limit was reviewed on it, though a backlog stays open. The
    statistics read the review events only as far back as the charts need (84 days), and the streak stopped
    there: 110 days of one review a day under a limit of one showed as 83."""
    from reminder import history
    from reminder import notes as store_notes
    from reminder.db import open_store

    today = d(7, 20)
    store = open_store(any_db_url)
    with store.write() as s:
        backlog = today - timedelta(days=120)
        store_notes.add_note(s, title="left open", first_studied_on=backlog, today=backlog, ladder=(1,), extra_every=30)
        for back in range(110, 0, -1):  # one review a day from 110 days ago to yesterday
            day = today - timedelta(days=back)
            note = store_notes.add_note(
                s, title=f"day {back}", first_studied_on=day - timedelta(days=1), today=day, ladder=(1,),
                extra_every=30,
            )  # fmt: skip
            store_notes.mark_done(s, note, day=day, today=day, extra_every=30)
    with store.read() as s:
        assert history.read_stats(s, today, 30, daily_limit=1).streak == 110
        # The same rule on every note and every event: the figure is the streak's, not the window's.
        every_event = history.read_events(s, backlog)
        assert stats.compute(history.read_notes(s), every_event, today, 30, daily_limit=1).streak == 110
        assert history.read_stats(s, today, 30, daily_limit=2).streak == 0  # two a day were never reviewed
        assert history.read_stats(s, today, 30).streak == 0  # without a limit the backlog breaks it
    store.dispose()

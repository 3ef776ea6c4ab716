"""The cue columns a sync takes while it reads: split off for the new notes, in the order taken, none lost
(reminder.cues.Cues, which spills them to a temporary file as they pile up)."""

from __future__ import annotations

from reminder.cues import Cues


def entry(n: int) -> tuple[str, str, str | None]:
    return f"note {n:04d}.md", f'[{{"q": "question {n}?", "a": ""}}]', f"summary {n}" if n % 2 else None


def taken(count: int) -> Cues:
    cues = Cues([], lambda rel: False)
    for n in range(count):
        cues.add_columns(*entry(n))
    return cues


def test_a_first_sync_moves_every_column_to_the_new_notes_in_order() -> None:
    cues = taken(1234)  # past two spilled chunks and a chunk in memory
    moved = cues.split({f"note {n:04d}.md" for n in range(1234)})
    assert list(moved.entries()) == [entry(n) for n in range(1234)]
    assert list(moved.entries()) == []  # each once
    assert list(cues.entries()) == []
    cues.add_columns("later.md", "[]", None)  # the Cues left behind takes new columns again
    assert list(cues.entries()) == [("later.md", "[]", None)]


def test_a_resync_splits_off_only_the_new_notes_columns_and_keeps_the_rest() -> None:
    cues = taken(1234)
    new = {f"note {n:04d}.md" for n in range(0, 1234, 3)}
    moved = cues.split(new)
    assert list(moved.entries()) == [entry(n) for n in range(0, 1234, 3)]
    assert [params["b_path"] for chunk in cues.chunks() for params in chunk] == [
        f"note {n:04d}.md" for n in range(1234) if n % 3
    ]

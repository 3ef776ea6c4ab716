"""`list --json` writes each note's JSON as text (NoteView.json_text) instead of through json's encoder: whatever
the learner typed, each line must still be valid JSON, hold exactly what is stored, and be byte for byte what
json's encoder writes for that object in the same layout (the layout scripts read). `show --json` indents the
same object (NoteView.as_json parses the text back)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from freezegun import freeze_time

from reminder import notes
from reminder.cli import cli
from reminder.db import open_store

DAY = date(2026, 2, 15)
# Quotes, backslashes, control characters (ESC included: json escapes it, no colour code reaches a terminal),
# the line separators JavaScript chokes on, emoji beyond the BMP, a combining mark, Korean.
AWKWARD = [
    'say "hi" \\ back\\slash',
    "tab\there, bell\x07, escape \x1b[31mred\x1b[0m, newline kept in a subject",
    "line\u2028separator\u2029paragraph, delete \x7f",
    "emoji 😀🟩 and e\u0301 and 한국어 제목",
    "slash / and </script> and \ud7a3",
]


def fill(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    with store.write() as s:
        for i, text in enumerate(AWKWARD):
            note = notes.add_note(
                s,
                title=f"{i} {text}"[:200],
                first_studied_on=date(2026, 2, 1 + i),
                today=DAY,
                ladder=(1, 4, 7, 14),
                extra_every=30,
                subject=text[:100],
                source=text,
                pages=text[:50],
                level=text[:50],
                link=f"obsidian://open?file={text}",
                scheduler="fsrs" if i % 2 else "ladder",
            )
            if i % 2:  # an FSRS note with a review: its view has a recall
                notes.mark_done(s, note, day=DAY, today=DAY, extra_every=30, rating="good")
    store.dispose()
    # A newline in a subject cannot come through the store's checks from the command line, but a vault can
    # bring one; the listing must still be one item a line.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE notes SET subject = 'two\nlines' WHERE id = 2")
    conn.commit()
    conn.close()
    return url


def run(url: str, *argv: str) -> str:
    with freeze_time("2026-02-15 05:01:00"):
        result = CliRunner().invoke(cli, list(argv), env={"REMINDER_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_each_line_is_what_json_writes_for_what_is_stored(tmp_path: Path) -> None:
    url = fill(tmp_path / "r.db")
    conn = sqlite3.connect(tmp_path / "r.db")
    stored = conn.execute("SELECT title, subject, source, pages, level, link FROM notes ORDER BY id").fetchall()
    conn.close()
    assert stored[0][2] == AWKWARD[0] and stored[1][1] == "two\nlines" and "\x1b" in stored[1][2]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    # The light path (a bare SQLite URL) and the store path (SQLAlchemy: a URL with an option) alike.
    for listing in (run(url, "list", "--json"), run(url + "?timeout=10", "list", "--json")):
        lines = listing.split("\n")  # (not splitlines: U+2028 in a value is not a line break in JSON)
        assert lines[0] == "[" and lines[-2:] == ["]", ""]
        items = lines[1:-2]
        assert len(items) == len(AWKWARD)
        parsed = json.loads(listing)
        for line, item, row in zip(items, parsed, stored, strict=True):
            assert line.removesuffix(",") == encode(item)
            assert (item["title"], item["subject"], item["source"], item["pages"], item["level"], item["link"]) == row
        fsrs = [item for item in parsed if item["scheduler"] == "fsrs"]
        assert fsrs and all(isinstance(item["recall"], float) for item in fsrs)
        assert all("recall" not in item for item in parsed if item["scheduler"] == "ladder")
        assert all("history" not in item for item in parsed)
        assert listing == run(url, "list", "--json")


def test_show_json_indents_the_same_object_with_its_history(tmp_path: Path) -> None:
    url = fill(tmp_path / "r.db")
    listed = json.loads(run(url, "list", "--json"))[1]
    for shown_text in (run(url, "show", "2", "--json"), run(url + "?timeout=10", "show", "2", "--json")):
        shown = json.loads(shown_text)
        assert shown_text == json.dumps(shown, ensure_ascii=False, indent=2) + "\n"
        history = shown.pop("history")
        assert [(h["reviewed_on"], h["rating"], h["source"]) for h in history] == [("2026-02-15", "good", "cli")]
        assert shown == listed

"""Plain-text output that lines up with Korean titles and emoji (two columns wide on a terminal)."""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import click

from reminder.cli import ngettext


def width(text: str) -> int:
    """Display columns of ``text``. ASCII (most titles, every date and number) is one column a character; other
    characters are looked up once each, not once per occurrence (a 10k-note list has a few hundred distinct)."""
    if text.isascii():
        return len(text)
    return sum(map(char_width, text))


@functools.lru_cache(maxsize=8192)
def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or ch in "\u200d\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def fit(text: str, columns: int, text_width: int | None = None) -> str:
    """Cut ``text`` to ``columns`` display columns (with …), then pad it to exactly that width. ``text_width``
    is its width when the caller has measured it already."""
    used = width(text) if text_width is None else text_width
    if used > columns:
        out, used = "", 0
        for ch in text:
            w = width(ch)
            if used + w > columns - 1:
                break
            out, used = out + ch, used + w
        text = out + "…"
        used += width("…")
    return text + " " * (columns - used)


class Widths(dict[str, int]):
    """Display widths of texts, each measured once."""

    def __missing__(self, text: str) -> int:
        found = self[text] = width(text)
        return found


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_widths: dict[int, int] | None = None) -> str:
    max_widths = max_widths or {}
    # A column's cells repeat a lot (progress bars, subjects): each text is measured once, then looked up in C.
    measure = Widths().__getitem__
    widths = [list(map(measure, row)) for row in rows]
    cols = []
    for i, header in enumerate(headers):
        natural = max([width(header), *(w[i] for w in widths)])
        cols.append(min(natural, max_widths.get(i, natural)))
    lines = ["  ".join(fit(h, cols[i]) for i, h in enumerate(headers)).rstrip()]
    # A cell that fits is padded here, fit() called only for those it cuts: a 10k-note list has 50k cells.
    lines += [
        "  ".join(
            [
                cell + " " * (col - used) if used <= col else fit(cell, col, used)
                for cell, col, used in zip(row, cols, w, strict=False)  # (a row may stop short of the headers)
            ]
        ).rstrip()
        for row, w in zip(rows, widths, strict=True)
    ]
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    import json  # only the --json runs pay for it

    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def echo_json_list(items: Iterable[str]) -> None:
    """A JSON list (`list --json`) of items given as their JSON text (NoteView.json_text), one item a line,
    written a few hundred items at a time as they come.

    Indenting goes through json's pure-Python encoder (seconds for 10k notes) while an item a line stays readable;
    and 10k notes' text with emoji, held as one string, would be tens of megabytes."""
    it = iter(items)
    opening = "["
    while chunk := list(itertools.islice(it, 200)):
        # color=True: click would otherwise search each chunk for terminal colour codes to strip when the output
        # is not a terminal (a regex over megabytes); JSON text has none (json writes ESC as \u001b).
        click.echo(opening + "\n" + ",\n".join(chunk), nl=False, color=True)
        opening = ","
    click.echo("[]" if opening == "[" else "\n]")


def days(n: int) -> str:
    return ngettext("{n} day", "{n} days", n).format(n=n)


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, maximum: float, columns: int) -> str:
    """A horizontal bar of block characters, ``columns`` wide at ``maximum``, in eighths of a column; padded to
    ``columns`` so what follows it lines up. A value above zero always shows at least a sliver."""
    if maximum <= 0 or value <= 0:
        return " " * columns
    eighths = max(1, round(min(value, maximum) / maximum * columns * 8))
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text + " " * (columns - len(text))

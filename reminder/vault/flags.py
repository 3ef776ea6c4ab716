"""Review flags and their three-way merge: what the file states, what it stated at the last sync (the base),
and what the store holds. The rule is in reminder.vault's docstring."""

from __future__ import annotations

from functools import lru_cache

from reminder.config import parse_ladder
from reminder.db.models import Note
from reminder.vault_format import ParsedNote, set_flag

Flag = int | None  # a stage in days, or None for the long-term flag
Flags = dict[Flag, bool]


_LONG_TERM_CODE = "lt"


def encode_flags(flags: Flags) -> str:
    """``{1: True, 4: False, None: False}`` -> ``"1=1,4=0,lt=0"`` (stages in order, long-term last)."""
    stages = sorted(k for k in flags if k is not None)
    parts = [f"{k}={int(flags[k])}" for k in stages]
    if None in flags:
        parts.append(f"{_LONG_TERM_CODE}={int(flags[None])}")
    return ",".join(parts)


def decode_flags(text: str | None) -> Flags | None:
    """The inverse of encode_flags; None for no record (or one this version cannot read: the file then wins)."""
    if text is None:
        return None
    flags: Flags = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if value not in ("0", "1"):
            return None
        if key == _LONG_TERM_CODE:
            flags[None] = value == "1"
        elif key.isdigit():
            flags[int(key)] = value == "1"
        else:
            return None
    return flags


def parsed_flags(parsed: ParsedNote) -> Flags:
    """The flags a note's file states."""
    flags: Flags = {day: ticked for day, ticked in parsed.stages.items()}
    if parsed.long_term is not None:
        flags[None] = parsed.long_term
    return flags


def flags_from_file(file: Flags, base: Flags | None, store: Flags) -> Flags:
    """Flags the learner changed in the file since the last sync that differ from the store: the store takes
    them. With no base every flag the file states counts as changed."""
    return {
        flag: value
        for flag, value in file.items()
        if flag in store and store[flag] != value and (base is None or base.get(flag) != value)
    }


def flags_to_write(file: Flags, base: Flags | None, store: Flags) -> Flags:
    """Store values the file should show: flags the file did not change since the last sync but the store did,
    and stages done in the store the file has never stated (a key the learner deleted stays deleted)."""
    out: Flags = {}
    for flag, value in store.items():
        if flag in file:
            if value != file[flag] and base is not None and base.get(flag) == file[flag]:
                out[flag] = value
        elif value and (base is None or flag not in base):
            out[flag] = value
    return out


def note_flags(note: Note) -> Flags:
    """The store's flags of a note (reviews loaded): every ladder stage and the long-term mark."""
    flags: Flags = {r.offset: r.done_on is not None for r in note.reviews if not r.extra}
    flags[None] = note.long_term_on is not None
    return flags


@lru_cache(maxsize=64)
def _ladder(text: str) -> tuple[int, ...]:
    return parse_ladder(text)


def row_flags(ladder_text: str, done: set[int], long_term: bool) -> Flags:
    flags: Flags = {stage: stage in done for stage in _ladder(ladder_text)}
    flags[None] = long_term
    return flags


def with_flags(data: bytes, flags: Flags) -> bytes:
    for flag, value in sorted(flags.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        data = set_flag(data, flag, value)
    return data

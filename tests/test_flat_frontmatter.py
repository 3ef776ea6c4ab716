"""The flat-frontmatter reader and libyaml agree on every note they both read; anything else goes to libyaml."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import yaml

from reminder import vault_format
from reminder.flat_frontmatter import read_flat
from reminder.vault_format import NoteFormatError, parse_note

DATA = Path(__file__).resolve().parent / "data"

KEYS = [
    "❕첫 학습날",
    "첫학습날",
    "first_study",
    "❤1일복습여부",
    "🧡4일복습여부",
    "🧠장기기억",
    '"1일차복습여부1,0"',
    "'장기기억저장여부1,0'",
    "📚 과목",
    "pages",
    "a#b",
    "key with  spaces",
    "🛑4일후",
    "review_7d",
    "long_term",
]
VALUES = [
    "",
    " ",
    "2024-07-07",
    "2024/07/07",
    '"@2024년 7월 7일"',
    "@2024년 7월 7일",
    "'2024-07-07'",
    "true",
    "false",
    "True",
    "yes",
    '"1"',
    "'0'",
    "~",
    "null",
    "1:30",
    "p93~",
    "a: b",
    "x # a comment",
    "x#y",
    "🟩🟩⬜ 60%",
    '"quoted # not a comment"',
    '"with \\"escape\\""',
    "'it''s'",
    "[1, 2]",
    "{a: 1}",
    "- item",
    "|",
    "&anchor x",
    "*alias",
    "!tag x",
    "  padded  ",
    "trailing:",
    '"open',
    "쿠버네티스 3.2",
]


def _nodes(pairs: list) -> list[tuple]:
    return [(k.value, k.style or "", k.start_mark.line, v.value, v.style or "", v.start_mark.line) for k, v in pairs]


def _flat(pairs: list) -> list[tuple]:
    """The flat reader's pairs in _nodes' shape: key and value start on the pair's one line."""
    return [(p.key, p.key_style, p.line, p.value, p.style, p.line) for p in pairs]


def _by_yaml(text: str) -> list[tuple] | str:
    try:
        root = yaml.compose(text, Loader=vault_format._AsWrittenLoader)
    except yaml.YAMLError as exc:
        return f"error: {type(exc).__name__}"
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        return "not a mapping"
    return _nodes(root.value)


def _parsed(data: bytes, monkeypatch: pytest.MonkeyPatch, fast: bool) -> object:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(vault_format, "read_flat", lambda text, keep=None: None)
        try:
            return parse_note("k8s/note.md", data)
        except NoteFormatError as exc:
            return str(exc)


def _check(data: bytes, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both readers agree on ``data``; True when the fast one read it."""
    assert _parsed(data, monkeypatch, fast=True) == _parsed(data, monkeypatch, fast=False), data
    fm = vault_format._frontmatter(data)
    if fm is None:
        return False
    flat = read_flat(fm.text)
    if flat is None:
        return False
    assert _flat(flat) == _by_yaml(fm.text), data
    return True


def test_the_learners_note_takes_the_fast_path_and_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    notes = sorted(DATA.rglob("*.md"))
    assert notes
    fast = set()
    for path in notes:  # every test note: both readers agree (the flat reader answers or leaves it to libyaml)
        data = path.read_bytes()
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if _check(data, monkeypatch) and _check(vault_format.BOM + crlf, monkeypatch):
            fast.add(path.name)
    assert "kubernetes-3.2-objects.md" in fast  # the learner's template takes the fast path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_every_key_and_value_shape_agrees(newline: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = 0
    for key, value in itertools.product(KEYS, VALUES):
        body = f"❕첫 학습날: 2024-07-07{newline}{key}: {value}{newline}" if "첫" not in key else f"{key}: {value}"
        data = f"---{newline}{body}{newline}---{newline}body{newline}".encode()
        fast += _check(data, monkeypatch)
    assert fast > len(KEYS) * len(VALUES) // 3  # the common shapes do take the fast path


def test_generated_notes_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(12)
    extra_lines = ["", "# a comment line", "  indented: x", "- listed", "nested:", "  child: 1", "...", "\tTab: x"]
    fast = 0
    for _ in range(400):
        newline = rng.choice(["\n", "\r\n"])
        lines = ["❕첫 학습날: " + rng.choice(["2024-07-07", '"2024/07/07"', "@2024년 7월 7일", ""])]
        for _ in range(rng.randint(0, 8)):
            if rng.random() < 0.1:
                lines.append(rng.choice(extra_lines))
            else:
                lines.append(f"{rng.choice(KEYS)}: {rng.choice(VALUES)}")
        rng.shuffle(lines)
        text = "---" + newline + newline.join(lines) + newline + "---" + newline + "body"
        data = (vault_format.BOM if rng.random() < 0.2 else b"") + text.encode()
        fast += _check(data, monkeypatch)
    assert fast > 40


def test_what_yaml_refuses_is_left_to_yaml() -> None:
    assert read_flat("a: b\n  c: d\n") is None  # a continuation line
    assert read_flat("a: b\x07\n") is None  # a character YAML refuses
    assert read_flat('a: "x\\ty"\n') is None  # an escape
    assert read_flat("a: [1, 2]\n") is None
    assert read_flat("a: b: c\n") is None
    pairs = read_flat('a: "b"\r\n# c\r\n\r\nd:\r\n') or []
    assert _flat(pairs) == [("a", "", 0, "b", '"', 0), ("d", "", 3, "", "", 3)]

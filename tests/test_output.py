"""Plain-text tables line up with Korean titles and emoji, whatever path a string's width takes."""

from __future__ import annotations

from reminder.cli.output import fit, table, width


def test_width_counts_terminal_columns() -> None:
    assert width("TCP handshake") == 13
    assert width("쿠버네티스 3.2") == 14
    assert width("🟩⬜ 60%") == 8
    assert width("e\u0301") == 1  # a combining accent takes no column
    assert width("❤\ufe0f") == 1  # nor does the emoji variation selector
    assert width("") == 0


def test_fit_cuts_and_pads_to_the_columns() -> None:
    assert fit("쿠버네티스 오브젝트", 7) == "쿠버네…"
    assert width(fit("쿠버네티스 오브젝트", 8)) == 8
    assert fit("abc", 5) == "abc  "


def test_table_columns_line_up_with_wide_characters() -> None:
    out = table(["ID", "TITLE", "END"], [["1", "Kubernetes", "x"], ["2", "쿠버네티스", "y"], ["3", "ok", "z"]])
    starts = {width(line.rsplit("  ", 1)[0]) for line in out.splitlines()}
    assert starts == {len("ID  Kubernetes")}

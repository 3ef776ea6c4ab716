"""CI runs the test command the README gives contributors, so a check that passes locally passes in CI too."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "


def readme_test_steps() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith(SETUP))
    return line.split(" && ")


def ci_steps() -> list[str]:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.startswith(SETUP))
    return [" ".join(step.split()) for step in line.split(" && ")]


def test_ci_runs_the_readme_test_command_step_by_step() -> None:
    readme, ci = readme_test_steps(), ci_steps()
    assert any(step == ".venv/bin/mypy" for step in readme), readme
    # CI runs the image test as its own step (its own time limit), so its pytest deselects it; all else is equal.
    assert readme[:-1] == ci[:-1]
    assert readme[-1] == ".venv/bin/pytest -q" and ci[-1] == '.venv/bin/pytest -q -m "not container"'

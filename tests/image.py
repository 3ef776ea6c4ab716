"""deploy/Dockerfile and its build context, read as Docker reads them, for the tests that check the image
without a container engine (test_deploy, test_container_entrypoint) and the one wheel they share."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comment lines dropped."""
    joined: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form (JSON) instruction; a shell-form one fails here, since under a shell the
    service would not get the signals tini forwards."""
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


def last(word: str) -> str | None:
    """The arguments of the runtime stage's last ``word`` instruction (the one that takes effect)."""
    found = [a for w, a in final_stage() if w == word]
    return found[-1] if found else None


def image_command() -> list[str]:
    """ENTRYPOINT + CMD of the runtime stage, as Docker joins them."""
    entry, cmd = last("ENTRYPOINT"), last("CMD")
    return (exec_form(entry) if entry else []) + (exec_form(cmd) if cmd else [])


def image_env() -> dict[str, str]:
    """The environment the runtime stage's ENV instructions set."""
    env: dict[str, str] = {}
    for word, args in final_stage():
        if word == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', args):
                env[key] = value.strip('"')
    return env


def healthcheck_argv() -> list[str]:
    """The command of the runtime stage's HEALTHCHECK (its --options dropped)."""
    args = last("HEALTHCHECK")
    assert args is not None, "the image has no HEALTHCHECK"
    options, _, command = args.partition("CMD ")
    assert all(o.startswith("--") for o in options.split()), options
    return exec_form(command)


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        patterns.append((negate, line.lstrip("!").strip("/")))
    return patterns


def _pattern_re(pattern: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\*\*/?)", pattern):
        if piece.startswith("**"):
            parts.append("(?:.*/)?" if piece.endswith("/") else ".*")
        else:
            parts.append(fnmatch.translate(piece).removeprefix("(?s:").removesuffix(")\\Z").replace(".*", "[^/]*"))
    return re.compile("".join(parts) + r"\Z")


def ignored(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent folder matches its files."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, pattern in patterns:
        regex = _pattern_re(pattern)
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def build_wheel(workdir: Path) -> Path:
    """What the builder stage does: the wheel, built from the files .dockerignore lets through."""
    patterns = dockerignore_patterns()
    context = workdir / "context"
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not rel.startswith(".git/") and not ignored(rel, patterns):
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, context / rel)
    dist = workdir / "dist"
    # Nothing of the test's own interpreter leaks in (a PYTHONPATH naming this tree would satisfy the install).
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(context)],
        capture_output=True,
        text=True,
        cwd=context,
        env=clean,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = dist.glob("reminder-*.whl")
    return wheel

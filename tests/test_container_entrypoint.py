"""The container's entry point, without a container engine: the built wheel in a fresh virtual environment,
started exactly as deploy/Dockerfile starts it (tini, then `reminder run --serve`, with the image's
environment) against an empty /data-like folder. It must migrate, answer /healthz with 200, and exit 0 within
10 s of SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import venv
from pathlib import Path

import pytest
import requests
from image import image_command, image_env
from ntfy_server import FakeNtfy

from reminder.revision import HEAD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed_wheel(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding only the wheel built from this tree (and its dependencies)."""
    tmp = tmp_path_factory.mktemp("venv")
    wheel = built_wheel
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    pip = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        env=clean,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return env_dir


def test_image_entry_point_migrates_serves_health_and_stops_on_sigterm(
    installed_wheel: Path, tmp_path: Path, ntfy_server: FakeNtfy
) -> None:
    tini = shutil.which("tini")
    if tini is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tini is required in CI (.ci/run installs Debian's tini)")
        pytest.skip("tini is not installed (apt-get install tini)")
    command = image_command()
    assert command[:2] == ["/usr/bin/tini", "--"] and command[2] == "reminder"
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMINDER_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(image_env())
    # The image's paths, mapped onto this machine: /data -> a temporary folder, /opt/reminder -> the venv.
    env["REMINDER_DATABASE_URL"] = env["REMINDER_DATABASE_URL"].replace("/data", str(data))
    env["HOME"] = str(data)
    env["PATH"] = f"{installed_wheel / 'bin'}:{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(installed_wheel)
    env["REMINDER_HOST"] = "127.0.0.1"  # the image binds 0.0.0.0; a test stays on loopback
    env["REMINDER_PORT"] = str(port)
    env["REMINDER_NTFY_SERVER"] = ntfy_server.url
    env["REMINDER_NTFY_TOPIC"] = "study-reviews"
    env["REMINDER_TIMEZONE"] = "Asia/Seoul"
    assert env["PYTHONTZPATH"] == ""  # zone data from the tzdata wheel only, as in the image

    proc = subprocess.Popen(
        [tini, "--", str(installed_wheel / "bin" / "reminder"), *command[3:]],
        env=env,
        cwd=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no healthy /healthz within 60 s"
            time.sleep(0.2)
        assert health.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert elapsed < 10
    with sqlite3.connect(data / "reminder.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
        assert conn.execute("SELECT count(*) FROM slots").fetchone() == (1,)


def test_the_wheel_ships_the_page_templates_and_their_stylesheet(installed_wheel: Path) -> None:
    script = (
        "from importlib import resources; from reminder import pages; "
        "names = sorted(p.name for p in resources.files('reminder').joinpath('templates').iterdir()); "
        "[pages._environment().get_template(n) for n in names if n.endswith('.html')]; print(' '.join(names))"
    )
    out = subprocess.run([str(installed_wheel / "bin" / "python"), "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["base.html", "message.html", "review.html", "stats.html", "style.css", "today.html"]


def test_the_wheel_ships_the_compiled_catalogues(installed_wheel: Path) -> None:
    """Korean comes from the .mo inside the wheel, not from this source tree."""
    script = (
        "from reminder.texts import t; from reminder.i18n import format_day; import datetime; "
        "print(t('ko', 'heading', n=2), '|', format_day(datetime.date(2026, 12, 1), 'ko'))"
    )
    out = subprocess.run(
        [str(installed_wheel / "bin" / "python"), "-c", script], capture_output=True, text=True, cwd="/"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "📚 오늘 복습 2개 | 12월 1일 (화)"

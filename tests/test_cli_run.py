"""The push commands as a user runs them: setup, notify test, run --once/--dry-run, status, and the service
itself in a real subprocess (SIGTERM during a send; --serve with working phone buttons)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from conftest import SEED_NOTE
from freezegun import freeze_time
from ntfy_server import FakeNtfy

from reminder.config import load_settings

SEED = ["add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07", "--link", "obsidian://open?vault=s&file=k"]


@pytest.fixture
def push_env(monkeypatch: pytest.MonkeyPatch, ntfy_server: FakeNtfy, db_url: str) -> FakeNtfy:
    monkeypatch.setenv("REMINDER_NTFY_SERVER", ntfy_server.url)
    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
    return ntfy_server


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    text = result.output.strip()
    assert text.count("\n") == 0, text
    assert "Traceback" not in text
    return text


def test_setup_picks_a_topic_saves_it_and_sends_a_test(
    run_cli, ntfy_server: FakeNtfy, db_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("setup", "--server", ntfy_server.url, "--language", "en")
    assert result.exit_code == 0, result.output
    settings = load_settings(config_path=tmp_path / "config.toml")
    topic = settings.ntfy_topic
    assert topic.startswith("reminder-") and len(topic) >= 30
    assert settings.sources["ntfy_topic"].startswith("config file")
    assert f"{ntfy_server.url}/{topic}" in result.output
    assert "█" in result.output or "▀" in result.output  # the QR code
    assert "Test notification sent" in result.output
    [message] = ntfy_server.messages(topic)
    assert message["title"] == "📚 reminder test"
    # Run again: the topic the phone subscribed to is kept.
    assert run_cli("setup", "--no-test").exit_code == 0
    assert load_settings(config_path=tmp_path / "config.toml").ntfy_topic == topic


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["setup", "--topic", "no spaces allowed"], "--topic: 'no spaces allowed' is not a valid ntfy topic"),
        (["setup", "--topic", "docs"], "reserved by ntfy"),
        (["setup", "--server", "ftp://example.org"], "--server: 'ftp://example.org' is not an http(s) URL"),
    ],
)
def test_setup_rejects_bad_input(run_cli, db_url: str, args: list[str], message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in one_line_error(result)
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "tk_a b"], "--token: the ntfy token must be printable ASCII without spaces"),
        (["--token", "tk_비밀토큰"], "--token: the ntfy token must be printable ASCII without spaces"),
        (["--token", "tk_a\tb"], "--token: the ntfy token must be printable ASCII without spaces"),
        (["--topic", "no spaces allowed"], "--topic: 'no spaces allowed' is not a valid ntfy topic"),
        (["--server", "ftp://example.org"], "--server: 'ftp://example.org' is not an http(s) URL"),
    ],
)
def test_setup_refuses_a_value_the_push_commands_would_refuse_and_leaves_the_config_as_it_was(
    run_cli, db_url: str, args: list[str], message: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    token = "tk_" + "g" * 29
    with FakeNtfy(tokens={token}, anonymous=False) as server:
        assert run_cli("setup", "--server", server.url, "--token", token, "--no-test").exit_code == 0
        config = tmp_path / "config.toml"
        before = config.read_bytes()
        result = run_cli("setup", "--no-test", *args)
        assert result.exit_code == 2
        assert one_line_error(result).startswith(f"Error: {message}")
        assert config.read_bytes() == before
        # What was saved before still works for the push commands (the server takes only that token).
        assert run_cli("notify", "test").exit_code == 0


def test_notify_test_says_why_it_failed(run_cli, push_env: FakeNtfy) -> None:  # type: ignore[no-untyped-def]
    push_env.down()
    result = run_cli("notify", "test")
    assert result.exit_code == 1
    assert "connection refused" in one_line_error(result)
    push_env.up()
    ok = run_cli("notify", "test")
    assert ok.exit_code == 0 and "Test notification sent to" in ok.output


def test_refused_credentials_are_said_once_in_plain_words(
    run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    with FakeNtfy(tokens={"tk_" + "g" * 29}) as server:
        monkeypatch.setenv("REMINDER_NTFY_SERVER", server.url)
        monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
        monkeypatch.setenv("REMINDER_NTFY_TOKEN", "tk_" + "w" * 29)
        result = run_cli("notify", "test")
        assert result.exit_code == 1
        assert "refused the credentials (401)" in one_line_error(result)
        assert "w" * 29 not in result.output
        assert len(server.requests) == 1
        with freeze_time("2024-07-08 00:00:00"):
            run_cli(*SEED)
            assert run_cli("run", "--once").exit_code == 1
            status = run_cli("status")
        assert "failed:" in status.output and "refused the credentials (401)" in status.output
        assert len([r for r in server.requests if r.method == "POST"]) == 2  # the test and the digest, once each


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "run `reminder setup` first"),
        ({"REMINDER_NTFY_TOPIC": "t1", "REMINDER_CRON": "61 8 * * *"}, "not a valid cron expression"),
        ({"REMINDER_NTFY_TOPIC": "t1", "REMINDER_TIMEZONE": "Mars/Base"}, "unknown time zone"),
        ({"REMINDER_NTFY_TOPIC": "t1", "REMINDER_NTFY_TOKEN_FILE": "/no/such/file"}, "does not exist"),
        ({"REMINDER_NTFY_TOPIC": "bad topic!"}, "not a valid ntfy topic"),
        ({"REMINDER_NTFY_TOPIC": "t1", "REMINDER_NTFY_SERVER": "ntfy.sh"}, "not an http(s) URL"),
    ],
)
def test_run_refuses_bad_settings_at_start(
    run_cli, db_url: str, monkeypatch, env: dict[str, str], message: str
) -> None:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_cli("run", "--once")
    assert result.exit_code == 2
    assert message in one_line_error(result)


@pytest.fixture(params=["light", "store"])
def once_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    """`run --once` on the plain SQLite URL takes the light ledger (reminder.ledger); the same file named with a
    connection option goes through SQLAlchemy, as a registered vault or PostgreSQL does: both must behave alike."""
    if request.param == "store":
        monkeypatch.setenv("REMINDER_DATABASE_URL", db_url + "?timeout=30")
    return str(request.param)


@freeze_time("2024-07-12 00:00:00")  # 09:00 in Seoul, after the 08:00 slot
def test_run_once_dry_run_then_for_real(run_cli, push_env: FakeNtfy, once_path: str) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED)
    dry = run_cli("run", "--once", "--dry-run")
    assert dry.exit_code == 0, dry.output
    message = json.loads(dry.stdout)
    assert message["title"] == "📚 오늘 복습 1개 · 7월 12일 (금)"
    assert message["click"] == "obsidian://open?vault=s&file=k"
    assert push_env.requests == []
    assert "last slot:  none yet" in run_cli("status").output

    assert run_cli("run", "--once").exit_code == 0
    again = run_cli("run", "--once")  # the same slot again: nothing new, and it says so
    assert again.exit_code == 0
    assert "The slot 2024-07-12T08:00 was already served" in again.output
    assert "reminder notify now" in again.output
    [sent] = push_env.messages("study-reviews")
    assert sent["title"] == message["title"] and "D+4" in sent["message"]
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["last_slot"]["slot"] == "2024-07-12T08:00"
    assert status["last_sent"]["id"] == sent["id"]
    assert status["pending"] == [] and status["failed"] == []
    assert status["next_slot"].startswith("2024-07-13T08:00")


@freeze_time("2024-07-12 00:00:00")
def test_run_once_keeps_a_transient_failure_for_the_next_run(run_cli, push_env: FakeNtfy, once_path: str) -> None:  # type: ignore[no-untyped-def]
    run_cli(*SEED)
    push_env.fail_with(503)
    failed = run_cli("run", "--once")
    assert failed.exit_code == 1
    status = json.loads(run_cli("status", "--json").stdout)
    assert len(status["pending"]) == 1 and "503" in status["pending"][0]["last_error"]
    push_env.clear_failures()
    with freeze_time("2024-07-12 00:10:00"):
        assert run_cli("run", "--once").exit_code == 0
    assert len(push_env.messages("study-reviews")) == 1


@freeze_time("2024-07-12 00:00:00")
def test_notify_now_pushes_what_is_due_now_once_outside_the_slots(run_cli, push_env: FakeNtfy) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("run", "--once").exit_code == 0  # the slot is served while nothing is due
    run_cli(*SEED)  # a note added after the slot
    assert "already served" in run_cli("run", "--once").output
    assert push_env.messages("study-reviews") == []

    now = run_cli("notify", "now")

    assert now.exit_code == 0, now.output
    [sent] = push_env.messages("study-reviews")
    assert "Sent what is due now" in now.output and sent["id"] in now.output
    assert "D+4" in sent["message"]
    status = json.loads(run_cli("status", "--json").stdout)
    assert status["pending"] == [] and status["last_sent"]["id"] == sent["id"]
    assert run_cli("run", "--once").exit_code == 0  # the outbox row is not sent again
    assert len(push_env.messages("study-reviews")) == 1


@freeze_time("2024-07-12 00:00:00")
def test_notify_now_with_nothing_due_sends_nothing(run_cli, push_env: FakeNtfy) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("notify", "now")
    assert result.exit_code == 0 and "Nothing is due now" in result.output
    assert push_env.requests == []


# --- the service in a real process -----------------------------------------------------------------------------


def _service_env(tmp_path: Path, server: FakeNtfy, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDER_")}
    env.update(
        HOME=str(tmp_path),
        REMINDER_CONFIG=str(tmp_path / "none.toml"),
        REMINDER_DATABASE_URL=f"sqlite:///{tmp_path / 'svc.db'}",
        REMINDER_TIMEZONE="Asia/Seoul",
        REMINDER_NTFY_SERVER=server.url,
        REMINDER_NTFY_TOPIC="study-reviews",
        # Every minute: the service starts right after a slot and processes it at once (catch-up).
        REMINDER_CRON="* * * * *",
    )
    env.update(extra)
    return env


def _reminder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reminder", *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_during_a_send_finishes_it_and_exits_0(tmp_path: Path, ntfy_server: FakeNtfy) -> None:
    env = _service_env(tmp_path, ntfy_server)
    _reminder("add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07", env=env)
    ntfy_server.slow(3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reminder", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert ntfy_server.wait_for_requests(1, timeout=30), "the service never sent its digest"
        sent_signal = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - sent_signal
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert elapsed < 10
    assert "event=signal signal=SIGTERM" in stderr and "event=stop" in stderr
    assert len(ntfy_server.messages("study-reviews")) == 1
    with sqlite3.connect(tmp_path / "svc.db") as conn:
        assert conn.execute("SELECT status, ntfy_id IS NOT NULL FROM outbox").fetchall() == [("sent", 1)]


def test_run_serve_buttons_work_against_the_running_service(tmp_path: Path, ntfy_server: FakeNtfy) -> None:
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    env = _service_env(tmp_path, ntfy_server, REMINDER_PORT=str(port), REMINDER_PUBLIC_URL=public)
    _reminder("add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07", env=env)
    _reminder("add", "kubectl", "--first-study", "2024-07-08", env=env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reminder", "run", "--serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert ntfy_server.wait_for_requests(1, timeout=30), "the service never sent its digest"
        deadline = time.monotonic() + 20
        while True:  # the web server comes up beside the runner
            try:
                health = requests.get(f"{public}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the service never answered /healthz"
                time.sleep(0.1)
        assert health.status_code == 200, health.text
        [digest] = ntfy_server.messages("study-reviews")
        buttons = {b["label"]: b for b in digest["actions"]}
        assert set(buttons) == {"✅ 복습 완료", "⏰ 내일", "📋 오늘 목록"}  # two notes: the view button opens the page
        done = next(b for b in digest["actions"] if b["action"] == "http" and "/a/done/" in b["url"])
        assert done["url"].startswith(public) and done["method"] == "POST" and done["clear"] is True
        pressed = requests.post(done["url"], timeout=10)
        assert pressed.status_code == 200, pressed.text
        again = requests.post(done["url"], timeout=10)
        assert again.status_code == 200 and again.json()["status"] == "already_done"
        forged = requests.post(done["url"][:-3] + "abc", timeout=10)
        assert forged.status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0
    due = json.loads(_reminder("due", "--json", env=env).stdout)
    assert due["count"] == 0  # both notes' due stages were marked by the phone's button


def test_run_once_on_sqlite_sends_without_sqlalchemy_until_a_vault_needs_syncing(
    tmp_path: Path, ntfy_server: FakeNtfy
) -> None:
    """A timer's `run --once` on the usual SQLite store claims, queues and sends through the light ledger; with
    a vault registered it syncs first, which takes the store. Either way the digest goes out once."""
    from test_lightread import run_cold

    env = _service_env(tmp_path, ntfy_server)
    today = datetime.now(ZoneInfo("Asia/Seoul")).date()
    _reminder("add", "Kubernetes 3.2 오브젝트", "--first-study", (today - timedelta(days=1)).isoformat(), env=env)
    _, loaded_sqlalchemy = run_cold(["run", "--once"], env)
    assert not loaded_sqlalchemy
    assert len(ntfy_server.messages("study-reviews")) == 1
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "k8s.md").write_bytes(SEED_NOTE.read_bytes())
    _reminder("vault", "add", str(vault), "--name", "study", env=env)
    with sqlite3.connect(tmp_path / "svc.db") as conn:  # a new slot for the second run
        conn.execute("DELETE FROM slots")
    _, loaded_sqlalchemy = run_cold(["run", "--once"], env)
    assert loaded_sqlalchemy
    assert len(ntfy_server.messages("study-reviews")) == 2
    with sqlite3.connect(tmp_path / "svc.db") as conn:
        assert conn.execute("SELECT count(*) FROM notes WHERE vault_id IS NOT NULL").fetchone() == (1,)  # synced
        assert conn.execute("SELECT status FROM outbox ORDER BY id").fetchall() == [("sent",), ("sent",)]


def test_the_idle_service_holds_neither_the_store_library_nor_the_yaml_parser(
    tmp_path: Path, ntfy_server: FakeNtfy
) -> None:
    # A slot's work runs in a child process that exits, so its memory goes back to the system between slots.
    env = _service_env(tmp_path, ntfy_server, REMINDER_CRON="0 8 * * *")
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "k8s.md").write_bytes(SEED_NOTE.read_bytes())
    _reminder("vault", "add", str(vault), "--name", "study", env=env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reminder", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines = []
        assert proc.stderr is not None
        for line in proc.stderr:  # until the service goes to sleep after its first wake
            lines.append(line)
            if "event=sleep" in line:
                break
        assert any("event=sync" in ln and "added=1" in ln for ln in lines), lines
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "sqlalchemy" not in maps and "_yaml" not in maps
        assert not Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()  # no child left
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# --- the vault sync before a slot -----------------------------------------------------------------------------


def test_pre_slot_sync_logs_a_bug_with_its_traceback_and_an_expected_error_in_one_line(
    run_cli, push_env: FakeNtfy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from reminder import vault
    from reminder.cli import App
    from reminder.cli.run import _vault_sync

    vault_dir = tmp_path / "vault"
    vault_dir.mkdir()
    assert run_cli("vault", "add", str(vault_dir)).exit_code == 0
    app = App({}, None)
    sync = _vault_sync(app)

    def broken(*args: object, **kwargs: object) -> None:
        return {}["a key nobody set"]  # a programming error

    monkeypatch.setattr(vault, "sync_all", broken)
    with caplog.at_level("INFO", logger="reminder.runner"):
        sync(date(2024, 7, 12))
    [bug] = [r for r in caplog.records if "event=sync" in r.getMessage()]
    assert bug.exc_info is not None and bug.exc_info[0] is KeyError

    caplog.clear()
    vault_dir.rmdir()  # the vault folder is gone: an expected error
    monkeypatch.undo()
    with caplog.at_level("INFO", logger="reminder.runner"):
        sync(date(2024, 7, 12))
    app.close()
    lines = [r for r in caplog.records if "event=sync" in r.getMessage()]
    assert lines and all(r.exc_info is None for r in lines)


def test_pre_slot_sync_logs_a_store_error_in_one_line_without_the_sql_or_the_note_text(
    run_cli, push_env: FakeNtfy, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from notefiles import note

    from reminder.cli import App
    from reminder.cli.run import _vault_sync

    vault_dir = tmp_path / "vault"
    vault_dir.mkdir()
    (vault_dir / "k8s.md").write_bytes(note("first_study: 2024-07-07", "subject: 비밀스러운 주제"))
    assert run_cli("vault", "add", str(vault_dir)).exit_code == 0
    # The store refuses the new note (a real SQLite error, as a full disk or a constraint would be): its
    # message carries the INSERT and its parameters, which hold what the learner wrote.
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON notes BEGIN SELECT RAISE(ABORT, 'store says no'); END")
    app = App({}, None)
    with caplog.at_level("INFO", logger="reminder.runner"):
        _vault_sync(app)(date(2024, 7, 12))
    app.close()
    [line] = [r for r in caplog.records if "event=sync" in r.getMessage()]
    text = line.getMessage()
    assert line.exc_info is None and "\n" not in text
    assert "store says no" in text
    assert "INSERT" not in text and "비밀스러운" not in text and "parameters" not in text


def test_ntfy_errors_reach_the_learner_in_korean_and_without_the_secret(
    run_cli, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import use_language

    use_language("ko")
    with FakeNtfy(tokens={"tk_" + "g" * 29}) as server:
        monkeypatch.setenv("REMINDER_NTFY_SERVER", server.url)
        monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-reviews")
        monkeypatch.setenv("REMINDER_NTFY_TOKEN", "tk_" + "w" * 29)
        refused = run_cli("notify", "test")
        assert refused.exit_code == 1
        refusal = "ntfy 서버가 인증 정보를 거부했습니다 (401)"
        assert one_line_error(refused) == f"오류: 테스트 알림을 보내지 못했습니다: {refusal}"
        with freeze_time("2024-07-08 00:00:00"):
            run_cli(*SEED)
            once = run_cli("run", "--once")
        assert once.exit_code == 1
        assert one_line_error(once) == f"오류: 메시지 1 실패: {refusal}"
        assert "w" * 29 not in refused.output + once.output
        server.down()
        down = run_cli("notify", "test")
    assert down.exit_code == 1
    assert one_line_error(down) == (
        f"오류: 테스트 알림을 보내지 못했습니다: ntfy 서버({server.url})에 닿을 수 없습니다: 연결이 거부되었습니다"
    )

"""The command line speaks the locale's language (or REMINDER_LANGUAGE when set): run as a user runs it, in a
fresh process, since a program picks its language when it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reminder.cli.output import width

KO = {"LANG": "ko_KR.UTF-8"}
C = {"LANG": "C.UTF-8"}


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run(
        [sys.executable, "-m", "reminder", *args], capture_output=True, text=True, env={**base, **env}, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "usage", "summary", "help_line"),
    [
        (
            KO,
            "사용법: reminder [OPTIONS] COMMAND [ARGS]...",
            "공부 노트의 간격 복습 알림을",
            "이 도움말을 보여 주고 끝냅니다.",
        ),
        (
            C,
            "Usage: reminder [OPTIONS] COMMAND [ARGS]...",
            "Spaced-review reminders for study notes",
            "Show this message",
        ),
    ],
)
def test_help_is_in_the_locales_language(env: dict[str, str], usage: str, summary: str, help_line: str) -> None:
    out = run("--help", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == usage
    assert summary in out.stdout and help_line in out.stdout


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (KO, "오류: REMINDER_LADDER: '0'은(는) 1 이상의 정수 일수가 아닙니다 (예: 1,4,7,14)"),
        (C, "Error: REMINDER_LADDER: '0' is not a positive whole number of days (e.g. 1,4,7,14)"),
        (
            {**KO, "REMINDER_LANGUAGE": "en"},
            "Error: REMINDER_LADDER: '0' is not a positive whole number of days (e.g. 1,4,7,14)",
        ),
        (
            {"LANG": "C.UTF-8", "LC_ALL": "ko_KR.UTF-8"},
            "오류: REMINDER_LADDER: '0'은(는) 1 이상의 정수 일수가 아닙니다 (예: 1,4,7,14)",
        ),
    ],
)
def test_a_bad_setting_is_one_translated_line_with_exit_status_2(env: dict[str, str], line: str) -> None:
    out = run("config", "show", env={**env, "REMINDER_LADDER": "0"})
    assert out.returncode == 2
    assert out.stderr.splitlines() == [line]


def test_the_config_files_language_speaks_for_the_command_line_too(tmp_path: Path) -> None:
    config = tmp_path / "korean.toml"
    config.write_text('language = "ko"\n', encoding="utf-8")
    out = run("db", "backup", env={**C, "REMINDER_CONFIG": str(config)})
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["오류: 빠진 인자 'PATH'."]
    english = run("db", "backup", env=C)
    assert english.returncode == 2
    assert english.stderr.splitlines() == ["Error: Missing argument 'PATH'."]


@pytest.mark.parametrize(
    ("env", "said"),
    [(KO, "{url}은(는) 스키마 0004입니다."), (C, "{url} is at schema 0004.")],
)
def test_db_upgrade_reports_in_the_locales_language(tmp_path: Path, env: dict[str, str], said: str) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    out = run("db", "upgrade", env={**env, "REMINDER_DATABASE_URL": url})
    assert out.returncode == 0, out.stderr
    from reminder.db import HEAD

    assert out.stdout.strip() == said.replace("0004", HEAD).format(url=url)


def test_a_store_that_cannot_be_opened_is_reported_in_korean(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    url = f"sqlite:///{tmp_path / 'dir.db'}"
    out = run("db", "upgrade", env={**KO, "REMINDER_DATABASE_URL": url})
    assert out.returncode == 2
    assert (
        out.stderr.strip() == f"오류: 데이터베이스 {url}을(를) 열 수 없습니다: {tmp_path / 'dir.db'}은(는) 폴더입니다"
    )


def test_config_show_lines_up_in_korean_and_keeps_english_json_keys(tmp_path: Path) -> None:
    env = {**KO, "REMINDER_NTFY_TOPIC": "study-alerts"}
    out = run("config", "show", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["설정", "값", "출처"]
    # Every row's value and source start in the same terminal column as the headers, with 설정 two columns a
    # character: the table counts display width, not characters.
    header = lines[1]
    value_col = width(header[: header.index("값")])
    source_col = width(header[: header.index("출처")])
    topic = next(line for line in lines if line.startswith("ntfy_topic "))
    assert width(topic[: topic.index("study-alerts")]) == value_col
    assert width(topic[: topic.index("환경 변수 (REMINDER_NTFY_TOPIC)")]) == source_col
    data = json.loads(run("config", "show", "--json", env=env).stdout)
    assert data["settings"]["ntfy_topic"] == {"value": "study-alerts", "source": "environment (REMINDER_NTFY_TOPIC)"}
    assert data["settings"]["language"]["source"] == "default"


def test_due_in_korean_lines_up_wide_titles_and_says_days_late(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    from reminder.cli import use_language

    with freeze_time("2024-07-12 09:00:00+09:00"):
        assert run_cli("add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07").exit_code == 0
        assert run_cli("add", "TCP handshake", "--first-study", "2024-07-08").exit_code == 0
        use_language("ko")
        out = run_cli("due")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["ID", "제목", "단계", "언제", "진행률"]
    assert "1일 지남" in out.output and "오늘" in out.output
    # The stage column starts in one terminal column on every line, Korean title or not.
    starts = {width(line[: line.index("D+")]) for line in lines[1:]}
    assert len(starts) == 1 and width(lines[0][: lines[0].index("단계")]) in starts
    use_language("en")
    with freeze_time("2024-07-12 09:00:00+09:00"):
        english = run_cli("due")
    assert english.output.splitlines()[0].split() == ["ID", "TITLE", "STAGE", "WHEN", "PROGRESS"]
    assert "1 day late" in english.output


def test_status_in_korean_lines_up_its_values(db_url: str, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import use_language

    monkeypatch.setenv("REMINDER_NTFY_TOPIC", "study-alerts")
    use_language("ko")
    out = run_cli("status")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert [line.split()[0] for line in lines] == ["토픽:", "마지막", "다음", "대기:"]
    assert lines[1].endswith("아직 없음")
    starts = {width(line) - width(line.split("  ")[-1].lstrip()) for line in lines}
    assert len(starts) == 1, lines
    assert run_cli("run", "--dry-run").output.strip() == "오류: --dry-run은 --once와 함께 씁니다"


def test_show_and_done_in_korean(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    from freezegun import freeze_time

    from reminder.cli import use_language

    with freeze_time("2024-07-12 09:00:00+09:00"):
        assert (
            run_cli(
                "add", "Kubernetes 3.2 오브젝트", "--first-study", "2024-07-07", "--subject", "쿠버네티스"
            ).exit_code
            == 0
        )
        use_language("ko")
        shown = run_cli("show", "kube")
        done = run_cli("done", "kube")
        missing = run_cli("done", "nothing-like-this")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    fields = [
        line for line in lines if line.startswith("  ") and not line.startswith("    ") and not line.endswith(":")
    ]
    assert any(line.startswith("  첫 학습날:") and line.endswith("2024-07-07") for line in fields)
    assert "  지금 복습:" in shown.output and "1일 지남" in shown.output
    # Every field's value starts in the same display column, whatever the width of its Korean label.
    columns = set()
    for line in fields:
        after = line.index(":") + 1
        value_at = after + len(line[after:]) - len(line[after:].lstrip())
        columns.add(width(line[:value_at]))
    assert columns == {15}, fields
    assert done.exit_code == 0 and "2024-07-12에 D+1, D+4 완료" in done.output
    assert missing.exit_code == 2


def test_a_core_error_keeps_its_english_text_and_is_translated_at_the_edge(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import use_language
    from reminder.notes import NoteError

    error = NoteError("no note matches {ref!r}", ref="양자역학")
    assert str(error) == "no note matches '양자역학'"  # logs and tracebacks stay English
    use_language("ko")
    out = run_cli("show", "양자역학")
    assert out.exit_code == 2
    assert out.output.strip() == "오류: '양자역학'에 맞는 노트가 없습니다"
    use_language("en")
    assert run_cli("show", "양자역학").output.strip() == "Error: no note matches '양자역학'"


def test_vault_errors_in_korean(db_url: str, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from reminder.cli import use_language

    use_language("ko")
    missing = tmp_path / "없는 보관함"
    out = run_cli("vault", "add", str(missing))
    assert out.exit_code == 2
    assert out.output.strip() == f"오류: 보관함 폴더 {missing}이(가) 없습니다"
    assert (
        run_cli("vault", "rm", "study").output.strip() == "오류: 'study'이라는 보관함이 없습니다 (등록된 보관함 없음)"
    )
    assert (
        run_cli("vault", "list").output.strip() == "아직 보관함이 없습니다. 이렇게 추가하세요: reminder vault add PATH"
    )


@pytest.mark.parametrize(
    ("env", "summary", "templates", "template", "broken"),
    [
        (
            KO,
            "study: 추가 0, 갱신 0, 이름 변경 0, 보관 처리 0, 노트에 기록 0, 건너뜀 1, 일정 없음 1, 그대로 0",
            "  템플릿 폴더 05 - Template/ (폴더 이름으로 판단)",
            "일정 없음: 템플릿입니다 (템플릿 폴더)",
            "3: 프런트매터가 올바른 YAML이 아닙니다: mapping values are not allowed in this context",
        ),
        (
            C,
            "study: 0 added, 0 updated, 0 renamed, 0 archived, 0 written back, 1 skipped, 1 not scheduled; 0 unchanged",
            "  templates folder 05 - Template/ (its name says so)",
            "not scheduled: a template (templates folder)",
            "3: the frontmatter is not valid YAML: mapping values are not allowed in this context",
        ),
    ],
)
def test_sync_reports_each_file_in_the_locales_language(
    tmp_path: Path, env: dict[str, str], summary: str, templates: str, template: str, broken: str
) -> None:
    vault = tmp_path / "study"
    (vault / "05 - Template").mkdir(parents=True)
    source = Path(__file__).parent / "data" / "vault" / "05 - Template" / "필기 템플릿.md"
    (vault / "05 - Template" / "필기 템플릿.md").write_bytes(source.read_bytes())
    (vault / "깨진 노트.md").write_text("---\n❕첫 학습날: 2024-07-07\n❕과목: a: b\n---\n", encoding="utf-8")
    env = {**env, "REMINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    assert run("vault", "add", str(vault), env=env).returncode == 0
    out = run("sync", env=env)
    assert out.returncode == 1, out.stderr
    made = vault / "05 - Template" / "필기 템플릿.md"
    assert out.stdout.splitlines() == [summary, templates, f"  {made}: {template}"]
    assert out.stderr.splitlines() == [f"{vault / '깨진 노트.md'}:{broken}"]


@pytest.mark.parametrize(
    ("env", "subject", "required", "default", "no_such"),
    [
        (KO, "--subject 텍스트", "[필수]", "[기본값: good]", "오류: '--bogus' 옵션은 없습니다."),
        (C, "--subject TEXT", "[required]", "[default: good]", "Error: No such option '--bogus'."),
    ],
)
def test_help_fits_a_60_column_terminal_in_both_languages(
    env: dict[str, str], subject: str, required: str, default: str, no_such: str
) -> None:
    """click wraps by characters; a Korean character takes two columns, so its help ran past the edge."""
    env = {**env, "COLUMNS": "60"}
    for args in (["--help"], ["add", "--help"], ["done", "--help"], ["sync", "--help"], ["vault", "add", "--help"]):
        out = run(*args, env=env)
        assert out.returncode == 0, out.stderr
        too_wide = [line for line in out.stdout.splitlines() if width(line) > 58]  # click keeps 2 columns free
        assert not too_wide, (args, too_wide)
        if args == ["add", "--help"]:
            assert subject in out.stdout and required in out.stdout
        if args == ["done", "--help"]:
            assert default in out.stdout
        if args == ["--help"]:  # each command's one-line help is cut to the columns left, with "..."
            commands = out.stdout.split("\n\n")[-1].splitlines()[1:]
            assert len(commands) > 15 and any(line.endswith("...") for line in commands)
    bad = run("add", "--bogus", env=env)
    assert bad.returncode == 2 and bad.stderr.splitlines() == [no_such]


@pytest.mark.parametrize(
    ("args", "ko", "en"),
    [
        (["add", "x", "--first-study", "2024-01-01", "y"], "오류: 뜻밖의 인자가 더 있습니다 (y)",
         "Error: Got unexpected extra argument (y)"),
        (["add", "x", "--scheduler", "zz"],
         "오류: '--scheduler'의 값이 올바르지 않습니다: 'zz'은(는) 'ladder', 'fsrs' 가운데 하나가 아닙니다.",
         "Error: Invalid value for '--scheduler': 'zz' is not one of 'ladder', 'fsrs'."),
        (["add", "x", "--first-study"], "오류: '--first-study' 옵션에는 값이 1개 필요합니다.",
         "Error: Option '--first-study' requires an argument."),
        (["add", "x", "--subjet", "a"], "오류: '--subjet' 옵션은 없습니다. (혹시 '--source', '--subject'?)",
         "Error: No such option '--subjet'. (Did you mean one of: '--source', '--subject'?)"),
        (["serve", "--port", "99999"],
         "오류: '--port'의 값이 올바르지 않습니다: 99999은(는) 0<=x<=65535 범위에 있지 않습니다.",
         "Error: Invalid value for '--port': 99999 is not in the range 0<=x<=65535."),
    ],
)  # fmt: skip
def test_clicks_own_errors_speak_the_locales_language(tmp_path: Path, args: list[str], ko: str, en: str) -> None:
    url = {"REMINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    for env, line in ((KO, ko), (C, en)):
        out = run(*args, env={**env, **url})
        assert out.returncode == 2
        assert out.stderr.splitlines() == [line]


def test_a_group_without_its_command_shows_its_help_not_an_error() -> None:
    for env, usage in ((KO, "사용법: reminder db [OPTIONS] COMMAND [ARGS]..."), (C, "Usage: reminder db [OPTIONS]")):
        out = run("db", env=env)
        assert out.returncode == 2
        assert out.stderr.startswith(usage)

"""The cue-question parser on the learner's real note, on placeholder-only sections and on English notes."""

from __future__ import annotations

from pathlib import Path

from reminder import cornell

SEED = Path(__file__).resolve().parent / "data" / "kubernetes-3.2-objects.md"

TEMPLATE = """---
❤1일복습여부: false
🧡4일복습여부: false
---
### 단서 질문

- 질문1
    - 답변1
- 질문2

### 핵심 필기

- 전체 내용 접기

### 핵심 요약

- 핵심 요약 접기
    학습내용을 몇문장으로 압축하여 정리한다.
"""


def test_the_example_note_gives_its_ten_questions_with_their_nested_answers_exactly() -> None:
    parsed = cornell.parse(SEED.read_text(encoding="utf-8"))
    questions = [c.question for c in parsed.questions]
    assert questions == [
        "쿠버네티스의 대표적인 오브젝트 4가지",
        "디플로이먼트(Deployment)란?",
        "kubectl drain [노드 이름] 명령어의 역할은?",
        "kubectl apply 명령어의 역할은?",
        "레플리카셋의 개수를 늘려서 파드의 개수를 늘리는 명령어는?",
        "쿠버네티스 파드의 버전 업데이트 명령어는?",
        "쿠버네티스 버전 업데이트 취소 명령어는?",
        "특정 시점으로 롤링다운하는 방법은",
        "Docker COPY에서 전체 소스코드를 변경하지 않는 이유",
        "FROM을 사용할 때 주의할적",
    ]
    answers = {c.question: c.answer for c in parsed.questions}
    assert answers["쿠버네티스의 대표적인 오브젝트 4가지"] == (
        "1. **파드**: 한 가지 서비스를 위한 한 개 이상의 컨테이너 집합\n"
        "2. **볼륨**: 영구 데이터를 저장하기 위한 오브젝트\n"
        "3. **네임스페이스**: 리소스를 구분하는 그룹\n"
        "4. **서비스**: 파드와 외부에 연결을 지원하는 서비스"
    )
    assert answers["kubectl apply 명령어의 역할은?"] == "해당 오브젝트의 설정을 업데이트합니다."
    assert answers["쿠버네티스 버전 업데이트 취소 명령어는?"] == (
        "```Bash\nkubectl rollout undo deployment [deployment 이름]\n```"
    )
    assert answers["쿠버네티스 파드의 버전 업데이트 명령어는?"].splitlines()[4] == ""  # the blank line in the code
    assert answers["Docker COPY에서 전체 소스코드를 변경하지 않는 이유"].startswith(
        "Docker RUN은 이전 명령어의 결과가 변경되지 않았다면 캐시를 재사용합니다.\n\n예를 들어, COPY"
    )
    assert answers["FROM을 사용할 때 주의할적"].endswith("무거워지기만 한다.")  # trailing blank lines gone
    # The summary: Notion's empty toggle title is chrome, the AI summary under its own title stays.
    assert "핵심 요약 접기" not in parsed.summary
    assert parsed.summary.startswith("**AI 요약**\n\n쿠버네티스 도커 3.2에서는")
    assert parsed.summary.endswith("`kubectl rollout undo --to-revision` 옵션을 사용합니다.")


def test_a_note_left_as_the_template_has_no_questions_and_no_summary() -> None:
    placeholders = cornell.template_lines([TEMPLATE])
    note = TEMPLATE.replace("🧡4일복습여부: false\n", "🧡4일복습여부: false\n❕첫 학습날: 2024-07-07\n")
    note = note.replace("- 질문2\n", "- 질문2\n- \n- ㅇㅇ\n- a\n-   ㅋㅋㅋ\n")
    parsed = cornell.parse(note, placeholders)
    assert parsed.questions == ()
    assert parsed.summary == ""


def test_placeholders_go_but_the_learners_own_questions_stay() -> None:
    placeholders = cornell.template_lines([TEMPLATE])
    note = TEMPLATE.replace("- 질문2\n", "- 질문2\n- 파드란?\n    컨테이너의 묶음\n- ㅇㅇ\n")
    parsed = cornell.parse(note, placeholders)
    assert [(c.question, c.answer) for c in parsed.questions] == [("파드란?", "컨테이너의 묶음")]


def test_english_cornell_notes_with_any_heading_level() -> None:
    note = (
        "# Photosynthesis\n\n"
        "## Cue Questions\n"
        "* What are the inputs?\n"
        "\tCarbon dioxide, water and **light**.\n"
        "* Where does it happen?\n"
        "  - in the chloroplasts\n"
        "  - mostly in leaves\n"
        "## Notes\n- long notes\n"
        "#### Summary\n"
        "Plants turn light into sugar.\n"
    )
    parsed = cornell.parse(note)
    assert [(c.question, c.answer) for c in parsed.questions] == [
        ("What are the inputs?", "Carbon dioxide, water and **light**."),
        ("Where does it happen?", "- in the chloroplasts\n- mostly in leaves"),
    ]
    assert parsed.summary == "Plants turn light into sugar."
    assert cornell.parse("## Cues\n1. First?\n    yes\n2) Second?\n").questions == (
        cornell.Cue("First?", "yes"),
        cornell.Cue("Second?", ""),
    )


def test_the_status_block_and_code_headings_are_not_note_text() -> None:
    note = (
        "### Questions\n"
        "<!-- reminder:status -->\n- Next review 2024-07-14 (D+7)\n<!-- /reminder:status -->\n"
        "- Why?\n    ```sh\n    # not a heading\n    echo hi\n    ```\n"
    )
    parsed = cornell.parse(note)
    assert [(c.question, c.answer) for c in parsed.questions] == [("Why?", "```sh\n# not a heading\necho hi\n```")]


def test_every_status_block_goes_and_every_line_around_it_stays() -> None:
    begin, end = cornell.STATUS_BEGIN, cornell.STATUS_END
    note = (
        f"{begin}\n- Next review 2024-07-14\n{end}\n"  # a block first
        "### Questions\n- Why?\n\n    because\n"
        f"\u3000{begin}\xa0\n- stale\n{begin}\n- still inside\n {end}\n"  # padded markers; a second opening
        f"- How?\n    like so\n    {end}\n"  # a closing marker outside a block is the learner's text
        f"- <!-- a comment --> Which?\n{begin}\n- unclosed: runs to the end\n- Gone?\n"
    )
    assert cornell.parse(note).questions == (
        cornell.Cue("Why?", "because"),
        cornell.Cue("How?", f"like so\n{end}"),
        cornell.Cue("<!-- a comment --> Which?", ""),
    )
    assert cornell._body(f"a\n\n{begin}\nx\n{end}\n\nb{begin}\n".encode()) == f"a\n\n\nb{begin}\n".encode()
    assert cornell._body(f"{begin}\nx\n{end}".encode()) == b""
    assert cornell._body(f"a\n{begin}\nx\n{end}\n".encode()) == b"a\n"


def test_a_note_without_sections_has_nothing() -> None:
    assert cornell.parse("---\na: 1\n---\njust text\n") == cornell.Cornell((), "")


def test_the_templates_instruction_next_to_the_learners_summary_is_left_out() -> None:
    placeholders = cornell.template_lines([TEMPLATE])
    note = TEMPLATE.replace(
        "    학습내용을 몇문장으로 압축하여 정리한다.\n",
        "    학습내용을 몇문장으로 압축하여 정리한다.\n    파드는 쿠버네티스의 **기본 단위**다.\n",
    )
    assert cornell.parse(note, placeholders).summary == "파드는 쿠버네티스의 **기본 단위**다."

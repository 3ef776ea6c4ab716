"""The ntfy client against a real loopback ntfy-compatible server: publishing, reading back, auth, failures."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from freezegun import freeze_time
from ntfy_server import FakeNtfy

from reminder import __version__
from reminder.config import ConfigError, load_settings
from reminder.ntfy import (
    AuthError,
    InvalidMessage,
    NtfyAuth,
    NtfyClient,
    NtfyError,
    PermanentError,
    TransientError,
    is_stored,
    validate_message,
)

TOKEN = "tk_abcdefghijklmnopqrstuvwxyz012"
PASSWORD = "correct horse battery staple"
TOPIC = "reviews_k8s-1"


def _message(**fields: object) -> dict[str, object]:
    return {"topic": TOPIC, "message": "복습할 시간입니다", **fields}


def _failure(c: NtfyClient, message: dict[str, object]) -> NtfyError:
    with pytest.raises(NtfyError) as info:
        c.publish(message)
    return info.value


@pytest.fixture
def client(ntfy_server: FakeNtfy):
    with NtfyClient(ntfy_server.url) as c:
        yield c


# --- publish and read back -----------------------------------------------------------------------------------


def test_publish_then_poll_returns_the_korean_and_emoji_message(ntfy_server: FakeNtfy, client: NtfyClient):
    message = _message(
        title="📚 오늘 복습 2개",
        message="- 쿠버네티스 3.2 오브젝트 · D+4 · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%\n- 🚀 배포 전략 · D+1",
        priority=4,
        tags=["books"],
        markdown=True,
        click="obsidian://open?vault=study&file=k8s",
    )
    result = client.publish(message)

    assert len(result.id) == 12
    assert result.time > 0
    assert result.raw["title"] == "📚 오늘 복습 2개"
    [back] = client.poll(TOPIC)
    assert back["id"] == result.id
    assert back["title"] == message["title"]
    assert back["message"] == message["message"]
    assert back["priority"] == 4
    assert back["tags"] == ["books"]
    assert back["click"] == "obsidian://open?vault=study&file=k8s"
    assert back["content_type"] == "text/markdown"

    [sent] = ntfy_server.requests[:1]
    assert (sent.method, sent.path) == ("POST", "/")
    assert sent.headers["user-agent"] == f"reminder/{__version__}"
    assert sent.headers["content-type"] == "application/json"
    # Non-ASCII travels as raw UTF-8 inside the JSON body, never in a header.
    assert "오늘 복습".encode() in sent.body
    assert sent.json()["topic"] == TOPIC


def test_poll_since_a_message_id_returns_only_later_messages(client: NtfyClient):
    first = client.publish(_message(message="첫 번째"))
    second = client.publish(_message(message="두 번째"))

    assert [m["id"] for m in client.poll(TOPIC)] == [first.id, second.id]
    assert [m["message"] for m in client.poll(TOPIC, since=first.id)] == ["두 번째"]
    assert client.poll("another_topic") == []


def test_health_is_true_when_up_and_false_when_down_or_failing(ntfy_server: FakeNtfy, client: NtfyClient):
    assert client.health() is True
    ntfy_server.fail_with(500)
    assert client.health() is False
    ntfy_server.clear_failures()
    ntfy_server.down()
    assert client.health() is False
    ntfy_server.up()
    assert client.health() is True


# --- authentication ------------------------------------------------------------------------------------------


def test_token_auth_publishes_with_a_bearer_header():
    with FakeNtfy(tokens={TOKEN}) as server, NtfyClient(server.url, NtfyAuth(token=TOKEN)) as c:
        result = c.publish(_message())
        assert [m["id"] for m in c.poll(TOPIC)] == [result.id]
        assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_publishes_with_user_and_password():
    with (
        FakeNtfy(users={"phil": PASSWORD}) as server,
        NtfyClient(server.url, NtfyAuth(user="phil", password=PASSWORD)) as c,
    ):
        c.publish(_message(title="기본 인증"))
        assert [m["title"] for m in c.poll(TOPIC)] == ["기본 인증"]
        assert server.requests[0].headers["authorization"].startswith("Basic ")


def test_wrong_token_is_an_auth_error_without_the_token_in_it():
    wrong = TOKEN[:-1] + "9"
    with FakeNtfy(tokens={TOKEN}) as server, NtfyClient(server.url, NtfyAuth(token=wrong)) as c:
        error = _failure(c, _message())
        assert server.messages() == []
    assert isinstance(error, AuthError) and isinstance(error, PermanentError)
    assert (error.status, error.code, error.transient) == (401, 40101, False)
    assert str(error) == "the ntfy server refused the credentials (401)"
    assert wrong not in str(error) + error.error + repr(error)


def test_wrong_password_error_holds_neither_password_nor_basic_header():
    auth = NtfyAuth(user="phil", password="wrong " + PASSWORD)
    with FakeNtfy(users={"phil": PASSWORD}) as server, NtfyClient(server.url, auth) as c:
        error = _failure(c, _message())
    assert isinstance(error, AuthError)
    text = str(error) + error.error + repr(error)
    assert "\n" not in str(error)
    for secret in (auth.password, auth.header(), auth.header().split()[1]):
        assert secret not in text


def test_identity_without_access_to_the_topic_gets_a_403_auth_error():
    auth = NtfyAuth(user="phil", password=PASSWORD)
    with (
        FakeNtfy(users={"phil": PASSWORD}, access={"phil": {"other_topic"}}) as server,
        NtfyClient(server.url, auth) as c,
    ):
        error = _failure(c, _message())
        c.publish({"topic": "other_topic", "message": "allowed"})
    assert isinstance(error, AuthError)
    assert (error.status, error.code) == (403, 40301)
    assert str(error) == f"no permission to publish to topic {TOPIC} (403)"


def test_anonymous_publish_to_a_protected_server_says_which_settings_to_set():
    with FakeNtfy(tokens={TOKEN}) as server, NtfyClient(server.url) as c:
        error = _failure(c, _message())
    assert isinstance(error, AuthError)
    assert error.status == 403
    assert "set ntfy_token, or ntfy_user and ntfy_password" in str(error)


class _Ticks:
    """An injectable monotonic clock for the fake server's limiters."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_too_many_auth_failures_from_this_address_is_transient_even_with_right_credentials():
    ticks = _Ticks()
    wrong = NtfyAuth(token="tk_" + "x" * 29)
    with (
        FakeNtfy(tokens={TOKEN}, auth_failure_limit=2, clock=ticks) as server,
        NtfyClient(server.url, wrong) as bad,
        NtfyClient(server.url, NtfyAuth(token=TOKEN)) as good,
    ):
        first = [_failure(bad, _message()).status for _ in range(2)]
        # ntfy checks the limiter before the credentials: the right token behind the same address meets it.
        error = _failure(good, _message())
        ticks.now += 60  # the bucket refills one a minute
        good.publish(_message())
    assert first == [401, 401]
    assert not isinstance(error, AuthError)
    assert (error.status, error.code, error.transient) == (429, 42909, True)
    assert len(server.messages()) == 1


def test_request_limiter_refills_on_the_servers_clock():
    ticks = _Ticks()
    with FakeNtfy(request_limit=2, request_refill=5, clock=ticks) as server, NtfyClient(server.url) as c:
        c.publish(_message())
        c.publish(_message())
        error = _failure(c, _message())
        ticks.now += 5
        c.publish(_message())
    assert (error.code, error.transient) == (42901, True)
    assert len(server.messages()) == 3


def test_query_auth_wins_over_the_header_and_bearer_needs_its_exact_prefix():
    def auth_param(value: str) -> str:
        return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")

    with FakeNtfy(tokens={TOKEN}) as server:
        url = f"{server.url}/{TOPIC}"
        wrong_header = {"Authorization": "Bearer tk_" + "y" * 29}
        for name in ("auth", "authorization"):
            ok = requests.post(url, data="x", params={name: auth_param(f"Bearer {TOKEN}")}, headers=wrong_header)
            assert ok.status_code == 200, name
        lower = requests.post(url, data="x", headers={"Authorization": f"bearer {TOKEN}"}, timeout=5)
        other_scheme = requests.post(url, data="x", headers={"Authorization": f"Token {TOKEN}"}, timeout=5)
    assert lower.json()["code"] == 40101  # read as basic auth, which it is not
    assert other_scheme.json()["code"] == 40301  # not credentials at all: anonymous, and the topic is protected


def test_a_server_without_auth_ignores_credentials(ntfy_server: FakeNtfy):
    reply = requests.post(
        f"{ntfy_server.url}/{TOPIC}", data="x", headers={"Authorization": "Bearer tk_nonsense"}, timeout=5
    )
    assert reply.status_code == 200


def test_the_server_trims_text_and_title_and_splits_tags_on_commas(ntfy_server: FakeNtfy, client: NtfyClient):
    client.publish(_message(message="  안녕 \n", title=" 제목 ", tags=["a,b", " c "]))
    client.publish(_message(message="   "))
    first, empty = client.poll(TOPIC)
    assert (first["message"], first["title"], first["tags"]) == ("안녕", "제목", ["a", "b", "c"])
    assert empty["message"] == "triggered"
    assert is_stored(_message(message="  안녕 \n", title=" 제목 ", tags=["a,b", " c "]), first)


def test_a_message_reaching_4096_bytes_becomes_an_attachment(ntfy_server: FakeNtfy):
    body = {"topic": TOPIC, "message": "가" * 1365 + "a"}  # exactly 4096 bytes
    with pytest.raises(InvalidMessage, match="4096 bytes"):
        validate_message(body)
    raw = requests.post(ntfy_server.url, data=json.dumps(body, ensure_ascii=False).encode(), timeout=5)
    assert raw.status_code == 200
    [stored] = ntfy_server.messages()
    assert stored["message"] == "You received a file: attachment.txt"
    assert stored["attachment"]["name"] == "attachment.txt"
    body["message"] = "가" * 1365  # 4095 bytes: still a message
    validate_message(body)
    requests.post(ntfy_server.url, data=json.dumps(body, ensure_ascii=False).encode(), timeout=5)
    assert ntfy_server.messages()[-1]["message"] == "가" * 1365


def test_a_json_body_of_exactly_8192_bytes_is_refused(ntfy_server: FakeNtfy):
    body = {"topic": TOPIC, "message": "m", "title": ""}
    body["title"] = "t" * (8192 - len(json.dumps(body, separators=(",", ":"))))
    data = json.dumps(body, separators=(",", ":")).encode()
    assert len(data) == 8192
    with pytest.raises(InvalidMessage, match="as JSON"):
        validate_message(body)
    assert requests.post(ntfy_server.url, data=data, timeout=5).json()["code"] == 41303
    body["title"] = body["title"][:-1]
    validate_message(body)
    assert requests.post(ntfy_server.url, data=json.dumps(body, separators=(",", ":")).encode()).status_code == 200


def test_invalid_message_is_a_permanent_ntfy_error():
    with pytest.raises(NtfyError) as info:
        validate_message({"topic": "v1"})
    assert isinstance(info.value, InvalidMessage) and not info.value.transient


def test_an_unexpected_requests_failure_is_a_permanent_error(ntfy_server: FakeNtfy):
    with NtfyClient(ntfy_server.url) as c:
        # A header value requests refuses to send raises InvalidHeader, which no other branch names.
        c._session.headers["X-Broken"] = "a\nb"
        error = _failure(c, _message())
    assert isinstance(error, PermanentError) and "InvalidHeader" in str(error)


def test_auth_repr_and_client_repr_hide_secrets():
    token_auth = NtfyAuth(token=TOKEN)
    basic = NtfyAuth(user="phil", password=PASSWORD)
    assert TOKEN not in repr(token_auth) and TOKEN not in str(token_auth)
    assert PASSWORD not in repr(basic) and "phil" in repr(basic)
    assert TOKEN not in repr(NtfyClient("http://127.0.0.1:9", token_auth))
    assert basic.header() == "Basic cGhpbDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"


@pytest.mark.parametrize(
    "kwargs",
    [{"token": TOKEN, "user": "phil", "password": PASSWORD}, {"user": "phil"}, {}, {"token": "tk_ with space"}],
)
def test_incomplete_or_mixed_credentials_are_refused(kwargs: dict[str, str]):
    with pytest.raises(ValueError) as info:
        NtfyAuth(**kwargs)
    assert PASSWORD not in str(info.value) and TOKEN not in str(info.value)


def test_credentials_from_settings(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    config = tmp_path / "missing.toml"

    settings = load_settings(environ={"REMINDER_NTFY_TOKEN_FILE": str(token_file)}, config_path=config)
    assert NtfyAuth.from_settings(settings) == NtfyAuth(token=TOKEN)
    settings = load_settings(environ={}, config_path=config)
    assert NtfyAuth.from_settings(settings) is None
    settings = load_settings(environ={"REMINDER_NTFY_USER": "phil"}, config_path=config)
    with pytest.raises(ConfigError, match="ntfy_password"):
        NtfyAuth.from_settings(settings)


# --- failures: permanent vs transient ------------------------------------------------------------------------


def test_a_message_the_server_rejects_is_a_permanent_error(client: NtfyClient):
    # The server's minimum delay is its own setting, so only the server can reject this one.
    with pytest.raises(PermanentError) as info:
        client.publish(_message(delay="5s"))
    exc = info.value
    assert not isinstance(exc, AuthError)
    assert (exc.status, exc.code, exc.transient) == (400, 40005, False)
    assert "too small" in str(exc)


def test_server_with_smaller_limits_answers_413_and_400():
    with FakeNtfy(message_size_limit=1024) as server, NtfyClient(server.url) as c:
        with pytest.raises(PermanentError) as too_big:
            c.publish(_message(message="가" * 1000))  # 3000 bytes: the JSON body is over 2 x 1024
        assert server.messages() == []
    assert (too_big.value.status, too_big.value.code) == (413, 41303)


def test_server_without_attachments_refuses_a_text_reaching_its_limit():
    with FakeNtfy(message_size_limit=1024, attachments=False) as server, NtfyClient(server.url) as c:
        with pytest.raises(PermanentError) as attachment:
            c.publish(_message(message="a" * 1500))  # under the body limit, over the message limit
        assert server.messages() == []
    assert (attachment.value.status, attachment.value.code) == (400, 40014)


def test_server_error_is_transient_and_the_retry_succeeds(ntfy_server: FakeNtfy, client: NtfyClient):
    ntfy_server.fail_with(500, times=1)
    with pytest.raises(TransientError) as info:
        client.publish(_message())
    assert (info.value.status, info.value.code, info.value.transient) == (500, 50001, True)
    assert "internal server error" in str(info.value)

    result = client.publish(_message())
    assert [m["id"] for m in ntfy_server.messages()] == [result.id]


@pytest.mark.parametrize("code", [42901, 42908])
def test_rate_limits_and_quota_are_transient(ntfy_server: FakeNtfy, client: NtfyClient, code: int):
    ntfy_server.fail_with(429, code)
    with pytest.raises(TransientError) as info:
        client.publish(_message())
    assert (info.value.status, info.value.code) == (429, code)
    assert "limit reached" in info.value.error


def test_proxy_error_page_without_ntfy_json_is_classified_by_status(ntfy_server: FakeNtfy, client: NtfyClient):
    ntfy_server.fail_with(502, body="<html><body><h1>502 Bad Gateway</h1>\n</body></html>")
    with pytest.raises(TransientError) as info:
        client.publish(_message())
    assert (info.value.status, info.value.code, info.value.error) == (502, None, "Bad Gateway")
    assert str(info.value) == f"the ntfy server at {ntfy_server.url} failed: Bad Gateway (HTTP 502)"
    ntfy_server.fail_with(404, body="<html>not here</html>")
    with pytest.raises(PermanentError) as info:
        client.publish(_message())
    assert (info.value.status, info.value.transient) == (404, False)


def test_a_redirect_is_not_followed_and_names_the_address_to_configure(ntfy_server: FakeNtfy, client: NtfyClient):
    # Following it would turn the POST into a GET and lose the message.
    ntfy_server.fail_with(301, body="", headers={"Location": "https://ntfy.example.test/"}, times=1)
    with pytest.raises(PermanentError) as info:
        client.publish(_message())
    assert str(info.value) == (
        f"the ntfy server at {ntfy_server.url} redirects to https://ntfy.example.test/; "
        "set ntfy_server to the final address"
    )
    assert len(ntfy_server.requests) == 1


def test_an_answer_that_is_not_ntfy_json_is_permanent(ntfy_server: FakeNtfy, client: NtfyClient):
    ntfy_server.fail_with(200, body="<html>captive portal</html>")
    with pytest.raises(PermanentError, match="did not answer like an ntfy server"):
        client.publish(_message())


def test_server_down_is_transient_and_publishing_works_again_on_the_same_port(
    ntfy_server: FakeNtfy,
    client: NtfyClient,
):
    client.publish(_message(message="before"))
    port = ntfy_server.port
    ntfy_server.down()
    with pytest.raises(TransientError) as info:
        client.publish(_message(message="while down"))
    assert info.value.status is None
    assert str(info.value) == f"cannot reach the ntfy server at {ntfy_server.url}: connection refused"

    ntfy_server.up()
    assert ntfy_server.port == port
    client.publish(_message(message="after"))
    assert [m["message"] for m in client.poll(TOPIC)] == ["before", "after"]


def test_slow_server_is_a_read_timeout(ntfy_server: FakeNtfy):
    ntfy_server.slow(30)
    with NtfyClient(ntfy_server.url, read_timeout=0.2) as c, pytest.raises(TransientError) as info:
        c.publish(_message())
    ntfy_server.slow(0)
    assert str(info.value) == f"the ntfy server at {ntfy_server.url} did not answer within 0.2 s"
    assert info.value.transient


def test_server_text_that_echoes_the_token_is_scrubbed(ntfy_server: FakeNtfy):
    ntfy_server.fail_with(500, error=f"cannot check token {TOKEN}")
    with NtfyClient(ntfy_server.url, NtfyAuth(token=TOKEN)) as c, pytest.raises(TransientError) as info:
        c.publish(_message())
    assert TOKEN not in str(info.value) and TOKEN not in info.value.error
    assert "***" in str(info.value)


# --- validate_message: rejected before sending, and ntfy agrees ------------------------------------------------

_INVALID = [
    pytest.param({"topic": "v1"}, "reserved", 40010, id="reserved-topic"),
    pytest.param({"topic": "my topic"}, "not a valid ntfy topic", 40009, id="space-in-topic"),
    pytest.param({"topic": TOPIC + "\n"}, "not a valid ntfy topic", 40009, id="newline-in-topic"),
    pytest.param({"topic": "x" * 65}, "not a valid ntfy topic", 40009, id="long-topic"),
    pytest.param({"cache": False}, "'cache' must be text", 40024, id="cache-as-bool"),
    pytest.param({"icon": "HTTPS://host/icon.png"}, "icon", 40021, id="icon-upper-case-scheme"),
    pytest.param({"attach": "HTTP://host/f.txt"}, "attach", 40013, id="attach-upper-case-scheme"),
    pytest.param({"title": "😀" * 2100}, "as JSON", 41303, id="json-over-8192-bytes"),
    pytest.param({"priority": "4"}, "priority", 40024, id="priority-as-text"),
    pytest.param({"priority": True}, "priority", 40024, id="priority-as-bool"),
    pytest.param({"priority": 6}, "priority", 40007, id="priority-out-of-range"),
    pytest.param({"tags": "books"}, "tags", 40024, id="tags-as-text"),
    pytest.param({"tags": ["books", 3]}, "tags", 40024, id="tag-not-text"),
    pytest.param({"markdown": "yes"}, "markdown", 40024, id="markdown-as-text"),
    pytest.param({"delay": 1700000000}, "'delay' must be text", 40024, id="delay-as-number"),
    pytest.param({"icon": "ftp://host/icon.png"}, "icon", 40021, id="icon-not-http"),
    pytest.param(
        {"actions": [{"action": "view", "label": f"b{i}", "url": "https://x.test"} for i in range(4)]},
        "at most 3",
        40018,
        id="four-actions",
    ),
    pytest.param({"actions": [{"action": "view", "url": "https://x.test"}]}, "label", 40018, id="no-label"),
    pytest.param({"actions": [{"action": "view", "label": "Open"}]}, "url", 40018, id="view-without-url"),
    pytest.param(
        {"actions": [{"action": "http", "label": "Done", "url": "https://x.test", "method": "GET", "body": "x"}]},
        "cannot have a body",
        40018,
        id="http-get-with-body",
    ),
    pytest.param({"actions": [{"action": "open", "label": "x", "url": "u"}]}, "one of", 40018, id="unknown-action"),
    pytest.param(
        {"actions": [{"action": "view", "label": "x", "url": "u", "clear": "yes"}]}, "clear", 40024, id="clear-as-text"
    ),
]


@pytest.mark.parametrize(("fields", "reason", "ntfy_code"), _INVALID)
def test_validate_message_rejects_what_ntfy_rejects(
    ntfy_server: FakeNtfy,
    client: NtfyClient,
    fields: dict[str, object],
    reason: str,
    ntfy_code: int,
):
    message = _message(**fields)
    with pytest.raises(InvalidMessage, match=reason):
        validate_message(message)
    with pytest.raises(InvalidMessage):
        client.publish(message)
    assert ntfy_server.requests == []  # nothing was sent

    # The same body sent anyway is refused by the server with the matching ntfy code.
    raw = requests.post(ntfy_server.url, data=json.dumps(message, ensure_ascii=False).encode(), timeout=5)
    assert raw.status_code in (400, 413)
    assert raw.json()["code"] == ntfy_code


def test_validate_message_accepts_a_full_message_at_the_limits(client: NtfyClient):
    message = _message(
        message="가" * 1365,  # 4095 bytes
        title="📚 오늘 복습 3개",
        priority=5,
        tags=["books", "warning"],
        markdown=True,
        click="obsidian://open?vault=v&file=f",
        icon="https://example.test/icon.png",
        actions=[
            {"action": "view", "label": "열기", "url": "obsidian://open?vault=v&file=f"},
            {
                "action": "http",
                "label": "완료",
                "url": "https://example.test/done",
                "method": "POST",
                "headers": {"X-Sig": "abc"},
                "body": "{}",
                "clear": True,
            },
            {"action": "http", "label": "미루기", "url": "https://example.test/snooze", "method": "GET"},
        ],
    )
    validate_message(message)
    result = client.publish(message)
    [back] = client.poll(TOPIC)
    assert back["id"] == result.id
    assert [a["label"] for a in back["actions"]] == ["열기", "완료", "미루기"]
    assert back["actions"][1]["clear"] is True


# --- the fake server's other behaviours that later tests rely on ---------------------------------------------


def test_plain_publish_reads_options_from_headers(ntfy_server: FakeNtfy, client: NtfyClient):
    title = "=?UTF-8?B?" + base64.b64encode("📚 복습".encode()).decode() + "?="  # RFC 2047, as ntfy accepts it
    reply = requests.put(
        f"{ntfy_server.url}/{TOPIC}",
        data="본문 😀".encode(),
        headers={"X-Title": title, "Priority": "high", "Tags": "books, warning", "Markdown": "yes"},
        timeout=5,
    )
    assert reply.status_code == 200
    [back] = client.poll(TOPIC)
    assert back["id"] == reply.json()["id"]
    assert (back["title"], back["message"], back["priority"]) == ("📚 복습", "본문 😀", 4)
    assert back["tags"] == ["books", "warning"]
    assert back["content_type"] == "text/markdown"


def test_poll_since_a_unix_time_and_scheduled_messages(ntfy_server: FakeNtfy, client: NtfyClient):
    with freeze_time("2024-07-11 08:00:00") as frozen:
        client.publish(_message(message="old"))
        frozen.tick(3600)
        later = int(time.time())
        client.publish(_message(message="new"))
        client.publish(_message(message="in an hour", delay="1h"))
        assert [m["message"] for m in client.poll(TOPIC, since=str(later))] == ["new"]
        assert [m["message"] for m in client.poll(TOPIC, since="30m")] == ["new"]
        frozen.tick(3600)
        assert [m["message"] for m in client.poll(TOPIC, since=str(later))] == ["new", "in an hour"]


def test_server_going_down_during_a_held_answer_cuts_the_connection(ntfy_server: FakeNtfy, client: NtfyClient):
    ntfy_server.slow(60)
    failures: list[NtfyError] = []
    worker = threading.Thread(target=lambda: failures.append(_failure(client, _message())))
    worker.start()
    assert ntfy_server.wait_for_requests(1)  # the request has arrived and its answer is held
    ntfy_server.down()
    worker.join(timeout=10)
    [error] = failures
    assert isinstance(error, TransientError)
    assert error.status is None
    assert ntfy_server.messages() == []

"""The ntfy transport: publish one JSON message, read a topic back, check the server's health.

Every failure becomes one of three errors, because the dispatcher only needs to know whether to try again:
- ``TransientError``: the server could not take the message now (connection refused or reset, timeout, 5xx,
  429 rate limit or daily quota). Retrying later may succeed.
- ``PermanentError``: ntfy rejected this message or the setup is wrong (400, 404, 413, a redirect, an answer
  that is not ntfy's). Retrying the same request will fail the same way.
- ``AuthError`` (a ``PermanentError``): the credentials or the topic's permissions are wrong (401, 403). Only the
  user can fix it, so it is reported as a configuration error. 429 with code 42909 (too many failed
  authentications *from this address*) is checked by ntfy before the credentials and refills one a minute, so it
  is transient: correct credentials behind a shared address can meet it.

A transient error whose request may have reached the server (a read timeout, a connection cut after the request
was written, an answer that is not ntfy's) is ``ambiguous``: ntfy has no idempotency key, so whoever retries it
looks on the topic first (see ``stored_form``).

Messages are published as JSON to the server root: header values travel as latin-1, so a Korean or emoji title
in an ``X-Title`` header would not survive (see the ntfy contract). ``validate_message`` checks what ntfy would
reject before anything is sent, so a bad message fails at once instead of after the retries.
"""

from __future__ import annotations

import base64
import errno
import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict
from urllib.parse import urlsplit

from reminder import __version__
from reminder.config import ConfigError, Settings, check_ntfy_token, mask_url, parse_topic
from reminder.i18n import N_, Invalid, LocalizedError, Phrase

if TYPE_CHECKING:
    import requests

# The largest sizes ntfy takes as they are. ntfy peeks 4096 bytes of the message and a message that *reaches* 4096
# becomes an attachment (util/peek.go: LimitReached is read == limit; server.go handlePublishBody); the JSON body is
# read with a limit of twice the message limit and one reaching 8192 bytes is refused (413 / 41303). Both strict.
MESSAGE_LIMIT = 4095  # bytes of UTF-8 message text
JSON_BODY_LIMIT = 8191  # bytes of a JSON publish body
MAX_ACTIONS = 3  # a fourth action button is 40018
USER_AGENT = f"reminder/{__version__}"

ACTION_TYPES = ("view", "http", "broadcast")
# Field types of ntfy's JSON publish struct; a mismatch is 400 / 40024.
# ``cache`` is a string ("no"): ``{"cache": false}`` is refused with 40024.
_STR_FIELDS = ("topic", "message", "title", "click", "icon", "attach", "filename", "email", "call", "delay", "cache")
# server.go's urlRegex, case-sensitive: "HTTPS://..." is refused (40021 for icon, 40013 for attach).
_URL_RE = re.compile(r"^https?://")
_ERROR_TEXT_MAX = 200


# --- errors --------------------------------------------------------------------------------------------------


class _Detail(TypedDict):
    """What the server said, passed on to every error built from its answer."""

    error: str
    status: int | None
    code: int | None


class NtfyError(LocalizedError):
    """A publish or read that did not succeed. ``str(exc)`` is one line without secrets, in English (the log,
    the outbox's last error); ``text`` is the same as a reminder.i18n.Phrase, which the command line shows in
    the learner's language. ``message`` is a catalogue message id, formatted with ``values`` (scrubbed)."""

    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        error: str = "",
        status: int | None = None,
        code: int | None = None,
        ambiguous: bool = False,
        **values: object,
    ):
        message = _one_line(message)
        super().__init__(message, **values)
        self.text = Phrase(message, **values)
        self.status = status
        self.code = code
        self.error = _one_line(error) or str(self)
        # The request may have reached ntfy and been stored although no answer came back.
        self.ambiguous = ambiguous


class TransientError(NtfyError):
    """The server could not take the message now; the same request may succeed later."""

    transient: ClassVar[bool] = True


class PermanentError(NtfyError):
    """ntfy rejected the request or the setup is wrong; retrying the same request will not help."""


class AuthError(PermanentError):
    """Wrong credentials, or no permission on the topic: the user has to fix the configuration."""


class InvalidMessage(PermanentError, ValueError):
    """A message ntfy would reject; raised before anything is sent. A permanent ntfy error like the server's own
    refusal (and still a ValueError for callers that build messages from input)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --- authentication ------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class NtfyAuth:
    """An access token (``Bearer``) or a user and password (``Basic``). The repr never shows the secret."""

    token: str | None = None
    user: str | None = None
    password: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.token is not None and (self.user is not None or self.password is not None):
            raise Invalid("give an ntfy token or a user and password, not both")
        if self.token is not None:
            check_ntfy_token(self.token)
        elif not self.user or not self.password:
            raise Invalid("ntfy basic auth needs both a user and a password")

    @classmethod
    def from_settings(cls, settings: Settings) -> NtfyAuth | None:
        """The credentials the settings name, or None for anonymous publishing."""
        token = settings.ntfy_token_value()
        user, password = settings.ntfy_user, settings.ntfy_password
        try:
            if token:
                return cls(token=token)
            if user and password:
                return cls(user=user, password=password)
        except ValueError as exc:
            raise ConfigError("ntfy credentials: {reason}", reason=exc) from None
        if user or password:
            missing = "ntfy_password" if user else "ntfy_user"
            raise ConfigError("{name}: basic auth needs both ntfy_user and ntfy_password", name=missing)
        return None

    def header(self) -> str:
        if self.token is not None:
            return f"Bearer {self.token}"
        pair = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        """Every form in which the secret could show up in a text, for scrubbing."""
        values = [self.header().split(" ", 1)[1]]
        values += [s for s in (self.token, self.password) if s]
        return tuple(values)

    def __repr__(self) -> str:
        if self.token is not None:
            return "NtfyAuth(token='***')"
        return f"NtfyAuth(user={self.user!r}, password='***')"


# --- message checks ------------------------------------------------------------------------------------------


def encode_message(message: Mapping[str, Any]) -> bytes:
    """The exact JSON body publish() sends; limits are measured on it.

    ``ensure_ascii=False`` keeps Korean at 3 bytes a character instead of 6 (``\\uXXXX``), emoji at 4 instead of 12.
    """
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"message cannot be sent as JSON: {exc}") from None
    except UnicodeEncodeError:
        raise InvalidMessage("message holds text that is not valid Unicode") from None


def _is_http_url(value: str) -> bool:
    return bool(_URL_RE.match(value)) and bool(urlsplit(value).netloc)


def _check_str_map(value: Any, where: str) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidMessage(f"{where} must be an object of text values")


def _check_action(index: int, action: Any) -> None:
    where = f"action {index}"
    if not isinstance(action, Mapping):
        raise InvalidMessage(f"{where} must be an object")
    kind = action.get("action")
    if kind not in ACTION_TYPES:
        raise InvalidMessage(f"{where}: 'action' must be one of {', '.join(ACTION_TYPES)}, not {kind!r}")
    for key in ("label", "url", "method", "body", "intent"):
        if key in action and not isinstance(action[key], str):
            raise InvalidMessage(f"{where}: {key!r} must be text")
    if not action.get("label", "").strip():
        raise InvalidMessage(f"{where}: a label is required")
    if kind in ("view", "http") and not action.get("url", "").strip():
        raise InvalidMessage(f"{where}: a {kind} action needs a url")
    if "clear" in action and not isinstance(action["clear"], bool):
        raise InvalidMessage(f"{where}: 'clear' must be true or false")
    for key in ("headers", "extras"):
        if key in action:
            _check_str_map(action[key], f"{where}: {key!r}")
    if kind == "http" and action.get("method", "POST").upper() in ("GET", "HEAD") and action.get("body"):
        raise InvalidMessage(f"{where}: an http {action['method'].upper()} action cannot have a body")


def validate_message(message: Mapping[str, Any]) -> None:
    """Raise InvalidMessage for anything ntfy's JSON publishing would reject (or turn into an attachment)."""
    if not isinstance(message, Mapping):
        raise InvalidMessage("a message must be a JSON object")
    topic = message.get("topic")
    if not isinstance(topic, str):
        raise InvalidMessage("message has no topic")
    try:
        # parse_topic strips blanks; ntfy does not, so a topic that changes on parsing is invalid too.
        if parse_topic(topic) != topic:
            raise ValueError(f"{topic!r} is not a valid ntfy topic (1-64 of A-Z a-z 0-9 - _)")
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    for key in _STR_FIELDS:
        if key in message and not isinstance(message[key], str):
            raise InvalidMessage(f"{key!r} must be text, not {type(message[key]).__name__}")
    if "priority" in message:
        priority = message["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
            raise InvalidMessage(f"priority must be a whole number 1-5, not {priority!r}")
    if "tags" in message:
        tags = message["tags"]
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            raise InvalidMessage("tags must be a list of text")
    if "markdown" in message and not isinstance(message["markdown"], bool):
        raise InvalidMessage("markdown must be true or false")
    for key in ("icon", "attach"):
        if message.get(key) and not _is_http_url(message[key]):
            raise InvalidMessage(f"{key} must be an http(s) URL")
    if "actions" in message:
        actions = message["actions"]
        if not isinstance(actions, list | tuple):
            raise InvalidMessage("actions must be a list")
        if len(actions) > MAX_ACTIONS:
            raise InvalidMessage(f"{len(actions)} action buttons; ntfy allows at most {MAX_ACTIONS}")
        for index, action in enumerate(actions, 1):
            _check_action(index, action)
    text = message.get("message", "")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidMessage("message text is not valid Unicode") from None
    if size > MESSAGE_LIMIT:
        raise InvalidMessage(f"message text is {size} bytes; ntfy takes at most {MESSAGE_LIMIT} as text")
    body = len(encode_message(message))
    if body > JSON_BODY_LIMIT:
        raise InvalidMessage(f"message is {body} bytes as JSON; ntfy takes at most {JSON_BODY_LIMIT}")


def stored_form(message: Mapping[str, Any]) -> dict[str, Any]:
    """The title, text and tags as ntfy stores and returns them for ``message``: trimmed text and title (an empty
    text becomes "triggered"), tags joined and split again on commas, each trimmed, empty ones dropped."""
    tags = ",".join(message.get("tags") or []).split(",")
    return {
        "title": (message.get("title") or "").strip(),
        "message": (message.get("message") or "").strip() or "triggered",
        "tags": [t.strip() for t in tags if t.strip()],
    }


def is_stored(message: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether ``item`` (one message polled from the topic) is ``message`` as ntfy stored it."""
    return stored_form(message) == stored_form(item)


# --- the client ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    id: str
    time: int
    raw: dict[str, Any]


# Phrases: the log keeps the English words (and _NOT_SENT compares them), the command line translates them.
_ERRNO_WORDS = {
    errno.ECONNREFUSED: Phrase("connection refused"),
    errno.ECONNRESET: Phrase("connection reset"),
    errno.ECONNABORTED: Phrase("connection aborted"),
    errno.ETIMEDOUT: Phrase("connection timed out"),
    errno.EHOSTUNREACH: Phrase("host unreachable"),
    errno.ENETUNREACH: Phrase("network unreachable"),
    errno.EPIPE: Phrase("connection closed"),
}


# Reasons that mean the request never left this machine: retrying cannot duplicate it.
_NOT_SENT = frozenset({"connection refused", "cannot resolve the host name", "host unreachable", "network unreachable"})


def _connection_reason(exc: BaseException) -> str:
    """A few words for a requests connection error, whose own text is a long nested repr."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, socket.gaierror):
            return Phrase("cannot resolve the host name")
        if isinstance(item, OSError) and item.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[item.errno]
        if type(item).__name__ == "RemoteDisconnected":
            return Phrase("connection closed by the server")
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return Phrase("connection failed")


class NtfyClient:
    """Publishes to one ntfy server. Reuses one HTTP session; close() it (or use ``with``) when done."""

    def __init__(
        self,
        server: str,
        auth: NtfyAuth | None = None,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 15,
    ) -> None:
        self.server = server.rstrip("/")
        self.auth = auth
        self.timeout = (connect_timeout, read_timeout)
        self._own_session = session is None
        # Made at the first request: importing requests is a good part of a short command's time, and a
        # `run --once` with nothing to send, or a message built and refused, never needs it.
        self._made: requests.Session | None = session
        self._secrets: tuple[str, ...] = auth.secrets() if auth else ()

    def __repr__(self) -> str:
        return f"NtfyClient({mask_url(self.server)!r}, auth={self.auth!r})"

    def __enter__(self) -> NtfyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_session and self._made is not None:
            self._made.close()
            self._made = None

    @property
    def _session(self) -> requests.Session:
        if self._made is None:
            import requests

            self._made = requests.Session()
        return self._made

    def publish(self, message: Mapping[str, Any]) -> PublishResult:
        """Send one JSON message; the returned id is ntfy's (record it: there is no idempotency key)."""
        validate_message(message)
        body = encode_message(message)
        response = self._request(
            "POST", "/", topic=message["topic"], data=body, headers={"Content-Type": "application/json"}
        )
        data = self._json_lines(response)
        reply = data[0] if len(data) == 1 else None
        if not isinstance(reply, dict) or not isinstance(reply.get("id"), str) or not reply["id"]:
            raise PermanentError(
                "{where} did not answer like an ntfy server (no message id in the reply)",
                where=self._where(),
                status=response.status_code,
                ambiguous=True,
            )
        published = reply.get("time")
        return PublishResult(id=reply["id"], time=published if isinstance(published, int) else 0, raw=reply)

    def poll(self, topic: str, since: str = "all") -> list[dict[str, Any]]:
        """The messages ntfy holds for ``topic`` (``since``: all, a message id, a Unix time or e.g. 10m)."""
        try:
            parse_topic(topic)
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from None
        response = self._request("GET", f"/{topic}/json", topic=topic, params={"poll": "1", "since": since})
        return self._json_lines(response)

    def health(self) -> bool:
        """True when the server answers ``{"healthy": true}``; False for any failure (doctor explains why)."""
        try:
            response = self._request("GET", "/v1/health", topic=None)
            data = response.json()
        except (NtfyError, ValueError):
            return False
        return isinstance(data, dict) and data.get("healthy") is True

    # --- internals ---

    def _where(self) -> Phrase:
        return Phrase("the ntfy server at {url}", url=mask_url(self.server))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _request(self, method: str, path: str, *, topic: str | None, **kwargs: Any) -> requests.Response:
        import requests

        headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
        if self.auth is not None:
            headers["Authorization"] = self.auth.header()
        try:
            response = self._session.request(
                method,
                self.server + path,
                headers=headers,
                timeout=self.timeout,
                # A redirect (http -> https) would turn the POST into a GET and lose the message.
                allow_redirects=False,
                **kwargs,
            )
        except requests.exceptions.SSLError:
            raise PermanentError(
                "TLS error talking to {where} (certificate?)", where=self._where(), error="TLS error"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise TransientError(
                "cannot reach {where}: no answer within {seconds:g} s",
                where=self._where(),
                seconds=self.timeout[0],
                error="connect timeout",
            ) from None
        except requests.exceptions.Timeout:
            # The request went out: the server may have stored the message and be slow to say so.
            raise TransientError(
                "{where} did not answer within {seconds:g} s",
                where=self._where(),
                seconds=self.timeout[1],
                error="read timeout",
                ambiguous=True,
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            reason = _connection_reason(exc)
            raise TransientError(
                "cannot reach {where}: {reason}",
                where=self._where(),
                reason=reason,
                error=reason,
                ambiguous=reason not in _NOT_SENT,
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise PermanentError("{url!r} is not a usable ntfy server URL", url=mask_url(self.server)) from None
        except requests.exceptions.RequestException as exc:
            # Last: whatever else requests raises is a setup the same request will meet again, and it must not
            # escape and leave an outbox row ``sending``.
            raise PermanentError(
                "request to {where} failed: {reason}",
                where=self._where(),
                reason=self._scrub(type(exc).__name__),
                error=type(exc).__name__,
            ) from None
        if 200 <= response.status_code < 300:
            return response
        raise self._classify(response, topic)

    def _classify(self, response: requests.Response, topic: str | None) -> NtfyError:
        status = response.status_code
        code: int | None = None
        error = ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("code"), int):
                code = data["code"]
            if isinstance(data.get("error"), str):
                error = data["error"]
        error = self._scrub(_one_line(error or response.reason or f"HTTP {status}"))[:_ERROR_TEXT_MAX]
        suffix = f" (HTTP {status}, code {code})" if code else f" (HTTP {status})"
        detail = _Detail(error=error, status=status, code=code)

        if status == 429 and code == 42909:
            # Checked before the credentials, per address, refilled one a minute: retry later.
            return TransientError(
                "{where} is refusing credentials from this address for a while after too many failed "
                "attempts (HTTP 429, code 42909)",
                where=self._where(),
                **detail,
            )
        if status == 401:
            if self.auth is None:
                text = N_("the ntfy server requires credentials (401): set ntfy_token, or ntfy_user and ntfy_password")
            else:
                text = N_("the ntfy server refused the credentials (401)")
            return AuthError(text.msgid, **detail)
        if status == 403:
            reading = response.request.method == "GET"
            if self.auth is not None:
                text = (
                    N_("no permission to read topic {topic} (403)")
                    if reading
                    else N_("no permission to publish to topic {topic} (403)")
                )
            elif reading:
                text = N_(
                    "no permission to read topic {topic} (403): the server does not allow anonymous access; "
                    "set ntfy_token, or ntfy_user and ntfy_password"
                )
            else:
                text = N_(
                    "no permission to publish to topic {topic} (403): the server does not allow anonymous access; "
                    "set ntfy_token, or ntfy_user and ntfy_password"
                )
            return AuthError(text.msgid, topic=topic, **detail)
        if status in (301, 302, 303, 307, 308):
            location = mask_url(response.headers.get("Location", "?"))
            return PermanentError(
                "{where} redirects to {location}; set ntfy_server to the final address",
                where=self._where(),
                location=location,
                **detail,
            )
        if status == 429:
            return TransientError(
                "{where} is rate limiting: {said}{http}", where=self._where(), said=error, http=suffix, **detail
            )
        if status >= 500 or status == 408:
            # A gateway timeout is a proxy that gave up waiting: ntfy behind it may have stored the message.
            return TransientError(
                "{where} failed: {said}{http}",
                where=self._where(),
                said=error,
                http=suffix,
                **detail,
                ambiguous=status == 504,
            )
        return PermanentError(
            "ntfy rejected the request: {said}{http}", where=self._where(), said=error, http=suffix, **detail
        )

    def _json_lines(self, response: requests.Response) -> list[dict[str, Any]]:
        try:
            text = response.content.decode("utf-8")
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            items = None
        if items is None or not all(isinstance(item, dict) for item in items):
            raise PermanentError(
                "{where} did not answer like an ntfy server (not JSON)",
                where=self._where(),
                status=response.status_code,
            )
        return items


def client_from_settings(settings: Settings, **kwargs: Any) -> NtfyClient:
    """A client for the configured server and credentials (ConfigError for half-given credentials)."""
    return NtfyClient(settings.ntfy_server, NtfyAuth.from_settings(settings), **kwargs)

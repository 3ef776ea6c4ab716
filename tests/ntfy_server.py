"""A real HTTP server on 127.0.0.1 that answers like ntfy, for the tests of everything that publishes.

It follows ntfy's publish rules and ntfy's own error codes and texts (server/errors.go): JSON and
plain publishing, strict JSON types, topic rules, action buttons, token and basic auth with per-identity topic
access, polling with ``since``, and ``/v1/health``. Each rule below cites where ntfy's server source has it:
- a message text that *reaches* the 4096-byte limit, or is not UTF-8, becomes an attachment "You received a file:
  attachment.txt" (util/peek.go: LimitReached is ``read == limit``; server.go handlePublishBody), or 40014 when
  the server has attachments off (``attachments=False``, a self-hosted server without an attachment cache);
- a JSON body reaching 8192 bytes (twice the message limit) is refused with 413 / 41303 (server.go
  transformBodyJSON, readJSONWithLimit);
- the message text and the title are trimmed, an empty text becomes "triggered", tags are split on commas and
  trimmed (server.go handleBodyAsTextMessage, parsePublishParams, readCommaSeparatedParam);
- ``cache`` is a string in JSON (``false`` is 40024); icon and attach must match the case-sensitive
  ``^https?://`` (40021 / 40013);
- credentials: ``?auth=``/``?authorization=`` (base64url of the whole Authorization value) wins over the header;
  only values starting with "basic " or "bearer " (any case) count; a token needs the exact "Bearer" prefix,
  anything else is read as basic auth; a server without auth configured ignores credentials entirely
  (server.go maybeAuthenticate, readAuthHeader, supportedAuthHeader, authenticate);
- 42909 is checked *before* the credentials, per address, from a bucket (30 by default on ntfy) that refills one
  a minute; the request limiter is a bucket too (visitor.go). Both refill on an injectable ``clock``.

Tests can break it at any moment: ``down()``/``up()`` (refused connections, then back on the same port),
``fail_with()`` (5xx, 429...), ``slow()`` (read timeouts, optionally after storing the message),
``cut_answers()`` (the message is stored, the answer cut halfway). Every request is logged for assertions.

Deliberate simplifications: a subscription without ``poll=1`` answers like a poll instead of streaming; ``delay``
accepts a Unix time or a duration such as ``30m`` / ``2h`` / ``1d`` but not natural language; the ``X-Actions``
header is not parsed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import socket
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.header import decode_header
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

# fullmatch, not match with "$": "$" would also accept a trailing newline.
TOPIC_RE = re.compile(r"[-_A-Za-z0-9]{1,64}")
MESSAGE_ID_RE = re.compile(r"[-_A-Za-z0-9]{12}")
RESERVED = frozenset({"docs", "static", "file", "app", "metrics", "account", "settings", "signup", "login", "v1"})
CACHE_SECONDS = 12 * 3600
LINK_AUTH = "https://ntfy.sh/docs/publish/#authentication"
LINK_LIMITS = "https://ntfy.sh/docs/publish/#limitations"

# code -> (HTTP status, ntfy's error text, link); texts as ntfy's server/errors.go writes them.
ERRORS: dict[int, tuple[int, str, str]] = {
    40004: (400, "invalid delay parameter: unable to parse delay", "https://ntfy.sh/docs/publish/#scheduled-delivery"),
    40005: (400, "invalid delay parameter: too small, please refer to the docs", ""),
    40006: (400, "invalid delay parameter: too large, please refer to the docs", ""),
    40007: (400, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority"),
    40008: (400, "invalid since parameter", "https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages"),
    40009: (400, "invalid request: topic invalid", ""),
    40010: (400, "invalid request: topic name is not allowed", ""),
    40013: (400, "invalid request: attachment URL is invalid", "https://ntfy.sh/docs/publish/#attachments"),
    40014: (400, "invalid request: attachments not allowed", "https://ntfy.sh/docs/config/#attachments"),
    40017: (400, "invalid request: request body must be message JSON", "https://ntfy.sh/docs/publish/#publish-as-json"),
    40018: (400, "invalid request: actions invalid", "https://ntfy.sh/docs/publish/#action-buttons"),
    40021: (400, "invalid request: icon URL is invalid", "https://ntfy.sh/docs/publish/#icons"),
    40024: (400, "invalid request: request body must be valid JSON", ""),
    40101: (401, "unauthorized", LINK_AUTH),
    40301: (403, "forbidden", LINK_AUTH),
    40401: (404, "page not found", ""),
    41303: (413, "JSON body too large", ""),
    42901: (429, "limit reached: too many requests, please be nice", LINK_LIMITS),
    42908: (429, "limit reached: daily message quota reached", LINK_LIMITS),
    42909: (429, "limit reached: too many auth failures", LINK_LIMITS),
    50001: (500, "internal server error", ""),
}

# JSON publish fields and their Go types in ntfy's publishMessage; a mismatch fails the whole body (40024).
_JSON_STR = ("topic", "title", "message", "click", "icon", "attach", "filename", "email", "call", "cache", "delay")
_ACTION_STR = ("action", "label", "url", "method", "body", "intent")
_PRIORITY_NAMES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}
_DURATION_RE = re.compile(r"^(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours|d|day|days)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID_ALPHABET = string.ascii_letters + string.digits


class NtfyHTTPError(Exception):
    def __init__(self, code: int, detail: str = "", status: int | None = None, error: str | None = None):
        self.status = status or ERRORS.get(code, (500,))[0]
        _, text, link = ERRORS.get(code, (self.status, HTTPStatus(self.status).phrase.lower(), ""))
        self.payload: dict[str, Any] = {"code": code, "http": self.status, "error": error or text}
        if detail:
            self.payload["error"] += f", {detail}"
        if link:
            self.payload["link"] = link


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Failure:
    status: int
    code: int | None
    error: str | None
    remaining: int | None  # None: until cleared
    body: str | None  # a non-ntfy answer, such as a proxy's HTML error page
    headers: dict[str, str]


class _Bucket:
    """A token bucket like ntfy's visitor limiters: ``burst`` tokens, one more every ``every`` seconds."""

    def __init__(self, burst: int, every: float, clock: Callable[[], float]) -> None:
        self.burst, self.every, self.clock = burst, every, clock
        self.tokens = float(burst)
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) / self.every)
        self.at = now

    def allowed(self) -> bool:
        """Whether a token is left (without taking it)."""
        self._refill()
        return self.tokens >= 1

    def take(self) -> bool:
        self._refill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _State:
    messages: list[dict[str, Any]] = field(default_factory=list)
    log: list[Recorded] = field(default_factory=list)
    failure: _Failure | None = None
    delay: float = 0.0
    delay_after_store: bool = False
    cuts: int = 0
    in_flight: int = 0
    auth_failures: int = 0
    internal_errors: list[str] = field(default_factory=list)


def _new_id(length: int = 12) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _header_text(value: str) -> str:
    """A header as ntfy reads it: raw UTF-8 bytes are fine, and RFC 2047 encoded words are decoded."""
    if value.startswith("=?"):
        return "".join(
            part.decode(charset or "utf-8") if isinstance(part, bytes) else part
            for part, charset in decode_header(value)
        )
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, fake: FakeNtfy) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (read timeout) or a socket cut by down() is expected; anything else is a bug
        # in this fake and must fail the test that met it.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.fake._record_internal_error(traceback.format_exc())

    def drop_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so down() leaves no kept-alive connection being served.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch


class FakeNtfy:
    """An ntfy-compatible server on 127.0.0.1 (port chosen by the OS, kept across down()/up()).

    Auth: ``tokens`` (valid access tokens) and ``users`` ({user: password}). ``anonymous`` says whether requests
    without credentials may publish and read; it defaults to True only when no credentials are configured.
    ``access`` ({user or token: topics}) limits an identity to some topics (403 elsewhere); None means all.
    Wrong credentials are 401 / 40101, an identity without access to the topic 403 / 40301 (as ntfy: an
    anonymous request to a protected topic is 403, not 401). After ``auth_failure_limit`` wrong credentials,
    requests with credentials get 429 / 42909 until the bucket refills (one every ``auth_failure_refill``
    seconds of ``clock``). ``request_limit`` (burst, one more every ``request_refill`` s) answers 42901.
    ``attachments``: whether a text too large for a message becomes an attachment (True, as on ntfy.sh) or 40014.
    ``write_only``: identities that may publish but not read (polling is 403 for them).
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        anonymous: bool | None = None,
        access: Mapping[str, Iterable[str]] | None = None,
        message_size_limit: int = 4096,
        min_delay: int = 10,
        max_delay: int = 3 * 86400,
        auth_failure_limit: int | None = None,
        auth_failure_refill: float = 60.0,
        request_limit: int | None = None,
        request_refill: float = 5.0,
        attachments: bool = True,
        clock: Callable[[], float] = time.monotonic,
        write_only: Iterable[str] = (),
    ) -> None:
        self.tokens = set(tokens)
        self.users = dict(users or {})
        self.anonymous = anonymous if anonymous is not None else not (self.tokens or self.users)
        self.access = {k: set(v) for k, v in access.items()} if access is not None else None
        self.message_size_limit = message_size_limit
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.auth_failure_limit = auth_failure_limit
        self.attachments = attachments
        self.write_only = set(write_only)
        self.clock = clock
        # One address (127.0.0.1) for every client, so one bucket each, as ntfy keeps per visitor IP.
        self._auth_bucket = _Bucket(auth_failure_limit, auth_failure_refill, clock) if auth_failure_limit else None
        self._request_bucket = _Bucket(request_limit, request_refill, clock) if request_limit else None
        self.port = 0
        self._lock = threading.Lock()
        # Held answers (slow) wait on this; slow(0) and down() wake them.
        self._changed = threading.Condition(self._lock)
        self._life = threading.Lock()  # serialises up() and down()
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeNtfy:
        self.up()
        return self

    def stop(self) -> None:
        self.down()

    def __enter__(self) -> FakeNtfy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def up(self) -> None:
        """Listen again (on the same port after down())."""
        with self._life:
            if self._server is not None:
                return
            server = _Server(self.port, self)
            self.port = server.server_address[1]
            with self._lock:
                self._server = server
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()

    def down(self) -> None:
        """Stop listening and cut open connections: clients now get 'connection refused'."""
        with self._life:
            with self._changed:
                server, self._server = self._server, None
                self._changed.notify_all()  # answers held by slow() are dropped at once
            if server is None:
                return
            server.shutdown()
            server.server_close()
            server.drop_connections()
            if self._thread is not None:
                self._thread.join(timeout=5)

    # --- failure modes ---

    def fail_with(
        self,
        status: int,
        code: int | None = None,
        *,
        times: int | None = None,
        error: str | None = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests (every request until clear_failures() when None) with this error:
        ntfy's JSON with ``code`` (default: status * 100 + 1) and ``error``, or ``body`` as text/html;
        ``headers`` are added (e.g. a Location for a redirect)."""
        with self._lock:
            self._state.failure = _Failure(status, code, error, times, body, dict(headers or {}))

    def clear_failures(self) -> None:
        with self._lock:
            self._state.failure = None

    def slow(self, seconds: float, *, after_store: bool = False) -> None:
        """Hold every answer for ``seconds`` (0 to stop); down() and stop() release held answers at once.

        ``after_store``: the message is stored first and only its answer is held, like a real server whose
        answer is slow or lost on the way back (the client's read timeout then hides a delivered message)."""
        with self._changed:
            self._state.delay = seconds
            self._state.delay_after_store = after_store
            self._changed.notify_all()  # with 0, held answers go out now

    def cut_answers(self, times: int = 1) -> None:
        """For the next ``times`` requests: handle them (a publish is stored), then close the connection halfway
        through the answer, as a proxy or a dying server does."""
        with self._lock:
            self._state.cuts = times

    # --- what the tests read ---

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.log)

    def wait_idle(self, timeout: float = 10) -> bool:
        """Block until no request is being handled (held answers included): what was sent is stored by now."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state.in_flight == 0, timeout)

    def wait_for_requests(self, count: int, timeout: float = 5) -> bool:
        """Block until ``count`` requests have arrived (True) or ``timeout`` seconds passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._state.log) >= count, timeout)

    def messages(self, topic: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._state.messages if topic is None or m["topic"] == topic]

    @property
    def internal_errors(self) -> list[str]:
        with self._lock:
            return list(self._state.internal_errors)

    def _record_internal_error(self, text: str) -> None:
        with self._lock:
            self._state.internal_errors.append(text)

    # --- request handling ---

    def _handle(self, h: _Handler) -> None:
        with self._changed:
            self._state.in_flight += 1
        try:
            self._handle_one(h)
        finally:
            with self._changed:
                self._state.in_flight -= 1
                self._changed.notify_all()

    def _handle_one(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._changed:
            self._state.log.append(Recorded(h.command, parts.path, query, headers, body))
            self._changed.notify_all()
            delay = self._state.delay
            after_store = self._state.delay_after_store
            failure = self._take_failure()
            cut = self._state.cuts > 0
            if cut:
                self._state.cuts -= 1

        def hold() -> bool:
            with self._changed:
                self._changed.wait_for(lambda: self._state.delay <= 0 or h.server is not self._server, delay)
                return h.server is self._server  # False: the server went down; the connection is already cut

        if delay > 0 and not after_store and not hold():
            return
        status, payload, content_type = self._answer(failure, h.command, parts.path, query, headers, body)
        if delay > 0 and after_store and not hold():
            return
        data = payload.encode("utf-8")
        if cut:
            # The headers and half the body, then the connection closes: the client never gets the whole id.
            head = f"HTTP/1.0 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n"
            h.wfile.write(head.encode("latin-1") + data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for name, value in failure.headers.items() if failure is not None else ():
            h.send_header(name, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _answer(
        self,
        failure: _Failure | None,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, str, str]:
        """(status, body, content type) of the answer."""
        if failure is not None and failure.body is not None:
            return failure.status, failure.body, "text/html"
        try:
            if failure is not None:
                code = failure.code or failure.status * 100 + 1
                raise NtfyHTTPError(code, status=failure.status, error=failure.error)
            status, payload = self._route(method, path, query, headers, body)
        except NtfyHTTPError as exc:
            return exc.status, json.dumps(exc.payload) + "\n", "application/json"
        except Exception:
            self._record_internal_error(traceback.format_exc())
            error = NtfyHTTPError(50001)
            return error.status, json.dumps(error.payload) + "\n", "application/json"
        if path.endswith("/json"):
            return status, payload, "application/x-ndjson; charset=utf-8"
        return status, payload, "application/json"

    def _take_failure(self) -> _Failure | None:
        failure = self._state.failure
        if failure is None:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._state.failure = None
        return failure

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        identity = self._authenticate(headers, query)
        if method in ("GET", "HEAD") and path == "/v1/health":
            return 200, json.dumps({"healthy": True}) + "\n"
        with self._lock:
            limited = self._request_bucket is not None and not self._request_bucket.take()
        if limited:
            raise NtfyHTTPError(42901)
        if method in ("POST", "PUT") and path == "/":
            return 200, self._publish_json(identity, body)
        segments = path.strip("/").split("/")
        if not segments[0] or len(segments) > 2 or not TOPIC_RE.fullmatch(segments[0]):
            raise NtfyHTTPError(40401)
        topic = segments[0]
        if topic in RESERVED:
            raise NtfyHTTPError(40010)
        if method in ("POST", "PUT") and len(segments) == 1:
            return 200, self._publish_plain(identity, topic, query, headers, body)
        if method in ("GET", "HEAD") and len(segments) == 2 and segments[1] == "json":
            self._authorize(identity, topic, read=True)
            return 200, "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in self._poll(topic, query))
        raise NtfyHTTPError(40401)

    # --- auth ---

    def _authenticate(self, headers: dict[str, str], query: dict[str, str]) -> str | None:
        """The identity (user name or token) of the request, None for anonymous; 401/429 for bad credentials."""
        if not (self.tokens or self.users):
            return None  # maybeAuthenticate: without auth configured, credentials are not even read
        # readAuthHeader: the query parameter (base64url of the whole value, no padding) wins over the header.
        value = headers.get("authorization", "").strip()
        raw = query.get("authorization") or query.get("auth") or ""
        if raw:
            try:
                value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8").strip()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise NtfyHTTPError(40101) from None
        # supportedAuthHeader: anything but "basic ..." / "bearer ..." (any case) is no credentials at all.
        if not value.lower().startswith(("basic ", "bearer ")):
            return None
        # The auth-failure limiter is checked before the credentials: right credentials can meet it too.
        with self._lock:
            if self._auth_bucket is not None and not self._auth_bucket.allowed():
                raise NtfyHTTPError(42909)
        # authenticate: the token form needs the exact prefix "Bearer"; anything else is parsed as basic auth.
        if value.startswith("Bearer"):
            credential = value.removeprefix("Bearer").strip()
            if credential in self.tokens:
                return credential
            raise self._auth_failure()
        scheme, _, credential = value.partition(" ")
        if scheme.lower() != "basic":
            raise self._auth_failure()  # "bearer tk_..." in lower case fails as basic auth
        try:
            user, sep, password = base64.b64decode(credential.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise self._auth_failure() from None
        if not sep:
            raise self._auth_failure()
        if not user and password in self.tokens:
            return password  # basic auth with an empty user carries a token
        if user and user in self.users and self.users[user] == password:
            return user
        raise self._auth_failure()

    def _auth_failure(self) -> NtfyHTTPError:
        with self._lock:
            self._state.auth_failures += 1
            if self._auth_bucket is not None:
                self._auth_bucket.take()
        return NtfyHTTPError(40101)

    def _authorize(self, identity: str | None, topic: str, *, read: bool = False) -> None:
        if identity is None:
            allowed = self.anonymous
        else:
            allowed = self.access is None or topic in self.access.get(identity, set())
        if read and identity in self.write_only:
            allowed = False  # ntfy's write-only permission: publish, but not subscribe or poll
        if not allowed:
            raise NtfyHTTPError(40301)

    # --- publishing ---

    def _publish_json(self, identity: str | None, body: bytes) -> str:
        if len(body) >= 2 * self.message_size_limit:  # Peek(limit): reaching the limit is too large
            raise NtfyHTTPError(41303)
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise NtfyHTTPError(40024) from None
        if not isinstance(data, dict):
            raise NtfyHTTPError(40024)
        self._check_json_types(data)
        topic = data.get("topic") or ""
        if not TOPIC_RE.fullmatch(topic):
            raise NtfyHTTPError(40009)
        if topic in RESERVED:
            raise NtfyHTTPError(40010)
        self._authorize(identity, topic)
        priority = data.get("priority") or 0
        if not 0 <= priority <= 5:
            raise NtfyHTTPError(40007)
        # transformBodyJSON turns the JSON into a body and headers: tags are joined with "," and split again.
        tags = ",".join(data.get("tags") or [])
        return self._store(
            topic=topic,
            text=(data.get("message") or "").encode("utf-8"),
            title=data.get("title") or "",
            priority=priority,
            tags=[t.strip() for t in tags.split(",") if t.strip()],
            click=data.get("click") or "",
            icon=data.get("icon") or "",
            attach=data.get("attach") or "",
            markdown=bool(data.get("markdown")),
            delay=data.get("delay") or "",
            actions=data.get("actions") or [],
        )

    @staticmethod
    def _check_json_types(data: dict[str, Any]) -> None:
        # Go's decoder accepts null for any field; ints reject bools and fractions, lists and bools are strict.
        def bad(value: Any, kind: type | tuple[type, ...]) -> bool:
            if value is None:
                return False
            if kind is int:
                return isinstance(value, bool) or not isinstance(value, int)
            return not isinstance(value, kind)

        if any(bad(data.get(k), str) for k in _JSON_STR) or bad(data.get("priority"), int):
            raise NtfyHTTPError(40024)
        if bad(data.get("markdown"), bool) or bad(data.get("tags"), list):
            raise NtfyHTTPError(40024)
        if any(not isinstance(t, str) for t in data.get("tags") or []):
            raise NtfyHTTPError(40024)
        actions = data.get("actions")
        if bad(actions, list):
            raise NtfyHTTPError(40024)
        for action in actions or []:
            if not isinstance(action, dict):
                raise NtfyHTTPError(40024)
            if any(bad(action.get(k), str) for k in _ACTION_STR) or bad(action.get("clear"), bool):
                raise NtfyHTTPError(40024)
            for key in ("headers", "extras"):
                value = action.get(key)
                if bad(value, dict) or any(not isinstance(v, str) for v in (value or {}).values()):
                    raise NtfyHTTPError(40024)

    def _publish_plain(
        self, identity: str | None, topic: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> str:
        self._authorize(identity, topic)

        def option(*names: str) -> str:
            for name in names:
                if name.lower() in headers:
                    return _header_text(headers[name.lower()])
                if name.lower() in query:
                    return query[name.lower()]
            return ""

        text = body or option("x-message", "message", "m").encode("utf-8")
        raw_priority = option("x-priority", "priority", "prio", "p").strip().lower()
        if not raw_priority:
            priority = 0
        elif raw_priority in _PRIORITY_NAMES:
            priority = _PRIORITY_NAMES[raw_priority]
        elif raw_priority.isdigit() and 1 <= int(raw_priority) <= 5:
            priority = int(raw_priority)
        else:
            raise NtfyHTTPError(40007)
        markdown = option("x-markdown", "markdown", "md").lower() in ("yes", "true", "1") or headers.get(
            "content-type", ""
        ).startswith("text/markdown")
        return self._store(
            topic=topic,
            text=text,
            title=option("x-title", "title", "ti", "t"),
            priority=priority,
            tags=[t.strip() for t in option("x-tags", "tags", "tag", "ta").split(",") if t.strip()],
            click=option("x-click", "click"),
            icon=option("x-icon", "icon"),
            attach=option("x-attach", "attach", "a"),
            markdown=markdown,
            delay=option("x-delay", "delay", "x-at", "at", "x-in", "in"),
            actions=[],
        )

    def _store(
        self,
        *,
        topic: str,
        text: bytes,
        title: str,
        priority: int,
        tags: list[str],
        click: str,
        icon: str,
        attach: str,
        markdown: bool,
        delay: str,
        actions: list[dict[str, Any]],
    ) -> str:
        attachment: dict[str, Any] | None = None
        try:
            body = text.decode("utf-8")
        except UnicodeDecodeError:
            body = None
        if body is None or len(text) >= self.message_size_limit:
            # handlePublishBody: a body that reaches the peek limit or is not UTF-8 is an attachment.
            if not self.attachments:
                raise NtfyHTTPError(40014)
            attachment = {"name": "attachment.txt", "type": "text/plain; charset=utf-8", "size": len(text)}
            body = "You received a file: attachment.txt"
        body = body.strip()  # handleBodyAsTextMessage trims
        title = title.strip()
        if icon and not re.match(r"^https?://", icon):
            raise NtfyHTTPError(40021)
        if attach and not re.match(r"^https?://", attach):
            raise NtfyHTTPError(40013)
        now = int(time.time())
        sent_at = self._delivery_time(delay, now) if delay else now
        message: dict[str, Any] = {
            "id": _new_id(),
            "time": sent_at,
            "expires": sent_at + CACHE_SECONDS,
            "event": "message",
            "topic": topic,
        }
        if title:
            message["title"] = title
        message["message"] = body or "triggered"
        if priority:
            message["priority"] = priority
        if tags:
            message["tags"] = tags
        if click:
            message["click"] = click
        if icon:
            message["icon"] = icon
        if actions:
            message["actions"] = self._parse_actions(actions)
        if attach:
            message["attachment"] = {"url": attach, "name": attach.rsplit("/", 1)[-1]}
        elif attachment is not None:
            message["attachment"] = {**attachment, "url": f"{self.url}/file/{message['id']}.txt"}
        if markdown:
            message["content_type"] = "text/markdown"
        with self._lock:
            self._state.messages.append(message)
        return json.dumps(message, ensure_ascii=False) + "\n"

    def _delivery_time(self, delay: str, now: int) -> int:
        delay = delay.strip().lower()
        match = _DURATION_RE.match(delay)
        if delay.isdigit():
            at = int(delay)
        elif match:
            at = now + int(match.group(1)) * _UNIT_SECONDS[match.group(2)[0]]
        else:
            raise NtfyHTTPError(40004)
        if at - now < self.min_delay:
            raise NtfyHTTPError(40005)
        if at - now > self.max_delay:
            raise NtfyHTTPError(40006)
        return at

    @staticmethod
    def _parse_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(actions) > 3:
            raise NtfyHTTPError(40018, "only 3 actions allowed")
        parsed = []
        for action in actions:
            kind = (action.get("action") or "").lower()
            if kind not in ("view", "http", "broadcast"):
                raise NtfyHTTPError(40018, f"action '{kind}' unknown")
            if not action.get("label"):
                raise NtfyHTTPError(40018, "parameter 'label' is required")
            if kind in ("view", "http") and not action.get("url"):
                raise NtfyHTTPError(40018, f"parameter 'url' is required for action '{kind}'")
            method = (action.get("method") or "").upper()
            if kind == "http" and method in ("GET", "HEAD") and action.get("body"):
                raise NtfyHTTPError(40018, f"parameter 'body' cannot be set if method is {method}")
            out = {"id": _new_id(10), "action": kind, "label": action["label"], "clear": bool(action.get("clear"))}
            for key in ("url", "method", "headers", "body", "intent", "extras"):
                if action.get(key):
                    out[key] = action[key]
            parsed.append(out)
        return parsed

    # --- reading back ---

    def _poll(self, topic: str, query: dict[str, str]) -> list[dict[str, Any]]:
        since = query.get("since", "all").strip().lower() or "all"
        scheduled = query.get("scheduled", query.get("sched", "")).lower() in ("1", "yes", "true")
        now = int(time.time())
        with self._lock:
            stored = [dict(m) for m in self._state.messages if m["topic"] == topic]
        visible = [m for m in stored if scheduled or m["time"] <= now]
        visible = [m for m in visible if m["expires"] > now]
        if since == "all":
            return visible
        if since == "none":
            return []
        if since == "latest":
            return visible[-1:]
        match = _DURATION_RE.match(since)
        if since.isdigit():
            return [m for m in visible if m["time"] >= int(since)]
        if match:
            start = now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)[0]]
            return [m for m in visible if m["time"] >= start]
        original = query["since"].strip()
        if MESSAGE_ID_RE.fullmatch(original):
            ids = [m["id"] for m in stored]
            # An unknown id reads from the start, as ntfy's cache query does.
            after = ids.index(original) + 1 if original in ids else 0
            return [m for m in stored[after:] if m in visible]
        raise NtfyHTTPError(40008)


@pytest.fixture
def ntfy_server() -> Iterator[FakeNtfy]:
    """A started FakeNtfy with open access; stopped at teardown, which also fails on a bug inside the fake."""
    with FakeNtfy() as server:
        yield server
        errors = server.internal_errors
    assert not errors, "the fake ntfy server failed:\n" + "\n".join(errors)

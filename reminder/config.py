"""Settings: defaults < TOML config file < REMINDER_* environment < command-line flags.

Every setting is declared once in SETTINGS with its parser. Parsers raise ValueError with a short reason; the
loader turns that into a ConfigError naming the setting and where its value came from, so a user sees
"REMINDER_TIMEZONE: unknown time zone 'Mars/Base'" rather than a traceback.

Checks that need a heavy import (the cron expression needs croniter) are not run on load: the commands that use
the setting call the matching ``check_*`` helper where the setting enters (setup, config show, start of run).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reminder.errors import ConfigError as ConfigError  # re-exported: defined with the other user errors
from reminder.i18n import Invalid, LocalizedError

APP_NAME = "reminder"
ENV_PREFIX = "REMINDER_"
DEFAULT_LADDER = (1, 4, 7, 14)
# One limit for every ladder stage, whichever way it comes in (--ladder, REMINDER_LADDER, the config file, edit):
# about ten years, far beyond any review plan, and small enough that a due date never leaves the calendar.
LADDER_MAX_DAYS = 3650
# The longest interval FSRS may choose: 100 years, Anki's and the fsrs library's own default maximum, so a learner
# who copies their Anki setting is not refused; beyond it a due date would only drift towards the calendar's end.
FSRS_MAX_INTERVAL_DAYS = 36500
# ntfy's topic rule, and the names its web app reserves for itself (ntfy server.go).
TOPIC_RE = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
RESERVED_TOPICS = frozenset(
    {"docs", "static", "file", "app", "metrics", "account", "settings", "signup", "login", "v1"}
)


# --- parsers: str (or TOML value) -> typed value; raise Invalid("reason") (a ValueError) ------------------------


def parse_ladder(value: Any) -> tuple[int, ...]:
    """A ladder is strictly increasing positive whole days, e.g. "1,4,7,14"."""
    if isinstance(value, list | tuple):
        parts = [str(v).strip() for v in value]
    else:
        parts = [p.strip() for p in str(value).split(",")]
    if not parts or parts == [""]:
        raise Invalid("a ladder needs at least one stage, e.g. 1,4,7,14")
    days: list[int] = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or int(part) <= 0:
            raise Invalid("{part!r} is not a positive whole number of days (e.g. 1,4,7,14)", part=part)
        if int(part) > LADDER_MAX_DAYS:
            raise Invalid("{part} days is beyond the longest stage, {longest} days", part=part, longest=LADDER_MAX_DAYS)
        days.append(int(part))
    if any(b <= a for a, b in itertools.pairwise(days)):
        raise Invalid("stages must be strictly increasing: {stages}", stages=",".join(map(str, days)))
    return tuple(days)


@functools.lru_cache(maxsize=1024)
def stored_ladder(text: str) -> tuple[int, ...]:
    """A note's stored ladder ("1,4,7,14"), parsed once per distinct text: most notes share a few ladders."""
    return parse_ladder(text)


def format_ladder(ladder: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in ladder)


def parse_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = str(value).strip()
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("unknown time zone {name!r} (use an IANA name such as Asia/Seoul)", name=name) from None
    return name


def _positive_int(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise Invalid("{text!r} is not a positive whole number", text=text)
    return int(text)


def _interval_days(value: Any) -> int:
    """Days between extra reviews: the ladder's limit too, so that their due dates stay on the calendar."""
    days = _positive_int(value)
    if days > LADDER_MAX_DAYS:
        raise Invalid("{part} days is beyond the longest stage, {longest} days", part=days, longest=LADDER_MAX_DAYS)
    return days


def _fsrs_max_interval(value: Any) -> int:
    days = _positive_int(value)
    if days > FSRS_MAX_INTERVAL_DAYS:
        raise Invalid(
            "{days} days is beyond the longest FSRS interval, {longest} days (100 years)",
            days=days,
            longest=FSRS_MAX_INTERVAL_DAYS,
        )
    return days


def _priority(value: Any) -> int:
    names = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}
    text = str(value).strip().lower()
    if text in names:
        return names[text]
    if text.isdigit() and 1 <= int(text) <= 5:
        return int(text)
    raise Invalid("{text!r} is not an ntfy priority (1-5 or min/low/default/high/max)", text=text)


def parse_http_url(value: Any) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("{text!r} is not an http(s) URL", text=mask_url(text))
    return text


def parse_topic(value: Any) -> str:
    text = str(value).strip()
    if not TOPIC_RE.fullmatch(text):
        raise Invalid("{text!r} is not a valid ntfy topic (1-64 of A-Z a-z 0-9 - _)", text=text)
    if text in RESERVED_TOPICS:
        raise Invalid("{text!r} is reserved by ntfy; pick another topic", text=text)
    return text


def check_ntfy_token(value: Any) -> str:
    """An ntfy access token as it can be sent: it goes into a header as is, so anything but printable ASCII
    without spaces would not survive the trip. The push commands and `setup` both apply this rule."""
    text = str(value)
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        raise Invalid("the ntfy token must be printable ASCII without spaces")
    return text


SECRET_KEY_MIN = 32  # characters: token_urlsafe(32) gives 43, and a phrase this long is not guessed in a night


def _secret_key(value: Any) -> str:
    """The key that signs the phone buttons' links: whoever guesses it can forge them, so a short one is refused.
    The message never holds the key (the caller names the setting)."""
    text = _text(value)
    if len(text) < SECRET_KEY_MIN:
        raise Invalid(
            "the signing key is too short to be safe (fewer than {minimum} characters); make one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"` or leave it unset to use the generated one',
            minimum=SECRET_KEY_MIN,
        )
    return text


def _language(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("ko", "en"):
        raise Invalid("{text!r} is not a supported language (ko or en)", text=text)
    return text


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(t.strip() for t in str(value).split(",") if t.strip())


def _port(value: Any) -> int:
    port = _positive_int(value)
    if port > 65535:
        raise Invalid("{port} is not a TCP port", port=port)
    return port


def parse_scheduler(value: Any) -> str:
    """The scheduler a new note gets: the ladder or FSRS (SR notes are recognised by their own fields)."""
    text = str(value).strip().lower()
    if text not in ("ladder", "fsrs"):
        raise Invalid("{text!r} is not a scheduler (ladder or fsrs)", text=text)
    return text


def _retention(value: Any) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise Invalid("{value!r} is not a number between 0 and 1", value=value) from None
    # FSRS itself accepts (0, 1]; below 0.7 or at 1 the intervals stop making sense for a learner.
    if not 0.7 <= number < 1:
        raise Invalid("{number} is outside 0.7-0.99 (the share of reviews you want to recall)", number=number)
    return number


def parse_fsrs_parameters(value: Any) -> tuple[float, ...]:
    """FSRS-6's 21 model weights, as `reminder fsrs optimize` prints them: "0.212,1.2931,..."."""
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    try:
        numbers = tuple(float(str(p).strip()) for p in parts if str(p).strip())
    except ValueError:
        raise Invalid("FSRS parameters are 21 comma-separated numbers") from None
    if len(numbers) != 21:
        raise Invalid("FSRS parameters are 21 numbers, not {count}", count=len(numbers))
    return numbers


def _text(value: Any) -> str:
    return str(value).strip()


def _existing_file(value: Any) -> str:
    path = Path(str(value).strip()).expanduser()
    if not path.is_file():
        raise Invalid("file {path!r} does not exist", path=str(path))
    return str(path)


# --- defaults that depend on the machine ---------------------------------------------------------------------


def system_timezone() -> str:
    """The machine's IANA zone name: $TZ, /etc/timezone, or the /etc/localtime link; UTC when none says."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return parse_timezone(name)
            except ValueError:
                continue
    return "UTC"


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def default_database_url() -> str:
    from reminder.sqlite_files import sqlite_url

    return sqlite_url(data_dir() / "reminder.db")


# --- the declaration of every setting --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[Any], Any]
    default: Callable[[], Any] | Any
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", _text, default_database_url, "SQLAlchemy URL of the store (SQLite or PostgreSQL)"),
    Setting("timezone", parse_timezone, system_timezone, "IANA time zone of the learner"),
    Setting("ladder", parse_ladder, DEFAULT_LADDER, "review stages in days after the first study"),
    Setting("extra_every", _interval_days, 30, "days between extra reviews after the ladder"),
    Setting("scheduler", parse_scheduler, "ladder", "scheduler of new notes: ladder or fsrs"),
    Setting("fsrs_retention", _retention, 0.9, "FSRS: share of reviews to recall (desired retention)"),
    Setting("fsrs_max_interval", _fsrs_max_interval, 365, "FSRS: longest interval in days"),
    Setting("fsrs_parameters", parse_fsrs_parameters, None, "FSRS: your fitted weights (reminder fsrs optimize)"),
    Setting("ntfy_server", parse_http_url, "https://ntfy.sh", "ntfy server to publish to"),
    Setting("ntfy_topic", parse_topic, None, "ntfy topic the phone subscribes to"),
    Setting("ntfy_token", _text, None, "ntfy access token (tk_...)", secret=True),
    Setting("ntfy_token_file", _existing_file, None, "file holding the ntfy access token"),
    Setting("ntfy_user", _text, None, "ntfy user for basic auth"),
    Setting("ntfy_password", _text, None, "ntfy password for basic auth", secret=True),
    Setting("cron", _text, "0 8 * * *", "when to check for due reviews (cron, in the time zone)"),
    Setting("language", _language, "ko", "language of notifications and pages (ko or en)"),
    Setting("priority", _priority, 3, "ntfy priority of a digest"),
    Setting("overdue_priority", _priority, 4, "ntfy priority when a review is overdue by overdue_days"),
    Setting("overdue_days", _positive_int, 3, "days late before the priority rises"),
    Setting("tags", _tags, ("books",), "ntfy tags (emoji shortcodes) on every notification"),
    Setting("daily_limit", _positive_int, None, "most reviews a day's digest, page and `due` list (unset: no cap)"),
    Setting("min_due", _positive_int, 1, "fewest due reviews worth a digest (unless one is overdue_days late)"),
    Setting("nudge_cron", _text, None, "when to remind of reviews the day's digest listed that are still open"),
    Setting("summary_cron", _text, None, "when to send the weekly summary (cron, in the time zone)"),
    Setting("public_url", parse_http_url, None, "https address of `reminder serve` the phone can reach"),
    Setting("secret_key", _secret_key, None, "key that signs action URLs (generated and stored if unset)", secret=True),
    Setting("host", _text, "127.0.0.1", "address `reminder serve` binds"),
    Setting("port", _port, 8080, "port `reminder serve` binds"),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting, resolved (defaults < config file < environment < flags) and parsed: one typed field per
    entry of SETTINGS, with the same name, so a misspelt setting is a type error rather than a run-time one."""

    database_url: str
    timezone: str
    ladder: tuple[int, ...]
    extra_every: int
    scheduler: str
    fsrs_retention: float
    fsrs_max_interval: int
    fsrs_parameters: tuple[float, ...] | None
    ntfy_server: str
    ntfy_topic: str | None
    ntfy_token: str | None
    ntfy_token_file: str | None
    ntfy_user: str | None
    ntfy_password: str | None
    cron: str
    language: str
    priority: int
    overdue_priority: int
    overdue_days: int
    tags: tuple[str, ...]
    daily_limit: int | None
    min_due: int
    nudge_cron: str | None
    summary_cron: str | None
    public_url: str | None
    secret_key: str | None
    host: str
    port: int
    # Where each value came from ("default", "flag", "environment (REMINDER_X)", "config file (path)").
    sources: Mapping[str, str] = field(repr=False)
    config_path: Path

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, source) for every setting, secrets masked."""
        rows = []
        for s in SETTINGS:
            value = getattr(self, s.name)
            if value is None:
                shown = "(unset)"
            elif s.secret:
                shown = "********"
            elif s.name in ("database_url", "ntfy_server", "public_url"):  # a URL may carry user:password@
                shown = mask_url(value)
            elif s.name == "ladder":
                shown = format_ladder(value)
            elif s.name == "fsrs_parameters":
                shown = ",".join(f"{v:g}" for v in value)
            elif isinstance(value, tuple):
                shown = ",".join(value)
            else:
                shown = str(value)
            rows.append((s.name, shown, self.sources[s.name]))
        return rows

    def ntfy_token_value(self) -> str | None:
        """The token itself, from REMINDER_NTFY_TOKEN or read from REMINDER_NTFY_TOKEN_FILE."""
        if self.ntfy_token:
            return self.ntfy_token
        path = self.ntfy_token_file
        if not path:
            return None
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                "ntfy_token_file: cannot read {path!r}: {reason}", path=path, reason=exc.strerror
            ) from None
        if not token:
            raise ConfigError("ntfy_token_file: {path!r} is empty", path=path)
        return token


def mask_url(url: str) -> str:
    """Hide the password of a URL such as postgresql://user:secret@host/db, parsed as SQLAlchemy parses the
    store's URL (a password may hold "/" or ":"). A text that is not such a URL loses everything between "://"
    and the last "@" it holds, so nothing that could be a password survives."""
    if "@" not in url:
        return url  # no user part, so no password: and the light commands (status) need not load SQLAlchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        return re.sub(r"://[^\s]*@", "://***@", url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def read_config_file(path: Path, *, must_exist: bool = False) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            import tomllib  # only once there is a file: most runs have none, and every command reads settings

            data = tomllib.load(fh)
    except FileNotFoundError:
        if must_exist:  # named on the command line: a typo must not silently mean "no config"
            raise ConfigError("config file {path} does not exist", path=path) from None
        return {}
    except OSError as exc:  # before TOMLDecodeError: the file may not have opened, so tomllib not be imported
        raise ConfigError("config file {path}: {reason}", path=path, reason=exc.strerror) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config file {path}: {reason}", path=path, reason=exc) from None
    unknown = sorted(set(data) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError("config file {path}: unknown setting {name!r}", path=path, name=unknown[0])
    return data


class _InFile(LocalizedError):
    """A setting's name in the config file, as an error names where the bad value is."""


def _in_file(name: str, path: Path) -> _InFile:
    return _InFile("{name} in {path}", name=name, path=path)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
    *,
    config_must_exist: bool = False,
) -> Settings:
    """Resolve every setting. ``flags`` holds command-line values (None means not given)."""
    environ = os.environ if environ is None else environ
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    if config_path is None:
        config_path = environ.get(ENV_PREFIX + "CONFIG") or default_config_path()
    path = Path(config_path).expanduser()
    file_values = read_config_file(path, must_exist=config_must_exist)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        label: str | _InFile  # where the bad value is; in the config file, a phrase the catalogue translates
        if s.name in flags:
            raw, source, label = flags[s.name], "flag", "--" + s.name.replace("_", "-")
        elif environ.get(s.env, "") != "":
            raw, source, label = environ[s.env], f"environment ({s.env})", s.env
        elif s.name in file_values:
            raw, source, label = file_values[s.name], f"config file ({path})", _in_file(s.name, path)
        else:
            values[s.name], sources[s.name] = s.default_value(), "default"
            continue
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError("{label}: {reason}", label=label, reason=exc) from None
        sources[s.name] = source
    return Settings(**values, sources=sources, config_path=path)


CRON_NAMES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def check_cron(expr: str, name: str = "cron") -> str:
    """Validate a cron expression: five fields (minute hour day month weekday) or a name such as ``@daily``.
    croniter also takes a sixth field (seconds, or a year), which turns '0 0 8 * * *' from "daily at 08:00" into
    something else entirely, so any other number of fields is refused. (croniter is imported only by the
    commands that need it.) ``name`` is the setting, for the message."""
    from croniter import croniter

    fields = expr.split()
    named = len(fields) == 1 and fields[0].lower() in CRON_NAMES
    if not named and (len(fields) != 5 or not croniter.is_valid(expr)):
        raise ConfigError(
            "{name}: {expr!r} is not a valid cron expression: five fields (minute hour day month weekday, "
            "e.g. '0 8 * * *') or a name such as @daily",
            name=name,
            expr=expr,
        )
    return expr


CONFIG_HEADER = "# reminder settings; REMINDER_* environment variables and flags override these.\n"


def save_config_values(path: Path, updates: Mapping[str, Any]) -> None:
    """Merge ``updates`` into the TOML config file (created 0600: it may hold a token); a None value removes the
    setting. Each value is checked by its setting's parser first. The file is the learner's: it is edited in
    place by a TOML library that keeps its comments and layout (tomlkit), so only the lines of the settings that
    change are touched, a setting that keeps its value keeps its line, and a new one goes at the end. What would
    be written is read back as the loader reads it before it replaces the file."""
    import tomlkit

    unknown = sorted(set(updates) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError("unknown setting {name!r}", name=unknown[0])
    for name, value in updates.items():
        if value is None:
            continue
        try:
            SETTINGS_BY_NAME[name].parse(value)
            if isinstance(value, str) and not value.isprintable():
                raise Invalid("holds a control character")
        except ValueError as exc:
            raise ConfigError("{name}: {reason}", name=name, reason=exc) from None
    expected = read_config_file(path)  # a file that does not load is refused here, before anything is written
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        doc = tomlkit.parse(CONFIG_HEADER)
    for name, value in updates.items():
        value = list(value) if isinstance(value, tuple) else value
        if value is None:
            expected.pop(name, None)
            if name in doc:
                del doc[name]
        elif expected.get(name) != value:
            expected[name] = value
            doc[name] = _quoted_as_before(doc.get(name), value)
    text = tomlkit.dumps(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        if read_config_file(tmp) != expected:  # a library slip must not cost the learner a working config
            raise ConfigError("config file {path}: the edited file would not read back as saved", path=path)
    except ConfigError:
        tmp.unlink()
        raise
    os.replace(tmp, path)


def _quoted_as_before(old: object, value: Any) -> Any:
    """A new string value in the quotes the learner used for the one it replaces: 'literal' when theirs was and
    the value can be one (no quote or control character in it), else "basic". tomlkit itself has done either,
    depending on its release; this keeps the learner's file the same whichever is installed."""
    import tomlkit
    from tomlkit.items import String

    if not isinstance(value, str):
        return value
    literal = isinstance(old, String) and old.as_string().startswith("'") and "'" not in value and value.isprintable()
    return tomlkit.string(value, literal=literal)


# A setting added to SETTINGS without its typed field (or the reverse) fails at import, not when first read.
_FIELDS = {f.name for f in fields(Settings)} - {"sources", "config_path"}
if set(SETTINGS_BY_NAME) != _FIELDS:
    raise RuntimeError(f"Settings fields and SETTINGS differ: {sorted(_FIELDS ^ set(SETTINGS_BY_NAME))}")

"""The `reminder` command: a thin click layer over reminder.notes and friends.

Subcommands are imported only when they run (a lazy group), so `reminder due` does not pay for the ntfy client,
croniter or the web server. Errors a user can cause (bad settings, a store that cannot be opened, an unknown
note) print one line and exit 2; no traceback.

Every text the commands print comes from the message catalogue (reminder.i18n) through ``_`` and ``ngettext``
here, in the command line's language: REMINDER_LANGUAGE when the learner set it (environment, or the config file
REMINDER_CONFIG or the default path names), else the locale (LC_ALL, LC_MESSAGES, LANG). It is chosen once, when
the program starts, as gettext programs do, because click takes the --help texts when the commands are defined.
`--json` output keeps its English keys; errors raised by the core carry an English message id and are
translated here, at the edge.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reminder import __version__, i18n
from reminder.errors import ReminderError

if TYPE_CHECKING:
    from reminder.config import Settings


def explicit_language(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """REMINDER_LANGUAGE if the learner set it: in the environment, or in the config file (read leniently: a
    broken file is reported by the command itself, in whatever language this falls back to)."""
    if environ.get("REMINDER_LANGUAGE", ""):
        return environ["REMINDER_LANGUAGE"]
    from reminder.config import default_config_path, read_config_file

    try:
        path = Path(environ.get("REMINDER_CONFIG") or default_config_path()).expanduser()
        values = read_config_file(path, must_exist=False)
    except (OSError, ValueError):  # ConfigError is a ValueError
        return None
    language = values.get("language")
    return str(language) if language else None


LANGUAGE = i18n.cli_language(os.environ, explicit_language(os.environ))


def use_language(language: str) -> None:
    """Switch the messages printed from now on (the texts of commands not yet imported follow too)."""
    global LANGUAGE
    LANGUAGE = language


def _(message: str) -> str:
    return i18n.catalogue(LANGUAGE).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.catalogue(LANGUAGE).ngettext(singular, plural, n)


def error_text(exc: BaseException) -> str:
    """An error raised by the core (an English message id and its values) in the command line's language."""
    return i18n.translate_error(exc, LANGUAGE)


# click's own texts (usage, help headings, its parameter errors) go through the standard library's gettext,
# which knows nothing of REMINDER_LANGUAGE; its modules look ``_`` and ``ngettext`` up when they speak, so they
# are pointed at this catalogue. The ones the learner meets are listed so the catalogue has them.
CLICK_MESSAGES = (
    i18n.N_("Usage:"),
    i18n.N_("Options"),
    i18n.N_("Commands"),
    i18n.N_("Show this message and exit."),
    i18n.N_("Show the version and exit."),
    i18n.N_("Invalid value for {param_hint}: {message}"),
    i18n.N_("Invalid value: {message}"),
    i18n.N_("Missing argument"),
    i18n.N_("Missing option"),
    i18n.N_("Missing parameter"),
    i18n.N_("No such option {name!r}."),
    i18n.N_("No such command {name!r}."),
    i18n.N_("Missing command."),
    i18n.N_("{value!r} is not a valid {number_type}."),
    i18n.N_("{value} is not in the range {range}."),
    i18n.N_("default: {default}"),
    i18n.N_("required"),
    i18n.N_("env var: {var}"),
    i18n.N_("{name} {filename!r} does not exist."),
    i18n.N_("{name} {filename!r} is a directory."),
    i18n.N_("file"),
    i18n.N_("directory"),
    i18n.N_("path"),
)


def _speak_to_click() -> None:
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.types

    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types):
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]


_speak_to_click()

# name -> (module, attribute); each module holds the click command(s) of one area.
COMMANDS: dict[str, tuple[str, str]] = {
    "add": ("reminder.cli.notes", "add"),
    "list": ("reminder.cli.browse", "list_"),
    "due": ("reminder.cli.due", "due"),
    "show": ("reminder.cli.browse", "show"),
    "done": ("reminder.cli.notes", "done"),
    "undo": ("reminder.cli.notes", "undo"),
    "edit": ("reminder.cli.notes", "edit"),
    "rm": ("reminder.cli.notes", "rm"),
    "config": ("reminder.cli.settings", "config"),
    "db": ("reminder.cli.db", "db"),
    "vault": ("reminder.cli.vault", "vault"),
    "sync": ("reminder.cli.vault", "sync"),
    "setup": ("reminder.cli.run", "setup"),
    "notify": ("reminder.cli.run", "notify"),
    "run": ("reminder.cli.run", "run"),
    "status": ("reminder.cli.run", "status"),
    "stats": ("reminder.cli.stats", "stats"),
    "serve": ("reminder.cli.serve", "serve"),
    "fsrs": ("reminder.cli.review", "fsrs"),
    "review": ("reminder.cli.review", "review"),
}


class UserError(click.ClickException):
    """A mistake the user can fix: one line on stderr, exit status 2. ``message`` is a catalogue message id,
    formatted with ``values``; ``translate=False`` for a text already in the learner's language."""

    exit_code = 2

    def __init__(self, message: str, *, translate: bool = True, **values: Any) -> None:
        super().__init__(i18n.render(i18n.catalogue(LANGUAGE), message, values) if translate else message)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReminderError as exc:
            # The one place a user error becomes `Error: ...` and exit status 2, whichever command raised it; in
            # the command line's language (the error carries an English message id and its values).
            raise UserError(error_text(exc), translate=False) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Like click's, but every usage error is one line: `Error: ...` (no usage block)."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            if not standalone_mode:
                raise
            click.echo(_("Error: {message}").format(message=exc.format_message()), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            if not standalone_mode:
                raise
            click.echo(_("Aborted."), err=True)
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


class App:
    """What every command shares: settings (resolved once) and the store (opened on first use)."""

    def __init__(self, flags: dict[str, Any], config_path: str | None, *, config_must_exist: bool = False) -> None:
        self.flags = flags
        self.config_path = config_path
        self.config_must_exist = config_must_exist
        self._store: Any = None

    @cached_property
    def settings(self) -> Settings:
        from reminder.config import load_settings

        return load_settings(self.flags, config_path=self.config_path, config_must_exist=self.config_must_exist)

    @property
    def store(self) -> Any:
        if self._store is None:
            from reminder.config import default_database_url
            from reminder.db import open_store

            url = self.settings.database_url
            self._store = open_store(url, create_dirs=url == default_database_url())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def now(self) -> datetime:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(self.settings.timezone))

    def today(self) -> date:
        """Today in the learner's zone: the calendar the reviews are counted in."""
        return self.now().date()


pass_app = click.make_pass_decorator(App)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=_("Spaced-review reminders for study notes, pushed to your phone through ntfy."),
)
@click.option("--database", metavar="URL", help=_("Store URL (overrides REMINDER_DATABASE_URL)."))
@click.option("--timezone", metavar="ZONE", help=_("IANA time zone (overrides REMINDER_TIMEZONE)."))
@click.option("--config", "config_path", metavar="FILE", help=_("Config file (overrides REMINDER_CONFIG)."))
@click.version_option(__version__, prog_name="reminder")
@click.pass_context
def cli(ctx: click.Context, database: str | None, timezone: str | None, config_path: str | None) -> None:
    # An explicit --config must exist, except for `setup`, which creates it.
    must_exist = config_path is not None and ctx.invoked_subcommand != "setup"
    app = App({"database_url": database, "timezone": timezone}, config_path, config_must_exist=must_exist)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    cli.main(prog_name="reminder")

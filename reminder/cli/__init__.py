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


def text(message: i18n.Message, n: int | None = None) -> str:
    """A text marked with N_, NP_ or NC_ in the command line's language."""
    return i18n.catalogue(LANGUAGE).text(message, n)


def shown(text: str) -> str:
    """A text the core reported (a reminder.i18n.Phrase: a sync's line, a write-back's reason) in the command
    line's language."""
    return i18n.shown(text, LANGUAGE)


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
    i18n.NP_("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    i18n.NP_("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    i18n.NP_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    i18n.N_("Option {name!r} does not take a value."),
    i18n.NP_("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
    i18n.NP_("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}."),
    i18n.N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    i18n.N_("Missing parameter: {param_name}"),
    i18n.N_("{name} {filename!r} is a file."),
    i18n.N_("{name} {filename!r} is not readable."),
    i18n.N_("{name} {filename!r} is not writable."),
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
    _measure_like_the_terminal()


def display_len(x: str) -> int:  # named as click's term_len, which it replaces
    """Terminal columns of ``x`` as click would print it: its ANSI styling takes none, and a Korean
    character two (the tables' rule, reminder.cli.output.width)."""
    from click._compat import strip_ansi

    from reminder.cli.output import width

    return width(strip_ansi(x))


def _measure_like_the_terminal() -> None:
    """click wraps --help by characters (click.formatting and its text wrapper ask ``term_len``), so a line of
    Korean, two columns a character, ran past the terminal's edge; and it shortens a command's help for the
    command list by characters too. Both are pointed at display width."""
    import click._compat
    import click.core
    import click.formatting

    # click's modules bind term_len when they are imported: the text wrapper and the progress bar are imported
    # when first used (after this), click.formatting already was.
    click._compat.term_len = display_len
    click.formatting.term_len = display_len
    for name in ("click._textwrap", "click._termui_impl"):
        if name in sys.modules:
            setattr(sys.modules[name], "term_len", display_len)  # noqa: B010 (a module not imported here)
    shorten = click.core._make_default_short_help

    def short_help(help: str, max_length: int = 45) -> str:
        text = shorten(help, sys.maxsize)  # click's choice of words (the first sentence), not cut
        if display_len(text) <= max_length:
            return text
        kept = ""
        for word in text.split():
            longer = f"{kept} {word}" if kept else word
            if display_len(longer) + 3 > max_length:
                break
            kept = longer
        return kept + "..."

    click.core._make_default_short_help = short_help
    _name_types_in_the_language()


# The metavar click makes of a parameter's type when the option names none (``--subject TEXT``): not one of its
# gettext texts, so translated here.
TYPE_NAMES = {
    "TEXT": i18n.NC_("metavar", "TEXT"),
    "INTEGER": i18n.NC_("metavar", "INTEGER"),
    "FLOAT": i18n.NC_("metavar", "FLOAT"),
    "BOOLEAN": i18n.NC_("metavar", "BOOLEAN"),
    "INTEGER RANGE": i18n.NC_("metavar", "INTEGER RANGE"),
    "FLOAT RANGE": i18n.NC_("metavar", "FLOAT RANGE"),
    "FILENAME": i18n.NC_("metavar", "FILENAME"),
}


def _name_types_in_the_language() -> None:
    import click.core

    make_metavar = click.core.Parameter.make_metavar

    def translated(self: click.Parameter, ctx: click.Context) -> str:
        metavar = make_metavar(self, ctx)
        base, dots = (metavar[:-3], "...") if metavar.endswith("...") else (metavar, "")
        if self.metavar is None and base in TYPE_NAMES:
            return i18n.catalogue(LANGUAGE).text(TYPE_NAMES[base]) + dots
        return metavar

    click.core.Parameter.make_metavar = translated  # type: ignore[method-assign]


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


# click 8.2 raises this for a group run without a command (8.1 printed the help itself).
NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


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
        except Exception as exc:
            # The store busy beyond its timeout (another writer) or gone (PostgreSQL restarting) in the middle of a
            # command: one line, as when it cannot be opened, not a traceback with the SQL and its parameters.
            # Exit 1, not a mistake's 2: trying again later works (the service's supervisor retries a wake that
            # exits 1). Looked up by name: a command that never loaded SQLAlchemy cannot have raised its errors.
            # The light ledger of `run --once` (reminder.ledger) meets the same through sqlite3 itself.
            sa_exc, sqlite = sys.modules.get("sqlalchemy.exc"), sys.modules.get("sqlite3")
            from_store = sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError)
            from_sqlite = sqlite is not None and isinstance(exc, sqlite.Error)
            if not (from_store or from_sqlite) or not isinstance(ctx.obj, App):
                raise
            from reminder.db import describe_db_error

            failed = describe_db_error(ctx.obj.settings.database_url, exc)
            raise click.ClickException(error_text(failed)) from None

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
            if isinstance(exc, NO_ARGS_IS_HELP):  # `reminder db` alone: its help, not an "Error: Usage: ..." line
                click.echo(exc.format_message(), err=True)
            else:
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

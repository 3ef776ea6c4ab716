"""The `reminder` command: a thin click layer over reminder.notes and friends.

Subcommands are imported only when they run (a lazy group), so `reminder due` does not pay for the ntfy client,
croniter or the web server. Errors a user can cause (bad settings, a store that cannot be opened, an unknown
note) print one line and exit 2; no traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from typing import Any

import click

from reminder import __version__
from reminder.config import Settings, load_settings
from reminder.errors import ReminderError

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
    """A mistake the user can fix: one line on stderr, exit status 2."""

    exit_code = 2


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
            # The one place a user error becomes `Error: ...` and exit status 2, whichever command raised it.
            raise UserError(str(exc)) from None

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
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            if not standalone_mode:
                raise
            click.echo("Aborted.", err=True)
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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database", metavar="URL", help="Store URL (overrides REMINDER_DATABASE_URL).")
@click.option("--timezone", metavar="ZONE", help="IANA time zone (overrides REMINDER_TIMEZONE).")
@click.option("--config", "config_path", metavar="FILE", help="Config file (overrides REMINDER_CONFIG).")
@click.version_option(__version__, prog_name="reminder")
@click.pass_context
def cli(ctx: click.Context, database: str | None, timezone: str | None, config_path: str | None) -> None:
    """Spaced-review reminders for study notes, pushed to your phone through ntfy."""
    # An explicit --config must exist, except for `setup`, which creates it.
    must_exist = config_path is not None and ctx.invoked_subcommand != "setup"
    app = App({"database_url": database, "timezone": timezone}, config_path, config_must_exist=must_exist)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    cli.main(prog_name="reminder")

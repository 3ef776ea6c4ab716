"""`reminder config show`: the effective settings and where each came from."""

from __future__ import annotations

import click

from reminder.cli import App, pass_app
from reminder.cli.output import echo_json, table
from reminder.config import check_cron


@click.group()
def config() -> None:
    """Inspect settings (file < REMINDER_* environment < flags)."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, as_json: bool) -> None:
    """Effective settings, where each came from, secrets masked."""
    settings = app.settings
    check_cron(settings.cron)
    settings.ntfy_token_value()  # a token file that cannot be read is reported here, not at the first send
    rows = settings.describe()
    if as_json:
        echo_json(
            {"config_file": str(settings.config_path), "settings": {n: {"value": v, "source": s} for n, v, s in rows}}
        )
        return
    click.echo(f"config file: {settings.config_path}{'' if settings.config_path.exists() else ' (not present)'}")
    click.echo(table(["SETTING", "VALUE", "SOURCE"], [list(r) for r in rows], {1: 60}))

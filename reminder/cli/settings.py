"""`reminder config show`: the effective settings and where each came from."""

from __future__ import annotations

import click

from reminder.cli import App, _, pass_app
from reminder.cli.output import echo_json, table
from reminder.config import check_cron


@click.group(help=_("Inspect settings (file < REMINDER_* environment < flags)."))
def config() -> None:
    pass


@config.command("show", help=_("Effective settings, where each came from, secrets masked."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_app
def show(app: App, as_json: bool) -> None:
    settings = app.settings
    check_cron(settings.cron)
    settings.ntfy_token_value()  # a token file that cannot be read is reported here, not at the first send
    rows = settings.describe()
    if as_json:
        echo_json(
            {"config_file": str(settings.config_path), "settings": {n: {"value": v, "source": s} for n, v, s in rows}}
        )
        return
    if settings.config_path.exists():
        click.echo(_("config file: {path}").format(path=settings.config_path))
    else:
        click.echo(_("config file: {path} (not present)").format(path=settings.config_path))
    headers = [_("SETTING"), _("VALUE"), _("SOURCE")]
    click.echo(table(headers, [[name, value, source_text(source)] for name, value, source in rows], {1: 60}))


def source_text(source: str) -> str:
    """Where a setting came from, in the learner's language (the JSON keeps reminder.config's English)."""
    kind, _sep, where = source.partition(" (")
    where = where.removesuffix(")")
    if kind == "environment":
        return _("environment ({name})").format(name=where)
    if kind == "config file":
        return _("config file ({path})").format(path=where)
    return {"flag": _("flag"), "default": _("default")}.get(source, source)

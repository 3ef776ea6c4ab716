"""`reminder serve`: the phone's action endpoints, today's page and /healthz, until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

import click

from reminder.cli import App, _, pass_app
from reminder.cli.common import configure_logging, stop_on_signals
from reminder.config import check_cron

log = logging.getLogger("reminder.web")


@click.command(
    help=_("Serve the notification buttons, today's page and /healthz (behind a reverse proxy for the phone).")
)
@click.option("--host", metavar="HOST", help=_("Address to bind (default: the host setting, 127.0.0.1)."))
@click.option(
    "--port", type=click.IntRange(0, 65535), metavar="PORT", help=_("Port to bind (default: the port setting; 0: any).")
)
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    from reminder.server import start_server

    settings = app.settings
    check_cron(settings.cron)
    store = app.store  # opened (and a new SQLite file migrated) before logging is on: the URL line stays alone
    configure_logging()
    stop = stop_on_signals()  # before the server's threads start, so they inherit the blocked signals
    server = start_server(store, settings, host=host, port=port)
    public = f" public_url={settings.public_url}" if settings.public_url else ""
    log.info("event=serve url=%s%s", server.url, public)
    try:
        stop.wait()
    finally:
        server.stop()
        log.info("event=stopped url=%s", server.url)

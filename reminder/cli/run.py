"""Commands of the push service: setup, notify test, run, status."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from reminder.cli import App, UserError, _, error_text, ngettext, pass_app, shown, text
from reminder.cli.common import checked_option, configure_logging, copy_left_text, stop_on_signals
from reminder.cli.output import fit, width
from reminder.config import check_cron, check_ntfy_token, mask_url, parse_http_url, parse_topic, save_config_values
from reminder.i18n import N_, NC_

# An outbox message's state where an error line names it (the --json output keeps the English word).
OUTBOX_STATES = {"pending": NC_("outbox", "pending"), "failed": NC_("outbox", "failed")}


def state_text(status: str) -> str:
    return text(OUTBOX_STATES[status]) if status in OUTBOX_STATES else status


def _require_push_settings(app: App) -> str:
    """Everything `run` needs, checked where it enters so a bad setting fails at start, not at 08:00. Returns
    the topic."""
    s = app.settings
    check_cron(s.cron)
    for name in ("nudge_cron", "summary_cron"):
        if getattr(s, name):
            check_cron(getattr(s, name), name)
    if not s.ntfy_topic:
        raise UserError("no ntfy topic is configured: run `reminder setup` first (or set REMINDER_NTFY_TOPIC)")
    s.ntfy_token_value()
    return s.ntfy_topic


def _client(app: App, **kwargs: Any) -> Any:
    from reminder.ntfy import client_from_settings

    return client_from_settings(app.settings, **kwargs)


def _subscribe_url(server: str, topic: str) -> str:
    # Without a user:password@ the server URL may carry (requests sends it as basic auth): the link is shown,
    # and the ntfy app takes credentials of its own.
    parts = urlsplit(server.rstrip("/"))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) + f"/{topic}"


def _new_topic() -> str:
    # 16 random bytes in ntfy's topic alphabet: on a public server the topic name is the only secret.
    import secrets

    return "reminder-" + secrets.token_urlsafe(16)


# --- setup ---------------------------------------------------------------------------------------------------


@click.command(
    help=_(
        "First run: choose a topic, save the config, show how to subscribe, send a test push.\n\n"
        "Saves what it was told (the flags) and what it chose (a new topic, the machine's time zone); a value that "
        "comes from the environment stays there and is not copied into the file."
    )
)
@click.option("--server", metavar="URL", help=_("ntfy server (default: the current setting, https://ntfy.sh)."))
@click.option("--topic", metavar="NAME", help=_("Topic to use (default: a new hard-to-guess one)."))
@click.option("--token", metavar="TOKEN", help=_("ntfy access token to save (better: REMINDER_NTFY_TOKEN_FILE)."))
@click.option("--language", type=click.Choice(["ko", "en"]), help=_("Language of the notifications."))
@click.option("--no-test", is_flag=True, help=_("Do not send a test notification."))
@pass_app
def setup(
    app: App, server: str | None, topic: str | None, token: str | None, language: str | None, no_test: bool
) -> None:
    server_flag = checked_option("--server", parse_http_url, server)
    topic_flag = checked_option("--topic", parse_topic, topic)
    # The push commands' own rule, before anything is saved: a token they would refuse must not reach the file.
    token = checked_option("--token", check_ntfy_token, token)
    updates: dict[str, Any] = {}
    if server_flag:
        updates["ntfy_server"] = server_flag
    if topic_flag:
        updates["ntfy_topic"] = topic_flag
    elif not app.settings.ntfy_topic:
        updates["ntfy_topic"] = _new_topic()
    if token:
        updates["ntfy_token"] = token
    if language:
        updates["language"] = language
    if app.settings.sources["timezone"] == "default":
        updates["timezone"] = app.settings.timezone  # pin the zone the reviews are counted in
    path = app.settings.config_path
    save_config_values(path, updates)
    # What was just said wins over the environment for the rest of this command (the test push included).
    app.flags.update({k: v for k, v in updates.items() if k in ("ntfy_server", "ntfy_topic", "ntfy_token", "language")})
    app.__dict__.pop("settings", None)  # re-read: the file just changed
    server, topic = app.settings.ntfy_server, app.settings.ntfy_topic or updates["ntfy_topic"]  # one of the two
    url = _subscribe_url(server, topic)
    click.echo(_("Saved to {path}.").format(path=path))
    click.echo(
        _("Subscribe in the ntfy app (server {server}, topic {topic}), or open:").format(
            server=mask_url(server), topic=topic
        )
        + f"\n  {url}\n"
    )
    try:
        import segno

        segno.make(url, error="m").terminal(compact=True)  # writes to stdout itself
    except Exception:  # a QR code is a convenience; the URL above is what matters
        pass
    if not no_test:
        _send_test(app)


# --- notify test ---------------------------------------------------------------------------------------------


def _send_test(app: App) -> None:
    from reminder.digest import build_test_message
    from reminder.ntfy import NtfyError

    topic = _require_push_settings(app)
    s = app.settings
    message = build_test_message(topic, s.language)
    with _client(app) as client:
        try:
            result = client.publish(message)
        except NtfyError as exc:
            click.echo(_("Error: test notification not sent: {reason}").format(reason=error_text(exc)), err=True)
            sys.exit(1)
    click.echo(
        _("Test notification sent to {url} (id {id}).").format(url=_subscribe_url(s.ntfy_server, topic), id=result.id)
    )


@click.group(help=_("Send notifications by hand."))
def notify() -> None:
    pass


@notify.command("test", help=_("Send a test push; say where it went, or exactly why it could not."))
@pass_app
def notify_test(app: App) -> None:
    _send_test(app)


@notify.command(
    "now", help=_("Push what is due now, once, outside the cron slots (through the outbox, with its retries).")
)
@pass_app
def notify_now(app: App) -> None:
    from reminder.db.models import OutboxStatus
    from reminder.runner import SEND_TIMEOUTS

    _require_push_settings(app)
    _store = app.store
    configure_logging()
    with _client(app, connect_timeout=SEND_TIMEOUTS[0], read_timeout=SEND_TIMEOUTS[1]) as client:
        runner = _runner(app, client)
        outbox_id = runner.queue_now()
        if outbox_id is None:
            click.echo(_("Nothing is due now: nothing was sent."))
            return
        outcomes = {o.outbox_id: o for o in runner.dispatch()}
    mine = outcomes.get(outbox_id)
    if mine is not None and mine.status is OutboxStatus.SENT:
        click.echo(
            _("Sent what is due now (message {id}, ntfy id {ntfy_id}).").format(id=outbox_id, ntfy_id=mine.ntfy_id)
        )
        return
    if mine is None:
        message = _("Error: message {id} pending: not sent yet (the service retries pending messages)")
        click.echo(message.format(id=outbox_id), err=True)
    else:
        message = _("Error: message {id} {state}: {error} (the service retries pending messages)")
        click.echo(message.format(id=outbox_id, state=state_text(mine.status), error=shown(mine.error)), err=True)
    sys.exit(1)


# --- run -----------------------------------------------------------------------------------------------------


def _global_args(app: App) -> list[str]:
    """The command-line settings of this `reminder`, for its child processes (the environment they inherit)."""
    args = []
    for option, value in (
        ("--database", app.flags.get("database_url")),
        ("--timezone", app.flags.get("timezone")),
        ("--config", app.config_path),
    ):
        if value:
            args += [option, value]
    return args


def _runner(app: App, client: Any) -> Any:
    """A runner wired to the vaults (synced before each slot) and, with a public URL, the phone buttons."""
    from reminder.runner import Runner

    store, settings = app.store, app.settings
    buttons = tap = stats_url = None
    if public_url := settings.public_url:
        from reminder import actions

        key = actions.secret_key(store, settings)

        def buttons(listed: Any, day: Any) -> list[dict[str, Any]]:
            return actions.digest_actions(public_url, key, listed, language=settings.language, day=day)

        def tap(listed: Any, day: Any) -> str:
            return actions.click_url(public_url, key, listed, day=day)

        def stats_url(day: Any) -> str:
            return actions.action_url(public_url, "stats", actions.sign(key, "stats", [], day))

    return Runner(
        store, settings, client, before_slot=_vault_sync(app), actions=buttons, click=tap, stats_url=stats_url
    )


def _vault_sync(app: App) -> Any:
    """Sync the registered vaults before a slot, so a flag ticked in Obsidian stops its reminder. A vault that
    cannot be read is logged and skipped: the slot still goes out with what the store knows."""
    from reminder.runner import log_event

    def sync(day: Any) -> None:
        from sqlalchemy import select

        from reminder.db.models import Vault

        with app.store.read() as session:
            if session.scalar(select(Vault.id).limit(1)) is None:
                return  # no vault registered: do not load the YAML parser into a long-lived process for nothing
        from sqlalchemy.exc import SQLAlchemyError

        from reminder import vault
        from reminder.cli.common import adopt_default_scheduler
        from reminder.clock import utcnow
        from reminder.errors import NoteError, VaultError

        try:
            started = utcnow()
            reports = vault.sync_all(
                app.store,
                today=day,
                ladder=app.settings.ladder,
                extra_every=app.settings.extra_every,
                zone=app.settings.timezone,
                delivery=vault.Delivery(app.settings.cron, app.settings.timezone),
            )
            adopt_default_scheduler(app, started)
        except (NoteError, VaultError, OSError, SQLAlchemyError) as exc:  # expected: one line; the digest goes out
            from reminder.db import one_line

            log_event("sync", level=logging.ERROR, result="error", error=one_line(exc))
            return
        except Exception:  # a bug: the digest still matters more, but the log must show where it is
            logging.getLogger("reminder.runner").exception("event=sync result=bug")
            return
        for name, report in reports.items():
            extra: dict[str, Any] = {"error": report.error} if report.error else {}
            log_event(
                "sync",
                vault=name,
                added=report.added,
                updated=report.updated,
                renamed=report.renamed,
                archived=report.archived,
                written_back=report.written_back,
                skipped=len(report.skipped),
                not_scheduled=len(report.not_scheduled),
                backups=len(report.backups),
                **extra,
            )
            # Every file not scheduled, by name: a line each, so nothing drops out of the log in silence.
            for line in report.skipped:
                log_event("sync_skipped", level=logging.WARNING, vault=name, file=line)
            for line in (*report.not_scheduled, *report.dated, *report.lost):
                log_event("sync_file", vault=name, file=line)
            for copy in report.backups:  # the note's write-back waits on the learner: a warning, not news
                log_event("sync_backup_left", level=logging.WARNING, vault=name, file=copy)

    return sync


_NOT_CLAIMED = {
    "already-claimed": N_(
        "The slot {key} was already served: nothing new is queued for it "
        "(use `reminder notify now` to push what is due now)."
    ),
    "older-than-claimed": N_(
        "The slot {key} is older than the newest slot already served (was the clock set back?): it is not served again."
    ),
    "day-served": N_("The slot {key} falls on a day already served in another time zone: it is not served again."),
}


@click.command(help=_("The service: wait for each cron slot, push due reviews, retry failed sends."))
@click.option(
    "--once",
    is_flag=True,
    help=_("Process the most recent slots (digest, nudge, summary), deliver what is pending, exit."),
)
@click.option("--dry-run", is_flag=True, help=_("With --once: print the notification instead of sending it."))
@click.option("--serve", "serve_web", is_flag=True, help=_("Also serve the phone buttons, today's page and /healthz."))
@click.option("--step", is_flag=True, hidden=True, help="Internal: one wake of the service, in a child process.")
@click.option("--last-key", hidden=True, default="", help="Internal: with --step, the slot processed last.")
@pass_app
def run(app: App, once: bool, dry_run: bool, serve_web: bool, step: bool, last_key: str) -> None:
    if dry_run and not once:
        raise UserError("--dry-run goes with --once")
    if serve_web and once:
        raise UserError("--serve goes with the service, not with --once")
    _require_push_settings(app)
    if not (once or serve_web or step):
        # The plain service: a parent that imports neither the store nor the ntfy client, and a child per wake.
        from reminder.supervisor import supervise

        configure_logging()
        stop = stop_on_signals()
        sys.exit(supervise(_global_args(app), stop, cron=app.settings.cron, timezone=app.settings.timezone))
    ledger = None
    if once and not dry_run:
        from reminder.ledger import light_ledger

        # On an up-to-date SQLite file with no vault to sync: the slot and the outbox without SQLAlchemy.
        ledger = light_ledger(app.settings.database_url, app.settings)
    if ledger is None:
        _store = app.store  # opened (a new SQLite file migrated) before the log starts
    configure_logging()
    if dry_run:
        runner = _runner(app, None)
        slot = runner.current_slot()
        message = runner.preview(slot)
        if message is None:
            click.echo(_("Nothing due for the slot {slot}: nothing would be sent.").format(slot=slot.isoformat()))
        else:
            click.echo(json.dumps(message, ensure_ascii=False, indent=2))
        return
    from reminder.ledger import OutboxStatus
    from reminder.runner import SEND_TIMEOUTS, Runner

    with _client(app, connect_timeout=SEND_TIMEOUTS[0], read_timeout=SEND_TIMEOUTS[1]) as client:
        runner = _runner(app, client) if ledger is None else Runner(None, app.settings, client, ledger=ledger)
        if step:
            # ``last_key`` is the runner's memory between wakes, as the previous child printed it: the digest
            # slot and the nudge / summary slots it processed last (the parent keeps it without reading it).
            stop = stop_on_signals()
            seen = json.loads(last_key) if last_key else {}
            runner.last_key, runner.last_other = seen.get("digest"), dict(seen.get("other", {}))
            delay = runner.step(stop)
            seen = {"digest": runner.last_key, "other": runner.last_other}
            click.echo(json.dumps({"key": json.dumps(seen), "delay": delay.total_seconds()}))
            return
        if once:
            slot = runner.process_slot(runner.current_slot())
            if not slot.claimed:
                click.echo(_(_NOT_CLAIMED[slot.reason].msgid).format(key=slot.key))
            runner.process_other_slots(runner.clock())  # a timer run at the nudge's or summary's time does them
            outcomes = runner.dispatch()
            bad = [o for o in outcomes if o.status is not OutboxStatus.SENT]
            for o in bad:
                click.echo(
                    _("Error: message {id} {state}: {error}").format(
                        id=o.outbox_id, state=state_text(o.status), error=shown(o.error or "")
                    ),
                    err=True,
                )
            sys.exit(1 if bad else 0)
        stop = stop_on_signals()
        server = None
        if serve_web:
            from reminder.server import start_server

            server = start_server(app.store, app.settings, started_at=datetime.now(UTC))
            logging.getLogger("reminder.web").info("event=serve url=%s", server.url)
        try:
            runner.run(stop)
        finally:
            if server is not None:
                server.stop()


# --- status --------------------------------------------------------------------------------------------------


@click.command(help=_("Last slot processed, next slot, pending and failed sends with their last error."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_app
def status(app: App, as_json: bool) -> None:
    from reminder.lightread import sqlite_file, status_from_sqlite_file

    check_cron(app.settings.cron)
    now = datetime.now(UTC)
    path = sqlite_file(app.settings.database_url)
    # On an up-to-date SQLite file without SQLAlchemy, the runner or the HTTP client (reminder.lightread).
    st = status_from_sqlite_file(path, app.settings.cron, app.settings.timezone, now) if path else None
    if st is None:
        from reminder.runner import status as read_status

        st = read_status(app.store, app.settings, now)
    copies = _copies_left(app)
    zone = app.now().tzinfo

    def local(dt: datetime | None) -> str | None:
        return dt.astimezone(zone).isoformat(timespec="minutes") if dt else None

    data: dict[str, Any] = {
        "topic": app.settings.ntfy_topic,
        "server": mask_url(app.settings.ntfy_server),
        "last_slot": (
            {
                "slot": st.last_slot.local_key,
                "claimed_at": local(st.last_slot.claimed_at),
                "due": st.last_slot.due_count,
            }
            if st.last_slot
            else None
        ),
        "next_slot": st.next_slot.isoformat(timespec="minutes"),
        "last_sent": {"id": st.last_sent.ntfy_id, "at": local(st.last_sent.sent_at)} if st.last_sent else None,
        "pending": [
            {"id": o.id, "attempts": o.attempts, "next_attempt": local(o.next_attempt_at), "last_error": o.last_error}
            for o in st.pending
        ],
        "failed": [{"id": o.id, "attempts": o.attempts, "error": o.last_error} for o in st.failed],
        "write_back_copies": copies,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    topic = app.settings.ntfy_topic

    labels = [_("topic:"), _("last slot:"), _("next slot:"), _("last sent:"), _("pending:"), _("failed:")]
    if copies:  # shown only when there are some, so that the usual answer keeps its columns
        labels.append(_("write-back copies:"))
    column = max(width(label) for label in labels) + 2

    def field(label: str, value: str) -> None:
        # The values line up in display columns: a Korean label is twice as wide as its letters.
        click.echo(fit(label, column) + value)

    field(_("topic:"), _subscribe_url(app.settings.ntfy_server, topic) if topic else _("(none: run reminder setup)"))
    if st.last_slot:
        ls = data["last_slot"]
        text = _("{slot} ({n} due), processed {at}")
        field(_("last slot:"), text.format(slot=ls["slot"], n=ls["due"], at=ls["claimed_at"]))
    else:
        field(_("last slot:"), _("none yet"))
    field(_("next slot:"), data["next_slot"])
    if st.last_sent:
        field(_("last sent:"), _("{at} (ntfy id {id})").format(at=data["last_sent"]["at"], id=st.last_sent.ntfy_id))
    field(_("pending:"), str(len(st.pending)))
    for p in data["pending"]:
        attempts = ngettext("{n} attempt", "{n} attempts", p["attempts"]).format(n=p["attempts"])
        line = _("  #{id}: {attempts}, next {next}").format(id=p["id"], attempts=attempts, next=p["next_attempt"])
        if p["last_error"]:
            line += _(", last error: {error}").format(error=p["last_error"])
        click.echo(line)
    if st.failed:
        field(
            _("failed:"),
            _("{n} (not retried; the reviews stay due for the next slot)").format(n=len(st.failed)),
        )
        for f in data["failed"]:
            click.echo(f"  #{f['id']}: {f['error']}")
    if copies:
        field(_("write-back copies:"), str(len(copies)))
        for copy in copies:
            click.echo("  " + copy_left_text(copy))


def _copies_left(app: App) -> list[str]:
    """The write-back copies a crash left in the registered vaults (vault.files.backup_path), found by walking
    each vault: until the learner deletes one, its note is not written back, and nothing else would say so
    between syncs. The vault code is loaded only when a vault is registered."""
    from reminder.lightread import sqlite_file, vault_folders_from_sqlite_file

    path = sqlite_file(app.settings.database_url)
    folders = vault_folders_from_sqlite_file(path) if path else None
    if folders is None:
        from reminder.runner import status_statements

        with app.store.read() as session:
            folders = list(session.scalars(status_statements()["status_vault_folders"]))
    if not folders:
        return []
    import os

    from reminder.errors import VaultError
    from reminder.vault.files import walk_vault

    copies: list[str] = []
    for folder in folders:
        try:
            walk_vault(os.path.realpath(folder), [], copies)
        except VaultError:
            continue  # a vault whose folder is gone: `reminder sync` reports that
    return copies

"""The waitress server that serves reminder.web's WSGI app in a daemon thread, so `reminder serve` and
`reminder run --serve` share one implementation, and stops it cleanly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reminder.errors import ServerError as ServerError  # re-exported: defined with the other user errors

log = logging.getLogger(__name__)


class WebServer:
    """A running waitress server. ``stop()`` closes the listening socket, lets requests in progress finish
    (a few seconds at most) and closes every connection, keep-alive ones included."""

    def __init__(self, server: Any, socket_map: dict[int, Any], thread: threading.Thread, host: str, port: int):
        from waitress.trigger import trigger

        self._server = server
        self._map = socket_map
        # waitress's wake-up pipe: the one way to run code in the loop's thread, which alone may touch its sockets.
        self._trigger = next(ch for ch in socket_map.values() if isinstance(ch, trigger))
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False
        self.host = host
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"

    def __repr__(self) -> str:
        return f"WebServer(url={self.url!r})"

    def _in_loop(self, thunk: Callable[[], None], timeout: float) -> bool:
        """Run ``thunk`` in the server's loop thread and wait for it; False if the loop did not run it."""
        ran = threading.Event()

        def run() -> None:
            try:
                thunk()
            finally:
                ran.set()

        if not self._thread.is_alive():
            return False
        try:
            # types-waitress declares the thunk as taking an argument; waitress calls thunk() with none.
            self._trigger.pull_trigger(run)  # type: ignore[arg-type]
        except OSError:
            return False
        return ran.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer

        def close_listeners() -> None:
            for channel in list(self._map.values()):
                if isinstance(channel, BaseWSGIServer):
                    # dispatcher.close, not the server's own close(): that one would also close the trigger.
                    wasyncore.dispatcher.close(channel)

        # No new connections, then let the requests in progress finish, then close every connection.
        self._in_loop(close_listeners, timeout)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        if not self._in_loop(lambda: wasyncore.close_all(self._map), timeout):
            log.warning("the web server's loop did not stop by itself; closing its sockets from outside")
            wasyncore.close_all(self._map, ignore_all=True)
        self._thread.join(timeout)

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    store: Any,
    settings: Any,
    host: str | None = None,
    port: int | None = None,
    *,
    started_at: datetime | None = None,
    threads: int = 4,
) -> WebServer:
    """Serve the app with waitress in a daemon thread. ``host``/``port`` default to the settings; port 0 picks a
    free port (see ``.port``/``.url``)."""
    from waitress.server import create_server

    from reminder.web import make_app, secured, secured_channel_class

    host = settings.host if host is None else host
    port = settings.port if port is None else port
    app = secured(make_app(store, settings, started_at=started_at), settings.public_url, settings.ntfy_server)
    socket_map: dict[int, Any] = {}
    try:
        server = create_server(
            app,
            map=socket_map,
            host=host,
            port=port,
            threads=threads,
            ident="reminder",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=64 * 1024,
            channel_timeout=60,
        )
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise ServerError("cannot listen on {host}:{port}: {reason}", host=host, port=port, reason=reason) from None
    from waitress.server import BaseWSGIServer

    # waitress's own error answers (400, 413...) carry the security headers too.
    channel_class = secured_channel_class()
    for listener in [server, *socket_map.values()]:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = channel_class
    if hasattr(server, "effective_listen"):
        bound_host, bound_port = server.effective_listen[0]
    else:
        # BaseWSGIServer.__init__ sets these from getsockname(); types-waitress does not declare them.
        bound_host, bound_port = server.effective_host, server.effective_port  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.run, name="reminder-web", daemon=True)
    thread.start()
    return WebServer(server, socket_map, thread, str(bound_host), int(bound_port))

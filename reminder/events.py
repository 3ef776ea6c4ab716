"""The service's structured log lines, light to import: the runner and the `run` supervisor both write them."""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

log = logging.getLogger("reminder.runner")


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line: event=... key=value ...; values with spaces are quoted."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={json.dumps(text, ensure_ascii=False) if (' ' in text or not text) else text}")
    log.log(level, " ".join(parts))

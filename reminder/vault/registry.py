"""Registered vaults: add, list, remove."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reminder.db.models import Note, Vault
from reminder.notes import NoteError, utcnow

NAME_MAX = 200


def add_vault(session: Session, path: Path, name: str | None, write_back: bool) -> Vault:
    """Register a vault folder. ``name`` (default: the folder's name) is the vault's name in Obsidian, used in
    obsidian:// links. NoteError when the folder does not exist or the name or folder is taken."""
    folder = Path(os.path.abspath(Path(path).expanduser()))
    if not folder.exists():
        raise NoteError(f"vault folder {folder} does not exist")
    if not folder.is_dir():
        raise NoteError(f"{folder} is not a folder")
    name = " ".join((name if name is not None else folder.resolve().name).split())
    if not name:
        raise NoteError("the vault name is empty (give one with --name)")
    if len(name) > NAME_MAX:
        raise NoteError(f"the vault name is longer than {NAME_MAX} characters")
    if session.scalar(select(Vault).where(Vault.name == name)) is not None:
        raise NoteError(f"a vault named {name!r} is already registered; pick another name with --name")
    real = os.path.realpath(folder)
    for other in session.scalars(select(Vault)):
        if os.path.realpath(other.path) == real:
            raise NoteError(f"{folder} is already registered as vault {other.name!r}")
    vault = Vault(name=name, path=str(folder), write_back=write_back, created_at=utcnow())
    session.add(vault)
    session.flush()
    return vault


def list_vaults(session: Session) -> list[Vault]:
    return list(session.scalars(select(Vault).order_by(Vault.name)))


def vault_note_counts(session: Session) -> dict[int, int]:
    """Active (not archived) notes per vault id."""
    rows = session.execute(
        select(Note.vault_id, func.count())
        .where(Note.vault_id.is_not(None), Note.archived_at.is_(None))
        .group_by(Note.vault_id)
    )
    return {vault_id: count for vault_id, count in rows}


def remove_vault(session: Session, name: str) -> int:
    """Forget a vault. Its notes are archived and detached (history kept, reminders stop); its files are left
    alone. Returns the number of notes archived."""
    vault = session.scalar(select(Vault).where(Vault.name == name))
    if vault is None:
        known = ", ".join(v.name for v in list_vaults(session)) or "none"
        raise NoteError(f"no vault named {name!r} (registered: {known})")
    now = utcnow()
    archived = session.execute(
        update(Note)
        .where(Note.vault_id == vault.id, Note.archived_at.is_(None))
        .values(archived_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(Note).where(Note.vault_id == vault.id).values(vault_id=None).execution_options(synchronize_session=False)
    )
    session.delete(vault)
    session.flush()
    return archived or 0

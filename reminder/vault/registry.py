"""Registered vaults: add, list, remove."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reminder.clock import utcnow
from reminder.db.models import ForgottenFile, Note, Vault
from reminder.errors import VaultError

NAME_MAX = 200


def add_vault(
    session: Session,
    path: Path,
    name: str | None,
    write_back: bool,
    *,
    templates: str | None = None,
    status_block: bool = True,
) -> Vault:
    """Register a vault folder. ``name`` (default: the folder's name) is the vault's name in Obsidian, used in
    obsidian:// links; ``templates`` a vault-relative folder of templates (default: as Obsidian's settings or
    the folder names say). VaultError when the folder does not exist or the name or folder is taken.

    Notes detached from this folder by an earlier ``remove_vault`` come back to it, with their ids, history and
    snoozes; the next sync un-archives those whose files are still there."""
    folder = Path(os.path.abspath(Path(path).expanduser()))
    if not folder.exists():
        raise VaultError("vault folder {folder} does not exist", folder=folder)
    if not folder.is_dir():
        raise VaultError("{folder} is not a folder", folder=folder)
    name = " ".join((name if name is not None else folder.resolve().name).split())
    if not name:
        raise VaultError("the vault name is empty (give one with --name)")
    if len(name) > NAME_MAX:
        raise VaultError("the vault name is longer than {limit} characters", limit=NAME_MAX)
    if session.scalar(select(Vault).where(Vault.name == name)) is not None:
        raise VaultError("a vault named {name!r} is already registered; pick another name with --name", name=name)
    real = os.path.realpath(folder)
    for other in session.scalars(select(Vault)):
        if os.path.realpath(other.path) == real:
            raise VaultError("{folder} is already registered as vault {name!r}", folder=folder, name=other.name)
    if templates is not None:
        templates = "/".join(part for part in templates.replace("\\", "/").split("/") if part and part != ".")
        if not templates or ".." in templates.split("/") or not (folder / templates).is_dir():
            if not templates:
                raise VaultError("--templates: (empty) is not a folder inside the vault")
            raise VaultError("--templates: {folder} is not a folder inside the vault", folder=templates)
    vault = Vault(
        name=name,
        path=str(folder),
        write_back=write_back,
        created_at=utcnow(),
        templates=templates,
        status_block=status_block,
    )
    session.add(vault)
    session.flush()
    _reattach(session, vault, real)
    return vault


def _reattach(session: Session, vault: Vault, real: str) -> None:
    """Give the vault back the notes detached from its folder: the newest note per path (an older one, from a
    vault removed and added before this rule, stays detached rather than break the path's uniqueness)."""
    rows = session.execute(
        select(Note.id, Note.vault_path).where(Note.vault_id.is_(None), Note.detached_from == real).order_by(Note.id)
    ).all()
    newest = {path: note_id for note_id, path in rows if path is not None}
    ids = sorted(newest.values())
    for start in range(0, len(ids), 500):
        session.execute(
            update(Note)
            .where(Note.id.in_(ids[start : start + 500]))
            .values(vault_id=vault.id, detached_from=None)
            .execution_options(synchronize_session=False)
        )


def forget_file(session: Session, note: Note) -> str | None:
    """Record that the sync must ignore this vault note's file from now on (`reminder rm --forget-file`).
    Returns the vault-relative path, or None for a note that does not come from a vault."""
    if note.vault_path is None:
        return None
    vault = session.get(Vault, note.vault_id) if note.vault_id is not None else None
    folder = os.path.realpath(vault.path) if vault is not None else note.detached_from
    if folder is None:
        return None
    same = (ForgottenFile.vault_folder == folder, ForgottenFile.vault_path == note.vault_path)
    exists = session.scalar(select(ForgottenFile.id).where(*same))
    if exists is None:
        session.add(ForgottenFile(vault_folder=folder, vault_path=note.vault_path, forgotten_at=utcnow()))
        session.flush()
    return note.vault_path


def list_vaults(session: Session) -> list[Vault]:
    return list(session.scalars(select(Vault).order_by(Vault.name)))


def vault_note_counts(session: Session) -> dict[int, int]:
    """Active (not archived) notes per vault id."""
    rows = session.execute(
        select(Note.vault_id, func.count())
        .where(Note.vault_id.is_not(None), Note.archived_at.is_(None))
        .group_by(Note.vault_id)
    )
    return {vault_id: count for vault_id, count in rows if vault_id is not None}  # None: filtered above


def find_vault(session: Session, name: str) -> Vault:
    """The vault registered as ``name``; VaultError naming the registered ones when there is none."""
    vault = session.scalar(select(Vault).where(Vault.name == name))
    if vault is None:
        known = ", ".join(v.name for v in list_vaults(session))
        if not known:
            raise VaultError("no vault named {name!r} (registered: none)", name=name)
        raise VaultError("no vault named {name!r} (registered: {known})", name=name, known=known)
    return vault


def remove_vault(session: Session, name: str) -> int:
    """Forget a vault. Its notes are archived and detached (history kept, reminders stop); its files are left
    alone. Returns the number of notes archived."""
    vault = find_vault(session, name)
    now = utcnow()
    archived = session.execute(
        update(Note)
        .where(Note.vault_id == vault.id, Note.archived_at.is_(None))
        .values(archived_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult; Session.execute is typed Result
    # The folder's real path stays on the notes, so adding the folder again brings them back (remove_vault is
    # not a delete: `reminder rm` is).
    session.execute(
        update(Note)
        .where(Note.vault_id == vault.id)
        .values(vault_id=None, detached_from=os.path.realpath(vault.path))
        .execution_options(synchronize_session=False)
    )
    session.delete(vault)
    session.flush()
    return archived or 0

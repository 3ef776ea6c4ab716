"""The schema revisions this version of reminder knows, oldest first.

Kept apart from reminder.db so the light read path can check a SQLite file's schema without importing SQLAlchemy
or Alembic; a test checks these against the scripts in alembic/versions.
"""

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
HEAD = REVISIONS[-1]

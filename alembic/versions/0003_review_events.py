"""review events

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The review issue: review events with ratings, schedulers, cue questions.

Every stage already done becomes one ``good`` event on its done date (source ``vault`` for a note synced from a
vault, else ``cli``): the history the schedulers replay starts with what the store knew.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_review_events_note_id_notes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
    )
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.create_index("ix_review_events_note_id_reviewed_on", ["note_id", "reviewed_on"], unique=False)
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduler", sa.String(length=10), server_default="ladder", nullable=False))
        batch_op.add_column(sa.Column("scheduler_state", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("cue_questions", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("cue_summary", sa.Text(), nullable=True))

    # The data: one good event per stage (or extra review) already done.
    now = datetime.now(UTC).replace(tzinfo=None)
    op.execute(
        sa.text(
            "INSERT INTO review_events (note_id, stage, extra, rating, reviewed_on, source, created_at) "
            "SELECT reviews.note_id, reviews.\"offset\", reviews.extra, 'good', reviews.done_on, "
            "CASE WHEN notes.vault_id IS NULL THEN 'cli' ELSE 'vault' END, :now "
            "FROM reviews JOIN notes ON notes.id = reviews.note_id WHERE reviews.done_on IS NOT NULL "
            "ORDER BY reviews.done_on, reviews.note_id, reviews.extra, reviews.\"offset\""
        ).bindparams(now=now)
    )


def downgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("cue_summary")
        batch_op.drop_column("cue_questions")
        batch_op.drop_column("scheduler_state")
        batch_op.drop_column("scheduler")
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_index("ix_review_events_note_id_reviewed_on")
    op.drop_table("review_events")

"""vault identity

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

The vault issue: archived vault notes, forgotten paths, first-study provenance, status blocks.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vault_folder", sa.Text(), nullable=False),
        sa.Column("vault_path", sa.Text(), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forgotten_files")),
        sa.UniqueConstraint("vault_folder", "vault_path", name=op.f("uq_forgotten_files_vault_folder_vault_path")),
    )
    with op.batch_alter_table("vaults") as batch:
        batch.add_column(sa.Column("templates", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_block", sa.Boolean(), server_default=sa.text("true"), nullable=False))
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("first_study_from", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("status_block", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("detached_from", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("detached_from")
        batch.drop_column("status_block")
        batch.drop_column("first_study_from")
    with op.batch_alter_table("vaults") as batch:
        batch.drop_column("status_block")
        batch.drop_column("templates")
    op.drop_table("forgotten_files")

"""delivery

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

The delivery issue: slot keys with their zone, and what delivery needs to be exact.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A slot is identified by its zone and wall-clock time: the same "08:00" in another zone is another slot.
    # Rows claimed before this revision keep a NULL zone; the runner's high-water mark covers them.
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch_op.drop_constraint("uq_slots_local_key", type_="unique")
        batch_op.create_unique_constraint("uq_slots_zone_local_key", ["zone", "local_key"])
    # A send whose answer never arrived may have reached ntfy: look on the topic before sending it again.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uncertain", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("uncertain")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_constraint("uq_slots_zone_local_key", type_="unique")
        batch_op.create_unique_constraint("uq_slots_local_key", ["local_key"])
        batch_op.drop_column("zone")

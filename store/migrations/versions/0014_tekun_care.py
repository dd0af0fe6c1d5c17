"""特困 care on the register: each recipient household's care form (dispersed or centralised)
and self-care ability, for the centralised-care share of the compliance report; null for 低保
and for households registered before they were recorded

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipient") as table:
        table.add_column(sa.Column("care_form", sa.String(), nullable=True))
        table.add_column(sa.Column("self_care", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipient") as table:
        table.drop_column("self_care")
        table.drop_column("care_form")

"""township emergency reserves (临时救助储备金): the reserve, its ledger, the payouts made

Every township in the table when this runs gets a reserve at the policy's minimum, ¥50,000,
with the opening top-up on its ledger. Amounts are whole fen in BIGINT columns, so the CHECKs
that keep the reserve from being over-spent compare numbers on SQLite as on PostgreSQL.

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPENING_FEN = 50_000_00
"""¥50,000: the policy's minimum (``domain.reserve.DEFAULT_MINIMUM``) as it stood in 2026."""


def upgrade() -> None:
    op.create_table(
        "township_reserve",
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_fen", sa.BigInteger(), nullable=False),
        sa.Column("minimum_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("held_fen >= 0", name="ck_township_reserve_held_not_negative"),
        sa.CheckConstraint("balance_fen >= held_fen", name="ck_township_reserve_held_covered"),
        sa.CheckConstraint("minimum_fen >= 0", name="ck_township_reserve_minimum_not_negative"),
        sa.ForeignKeyConstraint(["township"], ["township.code"]),
        sa.PrimaryKeyConstraint("township"),
    )
    op.create_table(
        "reserve_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("case_no", sa.String(), nullable=True),
        sa.Column("closes", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("by_user", sa.String(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("balance_after_fen", sa.BigInteger(), nullable=False),
        sa.Column("held_after_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name="ck_reserve_entry_amount_positive"),
        sa.CheckConstraint(
            "held_after_fen >= 0 AND balance_after_fen >= held_after_fen",
            name="ck_reserve_entry_after_covered",
        ),
        sa.ForeignKeyConstraint(["township"], ["township_reserve.township"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("closes"),
    )
    op.create_index("ix_reserve_entry_township", "reserve_entry", ["township"])
    op.create_index("ix_reserve_entry_case_no", "reserve_entry", ["case_no"])
    op.create_table(
        "emergency_payout",
        sa.Column("id_number", sa.String(), nullable=False),
        sa.Column("case_no", sa.String(), nullable=False),
        sa.Column("cause", sa.String(), nullable=False),
        sa.Column("paid_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_number", "case_no"),
    )
    op.create_index(
        "ix_emergency_payout_id_number_cause", "emergency_payout", ["id_number", "cause"]
    )

    # Seed: every township that exists now, at the minimum, its opening top-up on the ledger.
    # The column types here are the tables' own, so timestamps are stored as the store stores
    # them on each database.
    now = datetime.now(UTC)
    codes = op.get_bind().execute(sa.text("SELECT code FROM township ORDER BY code")).scalars()
    codes = list(codes)
    reserve = sa.table(
        "township_reserve",
        sa.column("township", sa.String()),
        sa.column("balance_fen", sa.BigInteger()),
        sa.column("held_fen", sa.BigInteger()),
        sa.column("minimum_fen", sa.BigInteger()),
        sa.column("updated_at", store.types.UTCDateTime(timezone=True)),
    )
    entry = sa.table(
        "reserve_entry",
        sa.column("key", sa.String()),
        sa.column("township", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("amount_fen", sa.BigInteger()),
        sa.column("case_no", sa.String()),
        sa.column("closes", sa.String()),
        sa.column("note", sa.String()),
        sa.column("by_user", sa.String()),
        sa.column("at", store.types.UTCDateTime(timezone=True)),
        sa.column("balance_after_fen", sa.BigInteger()),
        sa.column("held_after_fen", sa.BigInteger()),
    )
    if not codes:
        return
    op.bulk_insert(
        reserve,
        [
            {
                "township": code,
                "balance_fen": OPENING_FEN,
                "held_fen": 0,
                "minimum_fen": OPENING_FEN,
                "updated_at": now,
            }
            for code in codes
        ],
    )
    op.bulk_insert(
        entry,
        [
            {
                "key": f"seed:{code}",
                "township": code,
                "kind": "top_up",
                "amount_fen": OPENING_FEN,
                "case_no": None,
                "closes": None,
                "note": "opening balance (临时救助储备金)",
                "by_user": "system",
                "at": now,
                "balance_after_fen": OPENING_FEN,
                "held_after_fen": 0,
            }
            for code in codes
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_emergency_payout_id_number_cause", table_name="emergency_payout")
    op.drop_table("emergency_payout")
    op.drop_index("ix_reserve_entry_case_no", table_name="reserve_entry")
    op.drop_index("ix_reserve_entry_township", table_name="reserve_entry")
    op.drop_table("reserve_entry")
    op.drop_table("township_reserve")

"""Cases' idempotency keys in a partial unique index; the counters' rebuild reads its first day once (issue 8).

``idempotency_key`` was a UNIQUE constraint, whose index holds every case,
keyless or not: a million imported past cases (none has a key) were a
million NULL entries written one by one during the load, about a second of
it. A unique index of the keyed cases only keeps the same guarantee (NULLs
never collide) and stays the size of what clients sent; intake names it
with its predicate in ``ON CONFLICT``.

The rebuild of the walls' counters now computes the first China day kept
once per statement instead of once per row
(``layers.walls.counter_sql.stored_statements``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

from layers.walls.counter_sql import DAYS_KEPT, rebuild_function

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE incidents DROP CONSTRAINT IF EXISTS incidents_idempotency_key_key")
    op.execute("CREATE UNIQUE INDEX IF NOT EXISTS incidents_idempotency_key ON incidents (idempotency_key) "
               "WHERE idempotency_key IS NOT NULL")
    op.execute(rebuild_function(DAYS_KEPT))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS incidents_idempotency_key")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_idempotency_key_key UNIQUE (idempotency_key)")

"""Foundation schema: admin hierarchy, versioned grids, layers, catalogue, cases.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "planning_proposals", "incident_events", "incidents", "catalogue", "teams", "team_types",
    "buildings", "stall_zones", "waterlogging_points", "cameras", "grids", "communities",
    "streets", "districts", "wangge_meta",
)


def upgrade() -> None:
    # The DDL holds plpgsql bodies and format() patterns, so it goes to the
    # driver as one plain script, untouched by SQLAlchemy's bind parsing.
    script = Path(__file__).with_suffix(".sql").read_text(encoding="utf-8")
    driver_connection = op.get_bind().connection.dbapi_connection
    if driver_connection is None:
        raise RuntimeError("migration needs an open database connection")
    driver_connection.cursor().execute(script)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    op.execute("DROP FUNCTION IF EXISTS wangge_refuse_change, wangge_bump_layer_version, wangge_address_key CASCADE")
    op.execute("""
        DO $$ DECLARE s text; BEGIN
        FOR s IN SELECT sequencename FROM pg_sequences WHERE sequencename LIKE 'layer_version_%'
        LOOP EXECUTE format('DROP SEQUENCE %I', s); END LOOP; END $$""")

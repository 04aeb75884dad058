"""Layer changes are announced (NOTIFY) as well as counted; indexes for intake.

Services keep in-memory copies (the grid index for locate, tile caches)
and need to hear of a change without asking the database on every request:
the version trigger now also sends ``NOTIFY wangge_layers, '<table> <version>'``,
which PostgreSQL delivers at commit, so a rolled-back change is never
announced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE OR REPLACE FUNCTION wangge_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            version bigint;
        BEGIN
            version := nextval(TG_ARGV[0]::regclass);
            PERFORM pg_notify('wangge_layers', TG_TABLE_NAME || ' ' || version);
            RETURN NULL;
        END $$""")
    op.execute("CREATE INDEX incidents_street_status ON incidents (street_code, status)")
    op.execute("CREATE INDEX buildings_road_door ON buildings (road, door_number)")
    # the catalogue is versioned and announced like the layers, so services can cache it
    op.execute("CREATE SEQUENCE layer_version_catalogue")
    op.execute("CREATE TRIGGER catalogue_layer_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
               "ON catalogue FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_layer_version('layer_version_catalogue')")
    # nearest free team of a type: the type is matched inside the index and
    # busy or off-duty teams are not in it, so the KNN scan reads only hits
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE INDEX teams_free_type_geog_gist ON teams USING gist (type, (position::geography)) "
               "WHERE status = 'free'")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS incidents_street_status")
    op.execute("DROP INDEX IF EXISTS buildings_road_door")
    op.execute("DROP TRIGGER IF EXISTS catalogue_layer_version ON catalogue")
    op.execute("DROP SEQUENCE IF EXISTS layer_version_catalogue")
    op.execute("DROP INDEX IF EXISTS teams_free_type_geog_gist")
    op.execute("""
        CREATE OR REPLACE FUNCTION wangge_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM nextval(TG_ARGV[0]::regclass);
            RETURN NULL;
        END $$""")

"""The GeoAlchemy2 models match the migrated schema, and read real rows."""

from __future__ import annotations

import psycopg
import pytest
from geoalchemy2 import Geometry
from geoalchemy2.shape import to_shape
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.orm import Session

from layers.migrate import sqlalchemy_url
from layers.models import Base, Grid, Incident

# type names as the database reports them, per model type family
FAMILY = {
    "VARCHAR": {"character varying", "character", "text"}, "TEXT": {"text"}, "INTEGER": {"integer"},
    "BIGINT": {"bigint"}, "FLOAT": {"double precision", "real"}, "BOOLEAN": {"boolean"},
    "TIMESTAMP": {"timestamp with time zone"}, "TIME": {"time without time zone"}, "JSONB": {"jsonb"}, "DATE": {"date"},
    "GEOMETRY": {"USER-DEFINED"},
}


def _family(column_type: object) -> str:
    name = type(column_type).__name__.upper()
    return {"STRING": "VARCHAR", "DOUBLE": "FLOAT", "BIGINTEGER": "BIGINT"}.get(name, name)


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_model_columns_match_the_database(sync_ro: psycopg.Connection, table: str) -> None:
    rows = sync_ro.execute("""
        SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = %s""", (table,)).fetchall()
    in_db = {name: (kind, nullable) for name, kind, nullable in rows}
    model = Base.metadata.tables[table]
    assert set(in_db) == {c.name for c in model.columns}
    for column in model.columns:
        kind, nullable = in_db[column.name]
        assert kind in FAMILY[_family(column.type)], (table, column.name, kind)
        assert nullable == column.nullable, (table, column.name)
        if isinstance(column.type, Geometry):
            geometry_type, srid = sync_ro.execute(
                "SELECT type, srid FROM geometry_columns WHERE f_table_name = %s AND f_geometry_column = %s",
                (table, column.name)).fetchone()
            assert (geometry_type, srid) == (column.type.geometry_type, column.type.srid)


def test_models_read_rows_and_geometries(demo_ro: str) -> None:
    engine = create_engine(sqlalchemy_url(demo_ro))
    with Session(engine) as session:
        current = session.scalar(select(func.count()).select_from(Grid).where(Grid.valid_to.is_(None)))
        grid = session.scalars(select(Grid).order_by(Grid.code).limit(1)).one()
        case = session.scalars(select(Incident).where(Incident.grid_id == grid.id).limit(1)).first()
    engine.dispose()
    assert current is not None and current >= 2000
    shape = to_shape(grid.geom)
    assert shape.geom_type == "MultiPolygon" and shape.is_valid
    assert case is None or case.grid_code == grid.code
    assert set(inspect(Grid).columns.keys()) >= {"code", "valid_from", "valid_to", "geom"}

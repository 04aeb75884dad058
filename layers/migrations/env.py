"""Alembic environment: runs wangge's migrations on the connection it is given.

wangge calls Alembic from code (:func:`layers.migrate.upgrade`), passing the
database URL in the config, so there is no ``alembic.ini`` with a URL to go
stale.
"""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_migrations_online() -> None:
    """Apply the migrations in one transaction per run."""
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

"""Alembic environment: runs on the connection the app hands over (see store.engine.migrate)."""

from alembic import context

from roadworks.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through roadworks.store.engine.migrate(), which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

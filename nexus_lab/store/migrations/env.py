"""Alembic's environment for the store: run on the connection the store hands over
(``config.attributes["connection"]``), never on a URL of its own."""

from alembic import context

from nexus_lab.store._schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment. The URL and connection come from ``chengguan.migrate``; never from alembic.ini."""

from __future__ import annotations

from alembic import context

from chengguan.db import Base
from chengguan.migrate import import_all_models, include_object

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `chengguan migrate` (chengguan.migrate.upgrade)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()

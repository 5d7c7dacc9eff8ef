"""Alembic is the only way a schema is made: upgrade → downgrade → upgrade on a fresh database, and the
models agree with what the migrations built (autogenerate finds nothing to do)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from chengguan.db import Base, make_engine
from chengguan.migrate import alembic_config, current_revision, downgrade, import_all_models, include_object, upgrade


@pytest.fixture
def fresh_engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import _throwaway_database

    with _throwaway_database(tmp_path_factory, "migrations") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


def test_upgrade_downgrade_upgrade(fresh_engine) -> None:  # type: ignore[no-untyped-def]
    head = ScriptDirectory.from_config(alembic_config(fresh_engine)).get_current_head()
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head
    tables = set(inspect(fresh_engine).get_table_names())
    assert {"bureau", "app_user", "district", "unit_grid", "category_minor", "case_record", "case_event"} <= tables
    downgrade(fresh_engine, "base")
    left = set(inspect(fresh_engine).get_table_names()) - {"alembic_version", "spatial_ref_sys"}
    assert left == set()
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head


def test_models_match_the_migrations(fresh_engine) -> None:  # type: ignore[no-untyped-def]
    upgrade(fresh_engine)
    import_all_models()
    with fresh_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []

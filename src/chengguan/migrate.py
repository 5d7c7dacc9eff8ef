"""Schema management: Alembic is the only way a schema is made (no ``create_all``).

On PostgreSQL the first migration enables PostGIS. ``import_all_models`` lets Alembic autogenerate see
every table; add a domain's models module here when it gains one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MODEL_MODULES = (
    "chengguan.identity.models",
    "chengguan.geo.models",
    "chengguan.catalog.models",
    "chengguan.calendar.models",
    "chengguan.cases.models",
    "chengguan.intake.models",
    "chengguan.intake.devices",
    "chengguan.jobs.models",
    "chengguan.notify.models",
    "chengguan.http.ratelimit",
    "chengguan.media.models",
    "chengguan.http.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a domain that has no tables yet
            if exc.name != name:
                raise


POSTGIS_TABLES = frozenset({"spatial_ref_sys", "topology", "layer"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate ignores what PostGIS owns (spatial_ref_sys ...) and our hand-made GiST indexes (``*_geom``)."""
    if type_ == "table" and reflected and compare_to is None and name in POSTGIS_TABLES:
        return False
    return not (type_ == "index" and reflected and name is not None and name.endswith("_geom"))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current_heads(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at; empty for a database that was never migrated."""
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def pending_revisions(engine: Engine) -> list[str]:
    """The revisions an upgrade to all heads would apply, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    at = current_heads(engine)
    return [rev.revision for rev in reversed(list(script.iterate_revisions("heads", at or "base")))]


def schema_tables(engine: Engine) -> list[str]:
    """Our tables: everything in the default schema but Alembic's bookkeeping and what PostGIS owns."""
    return sorted(set(inspect(engine).get_table_names()) - {"alembic_version"} - POSTGIS_TABLES)


@dataclass(frozen=True)
class MigrationResult:
    before: tuple[str, ...]  # revisions before the run; empty: the database had no schema
    after: tuple[str, ...]
    applied: tuple[str, ...]  # oldest first; empty: nothing to do
    tables: int  # our tables after the run

    @property
    def created(self) -> bool:
        return not self.before and bool(self.applied)

    @property
    def up_to_date(self) -> bool:
        return not self.applied


def migrate(engine: Engine) -> MigrationResult:
    """Upgrade to all heads and say what was done (``chengguan migrate``)."""
    before = current_heads(engine)
    applied = tuple(pending_revisions(engine))
    upgrade(engine)
    return MigrationResult(
        before=before, after=current_heads(engine), applied=applied, tables=len(schema_tables(engine))
    )

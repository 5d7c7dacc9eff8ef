"""Schema management: Alembic is the only way a schema is made (no ``create_all``).

On PostgreSQL the first migration enables PostGIS. ``import_all_models`` lets Alembic autogenerate see
every table; add a domain's models module here when it gains one.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MODEL_MODULES = (
    "chengguan.identity.models",
    "chengguan.geo.models",
    "chengguan.catalog.models",
    "chengguan.calendar.models",
    "chengguan.cases.models",
    "chengguan.jobs.models",
    "chengguan.notify.models",
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
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

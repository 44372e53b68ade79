from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app import geo
from app.extensions import db
from app.models.types import CodeString, UTCDateTime, utcnow

LEVELS = ("province", "city", "county", "township", "village")
CODE_LENGTH = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
VILLAGE_KINDS = ("rural", "urban", "farm")


def subtree(column, code):
    """SQL condition: `column` lies in the subtree of division `code` (a code-prefix range)."""
    return (column >= code) & (column < code[:-1] + chr(ord(code[-1]) + 1))


class Division(db.Model):
    """One node of the division tree, keyed by the statistical division code."""

    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint("level IN ('province', 'city', 'county', 'township', 'village')", name="ck_divisions_level"),
        Index("ix_divisions_level_code", "level", "code"),
    )

    code: Mapped[str] = mapped_column(CodeString, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(CodeString, ForeignKey("divisions.code"), index=True)
    # villages only: rural (村委会), urban (居委会/社区), farm (农场/林场 生活区/管理区)
    kind: Mapped[str | None] = mapped_column(String(10))
    households: Mapped[int | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    boundary_geom = mapped_column(
        "boundary", Geometry("MULTIPOLYGON", srid=geo.SRID, spatial_index=True), nullable=True
    )
    point_geom = mapped_column("point", Geometry("POINT", srid=geo.SRID, spatial_index=True), nullable=True)
    # 'synthetic' for generated demo shapes, 'import' for shapes loaded from a file
    geometry_source: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def boundary(self):
        return geo.from_db(self.boundary_geom)

    @boundary.setter
    def boundary(self, geometry):
        self.boundary_geom = geo.to_db(None if geometry is None else geo.as_multipolygon(geometry))

    @property
    def point(self):
        return geo.from_db(self.point_geom)

    @point.setter
    def point(self, geometry):
        self.point_geom = geo.to_db(geometry)

    def __repr__(self):
        return f"<Division {self.code} {self.name}>"

"""Column types shared by the models."""
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# Division codes compare byte-wise on both engines, so a subtree is a plain index range.
CodeString = String(12).with_variant(String(12, collation="C"), "postgresql")
JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")


# Periods, dates without a zone and EXIF times are China time (DESIGN §3, §7); storage is UTC.
CHINA = ZoneInfo("Asia/Shanghai")


def china_day_start(day):
    """The first instant (UTC) of calendar day `day` in China time."""
    return datetime.combine(day, time.min, tzinfo=CHINA).astimezone(timezone.utc)


def utcnow():
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

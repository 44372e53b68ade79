"""The demo data set behind `flask demo load` (idempotent).

- Jixi's real division tree, synthetic boundaries and (synthetic) household numbers;
- one account per role;
- a history of approved inspections for every rural village (monthly in the current year,
  quarterly in the year before), written through the historical import;
- the photos of a live review queue in 密山镇: generated on-site photos (EXIF GPS and time at the
  village) and one real photo taken elsewhere; `flask demo load` (app/cli/demo.py) submits that
  queue through the phones' own schema and service, so the reviewer sees clean and flagged items.
"""
import csv
import io
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import func, select


from app.extensions import db
from app.models import Division, User
from app.models.types import CHINA
from app.services.divisions import import_boundaries, import_divisions
from app.services.synthetic import synthetic_geometry
from app.services.users import create_user

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
JIXI_CSV = DATA_DIR / "jixi_divisions.csv"
DEMO_PASSWORD = "demo-password"
DEMO_TOWNSHIP = "230382100"  # 密山镇, 密山市
DEMO_USERS = (
    ("inspector", "inspector", DEMO_TOWNSHIP, "密山镇巡查员"),
    ("reviewer", "reviewer", DEMO_TOWNSHIP, "密山镇审核员"),
    ("bureau", "bureau", "2303", "鸡西市农业农村局"),
    ("admin", "admin", "2303", "系统管理员"),
)


def load_jixi_divisions():
    """Jixi's real division tree plus synthetic boundaries and (synthetic) household counts."""
    result = import_divisions(str(JIXI_CSV))
    rows = db.session.execute(select(Division.code, Division.level, Division.parent_code)).all()
    import_boundaries(synthetic_geometry([tuple(r) for r in rows]), synthetic=True)
    missing = db.session.scalars(
        select(Division).where(Division.level == "village", Division.households.is_(None))
    ).all()
    for village in missing:
        village.households = random.Random(int(village.code)).randint(60, 650)
    db.session.flush()
    return result


def load_demo_users():
    created = 0
    for username, role, scope, name in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == username)) is None:
            create_user(username, role, scope, DEMO_PASSWORD, display_name=name)
            created += 1
    return created


DEMO_NAMESPACE = uuid.UUID("6f1d0c1e-3b8a-4d8e-9c57-2303a1b2c3d4")


def demo_uuid(*parts):
    return uuid.uuid5(DEMO_NAMESPACE, "/".join(map(str, parts)))


def _visit_times(now):
    """Quarterly visits last year, monthly ones this year, all in the past (China time)."""
    year = now.astimezone(CHINA).year
    times = [datetime(year - 1, month, 12, 10, 0, tzinfo=CHINA) for month in (2, 5, 8, 11)]
    times += [datetime(year, month, 12, 10, 0, tzinfo=CHINA) for month in range(1, 13)]
    return [t for t in times if t < now - timedelta(days=3)]


def demo_history_csv(villages, now):
    """CSV (DESIGN §5.1 columns) of approved past inspections for `villages` [(code, households, lat, lon)]."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["client_uuid", "village_code", "observed_at", "lon", "lat", "garbage_stable",
                     "sewage_treated", "village_clean", "households", "households_with_tap", "status"])
    flag = lambda ok: "true" if ok else "false"  # noqa: E731
    for code, households, lat, lon in villages:
        rng = random.Random(f"demo-history-{code}")
        has_sewage = rng.random() < 0.42  # roughly the city's starting point against the 45 % target
        care = rng.uniform(0.86, 0.995)
        for moment in _visit_times(now):
            status = "approved" if rng.random() < 0.94 else rng.choice(["rejected", "returned"])
            tap = round(households * rng.uniform(0.93, 1.0))
            writer.writerow([
                demo_uuid("history", code, moment.isoformat()), code, moment.isoformat(), f"{lon:.6f}", f"{lat:.6f}",
                flag(rng.random() < care + 0.06), flag(has_sewage), flag(rng.random() < care),
                households, tap, status,
            ])
    return out.getvalue()


def load_demo_history(now=None):
    from app.services.imports import import_inspections

    now = now or datetime.now(timezone.utc)
    rows = db.session.execute(
        select(Division.code, Division.households, func.ST_Y(Division.point_geom), func.ST_X(Division.point_geom))
        .where(Division.level == "village", Division.kind == "rural", Division.code.startswith("2303"))
        .order_by(Division.code)
    ).all()
    result = import_inspections(demo_history_csv(rows, now), file_name="demo history")
    return result.created


def demo_photo(seed, lat=None, lon=None, taken=None):
    """A generated 'field photo' (JPEG) with EXIF capture time (China clock) and GPS."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1280, 960), (rng.randrange(90, 160), rng.randrange(120, 190), rng.randrange(80, 140)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(1280), rng.randrange(960)
        w, h = rng.randrange(40, 300), rng.randrange(30, 200)
        draw.rectangle([x, y, x + w, y + h], fill=tuple(rng.randrange(256) for _ in range(3)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Demo", "Field camera"
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.astimezone(CHINA).strftime("%Y:%m:%d %H:%M:%S")
    if lat is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = "N", "E"
        gps[2], gps[4] = _dms(lat), _dms(lon)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def _dms(value):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))

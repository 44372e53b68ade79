"""The demo data set behind `flask demo load` (idempotent)."""
import random
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Division, User
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


def load_demo(echo=print):
    result = load_jixi_divisions()
    echo(f"divisions: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    users = load_demo_users()
    return {"divisions": result.created + result.updated + result.unchanged, "users created": users}

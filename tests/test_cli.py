"""The flask commands of DESIGN §5.1, run through Click's runner."""
import json

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Division, User
from app.services.demo import JIXI_CSV


def run(app, *args, **kw):
    return app.test_cli_runner().invoke(args=list(args), **kw)


def test_divisions_import_is_idempotent(database):
    result = run(database, "divisions", "import", str(JIXI_CSV))
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 811 unchanged" in result.output


def test_divisions_import_reports_bad_lines(fresh_divisions, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n230382100300,新村村委会,hamlet,230382100\n", encoding="utf-8")
    result = run(fresh_divisions, "divisions", "import", str(bad))
    assert result.exit_code != 0
    assert "line 2" in result.output and "unknown level" in result.output


def test_import_boundaries_attaches_shapes(fresh_divisions, tmp_path):
    square = [[[131.0, 45.0], [131.1, 45.0], [131.1, 45.1], [131.0, 45.1], [131.0, 45.0]]]
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "230382100200"}, "geometry": {"type": "Polygon", "coordinates": square}},
    ]}))
    result = run(fresh_divisions, "divisions", "import-boundaries", str(path))
    assert result.exit_code == 0, result.output
    with fresh_divisions.app_context():
        village = db.session.get(Division, "230382100200")
        assert village.geometry_source == "import"
        assert village.boundary.bounds == (131.0, 45.0, 131.1, 45.1)
        assert village.boundary.contains(village.point)


def test_import_boundaries_rejects_unknown_codes(fresh_divisions, tmp_path):
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "999999999999"}, "geometry": {"type": "Point", "coordinates": [131, 45]}},
    ]}))
    result = run(fresh_divisions, "divisions", "import-boundaries", str(path))
    assert result.exit_code != 0 and "unknown division code" in result.output


def test_users_create(database):
    result = run(database, "users", "create", "zhang", "--role", "reviewer", "--scope", "230382100",
                 "--password", "s3cret-pass")
    assert result.exit_code == 0, result.output
    with database.app_context():
        user = db.session.scalar(select(User).where(User.username == "zhang"))
        assert (user.role, user.scope_code) == ("reviewer", "230382100")
        assert user.password_hash.startswith("scrypt:")
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.created")) == 1


def test_users_create_refuses_an_unknown_scope(database):
    result = run(database, "users", "create", "li", "--role", "inspector", "--scope", "999", "--password", "s3cret-pass")
    assert result.exit_code != 0 and "not found" in result.output


def test_demo_load_creates_one_account_per_role_and_is_idempotent(database):
    for _ in range(2):
        result = run(database, "demo", "load")
        assert result.exit_code == 0, result.output
    with database.app_context():
        roles = db.session.execute(select(User.role, func.count()).group_by(User.role)).all()
        synthetic = db.session.scalar(select(func.count()).select_from(Division)
                                      .where(Division.level == "village", Division.geometry_source == "synthetic"))
    assert dict(roles) == {"inspector": 1, "reviewer": 1, "bureau": 1, "admin": 1}
    assert synthetic == 706

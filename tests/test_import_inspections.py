"""`flask inspections import FILE.csv`: historical inspections, all or nothing, idempotent."""
import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Inspection

HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
          "households,households_with_tap,status\n")
VILLAGE = "230382100200"


def row(client_uuid=None, village=VILLAGE, observed_at="2026-09-30T23:30:00+08:00", lon="131.83", lat="45.55",
        garbage="true", sewage="false", clean="", households="120", with_tap="118", status="approved"):
    return f"{client_uuid or uuid.uuid4()},{village},{observed_at},{lon},{lat},{garbage},{sewage},{clean},{households},{with_tap},{status}\n"


def write_csv(tmp_path, *rows, name="history.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return str(path)


def run_import(app, path):
    """Run the command; `output` holds what a terminal shows (stdout and stderr)."""
    return app.test_cli_runner().invoke(args=["inspections", "import", path])


def count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Inspection))


def test_import_stores_rows_with_their_answers_and_source(database, tmp_path):
    known = uuid.uuid4()
    result = run_import(database, write_csv(tmp_path, row(known), row(garbage="", sewage="", households="", with_tap="")))
    assert result.exit_code == 0, result.output
    with database.app_context():
        stored = db.session.scalar(select(Inspection).where(Inspection.client_uuid == known))
        assert (stored.source, stored.status, stored.version, stored.garbage_stable, stored.sewage_treated,
                stored.village_clean, stored.tap_households, stored.tap_households_with_tap, stored.tap_water) == (
            "import", "approved", 1, True, False, None, 120, 118, True)  # 118/120 ≥ 98 %
        assert stored.observed_at.isoformat() == "2026-09-30T15:30:00+00:00"
        assert (round(stored.location.x, 2), round(stored.location.y, 2)) == (131.83, 45.55)
    assert "2 imported" in result.output


def test_empty_cells_mean_not_answered(database, tmp_path):
    known = uuid.uuid4()
    run_import(database, write_csv(tmp_path, row(known, garbage="", sewage="", households="", with_tap="", lon="", lat="")))
    with database.app_context():
        stored = db.session.scalar(select(Inspection).where(Inspection.client_uuid == known))
        assert (stored.garbage_stable, stored.sewage_treated, stored.tap_water, stored.households, stored.location) == (
            None, None, None, None, None)


def test_running_the_same_file_twice_skips_and_reports_stored_rows(database, tmp_path):
    path = write_csv(tmp_path, row(), row())
    run_import(database, path)
    again = run_import(database, path)
    assert again.exit_code == 0
    assert count(database) == 2
    assert "0 imported, 2 already stored (skipped)" in again.output
    assert "line 2:" in again.output and "line 3:" in again.output


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(database, tmp_path):
    dup = uuid.uuid4()
    path = write_csv(tmp_path,
                     row(),                                       # line 2: fine
                     row(client_uuid="not-a-uuid"),               # 3
                     row(village="230382100999"),                 # 4
                     row(observed_at="2026-09-30 23:30"),         # 5 no offset
                     row(garbage="yes"),                          # 6
                     row(households="10", with_tap="11"),         # 7
                     row(status="deleted"),                       # 8
                     row(dup), row(dup),                          # 9, 10
                     row(lon="200"),                              # 11
                     row(observed_at="2999-01-01T00:00:00+08:00"))  # 12
    result = run_import(database, path)
    assert result.exit_code != 0
    for line in (3, 4, 5, 6, 7, 8, 10, 11, 12):
        assert f"line {line}:" in result.output
    assert "line 2:" not in result.output and "line 9:" not in result.output
    assert count(database) == 0


def test_a_missing_column_is_reported_on_line_1(database, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("client_uuid,village_code,observed_at\n" + f"{uuid.uuid4()},{VILLAGE},2026-01-01T00:00:00Z\n")
    result = run_import(database, str(path))
    assert result.exit_code != 0 and "line 1: missing column(s): status" in result.output


def test_one_audit_entry_per_import(database, tmp_path):
    run_import(database, write_csv(tmp_path, row(), row(), row()))
    with database.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "inspections.imported")).all()
        assert [(e.details["created"], e.details["file"]) for e in entries] == [(3, "history.csv")]


def test_imported_approved_rows_count_in_rates(database, tmp_path, bureau):
    known = uuid.uuid4()
    run_import(database, write_csv(tmp_path, row(known, garbage="true")))
    with database.app_context():
        stored_id = db.session.scalar(select(Inspection.id).where(Inspection.client_uuid == known))
    rows = database.test_client().get("/api/v1/rates", headers=bureau.headers, query_string={
        "division": "230382100", "period": "2026-Q3", "level": "village"}).json["rows"]
    village = next(r for r in rows if r["code"] == VILLAGE)
    assert village["metrics"]["garbage_stable"] == {"status": "met", "inspection_id": stored_id,
                                                    "observed_at": "2026-09-30T15:30:00+00:00"}  # 23:30 China time

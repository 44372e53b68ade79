"""The maintained latest-answer table equals the from-scratch statement, through every path that
changes a village's latest approved answer, and rates from it equal rates from the inspections."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division, VillageLatest
from app.services import rates
from app.services.imports import import_inspections
from app.services.village_status import refresh_village_latest
from tests.factories import create_inspection

VILLAGE = "230382100200"
T0 = datetime(2026, 8, 1, 2, 0, tzinfo=timezone.utc)


def table(app):
    with app.app_context():
        rows = db.session.scalars(select(VillageLatest).order_by(VillageLatest.village_code)).all()
        return [{c.name: getattr(r, c.key) for c in VillageLatest.__table__.columns} for r in rows]


def rebuilt(app):
    with app.app_context():
        refresh_village_latest()
        db.session.commit()
    return table(app)


def both_rollups(app, division="2303", period="2026-Q3", level="county"):
    with app.app_context():
        query = rates.make_query(db.session.get(Division, division), period, level)
        fast = [dict(r) for r in rates.rollup_rows(query, maintained=True)]
        slow = [dict(r) for r in rates.rollup_rows(query, maintained=False)]
        exact = rates.nothing_approved_after(query)
    return fast, slow, exact


@pytest.fixture
def history(database):
    app = database
    create_inspection(app, village=VILLAGE, status="approved", observed_at=T0, garbage_stable=True, village_clean=False)
    create_inspection(app, village=VILLAGE, status="approved", observed_at=T0 + timedelta(days=3), garbage_stable=False)
    create_inspection(app, village=VILLAGE, status="rejected", observed_at=T0 + timedelta(days=5), garbage_stable=True)
    create_inspection(app, village="230382100201", status="approved", observed_at=T0, sewage_treated=True,
                      tap_water=True, tap_households=100, tap_households_with_tap=99)
    create_inspection(app, village="230381100200", status="approved", observed_at=T0 - timedelta(days=400),
                      village_clean=True)  # outside the validity window of 2026-Q3
    return app


def test_the_table_holds_the_latest_approved_answer_per_metric(history):
    rows = {r["village_code"]: r for r in table(history)}
    assert rows[VILLAGE]["garbage_stable"] is False and rows[VILLAGE]["village_clean"] is False
    assert rows[VILLAGE]["sewage_treated"] is None
    assert rows["230382100201"]["tap_households_with_tap"] == 99


def test_the_table_equals_a_rebuild_from_the_inspections(history):
    assert table(history) == rebuilt(history)


def test_rates_from_the_table_equal_rates_from_the_inspections(history):
    for level in ("county", "township"):
        fast, slow, exact = both_rollups(history, level=level)
        assert exact and fast == slow


def test_a_period_with_later_approvals_is_not_read_from_the_table(history):
    fast, slow, exact = both_rollups(history, period="2026-07")  # later approvals exist: August
    assert not exact
    assert fast != slow  # the table would be wrong here, so it must not be used


def test_approve_and_reopen_keep_the_table_in_step(history, client, reviewer, bureau):
    made = create_inspection(history, village=VILLAGE, status="submitted", observed_at=T0 + timedelta(days=9),
                             garbage_stable=True)
    r = client.post(f"/api/v1/inspections/{made.id}/review", json={"decision": "approve", "version": 1},
                    headers=reviewer.headers)
    assert r.status_code == 200
    assert {r["village_code"]: r for r in table(history)}[VILLAGE]["garbage_stable"] is True
    assert table(history) == rebuilt(history)
    r = client.post(f"/api/v1/inspections/{made.id}/reopen", json={"reason": "photo was of another village"},
                    headers=bureau.headers)
    assert r.status_code == 200
    assert {r["village_code"]: r for r in table(history)}[VILLAGE]["garbage_stable"] is False
    assert table(history) == rebuilt(history)


def test_bulk_approval_keeps_the_table_in_step(history, client, reviewer):
    made = [create_inspection(history, village=v, status="submitted", observed_at=T0 + timedelta(days=10),
                              village_clean=True) for v in (VILLAGE, "230382100202")]
    r = client.post("/api/v1/reviews/bulk", json={"ids": [m.id for m in made], "decision": "approve"},
                    headers=reviewer.headers)
    assert r.status_code == 200
    assert table(history) == rebuilt(history)
    assert {r["village_code"]: r for r in table(history)}["230382100202"]["village_clean"] is True


def test_an_import_keeps_the_table_in_step(history):
    csv_text = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
                "households,households_with_tap,status\n"
                "5d0c9f7e-0000-4000-8000-000000000001,230382100203,2026-09-01T10:00:00+08:00,131.6,45.4,"
                "true,true,true,,,approved\n")
    with history.app_context():
        import_inspections(csv_text)
        db.session.commit()
    assert {r["village_code"] for r in table(history)} >= {"230382100203"}
    assert table(history) == rebuilt(history)
    fast, slow, exact = both_rollups(history)
    assert exact and fast == slow


def test_a_large_set_of_villages_is_refreshed_as_one_range(history, monkeypatch):
    import app.services.village_status as village_status

    monkeypatch.setattr(village_status, "BULK_THRESHOLD", 1)
    with history.app_context():
        refresh_village_latest([VILLAGE, "230382100201", "230381100200"])
        db.session.commit()
    assert table(history) == rebuilt(history)

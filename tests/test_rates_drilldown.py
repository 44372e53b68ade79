"""The villages behind a cell of the rates table carry, per metric, the deciding inspection and the
moment it was observed (ISO 8601 UTC), from either village source: the inspections themselves and
the monthly snapshot."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division
from app.services.village_status import build_snapshot_month
from tests.factories import create_inspection

CN = timezone(timedelta(hours=8))


def rural_villages(app, township, n):
    with app.app_context():
        return db.session.scalars(select(Division.code).where(
            Division.level == "village", Division.parent_code == township, Division.kind == "rural")
            .order_by(Division.code).limit(n)).all()


def get_rates(client, user, **params):
    return client.get("/api/v1/rates", query_string=params, headers=user.headers)


@pytest.mark.parametrize("snapshot", [False, True], ids=["inspections", "snapshot"])
def test_each_village_status_names_its_deciding_inspection_and_when_it_was_observed(client, bureau, database, snapshot):
    app = database
    a, b, c = rural_villages(app, "230382100", 3)
    # a's clean answer comes from the later of two inspections; 23:30 China time is the previous UTC day
    create_inspection(app, village=a, status="approved", village_clean=False,
                      observed_at=datetime(2026, 8, 2, 9, 0, tzinfo=CN).astimezone(timezone.utc))
    later = create_inspection(app, village=a, status="approved", village_clean=True, garbage_stable=False,
                              observed_at=datetime(2026, 9, 14, 23, 30, tzinfo=CN).astimezone(timezone.utc))
    other = create_inspection(app, village=b, status="approved", village_clean=False,
                              observed_at=datetime(2026, 7, 1, 8, 15, tzinfo=CN).astimezone(timezone.utc))
    if snapshot:
        with app.app_context():
            for month in (202607, 202608, 202609):
                build_snapshot_month(month)
            db.session.commit()
    answer = get_rates(client, bureau, division="230382100", period="2026-09", level="village").json
    rows = {r["code"]: r for r in answer["rows"]}
    assert answer["definition"]["source"]["read_from"] == ("snapshot" if snapshot else "inspections")

    clean = rows[a]["metrics"]["village_clean"]
    assert (clean["status"], clean["inspection_id"]) == ("met", later.id)
    assert datetime.fromisoformat(clean["observed_at"]) == datetime(2026, 9, 14, 15, 30, tzinfo=timezone.utc)
    assert clean["observed_at"].endswith("+00:00")  # as the inspection's own observed_at
    garbage = rows[a]["metrics"]["garbage_stable"]
    assert (garbage["status"], garbage["inspection_id"]) == ("not_met", later.id)
    assert garbage["observed_at"] == clean["observed_at"]
    assert rows[b]["metrics"]["village_clean"]["observed_at"] == "2026-07-01T00:15:00+00:00"
    assert rows[b]["metrics"]["village_clean"]["inspection_id"] == other.id
    unknown = rows[c]["metrics"]["village_clean"]
    assert (unknown["status"], unknown["inspection_id"], unknown["observed_at"]) == ("unknown", None, None)

    cell = get_rates(client, bureau, division="230382100", period="2026-09", level="village",
                     metric="village_clean", status="not_met").json["rows"]
    assert [(r["code"], r["metrics"]["village_clean"]["observed_at"]) for r in cell] == [(b, "2026-07-01T00:15:00+00:00")]


def test_a_village_itself_answers_with_its_one_row(client, bureau, database):
    """The map opens one village's evidence with division=<village code>."""
    app = database
    (a,) = rural_villages(app, "230382100", 1)
    inspection = create_inspection(app, village=a, status="approved", sewage_treated=True,
                                   observed_at=datetime(2026, 9, 1, 10, 0, tzinfo=CN).astimezone(timezone.utc))
    answer = get_rates(client, bureau, division=a, period="2026-09").json
    assert answer["level"] == "village" and [r["code"] for r in answer["rows"]] == [a]
    sewage = answer["rows"][0]["metrics"]["sewage_treated"]
    assert (sewage["status"], sewage["inspection_id"], sewage["observed_at"]) == ("met", inspection.id,
                                                                                  "2026-09-01T02:00:00+00:00")

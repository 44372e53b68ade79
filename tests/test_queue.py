"""The review queue: scope, ordering, filters, counts, item content and a bounded statement count."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.factories import create_inspection, refused

T0 = datetime(2026, 9, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 China time


def queue(client, user, **params):
    response = client.get("/api/v1/review-queue", query_string=params, headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page):
    return [item["id"] for item in page["items"]]


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_only_submitted_inspections_in_scope_are_queued(app, client, reviewer, bureau, make_user):
    mine = [create_inspection(app, submitted_at=at(i)) for i in range(2)]
    for status in ("approved", "rejected", "returned"):
        create_inspection(app, status=status)
    other = create_inspection(app, village="230382101200", submitted_at=at(5))
    outsider = make_user("reviewer", "230382101")
    assert ids(queue(client, reviewer)) == [m.id for m in mine]
    assert ids(queue(client, outsider)) == [other.id]
    assert ids(queue(client, bureau)) == [mine[0].id, mine[1].id, other.id]


def test_inspectors_may_not_see_the_queue(client, inspector):
    response = client.get("/api/v1/review-queue", headers=inspector.headers)
    refused(response, 403)


def test_default_order_is_oldest_waiting_first(app, client, reviewer):
    late, early, middle = (create_inspection(app, submitted_at=at(m)) for m in (30, 10, 20))
    assert ids(queue(client, reviewer)) == [early.id, middle.id, late.id]


def test_flagged_order_puts_most_flags_first_then_oldest(app, client, reviewer):
    plain = create_inspection(app, submitted_at=at(1))
    one_late = create_inspection(app, submitted_at=at(9), flags=[("low_accuracy", {"accuracy_m": 250})])
    one_early = create_inspection(app, submitted_at=at(5), flags=[("no_exif", {"photo_id": "x"})])
    two = create_inspection(app, submitted_at=at(20), flags=[("low_accuracy", {"accuracy_m": 300}),
                                                             ("outside_village", {"distance_m": 5230})])
    assert ids(queue(client, reviewer, order="flagged")) == [two.id, one_early.id, one_late.id, plain.id]


def test_village_order_groups_by_village_code(app, client, reviewer):
    b = create_inspection(app, village="230382100201", submitted_at=at(1))
    a_late = create_inspection(app, village="230382100200", submitted_at=at(3))
    a_early = create_inspection(app, village="230382100200", submitted_at=at(2))
    assert ids(queue(client, reviewer, order="village")) == [a_early.id, a_late.id, b.id]


def test_inspector_order_sorts_by_username(app, client, reviewer, make_user):
    zed, amy = make_user("inspector", username="zed"), make_user("inspector", username="amy")
    by_zed = create_inspection(app, inspector_id=zed.id, submitted_at=at(1))
    nobody = create_inspection(app, inspector_id=None, submitted_at=at(0))
    by_amy = create_inspection(app, inspector_id=amy.id, submitted_at=at(2))
    page = queue(client, reviewer, order="inspector")
    assert ids(page) == [by_amy.id, by_zed.id, nobody.id]
    assert page["items"][0]["inspector"]["username"] == "amy"
    assert page["items"][2]["inspector"] is None


def test_filters_by_township_village_flag_and_observed_day(app, client, bureau):
    town_a = create_inspection(app, village="230382100200", observed_at=T0, submitted_at=at(1),
                               flags=[("photo_stale", {"days": 9})])
    town_a2 = create_inspection(app, village="230382100201", observed_at=T0 - timedelta(days=2), submitted_at=at(2))
    town_b = create_inspection(app, village="230382101200", observed_at=T0 + timedelta(days=1), submitted_at=at(3))
    assert ids(queue(client, bureau, township="230382100")) == [town_a.id, town_a2.id]
    assert ids(queue(client, bureau, village="230382101200")) == [town_b.id]
    assert ids(queue(client, bureau, flag="photo_stale")) == [town_a.id]
    assert ids(queue(client, bureau, flag="no_exif")) == []
    # days are China days, both ends inclusive: T0 is 2026-09-01 10:00 in China
    assert ids(queue(client, bureau, **{"from": "2026-09-01"})) == [town_a.id, town_b.id]
    assert ids(queue(client, bureau, **{"to": "2026-09-01"})) == [town_a.id, town_a2.id]
    assert ids(queue(client, bureau, **{"from": "2026-09-01", "to": "2026-09-01"})) == [town_a.id]


@pytest.mark.parametrize("params", [{"order": "random"}, {"township": "abc"}, {"from": "yesterday"},
                                    {"per_page": 0}, {"per_page": 201}])
def test_bad_queue_arguments_are_validation_errors(client, reviewer, params):
    response = client.get("/api/v1/review-queue", query_string=params, headers=reviewer.headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"


def test_counts_report_waiting_flagged_and_oldest_age(app, client, reviewer):
    oldest = datetime.now(timezone.utc) - timedelta(hours=5)
    create_inspection(app, submitted_at=oldest)
    create_inspection(app, submitted_at=oldest + timedelta(hours=1), flags=[("no_exif", {})])
    create_inspection(app, submitted_at=oldest + timedelta(hours=2), flags=[("no_exif", {}), ("low_accuracy", {})])
    create_inspection(app, status="approved")
    before = datetime.now(timezone.utc)
    page = queue(client, reviewer, per_page=1)
    after = datetime.now(timezone.utc)
    counts = page["counts"]
    assert counts["waiting"] == 3 and counts["flagged"] == 2
    assert int((before - oldest).total_seconds()) <= counts["oldest_waiting_seconds"] <= \
        int((after - oldest).total_seconds()) + 1
    assert page["total"] == 3 and page["pages"] == 3 and len(page["items"]) == 1


def test_an_empty_queue_has_zero_counts(client, reviewer):
    page = queue(client, reviewer)
    assert page["items"] == [] and page["total"] == 0
    assert page["counts"] == {"waiting": 0, "flagged": 0, "oldest_waiting_seconds": None}


def test_pages_are_stable_slices(app, client, reviewer):
    made = [create_inspection(app, submitted_at=at(i)) for i in range(5)]
    pages = [ids(queue(client, reviewer, per_page=2, page=p)) for p in (1, 2, 3, 4)]
    assert pages == [[made[0].id, made[1].id], [made[2].id, made[3].id], [made[4].id], []]


def test_an_item_carries_thumbnails_flags_and_the_previous_approval(app, client, reviewer, inspector):
    village = "230382100200"
    create_inspection(app, village=village, status="approved", observed_at=T0 - timedelta(days=60),
                      garbage_stable=False)
    previous = create_inspection(app, village=village, status="approved", observed_at=T0 - timedelta(days=30),
                                 garbage_stable=True, village_clean=False)
    create_inspection(app, village=village, status="rejected", observed_at=T0 - timedelta(days=10))
    create_inspection(app, village=village, status="approved", observed_at=T0 + timedelta(days=3))  # later
    create_inspection(app, village="230382100201", status="approved", observed_at=T0 - timedelta(days=1))
    made = create_inspection(app, village=village, inspector_id=inspector.id, observed_at=T0, garbage_stable=True,
                             village_clean=True, photos=["garbage", "cleanliness"],
                             flags=[("outside_village", {"distance_m": 5230, "limit_m": 3000})])
    first_time = create_inspection(app, village="230382100202", observed_at=T0)
    page = queue(client, reviewer)
    item = next(i for i in page["items"] if i["id"] == made.id)
    assert item["village"] == {"code": village, "name": "长青村委会"}
    assert item["township"] == {"code": "230382100", "name": "密山镇"}
    assert item["inspector"]["id"] == inspector.id
    assert item["version"] == 1 and item["status"] == "submitted"
    assert datetime.fromisoformat(item["observed_at"]) == T0
    assert item["metrics"] == {"garbage_stable": True, "sewage_treated": None, "village_clean": True,
                               "tap_water": None}
    assert item["flags"] == [{"code": "outside_village", "facts": {"distance_m": 5230, "limit_m": 3000}}]
    assert item["flag_count"] == 1
    assert item["photos"] == [{"id": pid, "aspect": aspect, "thumb_url": f"/api/v1/photos/{pid}/thumb",
                               "exif_lat": None, "exif_lon": None, "taken_at": None}  # a photo without EXIF
                              for pid, aspect in sorted(zip(made.photo_ids, ["garbage", "cleanliness"]),
                                                        key=lambda p: p[1])]
    assert item["previous_approved"]["id"] == previous.id
    assert datetime.fromisoformat(item["previous_approved"]["observed_at"]) == previous.observed_at
    assert item["previous_approved"]["metrics"] == {"garbage_stable": True, "sewage_treated": None,
                                                    "village_clean": False, "tap_water": None}
    other = next(i for i in page["items"] if i["id"] == first_time.id)
    assert other["previous_approved"] is None and other["photos"] == [] and other["flags"] == []


def _statements_for(app, client, user, **params):
    with app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = queue(client, user, **params)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return page, seen


def test_a_page_costs_the_same_few_statements_whatever_its_size(app, client, reviewer):
    villages = ["230382100200", "230382100201", "230382100202"]
    for v in villages:
        create_inspection(app, village=v, status="approved", observed_at=T0 - timedelta(days=5))
    for i in range(50):
        create_inspection(app, village=villages[i % 3], observed_at=T0, submitted_at=at(i),
                          photos=["garbage", "sewage"], flags=[("no_exif", {"n": i})])
    small, small_sql = _statements_for(app, client, reviewer, per_page=5)
    large, large_sql = _statements_for(app, client, reviewer, per_page=50)
    assert len(small["items"]) == 5 and len(large["items"]) == 50
    assert all(len(i["photos"]) == 2 and len(i["flags"]) == 1 and i["previous_approved"] for i in large["items"])
    assert len(large_sql) == len(small_sql)
    assert len(large_sql) <= 8, large_sql


@pytest.mark.parametrize("order", ["flagged", "inspector", "oldest"])
def test_a_page_picks_its_ids_from_inspections_before_joining_villages(app, client, reviewer, order):
    for i in range(3):
        create_inspection(app, submitted_at=at(i), flags=[("no_exif", {"n": i})] if i else None)
    page, seen = _statements_for(app, client, reviewer, order=order, per_page=2, page=2)
    assert len(page["items"]) == 1
    [statement] = [s for s in seen if "page_ids" in s]
    inner = statement[statement.index("(", statement.index("FROM")) + 1:statement.rindex(") AS page_ids")]
    assert "LIMIT" in inner and "OFFSET" in inner
    assert "divisions" not in inner.split("WHERE")[0]  # the ids come from inspections (no village join)
    assert ("users" in inner.split("WHERE")[0]) == (order == "inspector")
    assert "LIMIT" not in statement[statement.rindex(") AS page_ids"):]  # the outer joins read the page only

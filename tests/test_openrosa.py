"""ODK Collect submissions, driven the way Collect sends them (tests/openrosa_collect.py): HEAD then
POST, the XML first, one part per file named by its file name, instance XML filled from the form
the server serves. Each test runs on SQLite+SpatiaLite and on PostgreSQL+PostGIS."""
import threading

import pytest

from app.domain import full_answers
from tests.factories import sql
from tests.openrosa_collect import (
    REAL_PHOTOS,
    download_form,
    fill_instance,
    key_path,
    make_device_key,
    message,
    new_instance_id,
    photo_bytes,
    send,
    village_point,
)

VILLAGE = "230382100200"  # in the inspector's township 230382100
FOREIGN_VILLAGE = "230381100201"  # another county's village
A, B, C = "1756689153001.jpg", "1756689158002.jpg", "1756689170003.jpg"


@pytest.fixture
def collect(client, inspector):
    """A phone set up with the inspector's key: (base path, the form's bytes)."""
    base = key_path(make_device_key(client, inspector)["server_url"])
    _, form = download_form(client, base)
    return base, form


def _xml(app, form, photos=None, **kw):
    village = kw.pop("village", VILLAGE)
    lat, lon = village_point(app, village)
    defaults = {"village": village, "location": (lat, lon, 180.0, 6.5), "answers": full_answers(),
                "photos": photos if photos is not None else {"garbage": [A], "sewage": [B], "cleanliness": [C]}}
    return fill_instance(form, **{**defaults, **kw})


def _three():
    return [(A, photo_bytes(REAL_PHOTOS[0])), (B, photo_bytes(REAL_PHOTOS[1])), (C, photo_bytes(REAL_PHOTOS[2]))]


def _inspections(app):
    return sql(app, "SELECT id, status, version, source, flag_count FROM inspections ORDER BY id")


def _flags(app, inspection_id):
    return {r[0] for r in sql(app, "SELECT code FROM inspection_flags WHERE inspection_id = :i", i=inspection_id)}


def _queue(client, reviewer):
    r = client.get("/api/v1/review-queue", headers=reviewer.headers)
    assert r.status_code == 200
    return r.get_json()["items"]


# --- the endpoint as Collect probes it ------------------------------------------------------------

def test_head_submission_answers_204_with_the_accepted_length(client, collect):
    base, _ = collect
    for method in (client.head, client.get):
        r = method(f"{base}/submission", headers={"X-OpenRosa-Version": "1.0"})
        assert r.status_code == 204
        assert r.headers["X-OpenRosa-Version"] == "1.0" and r.headers["Date"]
        assert int(r.headers["X-OpenRosa-Accept-Content-Length"]) == 10_000_000


def test_submission_with_three_photos_becomes_an_openrosa_inspection(client, collect, reviewer):
    base, form = collect
    r = send(client, base, _xml(client.application, form, notes="东头垃圾点已清理"), _three())
    assert r.status_code == 201 and r.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert message(r).startswith("提交成功")
    (row,) = _inspections(client.application)
    assert row[1:4] == ("submitted", 1, "openrosa")
    (item,) = _queue(client, reviewer)
    assert item["id"] == row[0] and len(item["photos"]) == 3 and item["notes"] == "东头垃圾点已清理"
    assert item["metrics"] == {"garbage_stable": True, "sewage_treated": True, "village_clean": True, "tap_water": True}
    detail = client.get(f"/api/v1/inspections/{row[0]}", headers=reviewer.headers).get_json()
    assert detail["source"] == "openrosa" and detail["location"]["accuracy_m"] == 6.5
    assert detail["answers"]["sewage"] == {"mode": "village_plant", "households_covered": 120}


def test_the_instance_id_is_the_client_uuid_and_kept_as_sent(client, collect):
    base, form = collect
    instance_id = new_instance_id()
    assert send(client, base, _xml(client.application, form, instance_id=instance_id), _three()).status_code == 201
    ((client_uuid,),) = sql(client.application, "SELECT client_uuid FROM inspections")
    ((kept,),) = sql(client.application, "SELECT instance_id FROM openrosa_submissions")
    assert str(client_uuid).replace("-", "") == instance_id.removeprefix("uuid:").replace("-", "")
    assert kept == instance_id


def test_utf8_file_names_garbage_date_and_an_unknown_part(client, collect):
    base, form = collect
    names = {"garbage": ["垃圾点 东头.jpg"], "sewage": ["污水站.jpg"], "cleanliness": ["村容 1.jpg"]}
    files = [("垃圾点 东头.jpg", photo_bytes(REAL_PHOTOS[0])), ("污水站.jpg", photo_bytes(REAL_PHOTOS[1])),
             ("村容 1.jpg", photo_bytes(REAL_PHOTOS[2])),
             ("1756600000000.jpg", photo_bytes("gps_apple_iphone4.jpg"))]  # left in the folder, not named
    r = send(client, base, _xml(client.application, form, photos=names), files)
    assert r.status_code == 201, message(r)
    assert sql(client.application, "SELECT count(*) FROM photos")[0][0] == 3
    assert sql(client.application, "SELECT count(*) FROM inspection_photos")[0][0] == 3
    assert "photos_missing" not in _flags(client.application, _inspections(client.application)[0][0])


def test_the_same_photo_named_twice_is_stored_once(client, collect):
    base, form = collect
    photos = {"garbage": [A], "sewage": [B], "cleanliness": [A]}
    r = send(client, base, _xml(client.application, form, photos=photos), _three()[:2])
    assert r.status_code == 201
    assert sql(client.application, "SELECT count(*) FROM photos")[0][0] == 2
    links = sql(client.application, "SELECT aspect, photo_id FROM inspection_photos ORDER BY aspect")
    assert [a for a, _ in links] == ["cleanliness", "garbage", "sewage"]
    assert links[0][1] == links[1][1]


# --- split uploads --------------------------------------------------------------------------------

def test_split_upload_waits_outside_the_queue_until_every_photo_arrived(client, collect, reviewer):
    base, form = collect
    xml = _xml(client.application, form)
    first = send(client, base, xml, _three()[:2], incomplete=True)
    assert first.status_code == 201 and "照片 2/3 已到" in message(first)
    assert _inspections(client.application) == [] and _queue(client, reviewer) == []
    waiting = client.get("/api/v1/openrosa/waiting", headers=reviewer.headers).get_json()["items"]
    assert [(w["text_zh"], w["missing"], w["village"]["code"]) for w in waiting] == [("照片 2/3 已到", [C], VILLAGE)]

    last = send(client, base, xml, _three()[2:])
    assert last.status_code == 201 and message(last).startswith("提交成功")
    (item,) = _queue(client, reviewer)
    assert len(item["photos"]) == 3 and "photos_missing" not in {f["code"] for f in item["flags"]}
    assert client.get("/api/v1/openrosa/waiting", headers=reviewer.headers).get_json()["items"] == []
    assert sql(client.application, "SELECT posts, complete FROM openrosa_submissions") == [(2, True)]


def test_split_upload_in_review_mode_is_queued_at_once_with_photos_missing(client, collect, reviewer, monkeypatch):
    monkeypatch.setitem(client.application.config, "OPENROSA_MISSING_PHOTOS", "review")
    base, form = collect
    xml = _xml(client.application, form)
    assert send(client, base, xml, _three()[:2], incomplete=True).status_code == 201
    (item,) = _queue(client, reviewer)
    flag = next(f for f in item["flags"] if f["code"] == "photos_missing")
    assert flag["facts"]["text_zh"] == "照片 2/3 已到" and flag["facts"]["missing"] == [C]
    assert len(item["photos"]) == 2

    r = send(client, base, xml, _three()[2:])
    assert r.status_code == 201 and "照片已补充" in message(r)
    (item,) = _queue(client, reviewer)
    assert len(item["photos"]) == 3 and "photos_missing" not in {f["code"] for f in item["flags"]}
    assert item["version"] == 1 and item["flag_count"] == len(item["flags"])
    actions = [a for (a,) in sql(client.application, "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["inspection.submitted", "inspection.photos_added"]


# --- duplicates and edits --------------------------------------------------------------------------

def test_an_exact_resubmit_is_201_and_no_second_inspection(client, collect):
    base, form = collect
    xml = _xml(client.application, form)
    assert send(client, base, xml, _three()).status_code == 201
    again = send(client, base, xml, _three())
    assert again.status_code == 201 and "已收到" in message(again)
    assert len(_inspections(client.application)) == 1


def test_a_changed_resubmit_is_409_and_changes_nothing(client, collect):
    base, form = collect
    instance_id = new_instance_id()
    assert send(client, base, _xml(client.application, form, instance_id=instance_id), _three()).status_code == 201
    before = _inspections(client.application)
    changed = _xml(client.application, form, instance_id=instance_id, notes="改过了")
    r = send(client, base, changed, _three())
    assert r.status_code == 409 and "内容不同" in message(r)
    assert _inspections(client.application) == before
    assert sql(client.application, "SELECT notes FROM inspections") == [(None,)]


def test_an_edit_of_a_returned_inspection_is_its_resubmission(client, collect, reviewer):
    base, form = collect
    first_id = new_instance_id()
    assert send(client, base, _xml(client.application, form, instance_id=first_id), _three()).status_code == 201
    ((inspection_id, *_),) = _inspections(client.application)
    r = client.post(f"/api/v1/inspections/{inspection_id}/review", headers=reviewer.headers,
                    json={"decision": "return", "comment": "污水照片不清楚，请重拍", "version": 1})
    assert r.status_code == 200

    answers = full_answers()
    answers["sewage"] = {"mode": "small_facility", "households_covered": 80}
    edit = _xml(client.application, form, answers=answers, instance_id=new_instance_id(), deprecated_id=first_id,
                photos={"garbage": [A], "sewage": ["1756690000004.jpg"], "cleanliness": [C]})
    # unchanged photos are not sent again: carried forward by file name
    r = send(client, base, edit, [("1756690000004.jpg", photo_bytes("gps_nikon_coolpix_p6000_dscn0010.jpg"))])
    assert r.status_code == 201 and "第 2 版" in message(r)
    assert _inspections(client.application) == [(inspection_id, "submitted", 2, "openrosa", _inspections(client.application)[0][4])]
    detail = client.get(f"/api/v1/inspections/{inspection_id}", headers=reviewer.headers).get_json()
    assert detail["answers"]["sewage"]["mode"] == "small_facility"
    assert {a: len(ids) for a, ids in detail["photos"].items()} == {"garbage": 1, "sewage": 1, "cleanliness": 1}
    history = client.get(f"/api/v1/inspections/{inspection_id}/history", headers=reviewer.headers)
    assert history.status_code == 200


def test_an_edit_of_an_inspection_that_is_not_returned_is_409_saying_why(client, collect):
    base, form = collect
    first_id = new_instance_id()
    assert send(client, base, _xml(client.application, form, instance_id=first_id), _three()).status_code == 201
    edit = _xml(client.application, form, instance_id=new_instance_id(), deprecated_id=first_id, notes="再改")
    r = send(client, base, edit, _three())
    assert r.status_code == 409 and "待审核" in message(r) and "退回" in message(r)
    assert [row[2] for row in _inspections(client.application)] == [1]
    assert sql(client.application, "SELECT count(*) FROM openrosa_submissions")[0][0] == 1


def test_an_edit_of_an_unknown_instance_is_404(client, collect):
    base, form = collect
    r = send(client, base, _xml(client.application, form, deprecated_id=new_instance_id()), _three())
    assert r.status_code == 404 and "deprecatedID" in message(r)
    assert _inspections(client.application) == []


def test_concurrent_identical_posts_make_one_inspection(client, collect, engine_name):
    if engine_name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); the race is PostgreSQL's")
    base, form = collect
    app = client.application
    xml, files = _xml(app, form), _three()
    workers = 4
    barrier = threading.Barrier(workers)
    results = [None] * workers

    def post(n):
        with app.test_client() as own:
            barrier.wait()
            results[n] = send(own, base, xml, files, head=False).status_code

    threads = [threading.Thread(target=post, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * workers
    assert len(_inspections(app)) == 1
    assert sql(app, "SELECT count(*), max(posts) FROM openrosa_submissions") == [(1, workers)]
    assert sql(app, "SELECT count(*) FROM inspection_photos")[0][0] == 3


# --- flags, not refusals ----------------------------------------------------------------------------

def test_a_village_outside_the_scope_is_stored_and_flagged_for_its_township(client, collect, make_user):
    base, form = collect
    r = send(client, base, _xml(client.application, form, village=FOREIGN_VILLAGE), _three())
    assert r.status_code == 201
    ((inspection_id, *_),) = _inspections(client.application)
    assert "village_out_of_scope" in _flags(client.application, inspection_id)
    theirs = make_user("reviewer", FOREIGN_VILLAGE[:9])
    assert [i["id"] for i in _queue(client, theirs)] == [inspection_id]


def test_an_impossible_count_leaves_its_aspect_out_and_is_flagged(client, collect):
    base, form = collect
    answers = full_answers()
    answers["tap_water"] = {"households": 100, "households_with_tap": 130}
    assert send(client, base, _xml(client.application, form, answers=answers), _three()).status_code == 201
    ((inspection_id, *_),) = _inspections(client.application)
    ((tap_water, households),) = sql(client.application, "SELECT tap_water, tap_households FROM inspections")
    assert tap_water is None and households is None
    ((facts,),) = sql(client.application, "SELECT facts FROM inspection_flags WHERE code = 'impossible_answer'")
    facts = facts if isinstance(facts, dict) else __import__("json").loads(facts)
    assert facts["aspects"]["tap_water"]["values"] == {"households": 100, "households_with_tap": 130}


def test_an_unreadable_photo_is_reported_not_refused(client, collect):
    base, form = collect
    files = [(A, photo_bytes(REAL_PHOTOS[0])), (B, b"not a photo at all"), (C, photo_bytes(REAL_PHOTOS[2]))]
    assert send(client, base, _xml(client.application, form), files).status_code == 201
    ((facts,),) = sql(client.application, "SELECT facts FROM inspection_flags WHERE code = 'photos_missing'")
    facts = facts if isinstance(facts, dict) else __import__("json").loads(facts)
    assert facts["unreadable"] == [{"file": B, "reason": "unsupported_media_type"}] and facts["missing"] == []


def test_a_form_without_a_geopoint_is_stored_with_no_location(client, collect):
    base, form = collect
    assert send(client, base, _xml(client.application, form, location=None), _three()).status_code == 201
    ((inspection_id, *_),) = _inspections(client.application)
    assert "no_location" in _flags(client.application, inspection_id)


def test_a_finish_time_ahead_of_the_server_is_stored_as_received_and_flagged(client, collect):
    from datetime import datetime, timedelta, timezone

    base, form = collect
    ahead = datetime.now(timezone.utc) + timedelta(hours=12)  # Collect's 12-hour clock without AM/PM
    assert send(client, base, _xml(client.application, form, end=ahead), _three()).status_code == 201
    ((inspection_id, *_),) = _inspections(client.application)
    assert "clock_skew" in _flags(client.application, inspection_id)
    ((observed_at,),) = sql(client.application, "SELECT observed_at FROM inspections")
    observed_at = observed_at if isinstance(observed_at, datetime) else datetime.fromisoformat(str(observed_at))
    observed_at = observed_at if observed_at.tzinfo else observed_at.replace(tzinfo=timezone.utc)
    assert abs((observed_at - datetime.now(timezone.utc)).total_seconds()) < 120


@pytest.mark.parametrize("mutate, status, words", [
    (lambda x: x.replace(b'id="rural_inspection"', b'id="other_form"'), 400, "未知表单"),
    (lambda x: x.replace(b"<instanceID>", b"<instanceIDx>").replace(b"</instanceID>", b"</instanceIDx>"), 400, "instanceID"),
    (lambda x: x.replace(b"<village>230382100200</village>", b"<village>230382100999</village>"), 422, "不存在"),
    (lambda x: x[: len(x) // 2], 400, "无法读取"),
    (lambda x: x.replace(b"<data ", b'<data encrypted="yes" '), 400, "加密"),
])
def test_what_cannot_be_stored_is_refused_with_a_readable_message(client, collect, mutate, status, words):
    base, form = collect
    r = send(client, base, mutate(_xml(client.application, form)), _three())
    assert r.status_code == status and words in message(r)
    assert r.headers["X-OpenRosa-Version"] == "1.0"
    assert _inspections(client.application) == []
    assert sql(client.application, "SELECT count(*) FROM openrosa_submissions")[0][0] == 0

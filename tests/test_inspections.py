"""Inspection submission: contract, idempotency (incl. concurrent retries), validation, scope,
listing, detail and resubmission after a return."""
import io
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import geo
from app.extensions import db
from app.models import (
    AuditEntry,
    Inspection,
    InspectionPhoto,
    InspectionVersion,
    Review,
)
from tests.factories import (
    CHINA,
    FOREIGN_VILLAGE,
    OTHER_VILLAGE,
    VILLAGE,
    china_exif_time,
    count,
    field_photo,
    full_answers,
    on_site_photos,
    refused,
    set_status,
    submission,
    submit,
    village_point,
)
from tests.photos import jpeg_bytes, make_exif


@pytest.fixture
def on_site(client, inspector):
    """A complete submission body for the inspector at VILLAGE with on-site photos."""
    return submission(client.application, on_site_photos(client, inspector))


# --- create ---------------------------------------------------------------------------------

def test_create_answers_with_the_contract_names(client, inspector, on_site):
    r = submit(client, inspector, on_site)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["client_uuid"] == on_site["client_uuid"] and body["status"] == "submitted" and body["version"] == 1
    assert body["village"]["code"] == VILLAGE and body["village"]["name"] == "长青村委会"
    assert body["metrics"] == {"garbage_stable": True, "sewage_treated": True, "village_clean": True, "tap_water": None}
    assert body["photos"] == on_site["photos"] and body["flags"] == [] and body["flag_count"] == 0
    assert body["location"]["lat"] == pytest.approx(on_site["location"]["lat"]) and body["location"]["accuracy_m"] == 8
    assert body["answers"] == on_site["answers"] and body["notes"] == "all fine"
    assert body["photo_urls"]["garbage"][0]["thumb"] == f"/api/v1/photos/{on_site['photos']['garbage'][0]}/thumb"


def test_the_create_answer_is_the_inspection_as_read_back(client, inspector, on_site):
    on_site["device_observed_at"] = on_site["observed_at"]
    r = submit(client, inspector, on_site)
    assert r.status_code == 201, r.get_json()
    read = client.get(f"/api/v1/inspections/{r.get_json()['id']}", headers=inspector.headers)
    assert r.get_json() == read.get_json()


def test_create_records_a_version_and_an_audit_entry(client, inspector, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    with client.application.app_context():
        version = db.session.scalar(select(InspectionVersion).where(InspectionVersion.inspection_id == inspection_id))
        assert version.version == 1 and version.photos == on_site["photos"]
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.object_id == str(inspection_id)))
        assert (audit.action, audit.to_status, audit.actor_id, audit.division_code) == (
            "inspection.submitted", "submitted", inspector.id, VILLAGE)


def test_metrics_follow_the_checklist(client, inspector):
    answers = {
        "garbage": {**full_answers()["garbage"], "transfer_working": False},
        "sewage": {"mode": "none"},
        "cleanliness": full_answers()["cleanliness"],
        "tap_water": {"households": 100, "households_with_tap": 97},
    }
    body = submission(client.application, on_site_photos(client, inspector), answers=answers)
    r = submit(client, inspector, body)
    assert r.get_json()["metrics"] == {"garbage_stable": False, "sewage_treated": False, "village_clean": True,
                                       "tap_water": False}
    with client.application.app_context():
        row = db.session.get(Inspection, r.get_json()["id"])
        assert (row.tap_households, row.tap_households_with_tap, row.sewage_households_covered) == (100, 97, None)


def test_tap_water_needs_no_photo_and_counts_households(client, inspector):
    body = submission(client.application, on_site_photos(client, inspector, aspects=("garbage",)),
                      answers={"garbage": full_answers()["garbage"], "tap_water": full_answers()["tap_water"]})
    r = submit(client, inspector, body)
    assert r.status_code == 201 and r.get_json()["metrics"]["tap_water"] is True


def test_multipart_create_with_photo_parts(client, inspector):
    lat, lon = village_point(client.application)
    now = datetime.now(timezone.utc)
    body = submission(client.application, {}, answers={"garbage": full_answers()["garbage"]})
    photo = jpeg_bytes(300, exif=make_exif(china_exif_time(now), lat, lon))

    def send():
        return client.post("/api/v1/inspections", headers=inspector.headers, content_type="multipart/form-data",
                           data={"inspection": json.dumps(body), "photos.garbage": (io.BytesIO(photo), "g.jpg")})

    first, retry = send(), send()
    assert (first.status_code, retry.status_code) == (201, 200), first.get_json()
    assert first.get_json()["id"] == retry.get_json()["id"] and len(first.get_json()["photos"]["garbage"]) == 1
    assert count(client.application, Inspection) == 1


def test_multipart_without_the_json_part_is_422(client, inspector):
    r = client.post("/api/v1/inspections", headers=inspector.headers, content_type="multipart/form-data",
                    data={"photos.garbage": (io.BytesIO(jpeg_bytes(1)), "g.jpg")})
    assert r.status_code == 422 and "inspection" in r.get_json()["error"]["fields"]


# --- idempotency ----------------------------------------------------------------------------

def test_identical_retry_is_200_with_the_same_inspection(client, inspector, on_site):
    first = submit(client, inspector, on_site)
    retry = submit(client, inspector, on_site)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert count(client.application, Inspection) == 1


def test_retry_with_different_content_is_409_naming_the_stored_id(client, inspector, on_site):
    stored = submit(client, inspector, on_site).get_json()
    r = submit(client, inspector, {**on_site, "notes": "changed"})
    error = r.get_json()["error"]
    assert r.status_code == 409 and error["code"] == "duplicate_conflict" and error["details"]["id"] == stored["id"]
    assert count(client.application, Inspection) == 1


def test_client_uuid_of_another_user_is_409_without_the_id(client, inspector, make_user, on_site):
    submit(client, inspector, on_site)
    other = make_user("inspector", "230382100")
    body = {**on_site, "photos": on_site_photos(client, other, seed=400)}
    r = submit(client, other, body)
    assert r.status_code == 409 and "id" not in r.get_json()["error"]["details"]


def test_concurrent_identical_retries_create_one_row(client, inspector, on_site):
    app = client.application
    workers = 4
    barrier = threading.Barrier(workers)
    results = [None] * workers

    def send(n):
        with app.test_client() as own:
            barrier.wait()
            r = own.post("/api/v1/inspections", headers=inspector.headers, json=on_site)
            results[n] = (r.status_code, r.get_json().get("id"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    assert statuses == [200] * (workers - 1) + [201], results
    assert len({i for _, i in results}) == 1
    assert count(app, Inspection) == 1
    assert count(app, InspectionPhoto) == 3


# --- validation and scope -------------------------------------------------------------------

def test_village_of_another_township_is_404(client, inspector):
    body = submission(client.application, on_site_photos(client, inspector), village=FOREIGN_VILLAGE)
    r = submit(client, inspector, body)
    refused(r, 404, details={"village": FOREIGN_VILLAGE})  # only what was sent
    assert count(client.application, Inspection) == 0


def test_unknown_village_is_404(client, inspector, on_site):
    r = submit(client, inspector, {**on_site, "village": "230382100999"})
    refused(r, 404, details={"village": "230382100999"})  # as for a village out of scope
    assert count(client.application, Inspection) == 0


def test_coordinates_out_of_range_are_422(client, inspector, on_site):
    r = submit(client, inspector, {**on_site, "location": {"lat": 95, "lon": 200, "accuracy_m": 5}})
    fields = r.get_json()["error"]["fields"]
    assert r.status_code == 422 and {"location.lat", "location.lon"} <= set(fields)


def test_gcj02_location_is_stored_as_wgs84(client, inspector, on_site):
    lat, lon = village_point(client.application)
    glat, glon = geo.wgs84_to_gcj02(lat, lon)
    r = submit(client, inspector, {**on_site, "location": {"lat": glat, "lon": glon, "accuracy_m": 5, "crs": "gcj02"}})
    location = r.get_json()["location"]
    assert r.status_code == 201 and location["input"]["crs"] == "gcj02"
    assert geo.distance_m(location["lat"], location["lon"], lat, lon) < 0.5
    assert r.get_json()["flags"] == []  # converted back onto the village: no outside_village


def test_observed_at_in_the_future_is_422(client, inspector, on_site):
    future = (datetime.now(CHINA) + timedelta(hours=2)).isoformat()
    r = submit(client, inspector, {**on_site, "observed_at": future})
    assert r.status_code == 422 and "observed_at" in r.get_json()["error"]["fields"]


def test_small_clock_skew_is_accepted(client, inspector, on_site):
    ahead = (datetime.now(CHINA) + timedelta(minutes=3)).isoformat()
    assert submit(client, inspector, {**on_site, "observed_at": ahead}).status_code == 201


def test_observed_at_absurdly_old_is_422(client, inspector, on_site):
    old = (datetime.now(CHINA) - timedelta(days=800)).isoformat()
    assert submit(client, inspector, {**on_site, "observed_at": old}).status_code == 422


def test_answered_aspect_without_photo_is_422(client, inspector, on_site):
    photos = {k: v for k, v in on_site["photos"].items() if k != "sewage"}
    r = submit(client, inspector, {**on_site, "photos": photos})
    assert r.status_code == 422 and "photos.sewage" in r.get_json()["error"]["fields"]


def test_photo_per_aspect_can_be_switched_off(client, inspector, on_site, monkeypatch):
    monkeypatch.setitem(client.application.config, "REQUIRE_PHOTO_PER_ASPECT", False)
    assert submit(client, inspector, {**on_site, "photos": {}}).status_code == 201


def test_unknown_and_foreign_photo_ids_are_422(client, inspector, make_user, on_site):
    stranger = make_user("inspector", "230382100")
    foreign = field_photo(client, stranger, 500)
    photos = {**on_site["photos"], "garbage": ["0" * 32], "sewage": [foreign]}
    fields = submit(client, inspector, {**on_site, "photos": photos}).get_json()["error"]["fields"]
    assert {"photos.garbage.0", "photos.sewage.0"} <= set(fields)


def test_bad_answers_are_422_with_field_messages(client, inspector, on_site):
    answers = {"garbage": {"collection_points": "yes"}, "sewage": {"mode": "river"}, "tap_water": {
        "households": 10, "households_with_tap": 11}, "weather": {}}
    fields = submit(client, inspector, {**on_site, "answers": answers}).get_json()["error"]["fields"]
    assert {"answers.garbage.collection_points", "answers.garbage.transfer_working", "answers.sewage.mode",
            "answers.tap_water.households_with_tap", "answers.weather"} <= set(fields)


def test_no_answers_is_422(client, inspector, on_site):
    r = submit(client, inspector, {**on_site, "answers": {}, "photos": {}})
    assert r.status_code == 422 and "answers" in r.get_json()["error"]["fields"]


def test_reviewer_cannot_submit(client, reviewer, inspector, on_site):
    refused(submit(client, reviewer, on_site), 403)
    assert count(client.application, Inspection) == 0
    assert count(client.application, AuditEntry) == 0


# --- reading --------------------------------------------------------------------------------

def test_detail_has_photos_flags_and_latest_review(client, inspector, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    with client.application.app_context():
        db.session.add(Review(inspection_id=inspection_id, decision="return", comment="photo of the pond please",
                              version=1))
        db.session.commit()
    body = client.get(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers).get_json()
    assert body["latest_review"]["comment"] == "photo of the pond please"
    assert set(body["photo_urls"]) == {"garbage", "sewage", "cleanliness"}


def test_inspection_of_another_township_is_404_for_inspector_and_reviewer(client, inspector, make_user, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    for role in ("inspector", "reviewer"):
        outsider = make_user(role, "230382101")
        r = client.get(f"/api/v1/inspections/{inspection_id}", headers=outsider.headers)
        refused(r, 404)


def test_inspectors_see_only_their_own(client, inspector, reviewer, make_user, on_site):
    mine = submit(client, inspector, on_site).get_json()["id"]
    colleague = make_user("inspector", "230382100")
    theirs = submit(client, colleague, submission(client.application, on_site_photos(client, colleague, 600))).get_json()["id"]
    refused(client.get(f"/api/v1/inspections/{theirs}", headers=inspector.headers), 404)
    own_list = client.get("/api/v1/inspections", headers=inspector.headers).get_json()
    assert [i["id"] for i in own_list["items"]] == [mine]
    review_list = client.get("/api/v1/inspections", headers=reviewer.headers).get_json()
    assert sorted(i["id"] for i in review_list["items"]) == sorted([mine, theirs])


def test_photos_on_an_inspection_are_visible_in_scope_only(client, inspector, reviewer, make_user, on_site):
    submit(client, inspector, on_site)
    photo_id = on_site["photos"]["garbage"][0]
    assert client.get(f"/api/v1/photos/{photo_id}/thumb", headers=reviewer.headers).status_code == 200
    assert client.get(f"/api/v1/photos/{photo_id}/original", headers=reviewer.headers).status_code == 200
    outsider = make_user("reviewer", "230382101")
    refused(client.get(f"/api/v1/photos/{photo_id}/thumb", headers=outsider.headers), 404)


def test_list_filters_and_stable_pages(client, inspector, reviewer):
    app = client.application
    ids = []
    for n, village in enumerate((VILLAGE, OTHER_VILLAGE, VILLAGE)):
        observed = (datetime.now(CHINA) - timedelta(days=2 * n)).replace(microsecond=0)
        photos = on_site_photos(client, inspector, 700 + 10 * n, village=village, taken=observed)
        body = submission(app, photos, village=village,
                          observed_at=observed.isoformat())
        if n == 2:
            body["location"]["accuracy_m"] = 500
        ids.append(submit(client, inspector, body).get_json()["id"])
    set_status(app, ids[1], "returned")

    def listed(**query):
        r = client.get("/api/v1/inspections", headers=reviewer.headers, query_string=query)
        assert r.status_code == 200, r.get_json()
        return [i["id"] for i in r.get_json()["items"]]

    assert listed() == ids  # newest observation first
    assert listed(status="returned") == [ids[1]]
    assert listed(village=VILLAGE) == [ids[0], ids[2]]
    assert listed(flag="low_accuracy") == [ids[2]] and listed(flag="none") == ids[:2]
    day = (datetime.now(CHINA) - timedelta(days=2)).date().isoformat()
    assert listed(**{"from": day, "to": day}) == [ids[1]]
    pages = [listed(per_page=1, page=p) for p in (1, 2, 3)]
    assert pages == [[i] for i in ids]
    assert client.get("/api/v1/inspections", headers=reviewer.headers,
                      query_string={"status": "bogus"}).status_code == 422


def test_checklist_is_served(client, inspector):
    body = client.get("/api/v1/checklist", headers=inspector.headers).get_json()
    aspects = {a["aspect"]: a for a in body["aspects"]}
    assert set(aspects) == {"garbage", "sewage", "cleanliness", "tap_water"}
    assert aspects["sewage"]["met"]["rule"] == "one_of" and "none" not in aspects["sewage"]["met"]["values"]
    assert [i["key"] for i in aspects["garbage"]["items"]] == list(full_answers()["garbage"])


# --- resubmission after a return ------------------------------------------------------------

def resubmission(body, version, **changes):
    return {**{k: v for k, v in body.items() if k != "client_uuid"}, "version": version, **changes}


def test_returned_inspection_is_resubmitted_as_next_version(client, inspector, on_site):
    app = client.application
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    set_status(app, inspection_id, "returned")
    answers = {**on_site["answers"], "sewage": {"mode": "none"}}
    r = client.put(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers,
                   json=resubmission(on_site, 1, answers=answers, notes="fixed"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["version"], body["notes"]) == ("submitted", 2, "fixed")
    assert body["metrics"]["sewage_treated"] is False
    assert count(app, InspectionVersion, InspectionVersion.inspection_id == inspection_id) == 2
    assert count(app, AuditEntry, AuditEntry.action == "inspection.resubmitted") == 1


def test_an_identical_retry_of_a_resubmission_answers_200_without_a_new_version(client, inspector, on_site):
    app = client.application
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    set_status(app, inspection_id, "returned")
    url = f"/api/v1/inspections/{inspection_id}"
    body = resubmission(on_site, 1, notes="fixed")
    first = client.put(url, headers=inspector.headers, json=body)
    retry = client.put(url, headers=inspector.headers, json={**body, "client_uuid": on_site["client_uuid"]})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.get_json()["version"] == 2 and retry.get_json()["id"] == inspection_id
    assert count(app, InspectionVersion, InspectionVersion.inspection_id == inspection_id) == 2
    changed = client.put(url, headers=inspector.headers, json=resubmission(on_site, 1, notes="other"))
    assert changed.status_code == 409 and changed.get_json()["error"]["code"] == "version_conflict"


def test_resubmit_with_a_stale_version_is_409(client, inspector, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    set_status(client.application, inspection_id, "returned")
    url = f"/api/v1/inspections/{inspection_id}"
    assert client.put(url, headers=inspector.headers, json=resubmission(on_site, 1)).status_code == 200
    set_status(client.application, inspection_id, "returned")
    r = client.put(url, headers=inspector.headers, json=resubmission(on_site, 1))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "version_conflict"
    assert r.get_json()["error"]["details"]["current_version"] == 2


def test_resubmit_of_a_submitted_inspection_is_invalid_transition(client, inspector, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    r = client.put(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers, json=resubmission(on_site, 1))
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_transition"


def test_only_the_owner_may_resubmit(client, inspector, reviewer, make_user, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    set_status(client.application, inspection_id, "returned")
    url = f"/api/v1/inspections/{inspection_id}"
    colleague = make_user("inspector", "230382100")
    refused(client.put(url, headers=colleague.headers, json=resubmission(on_site, 1, notes="mine now")), 404)
    refused(client.put(url, headers=reviewer.headers, json=resubmission(on_site, 1, notes="mine now")), 403)
    unchanged = client.get(url, headers=inspector.headers).get_json()
    assert (unchanged["status"], unchanged["version"], unchanged["notes"]) == ("returned", 1, "all fine")
    assert count(client.application, InspectionVersion, InspectionVersion.inspection_id == inspection_id) == 1
    assert count(client.application, AuditEntry, AuditEntry.action == "inspection.resubmitted") == 0


def test_retry_of_the_original_create_after_a_resubmit_still_answers_200(client, inspector, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    set_status(client.application, inspection_id, "returned")
    client.put(f"/api/v1/inspections/{inspection_id}", headers=inspector.headers,
               json=resubmission(on_site, 1, notes="fixed"))
    r = submit(client, inspector, on_site)
    assert r.status_code == 200 and r.get_json()["version"] == 2


def test_a_colleague_inspector_cannot_see_or_reuse_my_photos(client, inspector, make_user):
    photos = on_site_photos(client, inspector)
    assert submit(client, inspector, submission(client.application, photos)).status_code == 201
    colleague = make_user("inspector", "230382100")  # same township, not the author
    photo_id = photos["garbage"][0]
    refused(client.get(f"/api/v1/photos/{photo_id}", headers=colleague.headers), 404)
    refused(client.get(f"/api/v1/photos/{photo_id}/thumb", headers=colleague.headers), 404)
    r = submit(client, colleague, submission(client.application, photos))
    assert r.status_code == 422 and "photos.garbage.0" in r.json["error"]["fields"]


def test_a_reviewer_sees_photos_of_inspections_in_scope(client, inspector, reviewer):
    photos = on_site_photos(client, inspector)
    assert submit(client, inspector, submission(client.application, photos)).status_code == 201
    assert client.get(f"/api/v1/photos/{photos['garbage'][0]}/thumb", headers=reviewer.headers).status_code == 200


def test_the_list_shows_a_returned_inspection_with_the_reviewers_comment(client, inspector, reviewer, on_site):
    inspection_id = submit(client, inspector, on_site).get_json()["id"]
    r = client.post(f"/api/v1/inspections/{inspection_id}/review", headers=reviewer.headers,
                    json={"decision": "return", "comment": "retake the pond photo", "version": 1})
    assert r.status_code == 200
    items = client.get("/api/v1/inspections?status=returned", headers=inspector.headers).get_json()["items"]
    assert [(i["id"], i["latest_review"]["comment"]) for i in items] == [(inspection_id, "retake the pond photo")]

"""Every flag of DESIGN §3, raised and not raised, stored with its facts."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, update

from app.extensions import db
from app.models import Division, Inspection, InspectionFlag, Photo, PhotoHashBand
from tests.factories import (
    CHINA,
    GARBAGE_ONLY,
    VILLAGE,
    china_exif_time,
    field_photo,
    flags_of,
    set_status,
    submission,
    submit,
    village_point,
)
from tests.photos import jpeg_bytes, make_exif, pattern_image, upload


def submit_garbage(client, user, photo_id, **overrides):
    body = submission(client.application, {"garbage": [photo_id]}, answers=GARBAGE_ONLY, **overrides)
    return submit(client, user, body)


def offset_north(lat, lon, metres):
    return lat + metres / 111_195.0, lon


# --- a clean submission raises nothing ------------------------------------------------------

def test_on_site_submission_with_inside_exif_raises_no_flag(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 1, lat, lon)  # EXIF GPS written at the village's point
    r = submit_garbage(client, inspector, photo)
    assert flags_of(r) == {} and r.get_json()["flag_count"] == 0


# --- outside_village ------------------------------------------------------------------------

def test_outside_village_boundary_is_flagged_with_distance(client, inspector):
    lat, lon = village_point(client.application)
    far_lat, far_lon = offset_north(lat, lon, 20_000)
    photo = field_photo(client, inspector, 2, far_lat, far_lon)
    facts = flags_of(submit_garbage(client, inspector, photo, lat=far_lat, lon=far_lon))["outside_village"]
    assert facts["has_boundary"] is True and facts["boundary_source"] == "synthetic"
    assert facts["distance_m"] == pytest.approx(20_000, rel=0.01)


def test_without_boundary_the_distance_to_the_point_decides(client, inspector, fresh_divisions):
    app = client.application
    with app.app_context():
        db.session.execute(update(Division).where(Division.code == VILLAGE).values(boundary_geom=None))
        db.session.commit()
    lat, lon = village_point(app)
    near = offset_north(lat, lon, 2_000)
    far = offset_north(lat, lon, 5_000)
    near_flags = flags_of(submit_garbage(client, inspector, field_photo(client, inspector, 3, *near),
                                         lat=near[0], lon=near[1]))
    far_flags = flags_of(submit_garbage(client, inspector, field_photo(client, inspector, 4, *far),
                                        lat=far[0], lon=far[1]))
    assert "outside_village" not in near_flags
    assert far_flags["outside_village"]["distance_m"] == pytest.approx(5_000, rel=0.01)
    assert far_flags["outside_village"]["threshold_m"] == 3000 and far_flags["outside_village"]["has_boundary"] is False


# --- exif_location_far ----------------------------------------------------------------------

def test_photo_gps_far_from_the_submitted_location_is_flagged(client, inspector):
    lat, lon = village_point(client.application)
    elsewhere = offset_north(lat, lon, 2_000)
    photo = field_photo(client, inspector, 5, *elsewhere)
    facts = flags_of(submit_garbage(client, inspector, photo))["exif_location_far"]
    assert facts["photos"][0]["photo_id"] == photo and facts["distance_m"] == pytest.approx(2_000, rel=0.01)
    assert facts["threshold_m"] == 500


def test_photo_gps_near_the_location_is_not_flagged(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 6, *offset_north(lat, lon, 300))
    assert "exif_location_far" not in flags_of(submit_garbage(client, inspector, photo))


# --- photo_stale ----------------------------------------------------------------------------

def test_photo_taken_long_before_the_visit_is_stale(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 7, lat, lon, taken=datetime.now(timezone.utc) - timedelta(days=10))
    facts = flags_of(submit_garbage(client, inspector, photo))["photo_stale"]
    assert facts["photos"][0]["days_before"] == pytest.approx(10, abs=0.1)


def test_photo_taken_after_the_visit_is_stale(client, inspector):
    lat, lon = village_point(client.application)
    observed = (datetime.now(CHINA) - timedelta(hours=3)).replace(microsecond=0)
    photo = field_photo(client, inspector, 8, lat, lon, taken=observed + timedelta(hours=2))
    facts = flags_of(submit_garbage(client, inspector, photo, observed_at=observed.isoformat()))["photo_stale"]
    assert facts["photos"][0]["minutes_after"] == 120


def test_exif_time_is_read_as_china_time(client, inspector):
    """A phone clock shows China time: 30 minutes after the visit in China time is within the hour;
    read as UTC it would be 8.5 hours after and flagged."""
    lat, lon = village_point(client.application)
    observed = (datetime.now(CHINA) - timedelta(hours=2)).replace(microsecond=0)
    photo = field_photo(client, inspector, 9, lat, lon, taken=observed + timedelta(minutes=30))
    assert "photo_stale" not in flags_of(submit_garbage(client, inspector, photo, observed_at=observed.isoformat()))


# --- photo_reused ---------------------------------------------------------------------------

def test_same_photo_on_another_inspection_is_reused(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 10, lat, lon)
    first = submit_garbage(client, inspector, photo).get_json()["id"]
    assert "photo_reused" not in {f["code"] for f in
                                 client.get(f"/api/v1/inspections/{first}", headers=inspector.headers).get_json()["flags"]}
    facts = flags_of(submit_garbage(client, inspector, photo))["photo_reused"]
    assert facts["other_inspection_ids"] == [first]
    assert facts["photos"][0]["match"] == "sha256"


def test_near_identical_photo_is_reused_by_perceptual_hash(client, inspector):
    lat, lon = village_point(client.application)
    now = china_exif_time(datetime.now(timezone.utc))
    original = upload(client, inspector, jpeg_bytes(11, exif=make_exif(now, lat, lon), quality=92)).get_json()["id"]
    first = submit_garbage(client, inspector, original).get_json()["id"]
    # the same scene re-encoded smaller and at another quality: other bytes, nearly the same picture
    out = io.BytesIO()
    pattern_image(11).resize((200, 150)).save(out, "JPEG", quality=60, exif=make_exif(now, lat, lon))
    copy = upload(client, inspector, out.getvalue()).get_json()["id"]
    assert copy != original
    facts = flags_of(submit_garbage(client, inspector, copy))["photo_reused"]
    match = facts["photos"][0]
    assert (match["match"], match["other_inspection_id"], match["other_photo_id"]) == ("phash", first, original)
    assert match["distance"] <= 6


def test_different_photo_is_not_reused(client, inspector):
    lat, lon = village_point(client.application)
    submit_garbage(client, inspector, field_photo(client, inspector, 12, lat, lon))
    assert "photo_reused" not in flags_of(submit_garbage(client, inspector, field_photo(client, inspector, 13, lat, lon)))


# --- low_accuracy, no_exif ------------------------------------------------------------------

def test_low_accuracy_is_flagged_above_100_m(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 14, lat, lon)
    body = submission(client.application, {"garbage": [photo]}, answers=GARBAGE_ONLY)
    body["location"]["accuracy_m"] = 150
    facts = flags_of(submit(client, inspector, body))["low_accuracy"]
    assert facts == {"accuracy_m": 150, "threshold_m": 100}
    body2 = submission(client.application, {"garbage": [photo]}, answers=GARBAGE_ONLY)
    body2["location"]["accuracy_m"] = 99
    assert "low_accuracy" not in flags_of(submit(client, inspector, body2))


def test_photo_without_exif_is_flagged(client, inspector):
    photo = field_photo(client, inspector, 15, exif=False)
    facts = flags_of(submit_garbage(client, inspector, photo))["no_exif"]
    assert facts["photos"] == [{"photo_id": photo, "aspect": "garbage"}]


def test_photo_with_exif_is_not_no_exif(client, inspector):
    photo = field_photo(client, inspector, 16)  # EXIF time and device, no GPS
    assert "no_exif" not in flags_of(submit_garbage(client, inspector, photo))


# --- storage and recomputation --------------------------------------------------------------

def test_flags_are_stored_with_facts_and_counted(client, inspector):
    photo = field_photo(client, inspector, 17, exif=False)
    body = submission(client.application, {"garbage": [photo]}, answers=GARBAGE_ONLY)
    body["location"]["accuracy_m"] = 400
    inspection_id = submit(client, inspector, body).get_json()["id"]
    with client.application.app_context():
        rows = db.session.execute(select(InspectionFlag.code, InspectionFlag.facts)
                                  .where(InspectionFlag.inspection_id == inspection_id)).all()
        assert sorted(code for code, _ in rows) == ["low_accuracy", "no_exif"]
        assert db.session.get(Inspection, inspection_id).flag_count == 2
        assert dict(rows)["low_accuracy"]["accuracy_m"] == 400


def test_flags_are_recomputed_on_resubmit(client, inspector):
    lat, lon = village_point(client.application)
    photo = field_photo(client, inspector, 18, lat, lon)
    body = submission(client.application, {"garbage": [photo]}, answers=GARBAGE_ONLY)
    body["location"]["accuracy_m"] = 400
    created = submit(client, inspector, body).get_json()
    assert [f["code"] for f in created["flags"]] == ["low_accuracy"]
    set_status(client.application, created["id"], "returned")
    fixed = {**{k: v for k, v in body.items() if k != "client_uuid"}, "version": 1,
             "location": {**body["location"], "accuracy_m": 10}}
    r = client.put(f"/api/v1/inspections/{created['id']}", headers=inspector.headers, json=fixed)
    assert r.status_code == 200 and r.get_json()["flags"] == [] and r.get_json()["flag_count"] == 0


def test_near_duplicates_of_all_photos_are_searched_in_one_indexed_statement(client, inspector):
    lat, lon = village_point(client.application)
    earlier = [field_photo(client, inspector, seed, lat, lon) for seed in (21, 22)]
    submit_garbage(client, inspector, earlier[0])
    photos = [field_photo(client, inspector, seed, lat, lon) for seed in (23, 24, 25)]
    with client.application.app_context():
        bands = db.session.execute(select(PhotoHashBand.band, PhotoHashBand.value)
                                   .where(PhotoHashBand.photo_id == photos[0]).order_by(PhotoHashBand.band)).all()
        phash = db.session.get(Photo, photos[0]).phash
        engine = db.engine
    assert [(b, v) for b, v in bands] == [(i, int(phash[2 * i:2 * i + 2], 16)) for i in range(8)]
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        body = submission(client.application, {"garbage": photos}, answers=GARBAGE_ONLY)
        assert submit(client, inspector, body).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in seen if "photo_hash_bands" in s]) == 1
    assert not [s for s in seen if "phash_distance" in s or "bit_count" in s]

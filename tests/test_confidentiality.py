"""The `photo_reused` flag names other inspections only to viewers who may open them.

Its facts are stored in full (other inspection ids, other photo ids); on every read — the
inspection detail and list, the review queue, the history's version rows — a match on an
inspection the viewer may not see (app/access.py `visible_inspections`) is described by its
township's name and observation day only: no inspection id, photo id, village or inspector.
"""
import io
import json
import random
import uuid
from datetime import datetime, timedelta, timezone

from PIL import Image
from sqlalchemy import event, select

from app.extensions import db
from app.models import Division, InspectionFlag
from app.models.types import CHINA
from tests.factories import create_inspection

HERE = "230382100200"        # 长青村委会, 密山镇 (密山市): the flagged inspection's village
HERE_TOWNSHIP = "230382100"
SAME_COUNTY = "230382101200"  # 沙岗村委会, 连珠山镇 (密山市)
OTHER_COUNTY = "230302200200"  # 红星村委会, 红星乡 (鸡冠区)
OTHER_COUNTY_TOWNSHIP = "230302200"

ANOTHER_TOWNSHIP = {"en": "an inspection in another township", "zh": "另一乡镇的巡查"}
THIS_TOWNSHIP = {"en": "another inspection in this township", "zh": "本乡镇的另一次巡查"}


def reused(body):
    return next(f["facts"] for f in body["flags"] if f["code"] == "photo_reused")


def assert_names_no_other(facts, *hidden_ids):
    """No id of a hidden inspection or photo anywhere in the facts; the flagged photo stays named."""
    assert facts["other_inspection_ids"] == []
    for photo in facts["photos"]:
        assert "other_inspection_id" not in photo and "other_photo_id" not in photo
        assert set(photo) >= {"photo_id", "match", "distance", "elsewhere"}
    text = json.dumps(facts)
    for hidden in hidden_ids:  # photo ids are long random strings: none may appear anywhere
        if isinstance(hidden, str):
            assert hidden not in text


GARBAGE = {"garbage": {"collection_points": True, "collected_on_schedule": True, "transfer_working": True,
                       "no_informal_dumping": True}}


def photo_bytes(seed):
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3)).resize((256, 192)).save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(client, user, data):
    return client.post("/api/v1/photos", headers=user.headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), "photo.jpg", "image/jpeg")})


def shared_photo(client, owner, sharer):
    """The same bytes uploaded by two users (one Photo, visible to both as an uploader)."""
    data = photo_bytes(41)
    first = upload(client, owner, data)
    second = upload(client, sharer, data)
    assert first.status_code == 201 and second.status_code == 200
    return first.get_json()["id"]


def submit_garbage(client, user, photo_id, village):
    with client.application.app_context():
        point = db.session.get(Division, village).point
    body = {"client_uuid": str(uuid.uuid4()), "village": village,
            "observed_at": datetime.now(CHINA).replace(microsecond=0).isoformat(),
            "location": {"lat": point.y, "lon": point.x, "accuracy_m": 8, "crs": "wgs84"},
            "answers": GARBAGE, "photos": {"garbage": [photo_id]}}
    r = client.post("/api/v1/inspections", headers=user.headers, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- a real submission across counties ------------------------------------------------------

def test_a_photo_from_another_county_is_described_without_ids(client, make_user):
    """An inspector in 红星乡 (another county) used the photo first; the 密山镇 inspector, the
    township's reviewer and the county's reviewer see where and when, never which inspection."""
    far = make_user("inspector", OTHER_COUNTY_TOWNSHIP)
    mine = make_user("inspector", HERE_TOWNSHIP)
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    county = make_user("reviewer", "230382")
    city = make_user("bureau", "2303")
    photo = shared_photo(client, far, mine)
    first = submit_garbage(client, far, photo, OTHER_COUNTY)
    answer = submit_garbage(client, mine, photo, HERE)
    second = answer["id"]
    observed_on = datetime.fromisoformat(first["observed_at"]).astimezone(CHINA).date().isoformat()
    hidden = {"township_name": "红星乡", "observed_on": observed_on,
              "description": ANOTHER_TOWNSHIP["en"], "description_zh": ANOTHER_TOWNSHIP["zh"]}

    facts = reused(answer)  # the submitter's own answer
    assert_names_no_other(facts, first["id"])
    assert facts["elsewhere"] == [hidden]
    assert facts["photos"] == [{"photo_id": photo, "match": "sha256", "distance": 0, "elsewhere": hidden}]
    assert facts["max_phash_distance"] == 6

    for viewer in (mine, reviewer, county):
        detail = client.get(f"/api/v1/inspections/{second}", headers=viewer.headers).get_json()
        assert reused(detail) == facts
        listed = client.get("/api/v1/inspections", headers=viewer.headers).get_json()["items"]
        assert [reused(i) for i in listed if i["id"] == second] == [facts]
        history = client.get(f"/api/v1/inspections/{second}/history", headers=viewer.headers).get_json()
        assert reused(history["versions"][0]) == facts
    queue = client.get("/api/v1/review-queue", headers=reviewer.headers).get_json()["items"]
    assert [reused(i) for i in queue if i["id"] == second] == [facts]

    # the city's bureau may open both: it sees the ids
    detail = client.get(f"/api/v1/inspections/{second}", headers=city.headers).get_json()
    assert reused(detail)["other_inspection_ids"] == [first["id"]]
    assert reused(detail)["photos"][0]["other_inspection_id"] == first["id"]
    assert "elsewhere" not in reused(detail) and "elsewhere" not in reused(detail)["photos"][0]


# --- stored facts, each kind of viewer ------------------------------------------------------

def stored_reuse(app, other, photo_id=None, **kw):
    """An inspection at HERE whose photo_reused facts name `other` (and its photo, a phash match)."""
    mine = create_inspection(app, village=HERE, photos=["garbage"], **kw)
    facts = {"other_inspection_ids": [other.id], "max_phash_distance": 6,
             "photos": [{"photo_id": mine.photo_ids[0], "other_inspection_id": other.id,
                         "other_photo_id": photo_id or other.photo_ids[0], "match": "phash", "distance": 3}]}
    with app.app_context():
        db.session.add(InspectionFlag(inspection_id=mine.id, code="photo_reused", facts=facts))
        db.session.commit()
    return mine, facts


def test_stored_facts_are_full_and_redacted_on_read(app, client, make_user):
    other = create_inspection(app, village=SAME_COUNTY, photos=["garbage"],
                              observed_at=datetime(2026, 3, 1, 20, 30, tzinfo=timezone.utc))
    mine, full = stored_reuse(app, other)
    township_reviewer = make_user("reviewer", HERE_TOWNSHIP)
    county_reviewer = make_user("reviewer", "230382")

    seen = reused(client.get(f"/api/v1/inspections/{mine.id}", headers=township_reviewer.headers).get_json())
    # 20:30 UTC on 1 March is 2 March in China
    hidden = {"township_name": "连珠山镇", "observed_on": "2026-03-02",
              "description": ANOTHER_TOWNSHIP["en"], "description_zh": ANOTHER_TOWNSHIP["zh"]}
    assert_names_no_other(seen, other.id, other.photo_ids[0])
    assert seen["elsewhere"] == [hidden] and seen["max_phash_distance"] == 6
    assert seen["photos"] == [{"photo_id": mine.photo_ids[0], "match": "phash", "distance": 3, "elsewhere": hidden}]

    assert reused(client.get(f"/api/v1/inspections/{mine.id}", headers=county_reviewer.headers).get_json()) == full
    with app.app_context():  # the stored facts are untouched by reading
        assert db.session.scalar(select(InspectionFlag.facts).where(InspectionFlag.inspection_id == mine.id)) == full


def test_an_inspector_sees_a_colleagues_match_as_this_township(app, client, make_user):
    """Inspectors see only their own inspections: a colleague's inspection in the same township is
    not theirs to open, so it is described, not named; the township's reviewer sees the id."""
    me = make_user("inspector", HERE_TOWNSHIP)
    colleague = make_user("inspector", HERE_TOWNSHIP)
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    other = create_inspection(app, village="230382100201", inspector_id=colleague.id, photos=["garbage"])
    mine, full = stored_reuse(app, other, inspector_id=me.id)

    seen = reused(client.get(f"/api/v1/inspections/{mine.id}", headers=me.headers).get_json())
    assert_names_no_other(seen, other.id, other.photo_ids[0])
    assert [(e["description"], e["description_zh"], e["township_name"]) for e in seen["elsewhere"]] == [
        (THIS_TOWNSHIP["en"], THIS_TOWNSHIP["zh"], "密山镇")]
    assert reused(client.get(f"/api/v1/inspections/{mine.id}", headers=reviewer.headers).get_json()) == full


def test_visible_and_hidden_matches_are_told_apart(app, client, make_user):
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    near = create_inspection(app, village="230382100201", photos=["garbage"])
    far = create_inspection(app, village=OTHER_COUNTY, photos=["garbage"])
    mine = create_inspection(app, village=HERE, photos=["garbage"])
    own_photo = mine.photo_ids[0]
    facts = {"other_inspection_ids": [near.id, far.id], "max_phash_distance": 6, "photos": [
        {"photo_id": own_photo, "other_inspection_id": near.id, "match": "sha256", "distance": 0},
        {"photo_id": own_photo, "other_inspection_id": far.id, "match": "sha256", "distance": 0}]}
    with app.app_context():
        db.session.add(InspectionFlag(inspection_id=mine.id, code="photo_reused", facts=facts))
        db.session.commit()
    seen = reused(client.get(f"/api/v1/inspections/{mine.id}", headers=reviewer.headers).get_json())
    assert seen["other_inspection_ids"] == [near.id]
    assert seen["photos"][0] == facts["photos"][0]
    assert seen["photos"][1]["elsewhere"]["township_name"] == "红星乡"
    assert "other_inspection_id" not in seen["photos"][1]
    assert set(seen["elsewhere"][0]) == {"township_name", "observed_on", "description", "description_zh"}


def test_a_vanished_match_is_described_without_place(app, client, make_user):
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    mine = create_inspection(app, village=HERE, photos=["garbage"])
    facts = {"other_inspection_ids": [987654], "max_phash_distance": 6, "photos": [
        {"photo_id": mine.photo_ids[0], "other_inspection_id": 987654, "match": "sha256", "distance": 0}]}
    with app.app_context():
        db.session.add(InspectionFlag(inspection_id=mine.id, code="photo_reused", facts=facts))
        db.session.commit()
    seen = reused(client.get(f"/api/v1/inspections/{mine.id}", headers=reviewer.headers).get_json())
    assert_names_no_other(seen, 987654)
    assert seen["elsewhere"] == [{"township_name": None, "observed_on": None,
                                  "description": "another inspection", "description_zh": "另一次巡查"}]


def test_other_flags_pass_through_unchanged(app, client, make_user):
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    flags = [("low_accuracy", {"accuracy_m": 150.0, "threshold_m": 100.0}), ("no_exif", {"photos": []})]
    mine = create_inspection(app, village=HERE, flags=flags)
    body = client.get(f"/api/v1/inspections/{mine.id}", headers=reviewer.headers).get_json()
    assert [(f["code"], f["facts"]) for f in body["flags"]] == [(c, f) for c, f in flags]


# --- the queue redacts a page with one statement --------------------------------------------

def _statements(app, client, user, **params):
    with app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get("/api/v1/review-queue", headers=user.headers, query_string=params).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return page, seen


def test_the_queue_redacts_a_page_in_one_statement(app, client, make_user):
    reviewer = make_user("reviewer", HERE_TOWNSHIP)
    others = [create_inspection(app, village=OTHER_COUNTY if i % 2 else SAME_COUNTY, photos=["garbage"])
              for i in range(6)]
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(30):
        stored_reuse(app, others[i % 6], submitted_at=start + timedelta(minutes=i))
    small, small_sql = _statements(app, client, reviewer, per_page=3)
    large, large_sql = _statements(app, client, reviewer, per_page=30)
    assert len(large["items"]) == 30
    for item in large["items"]:
        assert_names_no_other(reused(item), *[o.id for o in others])
    assert len(large_sql) == len(small_sql)

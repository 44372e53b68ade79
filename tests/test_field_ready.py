"""What a real inspector and a real township reviewer need from the API: submitting without GPS
(flag `no_location`), a phone clock that is wrong (`device_observed_at`, flag `clock_skew`), a
client_uuid first sent by another user refused (never re-attributed), the villages due this
month, the queue's search and the answers, location and photo positions it carries, and every
per-field message in Chinese as well."""
import io
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import marshmallow as ma
import pytest

from app.domain import CHECKLIST
from app.errors import FALLBACK_ZH, translate_field_message
from app.models.types import CHINA
from tests import factories
from tests.factories import sql

PHOTOS = Path(__file__).parent / "data" / "photos"
VILLAGE = "230382100200"  # 长青村委会, 密山镇
OTHER_VILLAGE = "230382100201"  # 双胜村委会, 密山镇
TOWNSHIP = "230382100"
GARBAGE = {"garbage": {item: True for item in CHECKLIST[0]["met"]["items"]}}


def upload(client, user, name="gps_htc_desire.jpg"):
    with open(PHOTOS / name, "rb") as f:
        r = client.post("/api/v1/photos", headers=user.headers, data={"file": (f, name)},
                        content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()["id"]


def village_point(app, code=VILLAGE):
    from app.extensions import db
    from app.models import Division

    with app.app_context():
        p = db.session.get(Division, code).point
        return p.y, p.x


def body(client, user, **overrides):
    """A garbage-only submission at the village's point, observed now, with one real photo."""
    lat, lon = village_point(client.application)
    data = {"client_uuid": str(uuid.uuid4()), "village": VILLAGE,
            "observed_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": 8}, "answers": GARBAGE,
            "photos": {"garbage": [upload(client, user)]}}
    data.update(overrides)
    return data


def submit(client, user, data):
    return client.post("/api/v1/inspections", headers=user.headers, json=data)


def flags_of(response):
    assert response.status_code in (200, 201), response.get_json()
    return {f["code"]: f["facts"] for f in response.get_json()["flags"]}


# --- no location --------------------------------------------------------------------------------

def test_an_inspection_without_location_is_accepted_and_flagged_no_location(client, inspector):
    data = body(client, inspector)
    del data["location"]
    r = submit(client, inspector, data)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["location"] is None
    facts = flags_of(r)["no_location"]
    assert facts["village_chosen_by_hand"] is True
    # the photo's own GPS (taken far away) is measured against the village instead
    assert facts["photos"][0]["aspect"] == "garbage" and facts["photos"][0]["inside_village"] is False
    assert facts["photos"][0]["distance_m"] > 1000
    assert "outside_village" not in flags_of(r) and "exif_location_far" not in flags_of(r)
    assert submit(client, inspector, data).status_code == 200  # an identical retry: the stored one


def test_a_null_location_is_the_same_as_none(client, inspector):
    r = submit(client, inspector, body(client, inspector, location=None))
    assert r.status_code == 201 and "no_location" in flags_of(r)


def test_a_located_inspection_keeps_outside_village_and_no_no_location(client, inspector):
    r = submit(client, inspector, body(client, inspector, location={"lat": 45.0, "lon": 131.0, "accuracy_m": 5}))
    assert "outside_village" in flags_of(r) and "no_location" not in flags_of(r)


def test_the_review_queue_filters_by_no_location(client, inspector, reviewer):
    r = submit(client, inspector, body(client, inspector, location=None))
    page = client.get("/api/v1/review-queue?flag=no_location", headers=reviewer.headers).get_json()
    assert [i["id"] for i in page["items"]] == [r.get_json()["id"]]
    assert page["items"][0]["location"] is None


# --- the phone's clock ---------------------------------------------------------------------------

def test_a_corrected_time_with_the_phones_own_reading_is_flagged_clock_skew(client, inspector):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    device = now + timedelta(minutes=40)  # the phone's clock is 40 minutes fast
    r = submit(client, inspector, body(client, inspector, observed_at=now.isoformat(),
                                       device_observed_at=device.isoformat()))
    assert r.status_code == 201, r.get_json()
    facts = flags_of(r)["clock_skew"]
    assert facts["skew_seconds"] == 2400 and facts["observed_at"] == "corrected"
    assert datetime.fromisoformat(r.get_json()["device_observed_at"]) == device
    assert datetime.fromisoformat(r.get_json()["observed_at"]) == now
    stored = sql(client.application, "SELECT device_observed_at FROM inspection_versions")
    assert len(stored) == 1 and stored[0][0] is not None


def test_a_small_difference_raises_no_clock_skew(client, inspector):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    r = submit(client, inspector, body(client, inspector, observed_at=now.isoformat(),
                                       device_observed_at=(now + timedelta(minutes=2)).isoformat()))
    assert "clock_skew" not in flags_of(r)


def test_a_future_time_without_the_phones_reading_is_refused_in_both_languages(client, inspector):
    future = datetime.now(timezone.utc) + timedelta(minutes=40)
    r = submit(client, inspector, body(client, inspector, observed_at=future.isoformat()))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"
    error = r.get_json()["error"]
    assert error["fields"]["observed_at"] == ["is in the future (check the phone's clock)"]
    assert error["fields_zh"]["observed_at"] == ["时间晚于服务器时间，请检查手机时间。"]
    assert sql(client.application, "SELECT count(*) FROM inspections")[0][0] == 0


def test_a_future_time_with_the_phones_reading_is_stored_as_received_and_flagged(client, inspector):
    future = (datetime.now(timezone.utc) + timedelta(minutes=40)).replace(microsecond=0)
    data = body(client, inspector, observed_at=future.isoformat(), device_observed_at=future.isoformat())
    before = datetime.now(timezone.utc)
    r = submit(client, inspector, data)
    assert r.status_code == 201, r.get_json()
    stored = datetime.fromisoformat(r.get_json()["observed_at"])
    assert before - timedelta(seconds=1) <= stored <= datetime.now(timezone.utc)
    facts = flags_of(r)["clock_skew"]
    assert facts["observed_at"] == "received_at" and facts["skew_seconds"] >= 39 * 60
    again = submit(client, inspector, data)  # the phone lost the answer: the stored one, not a second
    assert again.status_code == 200 and again.get_json()["id"] == r.get_json()["id"]


def jpeg_taken_at(moment, shade):
    """A small JPEG whose EXIF says it was taken at `moment` by a phone's clock (China time)."""
    from PIL import Image

    image = Image.new("RGB", (96, 64), color=(shade, 120, 200 - shade))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = moment.astimezone(CHINA).strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_photo_times_are_compared_with_the_phones_own_clock(client, inspector):
    """EXIF times come from the same fast clock as device_observed_at: no photo_stale for that."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    device = now + timedelta(hours=3)  # the phone's clock is three hours fast, so is its camera's
    r = client.post("/api/v1/photos", headers=inspector.headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(jpeg_taken_at(device, 30)), "fast.jpg")})
    assert r.status_code == 201 and r.get_json()["exif"]["taken_at"], r.get_json()
    made = submit(client, inspector, body(client, inspector, photos={"garbage": [r.get_json()["id"]]},
                                          observed_at=now.isoformat(), device_observed_at=device.isoformat()))
    assert "photo_stale" not in flags_of(made) and flags_of(made)["clock_skew"]["skew_seconds"] == 3 * 3600


# --- a client_uuid first sent by another user -----------------------------------------------------

def test_a_client_uuid_first_sent_by_another_user_is_refused_never_reattributed(client, make_user):
    first, second = make_user("inspector", TOWNSHIP), make_user("inspector", TOWNSHIP)
    data = body(client, first)
    created = submit(client, first, data)
    assert created.status_code == 201
    other = body(client, second, client_uuid=data["client_uuid"])
    r = submit(client, second, other)
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "duplicate_conflict" and error["details"]["reason"] == "other_user"
    assert "id" not in error["details"] and error["message_zh"] == "该记录已由其他账号提交，不能记在您的名下。"
    # the very same body from the other user too: refused, never the first user's inspection
    same = submit(client, second, data)
    assert same.status_code == 409 and same.get_json()["error"]["details"]["reason"] == "other_user"
    rows = sql(client.application, "SELECT inspector_id FROM inspections")
    assert [r[0] for r in rows] == [first.id]


# --- what is due ----------------------------------------------------------------------------------

def due(client, user, **query):
    r = client.get("/api/v1/villages/due", headers=user.headers, query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_due_lists_the_rural_villages_in_scope_not_yet_visited_this_month(app, client, inspector):
    rural = sql(app, "SELECT count(*) FROM divisions WHERE parent_code = :t AND kind = 'rural' AND active",
                t=TOWNSHIP)[0][0]
    now = datetime.now(timezone.utc)
    factories.create_inspection(app, village=VILLAGE, status="submitted", observed_at=now)
    factories.create_inspection(app, village=OTHER_VILLAGE, status="returned", observed_at=now)
    old = now - timedelta(days=70)
    factories.create_inspection(app, village=OTHER_VILLAGE, status="approved", observed_at=old)
    page = due(client, inspector, per_page=200)
    codes = [i["code"] for i in page["items"]]
    assert page["total"] == rural - 1 and len(codes) == rural - 1
    assert VILLAGE not in codes  # submitted this month
    assert OTHER_VILLAGE in codes  # only returned this month: still due
    other = next(i for i in page["items"] if i["code"] == OTHER_VILLAGE)
    assert other["last_status"] == "returned"
    assert abs(datetime.fromisoformat(other["last_visited_at"]) - now) < timedelta(seconds=1)
    assert other["township"] == {"code": TOWNSHIP, "name": "密山镇"}
    assert all(c.startswith(TOWNSHIP) for c in codes) and page["counted_kinds"] == ["rural"]
    assert codes[-1] == OTHER_VILLAGE  # never visited first, the most recently visited last
    assert page["items"][0]["last_visited_at"] is None


def test_due_for_another_period_and_out_of_scope(app, client, inspector):
    now = datetime.now(timezone.utc)
    factories.create_inspection(app, village=VILLAGE, status="approved", observed_at=now - timedelta(days=400))
    last_year = (now - timedelta(days=400)).astimezone(CHINA).strftime("%Y-%m")
    assert VILLAGE not in [i["code"] for i in due(client, inspector, period=last_year, per_page=200)["items"]]
    assert VILLAGE in [i["code"] for i in due(client, inspector, per_page=200)["items"]]
    r = client.get("/api/v1/villages/due?division=230381", headers=inspector.headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.get("/api/v1/villages/due?period=2026-13", headers=inspector.headers)
    assert r.status_code == 422 and r.get_json()["error"]["fields_zh"]["period"] == [
        "期间应为年（2026）、季度（2026-Q3）或月（2026-09）。"]


def test_due_needs_a_login(client):
    r = client.get("/api/v1/villages/due")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"


# --- the queue: search, answers, location, photo positions --------------------------------------

def test_the_queue_searches_village_names_and_inspectors(app, client, reviewer, make_user):
    wang = make_user("inspector", TOWNSHIP, username="wang_xiaoming")
    li = make_user("inspector", TOWNSHIP, username="li_hua")
    a = factories.create_inspection(app, village=VILLAGE, inspector_id=wang.id).id
    b = factories.create_inspection(app, village=OTHER_VILLAGE, inspector_id=li.id).id

    def ids(q):
        page = client.get("/api/v1/review-queue", headers=reviewer.headers, query_string={"q": q}).get_json()
        assert page["counts"]["waiting"] == page["total"] == len(page["items"])
        return sorted(i["id"] for i in page["items"])

    assert ids("长青") == [a]
    assert ids("双胜") == [b]
    assert ids("WANG") == [a]  # case-insensitive for Latin letters
    assert ids("村委会") == sorted([a, b])
    plain = factories.create_inspection(app, village=VILLAGE, inspector_id=reviewer.id).id  # no "_" in the name
    assert ids("%") == []
    assert ids("_") == sorted([a, b])  # "_" is a character here, not a wildcard
    assert plain not in ids("_")
    assert ids("nobody") == []


def test_a_queue_item_carries_answers_location_and_photo_positions(client, inspector, reviewer):
    data = body(client, inspector)
    made = submit(client, inspector, data).get_json()
    item = client.get("/api/v1/review-queue", headers=reviewer.headers).get_json()["items"][0]
    assert item["id"] == made["id"] and item["answers"] == GARBAGE
    assert item["location"]["lat"] == pytest.approx(data["location"]["lat"])
    assert item["location"]["lon"] == pytest.approx(data["location"]["lon"])
    photo = item["photos"][0]
    assert photo["exif_lat"] is not None and photo["exif_lon"] is not None and photo["taken_at"]


# --- messages in Chinese ----------------------------------------------------------------------------

def test_every_field_message_of_a_bad_submission_has_a_chinese_text(client, inspector):
    r = submit(client, inspector, {
        "client_uuid": "not-a-uuid", "village": "12", "observed_at": "yesterday",
        "location": {"lat": 95, "lon": "east"}, "answers": {"garbage": {"collection_points": "yes"}},
        "photos": {"nowhere": []}, "extra": 1})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert set(error["fields_zh"]) == set(error["fields"])
    for name, messages in error["fields_zh"].items():
        for message in messages:
            assert not message.startswith(FALLBACK_ZH.split("{")[0]), (name, message)
    assert error["fields_zh"]["location.lat"] == ["须在 -90 到 90 之间。"]
    assert error["fields_zh"]["client_uuid"] == ["不是有效的 UUID。"]
    assert error["fields_zh"]["extra"] == ["不认识的字段。"]


@pytest.mark.parametrize("message", [
    *(text for cls in (ma.fields.Field, ma.fields.String, ma.fields.Integer, ma.fields.Float, ma.fields.Boolean,
                       ma.fields.UUID, ma.fields.List, ma.fields.Dict, ma.fields.Nested, ma.fields.Date)
      for text in cls.default_error_messages.values() if "{" not in text),
    "Not a valid datetime.", "Not a valid aware datetime.", "Unknown field.", "Invalid input type.",
    str(ma.validate.Range(min=1)._format_error(0, ma.validate.Range(min=1).message_min)),
    str(ma.validate.Range(min=0, max=9)._format_error(10, ma.validate.Range(min=0, max=9).message_all)),
    str(ma.validate.Length(max=20)._format_error([], ma.validate.Length.message_max)),
    str(ma.validate.Length(min=1, max=2000)._format_error("", ma.validate.Length.message_all)),
    str(ma.validate.OneOf(["a", "b"])._format_error("c")),
    ma.validate.Regexp.default_message,
])
def test_marshmallows_messages_are_all_translated(message):
    assert not translate_field_message(message).startswith(FALLBACK_ZH.split("{")[0]), message

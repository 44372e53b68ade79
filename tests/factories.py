"""What the tests share: the app and raw SQL on its database, users and inspections made through
the app's own services (returned as plain values, no live ORM objects), submissions as a phone
sends them (on-site photos with EXIF), and the refusal every authorisation test checks.

Image bytes and the upload request are in tests/photos.py. Test modules import from here and from
there, never from each other or from conftest (which holds the fixtures only).
"""
import functools
import itertools
import os
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy import func, select, text, update

from app import create_app
from app.auth import issue_token
from app.domain import full_answers
from app.extensions import db
from app.models import Division, Inspection, User
from app.models.types import CHINA
from tests.photos import jpeg_bytes, make_exif, upload

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-9"
# the engines every `app` test runs on; TEST_ENGINES=sqlite (or postgresql) limits a run to one
ENGINES = [e.strip() for e in os.environ.get("TEST_ENGINES", "sqlite,postgresql").split(",") if e.strip()]

VILLAGE = "230382100200"          # 长青村委会, 密山镇 (密山市)
OTHER_VILLAGE = "230382100201"    # 双胜村委会, 密山镇
FOREIGN_VILLAGE = "230382101200"  # 沙岗村委会, 连珠山镇 (another township of the same county)
TOWNSHIP = "230382100"            # 密山镇
OTHER_TOWNSHIP = "230382101"      # 连珠山镇

# full_answers() (app.domain) is every aspect answered so that every metric is met
GARBAGE_ONLY = {"garbage": full_answers()["garbage"]}
PHOTO_ASPECTS = ("garbage", "sewage", "cleanliness")


# --- the app and its database -------------------------------------------------------------------

def make_app(url, photo_root, **overrides):
    """An app on the testing configuration with its own database URL and photo root."""
    return create_app("testing", DATABASE_URL=url, PHOTO_ROOT=str(photo_root), **overrides)


def seed_divisions(app):
    """Jixi's real division tree with its synthetic boundaries, as the demo loads it."""
    from app.services.demo import load_jixi_divisions

    with app.app_context():
        load_jixi_divisions()
        db.session.commit()


def sql(app, statement, **params):
    """Run raw SQL in the app's database (for assertions); returns all rows."""
    with app.app_context():
        return db.session.execute(text(statement), params).all()


def count(app, model, *where):
    """Rows of `model` matching `where`."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def set_status(app, inspection_id, status):
    """Put an inspection in `status` directly (no review, no audit)."""
    with app.app_context():
        db.session.execute(update(Inspection).where(Inspection.id == inspection_id).values(status=status))
        db.session.commit()


# --- refusals -----------------------------------------------------------------------------------

REFUSAL_CODES = {403: "forbidden", 404: "not_found"}


def refused(response, status, details=None):
    """Assert that `response` is a refusal (403 forbidden: the role may not; 404 not_found: out of
    scope or unknown, indistinguishable) in the one error shape and that it tells nothing more:
    no fields, and no details unless `details` (what the request itself named) is given, exactly.
    Returns the error."""
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert (error["status"], error["code"]) == (status, REFUSAL_CODES[status]), error
    assert not set(error) - {"status", "code", "message", "message_zh", "details"}, error
    assert error.get("details") == details, error
    return error


@functools.lru_cache(maxsize=8)
def _password_hash(password):
    from app.auth import hash_password

    return hash_password(password)


def create_user(app, role="inspector", scope="230382100", username=None, password=DEFAULT_PASSWORD):
    """A user with a bearer token: .id .username .role .scope .password .token .headers"""
    username = username or f"{role}{next(_counter)}"
    with app.app_context():
        # scrypt once per password, not per user: build the row directly with a cached hash
        user = User(username=username, role=role, scope_code=scope, password_hash=_password_hash(password))
        db.session.add(user)
        db.session.flush()
        token, _ = issue_token(user)
        db.session.commit()
        return SimpleNamespace(id=user.id, username=username, role=role, scope=scope, password=password,
                               token=token, headers={"Authorization": f"Bearer {token}"})


def token_for(app, user_id):
    with app.app_context():
        token, _ = issue_token(db.session.get(User, user_id))
        db.session.commit()
        return token


def create_inspection(app, village="230382100200", inspector_id=None, status="submitted",
                      observed_at=None, version=1, lat=None, lon=None, answers=None, submitted_at=None,
                      flags=None, photos=None, **metrics):
    """An inspection row written directly (no photos, no flags), for tests of what comes after
    submission: review, rates, exports. `metrics`: garbage_stable=True, sewage_treated=False, ...,
    households=..., sewage_households_covered=..., tap_households=..., tap_households_with_tap=...
    Optional: `submitted_at`; `flags` = [(code, facts), ...] (sets flag_count); `photos` = aspects,
    e.g. ["garbage", "sewage"]: one stored Photo row (no bytes) linked per aspect.
    Returns .id .client_uuid .village_code .status .version .observed_at .photo_ids"""
    from shapely.geometry import Point

    observed_at = observed_at or datetime.now(timezone.utc)
    with app.app_context():
        if lat is None or lon is None:
            p = db.session.get(Division, village).point
            lat, lon = p.y, p.x
        inspection = Inspection(
            client_uuid=uuid.uuid4(), village_code=village, inspector_id=inspector_id, observed_at=observed_at,
            accuracy_m=5.0, location_input={"lat": lat, "lon": lon, "crs": "wgs84"}, answers=answers or {},
            status=status, version=version, source="app", **metrics,
        )
        inspection.location = Point(lon, lat)
        if status != "submitted":
            inspection.decided_at = observed_at
        if submitted_at is not None:
            inspection.submitted_at = submitted_at
        photo_ids = _attach_flags_and_photos(inspection, flags or (), photos or ())
        db.session.add(inspection)
        if status == "approved":  # keep the maintained latest-answer table in step, as the services do
            from app.services.village_status import refresh_village_latest

            refresh_village_latest([village])
        db.session.commit()
        return SimpleNamespace(id=inspection.id, client_uuid=str(inspection.client_uuid), village_code=village,
                               status=status, version=version, observed_at=observed_at, photo_ids=photo_ids)


def _attach_flags_and_photos(inspection, flags, aspects):
    import secrets

    from app.models import InspectionFlag, InspectionPhoto, Photo

    for code, facts in flags:
        inspection.flags.append(InspectionFlag(code=code, facts=facts))
    inspection.flag_count = len(flags)
    photo_ids = []
    for position, aspect in enumerate(aspects):
        photo = Photo(id=secrets.token_hex(16), sha256=secrets.token_hex(32), content_type="image/jpeg",
                      size_bytes=1000, width=320, height=240, exif={}, has_exif=False)
        db.session.add(photo)
        inspection.photo_links.append(InspectionPhoto(photo=photo, aspect=aspect, position=position))
        photo_ids.append(photo.id)
    return photo_ids


# --- submissions as a phone sends them ----------------------------------------------------------

def village_point(app, code=VILLAGE):
    """(lat, lon) of the village's point, inside its (synthetic) boundary."""
    with app.app_context():
        p = db.session.get(Division, code).point
        return p.y, p.x


def china_exif_time(moment):
    """`moment` as a phone's EXIF clock writes it (China time, no zone)."""
    return moment.astimezone(CHINA).strftime("%Y:%m:%d %H:%M:%S")


def field_photo(client, user, seed, lat=None, lon=None, taken=None, exif=True):
    """Upload a photo as a phone takes it on site: EXIF time (China clock) and GPS; returns its id."""
    taken = taken or datetime.now(timezone.utc)
    data = jpeg_bytes(seed, exif=make_exif(china_exif_time(taken), lat, lon) if exif else None)
    r = upload(client, user, data)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()["id"]


def on_site_photos(client, user, seed=100, village=VILLAGE, aspects=PHOTO_ASPECTS, taken=None):
    """One on-site photo per aspect, uploaded by `user`: {aspect: [photo id]}."""
    lat, lon = village_point(client.application, village)
    return {aspect: [field_photo(client, user, seed + n, lat, lon, taken)] for n, aspect in enumerate(aspects)}


def submission(app, photos, village=VILLAGE, answers=None, lat=None, lon=None, **overrides):
    """A complete POST /api/v1/inspections body at the village's point (answers: the photographed
    aspects of full_answers() unless given)."""
    if lat is None:
        lat, lon = village_point(app, village)
    full = full_answers()
    body = {
        "client_uuid": str(uuid.uuid4()), "village": village,
        "observed_at": datetime.now(CHINA).replace(microsecond=0).isoformat(),
        "location": {"lat": lat, "lon": lon, "accuracy_m": 8, "crs": "wgs84"},
        "answers": answers if answers is not None else {k: full[k] for k in PHOTO_ASPECTS},
        "photos": photos, "notes": "all fine",
    }
    body.update(overrides)
    return body


def submit(client, user, body):
    return client.post("/api/v1/inspections", headers=user.headers, json=body)


def flags_of(response):
    """{code: facts} of a created or resubmitted inspection's flags."""
    assert response.status_code in (200, 201), response.get_json()
    return {f["code"]: f["facts"] for f in response.get_json()["flags"]}

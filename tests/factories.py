"""Test data made through the app's own services, returned as plain values (no live ORM objects)."""
import functools
import itertools
from types import SimpleNamespace

from app.auth import issue_token
from app.extensions import db
from app.models import User

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-9"


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
    import uuid
    from datetime import datetime, timezone

    from shapely.geometry import Point

    from app.models import Division, Inspection

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

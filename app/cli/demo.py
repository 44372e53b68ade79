"""`flask demo load`: the demo data set (idempotent).

The data builders are in app/services/demo.py; the live review queue is submitted here the way a
phone submits it: each body goes through the API's own request schema and the same service.
"""
from datetime import datetime, timedelta, timezone

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.domain import PHOTO_REQUIRED, full_answers
from app.extensions import db
from app.models import Division, Inspection, User
from app.schemas.inspections import InspectionCreateSchema
from app.services.demo import (
    DATA_DIR,
    DEMO_TOWNSHIP,
    demo_photo,
    demo_uuid,
    load_demo_history,
    load_demo_users,
    load_jixi_divisions,
)
from app.services.inspections import create_inspection
from app.services.photos import store_photo
from app.services.village_status import build_snapshot_month, missing_snapshot_months

demo_cli = AppGroup("demo", help="The demo data set.")


@demo_cli.command("load")
def load_command():
    """Load Jixi's divisions, synthetic boundaries, demo accounts and demo inspections (idempotent)."""
    summary = load_demo(echo=click.echo)
    db.session.commit()
    click.echo("demo loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


def load_demo(echo=print):
    result = load_jixi_divisions()
    echo(f"divisions: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    users = load_demo_users()
    history = load_demo_history()
    months = missing_snapshot_months(None)
    for month in months:  # past periods and the trend read the monthly snapshots
        build_snapshot_month(month)
    queue = load_demo_queue()
    return {"divisions": result.created + result.updated + result.unchanged, "users created": users,
            "historical inspections imported": history, "monthly snapshots built": len(months),
            "inspections submitted": queue}


def load_demo_queue(now=None):
    """Submitted inspections in the demo township, through the phones' own schema and service:
    clean ones beside each kind of flag."""
    now = now or datetime.now(timezone.utc)
    inspector = db.session.scalar(select(User).where(User.username == "inspector"))
    villages = db.session.scalars(
        select(Division).where(Division.parent_code == DEMO_TOWNSHIP, Division.kind == "rural")
        .order_by(Division.code).limit(6)
    ).all()
    elsewhere = (DATA_DIR / "demo_photos" / "gps_htc_desire.jpg").read_bytes()
    created = 0
    for n, village in enumerate(villages):
        client_uuid = demo_uuid("queue", village.code)
        if db.session.scalar(select(Inspection.id).where(Inspection.client_uuid == client_uuid)) is not None:
            continue
        observed = (now - timedelta(hours=6 * (len(villages) - n))).replace(microsecond=0)
        point = village.point
        lat, lon, accuracy = point.y, point.x, 6.0
        photos = {}
        answers = full_answers()
        for k, aspect in enumerate(a for a in answers if a in PHOTO_REQUIRED):
            data = demo_photo(f"{village.code}-{aspect}", lat, lon, observed - timedelta(minutes=5 + k))
            if n == 1 and aspect == "garbage":
                data = elsewhere  # old, taken in Italy: exif_location_far + photo_stale
            if n == 2 and aspect == "cleanliness":
                data = demo_photo(f"{villages[0].code}-cleanliness", villages[0].point.y, villages[0].point.x,
                                  observed)  # the first village's photo again: photo_reused
            photos[aspect] = [store_photo(data, inspector)[0].id]
        if n == 3:
            lat, accuracy = lat + 0.06, 180.0  # far outside the village, weak fix
        if n == 4:
            answers["cleanliness"]["ponds_ditches_clean"] = False
        body = InspectionCreateSchema().load({
            "client_uuid": str(client_uuid), "village": village.code, "observed_at": observed.isoformat(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": accuracy, "crs": "wgs84"},
            "answers": answers, "photos": photos, "notes": "演示数据 demo data",
        })
        create_inspection(body, inspector)
        created += 1
    return created

"""Upload and submission throughput.

1. photos/s of the upload pipeline (sniff, limits, EXIF, decode, display + thumbnail variants with
   orientation, perceptual hash, atomic writes of original and variants) on a 12-megapixel JPEG
   made here, beside the time Pillow alone needs for the same decode + resize + encode; the ratio
   is the pipeline's overhead (goal <= 1.3). The same through HTTP (POST /api/v1/photos, database
   row included) is printed too.
2. inspections/s for JSON creates (POST /api/v1/inspections through the test client: validation,
   flags with the reuse query, version row, audit) on a fresh database with the Jixi divisions.

    .venv/bin/python benchmarks/bench_upload.py [--small] [--database-url URL]

`--small` runs a few iterations only (for CI, seconds). Without --database-url a temporary SQLite
file is used; PostgreSQL needs an empty database with PostGIS available.
"""
import argparse
import io
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from benchmarks.figures import figure  # noqa: E402

CHINA = ZoneInfo("Asia/Shanghai")


def twelve_megapixel_jpeg():
    """A 4000×3000 photo-like JPEG (smooth structure plus grain) with EXIF time, GPS and device."""
    rng = random.Random(12)
    base = Image.frombytes("RGB", (80, 60), rng.randbytes(80 * 60 * 3)).resize((4000, 3000), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((4000, 3000), 24).convert("RGB")
    image = Image.blend(base, grain, 0.15)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Xiaomi", "Redmi Note 9S", 1
    exif.get_ifd(0x8769)[0x9003] = datetime.now(CHINA).strftime("%Y:%m:%d %H:%M:%S")
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (45.0, 32.0, 46.0), "E", (131.0, 51.0, 44.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def variant_of(data, n):
    """Distinct bytes, same picture: data after the JPEG end marker is ignored by decoders."""
    return data + b"\0" + str(n).encode()


def pillow_alone(data):
    """The same decode + resize + encode with Pillow only (draft decoding, as thumbnail() does)."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (1600, 1200))
    image = image if image.mode == "RGB" else image.convert("RGB")
    display = image.resize((1600, 1200), Image.Resampling.BICUBIC, reducing_gap=2.0)
    thumb = display.resize((320, 240), Image.Resampling.BICUBIC, reducing_gap=2.0)
    for picture in (display, thumb):
        picture.save(io.BytesIO(), "JPEG", quality=82)


def best_per_item(fn, items):
    """Median seconds per call of fn over items (after one warm-up call)."""
    fn(items[0])
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def make_app(database_url, photo_root):
    import flask_migrate

    from app import create_app
    from app.extensions import db
    from app.services.demo import load_jixi_divisions

    app = create_app("testing", DATABASE_URL=database_url, PHOTO_ROOT=photo_root)
    with app.app_context():
        flask_migrate.upgrade()
        load_jixi_divisions()
        db.session.commit()
    return app


def user_headers(app, role="inspector", scope="230382100"):
    from app.auth import hash_password, issue_token
    from app.extensions import db
    from app.models import User

    with app.app_context():
        user = User(username=f"bench-{role}-{uuid.uuid4().hex[:6]}", role=role, scope_code=scope,
                    password_hash=hash_password("bench-password-1"))
        db.session.add(user)
        db.session.flush()
        token, _ = issue_token(user)
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def bench_photos(app, headers, data, iterations):
    from app.services.photos import process_photo, render_photo
    from app.storage import get_store, photo_key

    def whole_pipeline(d):  # the request's checks and original, then the job's variants and hash
        processed = process_photo(d)
        store = get_store()
        store.put(photo_key(processed.sha256, "original"), d)
        variants, _ = render_photo(d, processed.content_type, processed.exif.get("orientation"))
        for variant, content in variants.items():
            store.put(photo_key(processed.sha256, variant), content)

    items = [variant_of(data, n) for n in range(iterations)]
    alone = best_per_item(pillow_alone, items)
    with app.app_context():
        pipeline = best_per_item(whole_pipeline, items)
    client = app.test_client()
    counter = iter(range(10_000, 10_000 + iterations + 1))

    def post(_):
        body = {"file": (io.BytesIO(variant_of(data, next(counter))), "p.jpg")}
        r = client.post("/api/v1/photos", headers=headers, data=body, content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()

    http = best_per_item(post, items)
    return alone, pipeline, http


def bench_inspections(app, headers, count):
    from app.domain import full_answers
    from app.extensions import db
    from app.models import Division

    client = app.test_client()
    with app.app_context():
        point = db.session.get(Division, "230382100200").point
    def photo_id(seed):
        out = io.BytesIO()
        rng = random.Random(seed)
        Image.frombytes("RGB", (8, 6), rng.randbytes(144)).resize((640, 480)).save(out, "JPEG")
        r = client.post("/api/v1/photos", headers=headers, data={"file": (io.BytesIO(out.getvalue()), "p.jpg")},
                        content_type="multipart/form-data")
        return r.get_json()["id"]

    # each inspection has its own three photos (uploaded before timing), as in the field
    photo_sets = [{aspect: [photo_id(f"{n}-{aspect}")] for aspect in ("garbage", "sewage", "cleanliness")}
                  for n in range(count)]
    answers = full_answers()  # tap water too: a household count, no photo
    bodies = [{
        "client_uuid": str(uuid.uuid4()), "village": "230382100200",
        "observed_at": datetime.now(timezone.utc).isoformat(),
        "location": {"lat": point.y, "lon": point.x, "accuracy_m": 8}, "answers": answers, "photos": photos,
    } for photos in photo_sets]
    start = time.perf_counter()
    for body in bodies:
        r = client.post("/api/v1/inspections", headers=headers, json=body)
        assert r.status_code == 201, r.get_json()
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a few iterations only (CI)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    photo_iterations, inspection_count = (3, 20) if args.small else (15, 300)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = make_app(url, f"{tmp}/photos")
        headers = user_headers(app)
        data = twelve_megapixel_jpeg()
        alone, pipeline, http = bench_photos(app, headers, data, photo_iterations)
        rate = bench_inspections(app, headers, inspection_count)
        engine = url.split(":", 1)[0].split("+")[0]

    print(f"photo: 4000x3000 JPEG, {len(data) / 1e6:.1f} MB, {photo_iterations} runs (median)")
    print(f"  Pillow alone (decode + 1600/320 resize + encode): {alone * 1000:7.1f} ms  {1 / alone:6.2f} photos/s")
    print(f"  upload pipeline (+ sniff, EXIF, phash, writes):   {pipeline * 1000:7.1f} ms  {1 / pipeline:6.2f} photos/s"
          f"  ratio {pipeline / alone:.2f} (goal <= 1.3)")
    print(f"  POST /api/v1/photos ({engine}, row included):      {http * 1000:7.1f} ms  {1 / http:6.2f} photos/s"
          f"  ratio {http / alone:.2f}")
    print(f"inspections: {inspection_count} JSON creates ({engine}): {rate:.1f} inspections/s")
    figure("upload pipeline / Pillow alone, 12 MP JPEG (p50)", f"{pipeline / alone:.2f} (goal <= 1.3)")
    figure(f"POST /api/v1/photos, 12 MP JPEG, {engine} (p50)", f"{http * 1000:.0f} ms ({1 / http:.1f} photos/s)")
    figure(f"JSON inspection creates, {engine}, one client", f"{rate:.1f} per second")


if __name__ == "__main__":
    main()

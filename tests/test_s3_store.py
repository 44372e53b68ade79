"""The S3 photo store (PHOTO_STORE=s3://bucket/prefix) against a real Ceph RADOS Gateway started once
per run (the `rgw` fixture of tests/conftest.py, tests/ceph_rgw.py): the store's methods, presigned
URLs that RGW checks (valid, tampered, expired), the app serving photos from S3 on both engines (ETag
and 304; PHOTO_REDIRECT's 302 after the scope check), `flask photos migrate` from a disk store
(interrupted, resumed, sha256 checks) and `flask photos sweep` on S3."""
import hashlib
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from app.extensions import db
from app.services.sweep import sweep_photos
from app.storage import OBJECT_CACHE_CONTROL, LocalPhotoStore, S3PhotoStore, photo_key
from tests.factories import FOREIGN_VILLAGE, OTHER_TOWNSHIP, on_site_photos, refused, submission, submit
from tests.photos import jpeg_bytes, real_photo, upload

BUCKET = "rie-photos"  # tests/conftest.py S3_BUCKET: the `rgw` fixture makes it
ROOT = Path(__file__).resolve().parents[1]


def s3_settings(rgw, prefix, **overrides):
    return {"PHOTO_STORE": f"s3://{BUCKET}/{prefix}", "S3_ENDPOINT_URL": rgw.endpoint_url,
            "AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key,
            "AWS_DEFAULT_REGION": rgw.region, **overrides}


@pytest.fixture
def store(rgw):
    """An S3 store under a fresh prefix of the test bucket."""
    s = S3PhotoStore(BUCKET, f"unit-{secrets.token_hex(4)}", endpoint_url=rgw.endpoint_url,
                     access_key=rgw.access_key, secret_key=rgw.secret_key, region=rgw.region)
    s.ensure_bucket()
    return s


@pytest.fixture
def make_s3_app(database, rgw, tmp_path):
    """Apps on the test database whose photo store is S3 under a fresh prefix (or disk: store=None)."""
    apps = []

    def make(prefix=None, store="s3", **overrides):
        prefix = prefix or f"app-{secrets.token_hex(4)}"
        settings = s3_settings(rgw, prefix) if store == "s3" else {}
        app = create_app("testing", DATABASE_URL=database.config["SQLALCHEMY_DATABASE_URI"],
                         PHOTO_ROOT=str(tmp_path / "photos"), **{**settings, **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def fetch(url, headers=None):
    """(status, body) of a plain GET (no app, no credentials): what a browser does with a Location."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --- the store --------------------------------------------------------------------------------

def test_put_open_exists_delete_and_keys(store, rgw):
    original = real_photo("gps_htc_desire.jpg")
    sha = hashlib.sha256(original).hexdigest()
    thumb = jpeg_bytes(3)
    store.put(photo_key(sha), original)
    store.put(photo_key(sha, "thumb"), thumb)
    assert store.read(photo_key(sha)) == original
    assert store.read(photo_key(sha, "thumb")) == thumb
    assert store.exists(photo_key(sha)) and not store.exists(photo_key(sha, "display"))
    with pytest.raises(FileNotFoundError):
        store.open(photo_key(sha, "display"))

    head = store.head(photo_key(sha))
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == OBJECT_CACHE_CONTROL
    assert head["Metadata"]["sha256"] == sha
    assert head["ContentLength"] == len(original)
    # the objects are under the store's prefix in the bucket
    raw = store.client.list_objects_v2(Bucket=BUCKET, Prefix=store.prefix + "/")
    assert sorted(o["Key"] for o in raw["Contents"]) == sorted(
        [f"{store.prefix}/{photo_key(sha)}", f"{store.prefix}/{photo_key(sha, 'thumb')}"])

    assert sorted(store.keys()) == sorted([photo_key(sha), photo_key(sha, "thumb")])
    assert list(store.keys("thumb/")) == [photo_key(sha, "thumb")]
    assert list(store.keys("display/")) == []
    entry = next(e for e in store.entries() if e.key == photo_key(sha))
    assert entry.size == len(original) and abs(entry.modified - time.time()) < 60

    store.put(photo_key(sha, "thumb"), jpeg_bytes(4))  # a put replaces the whole object
    assert store.read(photo_key(sha, "thumb")) == jpeg_bytes(4)
    store.delete(photo_key(sha, "thumb"))
    store.delete(photo_key(sha, "thumb"))  # deleting what is gone is no error
    assert not store.exists(photo_key(sha, "thumb"))
    assert list(store.keys()) == [photo_key(sha)]


def test_a_larger_original_is_streamed_whole(store):
    data = os.urandom(3 * 1024 * 1024) + b"end"  # above S3_READ_WHOLE_BYTES: a stream, read in blocks
    store.put("original/aa/big", data, content_type="image/png")
    with store.open("original/aa/big") as f:
        parts = []
        while chunk := f.read(65536):
            parts.append(chunk)
    assert b"".join(parts) == data
    assert store.head("original/aa/big")["ContentType"] == "image/png"


def test_presigned_url_valid_tampered_wrong_secret_and_expired(store, rgw):
    data = jpeg_bytes(5)
    key = photo_key(hashlib.sha256(data).hexdigest(), "display")
    store.put(key, data)

    url = store.presigned_url(key, window=300)
    assert url.startswith(f"{rgw.endpoint_url}/{BUCKET}/{store.prefix}/display/")
    assert fetch(url) == (200, data)
    # the same URL within one window (browser caching), another in the next
    moment = time.time()
    start = moment - moment % 300
    assert store.presigned_url(key, 300, now=start + 1) == store.presigned_url(key, 300, now=start + 299)
    assert store.presigned_url(key, 300, now=start + 1) != store.presigned_url(key, 300, now=start + 301)

    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = ("0" if signature[-1] != "0" else "1")
    assert fetch(url[:-1] + flipped)[0] == 403
    other_key = store.presigned_url(photo_key("b" * 64, "display"), 300)  # a signature is for one key
    assert fetch(other_key.replace("/display/bb/" + "b" * 64, "/" + key.split("/", 1)[0] + "/"
                                   + key.split("/", 1)[1]))[0] == 403
    wrong = S3PhotoStore(BUCKET, store.prefix, endpoint_url=rgw.endpoint_url, access_key=rgw.access_key,
                         secret_key="not-the-secret", region=rgw.region)
    assert fetch(wrong.presigned_url(key, 300))[0] == 403

    # a 1 s window: signed at the second, valid for 2 s, then refused
    short = store.presigned_url(key, window=1)
    assert fetch(short) == (200, data)
    assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["2"]
    time.sleep(3.1)
    assert fetch(short)[0] == 403


# --- the app on S3 ------------------------------------------------------------------------------

def test_the_app_stores_and_serves_photos_from_s3(make_s3_app, make_user, tmp_path):
    app = make_s3_app()
    client = app.test_client()
    inspector, reviewer = make_user("inspector"), make_user("reviewer")
    data = real_photo("gps_samsung_sm-g930f.jpg")
    r = upload(client, inspector, data)
    assert r.status_code == 201, r.get_json()
    photo = r.get_json()
    store = app.extensions["photo_store"]
    assert isinstance(store, S3PhotoStore)
    assert store.read(photo_key(photo["sha256"])) == data
    assert not (tmp_path / "photos").exists() or not any((tmp_path / "photos").rglob("*"))  # nothing on disk

    photos = on_site_photos(client, inspector, seed=300)
    created = submit(client, inspector, submission(app, photos))
    assert created.status_code == 201, created.get_json()

    for variant in ("thumb", "display"):
        photo_id = photos["garbage"][0]
        got = client.get(f"/api/v1/photos/{photo_id}/{variant}", headers=inspector.headers)
        assert got.status_code == 200 and got.content_type == "image/jpeg"
        assert got.data[:3] == b"\xff\xd8\xff" and got.headers["Content-Length"] == str(len(got.data))
        etag = got.headers["ETag"]
        assert etag and "immutable" in got.headers["Cache-Control"]
        again = client.get(f"/api/v1/photos/{photo_id}/{variant}",
                           headers={**inspector.headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        head = store.head(photo_key(_sha_of(app, photo_id), variant))
        assert head["ContentType"] == "image/jpeg" and head["CacheControl"] == OBJECT_CACHE_CONTROL
    on_inspection = photos["garbage"][0]
    original = client.get(f"/api/v1/photos/{on_inspection}/original", headers=reviewer.headers)
    assert original.status_code == 200
    assert original.data == store.read(photo_key(_sha_of(app, on_inspection))) and original.data[:3] == b"\xff\xd8\xff"
    refused(client.get(f"/api/v1/photos/{photo['id']}/original", headers=reviewer.headers), 404)  # on no inspection
    assert client.get(f"/api/v1/photos/{photo['id']}/original", headers=inspector.headers).status_code == 403


def _sha_of(app, photo_id):
    from app.models import Photo

    with app.app_context():
        return db.session.get(Photo, photo_id).sha256


def test_photo_redirect_answers_302_to_a_working_presigned_url_after_the_scope_check(
        make_s3_app, make_user, rgw, caplog):
    public = rgw.endpoint_url.replace("127.0.0.1", "localhost")
    app = make_s3_app(PHOTO_REDIRECT=True, PHOTO_REDIRECT_WINDOW_SECONDS=600, S3_PUBLIC_ENDPOINT_URL=public)
    client = app.test_client()
    inspector, reviewer = make_user("inspector"), make_user("reviewer")
    outsider = make_user("inspector", OTHER_TOWNSHIP)
    outside_reviewer = make_user("reviewer", OTHER_TOWNSHIP)
    photos = on_site_photos(client, inspector, seed=400)
    photo_id = photos["sewage"][0]
    assert submit(client, inspector, submission(app, photos)).status_code == 201
    original_id = upload(client, inspector, real_photo("gps_apple_iphone4.jpg")).get_json()["id"]
    store = app.extensions["photo_store"]

    caplog.set_level(logging.DEBUG)
    got = client.get(f"/api/v1/photos/{photo_id}/display", headers=inspector.headers)
    assert got.status_code == 302
    location = got.headers["Location"]
    assert location.startswith(f"{public}/{BUCKET}/{store.prefix}/display/")  # signed for the public host
    assert "private" in got.headers["Cache-Control"]
    assert 0 <= got.cache_control.max_age <= 600
    status, body = fetch(location)
    assert status == 200, body
    assert body == store.read(photo_key(_sha_of(app, photo_id), "display"))
    assert body[:3] == b"\xff\xd8\xff"
    # the same URL for the next request within the window: the browser's cache keeps working
    assert client.get(f"/api/v1/photos/{photo_id}/display", headers=inspector.headers).headers["Location"] == location
    thumb = client.get(f"/api/v1/photos/{photo_id}/thumb", headers=reviewer.headers)
    assert thumb.status_code == 302 and fetch(thumb.headers["Location"])[0] == 200

    # out of scope: 404 and no URL; below the reviewer role: 403 for the original, no URL
    for user in (outsider, outside_reviewer):
        refused_answer = client.get(f"/api/v1/photos/{photo_id}/display", headers=user.headers)
        refused(refused_answer, 404)
        assert "Location" not in refused_answer.headers
    forbidden = client.get(f"/api/v1/photos/{original_id}/original", headers=inspector.headers)
    assert forbidden.status_code == 403 and "Location" not in forbidden.headers
    assert client.get(f"/api/v1/photos/{original_id}/original").status_code == 401
    # a reviewer in scope is sent to the original's bytes
    original = client.get(f"/api/v1/photos/{photo_id}/original", headers=reviewer.headers)
    assert original.status_code == 302
    assert fetch(original.headers["Location"]) == (200, store.read(photo_key(_sha_of(app, photo_id))))

    signature = parse_qs(urlsplit(location).query)["X-Amz-Signature"][0]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records and signature not in logged and "X-Amz-Signature" not in logged
    # botocore's DEBUG records (each request's signature) stay off even at DEBUG
    assert not [r for r in caplog.records if r.name.startswith("botocore") and r.levelno < logging.INFO]


def test_without_photo_redirect_s3_photos_are_served_by_the_app(make_s3_app, make_user):
    app = make_s3_app()
    client = app.test_client()
    inspector = make_user("inspector")
    photos = on_site_photos(client, inspector, seed=500, aspects=("garbage",))
    got = client.get(f"/api/v1/photos/{photos['garbage'][0]}/thumb", headers=inspector.headers)
    assert got.status_code == 200 and "Location" not in got.headers


def test_foreign_inspection_photos_stay_hidden_on_s3(make_s3_app, make_user):
    """A photo on an inspection of another township: 404 for an inspector here, 302 for its own."""
    app = make_s3_app(PHOTO_REDIRECT=True)
    client = app.test_client()
    there = make_user("inspector", OTHER_TOWNSHIP)
    photos = on_site_photos(client, there, seed=600, village=FOREIGN_VILLAGE)
    assert submit(client, there, submission(app, photos, village=FOREIGN_VILLAGE)).status_code == 201
    photo_id = photos["garbage"][0]
    refused(client.get(f"/api/v1/photos/{photo_id}/thumb", headers=make_user("inspector").headers), 404)
    assert client.get(f"/api/v1/photos/{photo_id}/thumb", headers=there.headers).status_code == 302


# --- flask photos migrate -------------------------------------------------------------------

def _disk_store_with_photos(make_s3_app, make_user, extra=0):
    """A disk-store app with three uploaded real photos (original, display, thumb each) and `extra`
    more originals written to its store directly; returns (app, photo ids, store keys, uploader)."""
    app = make_s3_app(store="disk")
    client = app.test_client()
    inspector = make_user("inspector")
    ids = []
    for name in ("gps_htc_desire.jpg", "gps_sony_dsc-hx5v.jpg", "nogps_canon_40d.jpg"):
        r = upload(client, inspector, real_photo(name))
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    disk = app.extensions["photo_store"]
    for seed in range(extra):
        data = jpeg_bytes(1000 + seed)
        disk.put(photo_key(hashlib.sha256(data).hexdigest()), data)
    disk.put("original/aa/.tmp-abandoned", b"half")  # neither copied nor counted
    keys = sorted(k for k in disk.keys() if ".tmp-" not in k)
    return app, ids, keys, inspector


def test_migrate_copies_the_disk_store_resumes_and_is_idempotent(make_s3_app, make_user, rgw):
    app, ids, keys, uploader = _disk_store_with_photos(make_s3_app, make_user)
    assert len(keys) == 9
    prefix = f"mig-{secrets.token_hex(4)}"
    runner = app.test_cli_runner()
    to = f"s3://{BUCKET}/{prefix}"

    app.config.update({k: v for k, v in s3_settings(rgw, prefix).items() if k != "PHOTO_STORE"})
    first = runner.invoke(args=["photos", "migrate", "--to", to, "--limit", "4"])
    assert first.exit_code == 0, first.output
    assert "copied 4 (" in first.output and "stopped after 4 copies" in first.output
    second = runner.invoke(args=["photos", "migrate", "--to", to, "-v"])
    assert second.exit_code == 0, second.output
    assert "copied 5 (" in second.output and "skipped 4 already there" in second.output
    assert second.output.count(" copied ") == 5
    third = runner.invoke(args=["photos", "migrate", "--to", to])
    assert third.exit_code == 0 and "copied 0 (" in third.output and "skipped 9 already there" in third.output

    s3_app = make_s3_app(prefix=prefix)
    target = s3_app.extensions["photo_store"]
    disk = app.extensions["photo_store"]
    assert sorted(target.keys()) == keys
    for key in keys:
        data = disk.read(key)
        assert target.read(key) == data
        assert target.head(key)["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    # the app on S3 serves the migrated photos (to their uploader: they are on no inspection)
    client = s3_app.test_client()
    got = client.get(f"/api/v1/photos/{ids[0]}/display", headers=uploader.headers)
    assert got.status_code == 200 and got.data == disk.read(photo_key(_sha_of(s3_app, ids[0]), "display"))
    refused(client.get(f"/api/v1/photos/{ids[0]}/display", headers=make_user("inspector", OTHER_TOWNSHIP).headers), 404)


def test_migrate_detects_sha256_mismatches(make_s3_app, make_user, rgw):
    app, ids, keys, _ = _disk_store_with_photos(make_s3_app, make_user)
    prefix = f"bad-{secrets.token_hex(4)}"
    app.config.update({k: v for k, v in s3_settings(rgw, prefix).items() if k != "PHOTO_STORE"})
    runner = app.test_cli_runner()
    to = f"s3://{BUCKET}/{prefix}"
    assert runner.invoke(args=["photos", "migrate", "--to", to]).exit_code == 0
    disk = app.extensions["photo_store"]
    target = make_s3_app(prefix=prefix).extensions["photo_store"]

    damaged = next(k for k in keys if k.startswith("original/"))
    good_bytes = disk.read(damaged)
    disk.path(damaged).write_bytes(good_bytes[:-10] + b"0123456789")  # the disk file no longer is its sha256
    tampered = next(k for k in keys if k.startswith("thumb/"))
    target.client.put_object(Bucket=BUCKET, Key=target.object_key(tampered), Body=b"other bytes")  # no sha256
    stale = next(k for k in keys if k.startswith("display/"))
    target.client.put_object(Bucket=BUCKET, Key=target.object_key(stale), Body=b"x",
                             Metadata={"sha256": "0" * 64})  # a wrong recorded sha256

    result = runner.invoke(args=["photos", "migrate", "--to", to])
    assert result.exit_code == 1, result.output
    assert f"source mismatch: {damaged}" in result.output
    assert "copied 2 (" in result.output and "2 replacing other bytes" in result.output
    assert "1 not matching their sha256 on disk" in result.output
    assert target.read(damaged) == good_bytes  # the good copy on S3 is not overwritten by damaged bytes
    assert target.read(tampered) == disk.read(tampered) and target.read(stale) == disk.read(stale)


def test_migrate_killed_midway_is_finished_by_a_second_run(make_s3_app, make_user, rgw, database):
    app, _, keys, _ = _disk_store_with_photos(make_s3_app, make_user, extra=60)
    prefix = f"kill-{secrets.token_hex(4)}"
    settings = s3_settings(rgw, prefix)
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database.config["SQLALCHEMY_DATABASE_URI"],
           "PHOTO_ROOT": app.config["PHOTO_ROOT"], "PYTHONUNBUFFERED": "1",
           **{k: v for k, v in settings.items() if k != "PHOTO_STORE"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "photos", "migrate", "--to", f"s3://{BUCKET}/{prefix}", "-v"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(120, process.kill)  # never hang the suite on a child that does not print
    watchdog.start()
    try:
        for line in process.stdout:
            if line.startswith(" copied "):
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        watchdog.cancel()
    assert process.returncode == -signal.SIGKILL
    target = make_s3_app(prefix=prefix).extensions["photo_store"]
    done = sorted(target.keys())
    assert 1 <= len(done) < len(keys)

    app.config.update({k: v for k, v in settings.items() if k != "PHOTO_STORE"})
    rest = app.test_cli_runner().invoke(args=["photos", "migrate", "--to", f"s3://{BUCKET}/{prefix}"])
    assert rest.exit_code == 0, rest.output
    copied = int(re.search(r"copied (\d+) \(", rest.output).group(1))
    skipped = int(re.search(r"skipped (\d+) already there", rest.output).group(1))
    # a PUT the gateway was still finishing at the kill may land after the listing above: it is skipped too
    assert copied >= 1 and skipped >= len(done) and copied + skipped == len(keys)
    assert sorted(target.keys()) == keys


def test_migrate_refuses_a_target_that_is_not_s3(make_s3_app):
    app = make_s3_app(store="disk")
    result = app.test_cli_runner().invoke(args=["photos", "migrate", "--to", "/tmp/elsewhere"])
    assert result.exit_code == 2 and "s3://bucket/prefix" in result.output


# --- flask photos sweep on S3 -----------------------------------------------------------------

def test_sweep_removes_old_orphans_from_s3_and_keeps_the_rest(make_s3_app, make_user):
    app = make_s3_app(PHOTO_SWEEP_MIN_AGE_SECONDS=3)  # S3 times are whole seconds: a margin of two
    client = app.test_client()
    store = app.extensions["photo_store"]
    kept = upload(client, make_user("inspector"), jpeg_bytes(700)).get_json()["sha256"]
    old_sha, young_sha = hashlib.sha256(b"old").hexdigest(), hashlib.sha256(b"young").hexdigest()
    old = [photo_key(old_sha, v) for v in ("original", "display", "thumb")]
    for key in old:
        store.put(key, b"o" * 100)
    store.put("notes/readme.txt", b"not a photo key")
    time.sleep(3.2)
    young = photo_key(young_sha)
    store.put(young, b"y" * 10)

    with app.app_context():
        dry = sweep_photos(dry_run=True)
        assert (dry.orphans, sorted(dry.removed)) == (3, sorted(old))
        assert all(store.exists(k) for k in old)
        result = sweep_photos()
    assert (result.orphans, result.orphan_bytes) == (3, 300)
    assert result.kept_with_row == 3 and result.kept_young == 1 and result.unknown == 1
    assert not any(store.exists(k) for k in old)
    assert store.exists(young) and store.exists("notes/readme.txt")
    assert all(store.exists(photo_key(kept, v)) for v in ("original", "display", "thumb"))
    out = app.test_cli_runner().invoke(args=["photos", "sweep", "--dry-run"])
    assert out.exit_code == 0 and "would remove 0 files without a photo row" in out.output


def test_an_s3_object_rewritten_after_the_listing_is_not_removed(store):
    store.put("original/cc/" + "c" * 64, b"fresh")
    assert not store.delete_if_older("original/cc/" + "c" * 64, cutoff=time.time() - 3600)
    assert store.exists("original/cc/" + "c" * 64)
    assert store.delete_if_older("original/cc/" + "c" * 64, cutoff=time.time() + 5)
    assert not store.exists("original/cc/" + "c" * 64)
    assert not store.delete_if_older("original/cc/" + "c" * 64, cutoff=time.time() + 5)


def test_local_store_lists_its_keys_too(tmp_path):
    local = LocalPhotoStore(tmp_path, fsync=False)
    local.put(photo_key("d" * 64), b"1")
    local.put(photo_key("d" * 64, "thumb"), b"22")
    assert sorted(local.keys()) == sorted([photo_key("d" * 64), photo_key("d" * 64, "thumb")])
    assert list(local.keys("thumb/")) == [photo_key("d" * 64, "thumb")]
    assert [e.size for e in local.entries("original/")] == [1]


def test_a_store_that_does_not_answer_is_503_and_no_row_is_written(make_s3_app, make_user):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    app = make_s3_app(S3_ENDPOINT_URL=closed)
    data = jpeg_bytes(800)
    answer = upload(app.test_client(), make_user("inspector"), data)
    assert answer.status_code == 503, answer.get_json()
    body = answer.get_json()["error"]
    assert (body["status"], body["code"]) == (503, "service_unavailable")
    assert body["message"] and body["message_zh"] and answer.headers["Retry-After"] == "5"
    assert closed not in answer.get_data(as_text=True)
    from app.models import Photo

    with app.app_context():
        assert db.session.scalar(db.select(Photo).where(Photo.sha256 == hashlib.sha256(data).hexdigest())) is None


def test_with_photo_redirect_a_variant_not_made_yet_is_served_by_the_app(make_s3_app, make_user):
    """A pending photo's variant is made from the original on the fly (no object to point at): the
    app answers 200 with the provisional bytes, never a redirect to a missing object."""
    from app.models import Photo

    app = make_s3_app(PHOTO_REDIRECT=True)
    client = app.test_client()
    inspector = make_user("inspector")
    photo_id = upload(client, inspector, real_photo("gps_sony_dsc-hx5v.jpg")).get_json()["id"]
    store = app.extensions["photo_store"]
    sha = _sha_of(app, photo_id)
    assert client.get(f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers).status_code == 302
    with app.app_context():  # as between the upload and its variants job
        db.session.get(Photo, photo_id).variants_status = "pending"
        db.session.commit()
    store.delete(photo_key(sha, "thumb"))
    got = client.get(f"/api/v1/photos/{photo_id}/thumb", headers=inspector.headers)
    assert got.status_code == 200 and "Location" not in got.headers
    assert got.data[:3] == b"\xff\xd8\xff" and "no-cache" in got.headers["Cache-Control"]
    assert not store.exists(photo_key(sha, "thumb"))

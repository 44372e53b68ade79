"""`flask photos sweep`: stored files without a Photo row (left by killed or refused requests) and
half-written temp files are removed once older than the longest request; nothing younger, and no
file whose sha256 has a row, is ever touched."""
import hashlib
import os
import time

import pytest

from app import create_app
from app.extensions import db
from app.models import Photo
from app.services.sweep import sweep_photos
from app.storage import photo_key

HOUR = 3600


@pytest.fixture
def store_app(database, tmp_path):
    """The app on the test database with a photo store of its own (the sweep walks all of it)."""
    return create_app("testing", DATABASE_URL=database.config["SQLALCHEMY_DATABASE_URI"],
                      PHOTO_ROOT=str(tmp_path / "photos"))


def root_of(app):
    return app.extensions["photo_store"].root


def write(app, key, data=b"x" * 100, age=0):
    path = root_of(app) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        moment = time.time() - age
        os.utime(path, (moment, moment))
    return path


def orphan_keys(sha256):
    return [photo_key(sha256, v) for v in ("original", "display", "thumb")]


def age_everything(app, seconds):
    moment = time.time() - seconds
    for dirpath, _, files in os.walk(root_of(app)):
        for name in files:
            os.utime(os.path.join(dirpath, name), (moment, moment))


def stored_photo(app, data=b"a stored photo"):
    """A Photo row with its three files, as an upload leaves them; returns its sha256."""
    sha256 = hashlib.sha256(data).hexdigest()
    for key in orphan_keys(sha256):
        write(app, key, data)
    with app.app_context():
        db.session.add(Photo(id=sha256[:32], sha256=sha256, content_type="image/jpeg", size_bytes=len(data),
                             width=320, height=240, exif={}, has_exif=False))
        db.session.commit()
    return sha256


def test_an_old_orphan_is_removed_a_young_one_and_a_file_with_a_row_are_kept(store_app):
    kept_sha = stored_photo(store_app)
    old_sha, young_sha = hashlib.sha256(b"old").hexdigest(), hashlib.sha256(b"young").hexdigest()
    age_everything(store_app, 2 * HOUR)  # the uploaded photo's files are old too: its row keeps them
    old = [write(store_app, k, age=2 * HOUR) for k in orphan_keys(old_sha)]
    young = [write(store_app, k, age=HOUR - 60) for k in orphan_keys(young_sha)]
    with store_app.app_context():
        result = sweep_photos()
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in young)
    assert all((root_of(store_app) / k).exists() for k in orphan_keys(kept_sha))
    assert (result.orphans, result.orphan_bytes) == (3, 300)
    assert result.kept_with_row == 3 and result.kept_young == 3


def test_old_temp_files_are_removed_and_young_ones_kept(store_app):
    shard = hashlib.sha256(b"t").hexdigest()[:2]
    old = write(store_app, f"original/{shard}/.tmp-abc123", b"half", age=2 * HOUR)
    old_variant = write(store_app, f"thumb/{shard}/.tmp-zz9", b"half a thumb", age=5 * HOUR)
    young = write(store_app, f"original/{shard}/.tmp-def456", b"being written", age=60)
    with store_app.app_context():
        result = sweep_photos()
    assert not old.exists() and not old_variant.exists() and young.exists()
    assert (result.temp_files, result.temp_bytes) == (2, len(b"half") + len(b"half a thumb"))


def test_a_dry_run_removes_nothing(store_app):
    path = write(store_app, photo_key(hashlib.sha256(b"o").hexdigest()), age=2 * HOUR)
    with store_app.app_context():
        result = sweep_photos(dry_run=True)
    assert path.exists() and result.orphans == 1 and result.dry_run


def test_unknown_files_are_left_alone(store_app):
    stray = [write(store_app, "original/ab/not-a-photo.txt", age=9 * HOUR),
             write(store_app, "README", age=9 * HOUR),
             write(store_app, f"elsewhere/{hashlib.sha256(b'e').hexdigest()}", age=9 * HOUR)]
    with store_app.app_context():
        result = sweep_photos()
    assert all(p.exists() for p in stray) and result.orphans == 0 and result.unknown == 3


def test_a_file_rewritten_during_the_sweep_is_kept(store_app, monkeypatch):
    """An upload of the same bytes may rewrite an old orphan while the sweep runs: the sweep sets
    the file aside first and puts it back when it turns out fresh."""
    from app.services import sweep

    sha = hashlib.sha256(b"again").hexdigest()
    path = write(store_app, photo_key(sha), b"again", age=2 * HOUR)
    real_rows = sweep._shas_with_rows

    def rows_then_rewrite(shas):
        found = real_rows(shas)
        path.write_bytes(b"again")  # a concurrent upload's put: a fresh file under the key
        return found

    monkeypatch.setattr(sweep, "_shas_with_rows", rows_then_rewrite)
    with store_app.app_context():
        result = sweep_photos()
    assert path.read_bytes() == b"again" and result.orphans == 0
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_the_limit_cannot_be_lowered_below_the_setting(store_app):
    with store_app.app_context(), pytest.raises(ValueError, match="PHOTO_SWEEP_MIN_AGE_SECONDS"):
        sweep_photos(min_age=60)


# --- the command ----------------------------------------------------------------------------

def test_the_command_prints_what_it_removed(store_app):
    sha = hashlib.sha256(b"cli").hexdigest()
    for key in orphan_keys(sha):
        write(store_app, key, b"y" * 1000, age=3 * HOUR)
    write(store_app, f"display/{sha[:2]}/.tmp-q", b"z" * 24, age=3 * HOUR)
    runner = store_app.test_cli_runner()
    dry = runner.invoke(args=["photos", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove 3 files without a photo row (3000 bytes)" in dry.output
    assert "would remove 1 temp file (24 bytes)" in dry.output
    assert (root_of(store_app) / photo_key(sha)).exists()
    done = runner.invoke(args=["photos", "sweep", "--min-age", str(2 * HOUR), "--verbose"])
    assert done.exit_code == 0, done.output
    assert "removed 3 files without a photo row (3000 bytes)" in done.output
    assert "removed 1 temp file (24 bytes)" in done.output
    assert photo_key(sha, "thumb") in done.output
    assert not (root_of(store_app) / photo_key(sha)).exists()
    again = runner.invoke(args=["photos", "sweep", "--min-age", str(4 * HOUR)])
    assert "removed 0 files without a photo row (0 bytes)" in again.output


def test_the_command_refuses_a_limit_below_the_setting(store_app):
    r = store_app.test_cli_runner().invoke(args=["photos", "sweep", "--min-age", "10"])
    assert r.exit_code != 0 and "PHOTO_SWEEP_MIN_AGE_SECONDS" in r.output

"""Real image bytes for the tests: generated pictures with EXIF written the way a phone writes it,
the real-world files of tests/data/photos, and the upload request."""
import io
import random
from pathlib import Path

from PIL import Image

DATA = Path(__file__).parent / "data"
PHOTOS = DATA / "photos"


def pattern_image(seed, size=(256, 192)):
    """A blocky random picture: different seeds give perceptually different images."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3))
    return small.resize(size, Image.Resampling.NEAREST)


def jpeg_bytes(seed=1, size=(256, 192), exif=None, quality=90):
    out = io.BytesIO()
    image = pattern_image(seed, size)
    if exif is None:
        image.save(out, "JPEG", quality=quality)
    else:
        image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def make_exif(taken_local=None, lat=None, lon=None, offset=None, make="TestMake", model="TestPhone"):
    """EXIF written with Pillow's Exif API: capture time (as written on the phone), GPS, device."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    if taken_local:
        exif.get_ifd(0x8769)[0x9003] = taken_local
        if offset:
            exif.get_ifd(0x8769)[0x9011] = offset
    if lat is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        gps[2] = _dms(abs(lat))
        gps[4] = _dms(abs(lon))
    return exif


def _dms(value):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def real_photo(name):
    """The bytes of a real-world file in tests/data/photos."""
    return (PHOTOS / name).read_bytes()


def upload(client, user, data, name="photo.jpg", content_type="image/jpeg"):
    """POST /api/v1/photos as `user`; returns the response."""
    return client.post("/api/v1/photos", headers=user.headers,
                       data={"file": (io.BytesIO(data), name, content_type)}, content_type="multipart/form-data")

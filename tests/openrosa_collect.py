"""What ODK Collect does, for the OpenRosa tests: set up from a device key, read the form list,
download the form the server serves, fill its instance the way Collect writes one, and send it as
Collect sends (HEAD first, then multipart with the XML first and one part per file named by its
file name, raw UTF-8 in the part headers, a garbage `Date`, `*isIncomplete*` on split sends)."""
import copy
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from sqlalchemy import text

from app.extensions import db

PHOTOS = Path(__file__).parent / "data" / "photos"
REAL_PHOTOS = ["gps_htc_desire.jpg", "gps_samsung_sm-g930f.jpg", "gps_sony_dsc-hx5v.jpg"]
XFORMS = "http://www.w3.org/2002/xforms"
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE_NS = "{http://openrosa.org/http/response}"
CHINA = timezone(timedelta(hours=8))
COLLECT_HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2025.2.3 okhttp/4.12.0 (Redmi Note 9S; Android 12)",
    # Collect's 12-hour clock without AM/PM: a Date that is wrong and not even well-formed
    "Date": "Tue, 01 Sep 2026 09:12:33 GMT+08:00 下午",
}


def photo_bytes(name):
    return (PHOTOS / name).read_bytes()


def local(tag):
    return tag.rsplit("}", 1)[-1]


def make_device_key(client, user, **body):
    r = client.post("/api/v1/device-keys", headers=user.headers, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def key_path(server_url):
    """The path part of a server URL (the test client speaks paths)."""
    return urlsplit(server_url).path


def path_of(url):
    return urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")


def form_list(client, base, **params):
    r = client.get(f"{base}/formList", query_string={"deviceID": "collect:ABCDEF0123456789", **params},
                   headers=COLLECT_HEADERS)
    assert r.status_code == 200, r.data
    root = ET.fromstring(r.data)
    forms = [{local(c.tag): c.text for c in xform} for xform in root.findall(f"{LIST_NS}xform")]
    return r, forms


def download_form(client, base):
    _, forms = form_list(client, base)
    (entry,) = forms
    r = client.get(path_of(entry["downloadUrl"]), headers=COLLECT_HEADERS)
    assert r.status_code == 200
    return entry, r.data


def village_point(app, village):
    with app.app_context():
        lat, lon = db.session.execute(text("SELECT ST_Y(point), ST_X(point) FROM divisions WHERE code = :c"),
                                      {"c": village}).one()
    return lat, lon


def new_instance_id():
    return f"uuid:{uuid.uuid4()}"


def odk_time(moment):
    """An ODK dateTime in China time with milliseconds, as Collect writes it."""
    local_time = moment.astimezone(CHINA)
    return local_time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local_time.microsecond // 1000:03d}+08:00"


def fill_instance(form_xml, *, village, location, answers, photos, notes=None, instance_id=None,
                  deprecated_id=None, end=None, start=None):
    """The instance XML Collect would send for this form: the form's own primary instance, every
    value set where the form has its element, one repeat per photo. `location` is (lat, lon,
    altitude, accuracy) or None; `answers` as in the JSON API (true/false -> yes/no);
    `photos` {aspect: [file names]}."""
    form = ET.fromstring(form_xml)
    model = form.find(f".//{{{XFORMS}}}model")
    primary = next(i for i in model.findall(f"{{{XFORMS}}}instance") if "id" not in i.attrib)
    data = copy.deepcopy(list(primary)[0])
    for element in data.iter():  # Collect writes the instance without the XForms namespace
        element.tag = local(element.tag)
    data.set("xmlns:jr", "http://openrosa.org/javarosa")
    data.set("xmlns:orx", "http://openrosa.org/xforms")
    end = end or datetime.now(timezone.utc) - timedelta(minutes=2)
    start = start or end - timedelta(minutes=20)

    def put(parent, name, value):
        element = parent.find(name)
        assert element is not None, f"the form has no {name} in {parent.tag}"
        element.text = value

    put(data, "start", odk_time(start))
    put(data, "end", odk_time(end))
    put(data, "deviceid", "collect:ABCDEF0123456789")
    put(data, "village", village)
    put(data, "location", "" if location is None else " ".join(str(v) for v in location))
    for aspect in ("garbage", "sewage", "cleanliness", "tap_water"):
        group = data.find(aspect)
        assert group is not None, f"the form has no group {aspect}"
        answered = data.find(f"{aspect}_answered")
        if answered is not None:
            answered.text = "yes" if aspect in answers else "no"
        for key, value in (answers.get(aspect) or {}).items():
            put(group, key, "yes" if value is True else "no" if value is False else str(value))
        repeats = group.findall(f"{aspect}_photos")
        if repeats:
            template = copy.deepcopy(repeats[0])
            template.attrib.clear()
            for repeat in repeats:
                group.remove(repeat)
            for name in (photos.get(aspect) or []):
                repeat = copy.deepcopy(template)
                repeat.find(f"{aspect}_photo").text = name
                group.append(repeat)
    if notes is not None:
        put(data, "notes", notes)
    meta = data.find("meta")
    put(meta, "instanceID", instance_id or new_instance_id())
    if deprecated_id:
        ET.SubElement(meta, "deprecatedID").text = deprecated_id
    return b"<?xml version='1.0' encoding='UTF-8' ?>" + ET.tostring(data, encoding="utf-8")


def multipart(xml, files, incomplete=False):
    """(body, content type) as OkHttp builds it for Collect: the XML part first, then one part per
    file whose name and filename are the file name (raw UTF-8 in the quoted strings)."""
    boundary = secrets.token_hex(16)
    chunks = []

    def part(name, filename, content_type, payload):
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        chunks.append(head.encode("utf-8") + payload + b"\r\n")

    part("xml_submission_file", "submission.xml", "text/xml", xml)
    for name, payload in files:
        part(name, name, "image/jpeg", payload)
    if incomplete:
        part("*isIncomplete*", None, None, b"yes")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def send(client, base, xml, files=(), incomplete=False, head=True):
    """HEAD then POST, as Collect does; returns the POST's response."""
    if head:
        h = client.head(f"{base}/submission", headers=COLLECT_HEADERS)
        assert h.status_code == 204, h.status_code
    body, content_type = multipart(xml, files, incomplete)
    return client.post(f"{base}/submission", data=body, content_type=content_type, headers=COLLECT_HEADERS)


def message(response):
    """The first <message> of an OpenRosaResponse (what Collect shows)."""
    root = ET.fromstring(response.data)
    assert local(root.tag) == "OpenRosaResponse"
    return root.find(f"{RESPONSE_NS}message").text

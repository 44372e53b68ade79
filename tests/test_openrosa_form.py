"""Device keys, the form list, the generated form and its versions, as ODK Collect reads them."""
import base64
import hashlib
import io
from xml.etree import ElementTree as ET

import pytest
from PIL import Image

from app.domain import CHECKLIST, full_answers
from app.services.device_keys import decode_settings_qr_text, settings_qr_text
from tests.factories import sql
from tests.openrosa_collect import (
    COLLECT_HEADERS,
    MANIFEST_NS,
    REAL_PHOTOS,
    XFORMS,
    download_form,
    fill_instance,
    form_list,
    key_path,
    make_device_key,
    message,
    path_of,
    photo_bytes,
    send,
    village_point,
)

X = f"{{{XFORMS}}}"
JR = "{http://openrosa.org/javarosa}"
ORX = "{http://openrosa.org/xforms}"
ODK = "{http://www.opendatakit.org/xforms}"


# --- device keys ------------------------------------------------------------------------------------

def test_an_inspector_makes_a_key_with_server_url_and_settings_qr(client, inspector):
    body = make_device_key(client, inspector, label="张三的红米")
    key = body["key"]
    assert len(key) >= 40 and body["server_url"] == f"http://localhost/openrosa/key/{key}"
    assert body["user"]["id"] == inspector.id and body["active"] is True and body["label"] == "张三的红米"
    settings = body["settings"]
    assert settings["general"]["server_url"] == body["server_url"]
    assert settings["general"]["form_update_mode"] == "match_exactly"
    assert settings["general"]["autosend"] == "wifi_and_cellular"
    assert settings["general"]["metadata_username"] == inspector.username
    assert decode_settings_qr_text(settings_qr_text(settings)) == settings
    prefix = "data:image/png;base64,"
    assert body["settings_qr"].startswith(prefix)
    png = Image.open(io.BytesIO(base64.b64decode(body["settings_qr"][len(prefix):])))
    assert png.format == "PNG" and png.size[0] == png.size[1] > 150
    ((stored,),) = sql(client.application, "SELECT key_hash FROM device_keys")
    assert stored != key and key not in stored


def test_keys_are_listed_without_the_key_and_revoked(client, inspector):
    made = make_device_key(client, inspector)
    listed = client.get("/api/v1/device-keys", headers=inspector.headers).get_json()["items"]
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]
    base = key_path(made["server_url"])
    assert client.head(f"{base}/submission").status_code == 204
    assert client.delete(f"/api/v1/device-keys/{made['id']}", headers=inspector.headers).status_code == 204
    assert client.delete(f"/api/v1/device-keys/{made['id']}", headers=inspector.headers).status_code == 204
    r = client.get(f"{base}/formList", headers=COLLECT_HEADERS)
    assert r.status_code == 403 and "WWW-Authenticate" not in r.headers
    assert "密钥无效" in message(r) and r.headers["X-OpenRosa-Version"] == "1.0"
    listed = client.get("/api/v1/device-keys?active=false", headers=inspector.headers).get_json()["items"]
    assert listed[0]["revoked_at"] and listed[0]["active"] is False
    actions = [a for (a,) in sql(client.application, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["device_key.created", "device_key.revoked"]


def test_a_made_up_key_is_403_without_a_password_prompt(client):
    r = client.head("/openrosa/key/not-a-real-key-0000000000000000000000000/submission")
    assert r.status_code == 403 and "WWW-Authenticate" not in r.headers


def test_an_admin_makes_keys_for_inspectors_in_scope_only(client, admin, make_user):
    inspector = make_user("inspector", "230382100")
    body = make_device_key(client, admin, user_id=inspector.id)
    assert body["user"]["id"] == inspector.id and body["created_by"]["id"] == admin.id
    county_admin = make_user("admin", "230381")
    r = client.post("/api/v1/device-keys", headers=county_admin.headers, json={"user_id": inspector.id})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    reviewer = make_user("reviewer", "230382100")
    r = client.post("/api/v1/device-keys", headers=admin.headers, json={"user_id": reviewer.id})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"
    listed = client.get("/api/v1/device-keys", headers=admin.headers).get_json()["items"]
    assert [k["user"]["id"] for k in listed] == [inspector.id]
    assert client.get("/api/v1/device-keys", headers=county_admin.headers).get_json()["items"] == []
    assert sql(client.application, "SELECT count(*) FROM device_keys")[0][0] == 1


def test_inspectors_make_keys_for_themselves_only_and_reviewers_none(client, inspector, make_user):
    other = make_user("inspector", "230382100")
    r = client.post("/api/v1/device-keys", headers=inspector.headers, json={"user_id": other.id})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    reviewer = make_user("reviewer", "230382100")
    assert client.post("/api/v1/device-keys", headers=reviewer.headers, json={}).status_code == 403
    mine = make_device_key(client, other)
    assert client.delete(f"/api/v1/device-keys/{mine['id']}", headers=inspector.headers).status_code == 404
    assert sql(client.application, "SELECT count(*) FROM device_keys WHERE revoked_at IS NULL")[0][0] == 1


def test_the_key_never_reaches_what_servers_log(client, inspector, caplog):
    """gunicorn's access log reads RAW_URI (and PATH_INFO, QUERY_STRING) from the environ it gave the
    app, after the response: the key must be gone from it by then."""
    from werkzeug.test import EnvironBuilder

    body = make_device_key(client, inspector)
    key = body["key"]
    base = key_path(body["server_url"])
    environ = EnvironBuilder(path=f"{base}/formList", headers=COLLECT_HEADERS).get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = f"{base}/formList?deviceID=collect:X"
    statuses = []
    b"".join(client.application.wsgi_app(environ, lambda status, headers, *_: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert all(key not in environ[name] for name in ("PATH_INFO", "RAW_URI", "REQUEST_URI"))
    assert environ["RAW_URI"] == "/openrosa/key/-/formList?deviceID=collect:X"
    assert key not in caplog.text
    audit = sql(client.application, "SELECT details FROM audit_log")
    assert audit and all(key not in str(row) for row in audit)


# --- the form list and the form -----------------------------------------------------------------------

def test_form_list_is_what_collect_accepts(client, inspector):
    base = key_path(make_device_key(client, inspector)["server_url"])
    r, forms = form_list(client, base)
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert r.headers["X-OpenRosa-Version"] == "1.0" and r.headers["Date"]
    (entry,) = forms
    assert {"formID", "name", "version", "hash", "downloadUrl"} <= set(entry) and "manifestUrl" not in entry
    assert entry["formID"] == "rural_inspection" and entry["name"] == "农村人居环境巡查"
    download = client.get(path_of(entry["downloadUrl"]), headers=COLLECT_HEADERS)
    assert download.status_code == 200 and download.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert entry["hash"] == "md5:" + hashlib.md5(download.data).hexdigest()
    assert form_list(client, base, formID="rural_inspection")[1] == forms
    assert form_list(client, base, formID="someone_elses_form")[1] == []


def test_the_form_is_generated_from_the_checklist(client, inspector):
    base = key_path(make_device_key(client, inspector)["server_url"])
    entry, data = download_form(client, base)
    form = ET.fromstring(data)
    translations = form.findall(f".//{X}itext/{X}translation")
    assert [t.get("lang") for t in translations] == ["中文 (zh)", "English (en)"]
    assert translations[0].get("default") == "true()"
    zh = {t.get("id"): t.find(f"{X}value").text for t in translations[0]}
    en = {t.get("id"): t.find(f"{X}value").text for t in translations[1]}
    binds = {b.get("nodeset"): b for b in form.iter(f"{X}bind")}
    for aspect in CHECKLIST:
        for item in aspect["items"]:
            path = f"/data/{aspect['aspect']}/{item['key']}"
            assert path in binds, path
            assert zh[f"{path}:label"] == item["label_zh"] and en[f"{path}:label"] == item["label"]
        photo = binds.get(f"/data/{aspect['aspect']}/{aspect['aspect']}_photos/{aspect['aspect']}_photo")
        if aspect.get("photo_required", True):
            assert photo.get("type") == "binary" and photo.get(f"{ORX}max-pixels") == "2048"
        else:
            assert photo is None
    assert binds["/data/location"].get("type") == "geopoint"
    assert binds["/data/tap_water/households_with_tap"].get("constraint").replace(" ", "").endswith(
        ".<=/data/tap_water/households")
    for meta in ("start", "end", "deviceid"):
        assert binds[f"/data/{meta}"].get(f"{JR}preloadParams") == meta
    assert binds["/data/meta/instanceID"].get(f"{JR}preload") == "uid"
    assert form.find(f".//{X}submission").get(f"{ODK}client-editable") == "true"
    primary = form.find(f".//{X}model/{X}instance/{X}data")
    assert primary.get("id") == "rural_inspection" and primary.get("version") == entry["version"]
    villages = form.find(f".//{X}model/{X}instance[@id='village_list']")
    codes = [item.find(f"{X}name").text for item in villages.iter(f"{X}item")]
    in_scope = [c for (c,) in sql(client.application, "SELECT code FROM divisions WHERE parent_code = '230382100' "
                                                        "AND level = 'village' AND active ORDER BY code")]
    assert codes == in_scope and len(codes) > 1


def test_the_form_passes_pyxform_validation(client, inspector):
    from pyxform.xls2xform import convert

    from app.services.xform import form_source

    for scope in ("230382100", "230382"):  # choices in the form; villages.csv
        with client.application.app_context():
            xlsform, _ = form_source(scope)
        warnings = []
        result = convert({**xlsform, "settings": [{**xlsform["settings"][0], "version": "1.1"}]}, warnings=warnings)
        assert result.xform and warnings == []


def test_the_served_forms_pass_odk_validate_where_it_is_installed(client, make_user, tmp_path):
    """ODK Validate (JavaRosa, what Collect parses forms with) is not shipped with pyxform 4.5 and
    cannot be downloaded here: set ODK_VALIDATE_JAR to its jar (and have java) to run it."""
    import os
    import shutil
    import subprocess

    jar = os.environ.get("ODK_VALIDATE_JAR")
    if not jar or not shutil.which("java"):
        pytest.skip("ODK_VALIDATE_JAR is not set (or there is no java)")
    for scope in ("230382100", "230382"):
        base = key_path(make_device_key(client, make_user("inspector", scope))["server_url"])
        entry, form = download_form(client, base)
        path = tmp_path / f"form_{scope}.xml"
        path.write_bytes(form)
        if "manifestUrl" in entry:
            (tmp_path / "villages.csv").write_bytes(client.get(path_of(entry["downloadUrl"]).replace(
                ".xml", "/media/villages.csv")).data)
        done = subprocess.run(["java", "-Djava.awt.headless=true", "-jar", jar, str(path)],
                              capture_output=True, text=True, timeout=120)
        assert "Xform is valid" in done.stdout, done.stdout + done.stderr


def test_a_long_village_list_is_a_csv_media_file_with_a_manifest(client, make_user):
    county_inspector = make_user("inspector", "230382")  # 密山市: 186 villages
    base = key_path(make_device_key(client, county_inspector)["server_url"])
    _, (entry,) = form_list(client, base)
    form = client.get(path_of(entry["downloadUrl"])).data
    assert b'src="jr://file-csv/villages.csv"' in form and b'appearance="autocomplete"' in form
    manifest = client.get(path_of(entry["manifestUrl"]), headers=COLLECT_HEADERS)
    assert manifest.status_code == 200 and manifest.headers["Content-Type"] == "text/xml; charset=utf-8"
    (media,) = ET.fromstring(manifest.data).findall(f"{MANIFEST_NS}mediaFile")
    assert media.find(f"{MANIFEST_NS}filename").text == "villages.csv"
    csv = client.get(path_of(media.find(f"{MANIFEST_NS}downloadUrl").text))
    assert media.find(f"{MANIFEST_NS}hash").text == "md5:" + hashlib.md5(csv.data).hexdigest()
    lines = csv.data.decode().splitlines()
    count = sql(client.application, "SELECT count(*) FROM divisions WHERE code LIKE '230382%' AND level = 'village' AND active")[0][0]
    assert lines[0] == "name,label" and len(lines) == count + 1 > 100


def test_version_and_hash_change_exactly_when_the_bytes_change(client, inspector, monkeypatch):
    app = client.application
    base = key_path(make_device_key(client, inspector)["server_url"])
    first, old_form = download_form(client, base)
    again, same_form = download_form(client, base)
    assert (again["version"], again["hash"]) == (first["version"], first["hash"]) and same_form == old_form

    monkeypatch.setitem(app.config, "OPENROSA_INLINE_VILLAGES_MAX", 3)  # this scope's list becomes a CSV file
    changed, new_form = download_form(client, base)
    assert changed["version"] != first["version"] and changed["hash"] != first["hash"] and new_form != old_form
    assert changed["hash"] == "md5:" + hashlib.md5(new_form).hexdigest()

    # every version ever served: the old one still downloads, and its submissions are accepted
    assert client.get(path_of(first["downloadUrl"])).data == old_form
    lat, lon = village_point(app, "230382100200")
    xml = fill_instance(old_form, village="230382100200", location=(lat, lon, 200, 5), answers=full_answers(),
                        photos={"garbage": ["a.jpg"], "sewage": ["a.jpg"], "cleanliness": ["a.jpg"]})
    r = send(client, base, xml, [("a.jpg", photo_bytes(REAL_PHOTOS[0]))])
    assert r.status_code == 201, message(r)
    assert sql(app, "SELECT form_version FROM openrosa_submissions") == [(first["version"],)]
    assert sql(app, "SELECT count(*) FROM xform_versions")[0][0] == 2


def test_another_scopes_form_version_is_not_served(client, inspector, make_user):
    theirs = key_path(make_device_key(client, make_user("inspector", "230381100"))["server_url"])
    entry, _ = download_form(client, theirs)
    mine = key_path(make_device_key(client, inspector)["server_url"])
    url = path_of(entry["downloadUrl"]).replace(theirs, mine)
    r = client.get(url, headers=COLLECT_HEADERS)
    assert r.status_code == 404 and "未找到" in message(r)

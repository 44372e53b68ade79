"""End to end, as an inspector with ODK Collect and a township reviewer would live it: a device key
(server URL and settings QR code) → the form list → the form → a filled form with three real
photos (EXIF GPS from where they were really taken) → the inspection in the reviewer's queue with
its flags and photos → approved → the bureau's village-level rate moves."""
from datetime import datetime, timezone

from app.domain import full_answers
from tests.openrosa_collect import (
    REAL_PHOTOS,
    download_form,
    fill_instance,
    key_path,
    make_device_key,
    message,
    photo_bytes,
    send,
    village_point,
)

VILLAGE = "230382100200"


def _village_rates(client, bureau):
    period = datetime.now(timezone.utc).strftime("%Y")
    r = client.get("/api/v1/rates", headers=bureau.headers,
                   query_string={"division": "230382100", "period": period, "level": "village"})
    assert r.status_code == 200
    body = r.get_json()
    row = next(row for row in body["rows"] if row["code"] == VILLAGE)
    return row["metrics"], body["division"]["metrics"]["garbage_stable"]["met"]


def test_collect_to_queue_to_approval_to_rates(client, inspector, reviewer, bureau):
    # the inspector's phone is set up from the QR code's server URL
    made = make_device_key(client, inspector, label="巡查员手机")
    assert made["settings"]["general"]["server_url"] == made["server_url"]
    base = key_path(made["server_url"])

    # Collect: "Download form" reads the list, then the form
    entry, form = download_form(client, base)
    assert entry["formID"] == "rural_inspection"

    before, met_before = _village_rates(client, bureau)
    assert {m: v["status"] for m, v in before.items()} == dict.fromkeys(before, "unknown")

    # Collect: fill the form in the village, three photos, "Send finalized form"
    lat, lon = village_point(client.application, VILLAGE)
    names = {"garbage": ["1756689153001.jpg"], "sewage": ["1756689158002.jpg"], "cleanliness": ["1756689170003.jpg"]}
    xml = fill_instance(form, village=VILLAGE, location=(lat, lon, 210.5, 4.8), answers=full_answers(),
                        photos=names, notes="村东垃圾收集点新建")
    files = [(names[aspect][0], photo_bytes(photo))
             for aspect, photo in zip(("garbage", "sewage", "cleanliness"), REAL_PHOTOS)]
    r = send(client, base, xml, files)
    assert r.status_code == 201 and message(r).startswith("提交成功，已进入乡镇审核队列")

    # the township reviewer's queue: the item, its flags (the photos were taken in Europe) and photos
    queue = client.get("/api/v1/review-queue", headers=reviewer.headers).get_json()
    (item,) = queue["items"]
    assert item["village"]["code"] == VILLAGE and item["version"] == 1
    assert "exif_location_far" in {f["code"] for f in item["flags"]} and item["flag_count"] == len(item["flags"])
    assert sorted(p["aspect"] for p in item["photos"]) == ["cleanliness", "garbage", "sewage"]
    thumb = client.get(item["photos"][0]["thumb_url"], headers=reviewer.headers)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    detail = client.get(f"/api/v1/inspections/{item['id']}", headers=reviewer.headers).get_json()
    assert detail["source"] == "openrosa" and detail["notes"] == "村东垃圾收集点新建"

    # approve
    r = client.post(f"/api/v1/inspections/{item['id']}/review", headers=reviewer.headers,
                    json={"decision": "approve", "version": item["version"]})
    assert r.status_code == 200, r.get_json()

    # the bureau's numbers move
    after, met_after = _village_rates(client, bureau)
    assert after["garbage_stable"] == {"status": "met", "inspection_id": item["id"], "observed_at": detail["observed_at"]}
    assert after["village_clean"]["status"] == "met" and after["sewage_treated"]["status"] == "met"
    assert met_after == met_before + 1

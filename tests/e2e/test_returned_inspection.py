"""A returned inspection in the browser, in English: the inspector sees the reviewer's comment,
edits the answers and resubmits; the server has version 2, submitted again, with the new answers."""
from datetime import datetime, timezone

import pytest

from tests.conftest import sql
from tests.e2e.test_client_flow import PHONE, SMALL_PHOTO, TOWNSHIP, first_rural_village

pytestmark = pytest.mark.browser


def submit_and_return(app, inspector, reviewer, code, lat, lon, comment):
    """An inspection made and sent back through the API (the same requests a phone and a reviewer send)."""
    client = app.test_client()
    with open(SMALL_PHOTO, "rb") as f:
        photo = client.post("/api/v1/photos", headers=inspector.headers,
                            data={"file": (f, SMALL_PHOTO.name)}, content_type="multipart/form-data")
    assert photo.status_code in (200, 201), photo.json
    answers = {"garbage": {"collection_points": True, "collected_on_schedule": True, "transfer_working": True,
                           "no_informal_dumping": True}}
    created = client.post("/api/v1/inspections", headers=inspector.headers, json={
        "client_uuid": "0b7c8f3e-5d6a-4c1b-9e2f-3a4b5c6d7e8f", "village": code,
        "observed_at": datetime.now(timezone.utc).isoformat(), "location": {"lat": lat, "lon": lon, "accuracy_m": 8},
        "answers": answers, "photos": {"garbage": [photo.json["id"]]}})
    assert created.status_code == 201, created.json
    returned = client.post(f"/api/v1/inspections/{created.json['id']}/review", headers=reviewer.headers,
                           json={"decision": "return", "comment": comment, "version": 1})
    assert returned.status_code == 200, returned.json
    return created.json["id"]


def test_returned_inspection_is_edited_and_resubmitted(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    comment = "The dumping spot behind the school is not in the photo"
    inspection_id = submit_and_return(app, inspector, reviewer, code, lat, lon, comment)

    context = new_context(viewport=PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
                          permissions=["geolocation"], is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="English").click()
    page.get_by_label("Username").fill(inspector.username)
    page.get_by_label("Password").fill(inspector.password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="My inspections").click()
    returned = page.locator("#returned-list li")
    returned.wait_for()
    assert comment in returned.inner_text()
    screenshot(page, "08-returned")

    returned.get_by_role("link", name="Edit and resubmit").click()
    form = page.locator("section[data-aspect=garbage]")
    form.locator("ul.photos img").wait_for()  # the photo already on the inspection is kept
    dumping = form.locator("fieldset[data-question=no_informal_dumping]")
    assert dumping.locator("input[value=true]").is_checked()  # the answers as sent
    dumping.locator("input[value=false]").check()
    screenshot(page, "09-edit-returned")
    page.get_by_role("button", name="Resubmit").click()
    page.wait_for_selector("#outbox-list .outbox-item[data-state=sent]")

    rows = sql(app, "SELECT status, version, garbage_stable FROM inspections WHERE id = :i", i=inspection_id)
    assert [tuple(r) for r in rows] == [("submitted", 2, False)]
    assert sql(app, "SELECT count(*) FROM inspection_photos WHERE inspection_id = :i", i=inspection_id)[0][0] == 1

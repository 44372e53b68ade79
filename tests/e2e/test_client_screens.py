"""The web client's screens on a phone, beyond the main flow: the inspection form made from the
built-in checklist when the server's copy was never fetched (and from the kept copy once it was),
the reviewer moving through the queue and stepping through an inspection's photos, the bureau
drilling down and back up while switching the map's metric, and the app opening without a network
from the service worker's cache."""
from datetime import datetime, timezone

import pytest

from app.domain import CHECKLIST
from tests import factories
from tests.e2e.test_client_flow import PHONE, PHOTOS, TOWNSHIP, first_rural_village, log_in, no_horizontal_scroll

pytestmark = pytest.mark.browser

CACHE_KEY = "rie.checklist-document"  # where the client keeps the server's checklist


def phone_page(new_context):
    return new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()


def submit_with_photos(app, inspector, code, lat, lon):
    """An inspection sent through the API with one real photo for each of two aspects."""
    client = app.test_client()
    photo_ids = []
    for name in ("gps_htc_desire.jpg", "gps_apple_iphone4.jpg"):
        with open(PHOTOS / name, "rb") as f:
            photo = client.post("/api/v1/photos", headers=inspector.headers, data={"file": (f, name)},
                                content_type="multipart/form-data")
        assert photo.status_code in (200, 201), photo.json
        photo_ids.append(photo.json["id"])
    answers = {a["aspect"]: {item: True for item in a["met"]["items"]} for a in CHECKLIST
               if a["aspect"] in ("garbage", "cleanliness")}
    created = client.post("/api/v1/inspections", headers=inspector.headers, json={
        "client_uuid": "5f0e1c2d-3b4a-4d6e-8f70-9a1b2c3d4e5f", "village": code,
        "observed_at": datetime.now(timezone.utc).isoformat(), "location": {"lat": lat, "lon": lon, "accuracy_m": 8},
        "answers": answers, "photos": {"garbage": [photo_ids[0]], "cleanliness": [photo_ids[1]]}})
    assert created.status_code == 201, created.json
    return created.json["id"]


def test_inspection_form_from_built_in_then_kept_checklist(database, make_user, new_context, screenshot):
    inspector = make_user("inspector", TOWNSHIP)
    page = phone_page(new_context)
    page.route("**/api/v1/checklist", lambda route: route.abort("internetdisconnected"))
    log_in(page, inspector)

    # never fetched: the built-in copy, which is the server's checklist word for word
    for aspect in CHECKLIST:
        section = page.locator(f"section[data-aspect={aspect['aspect']}]")
        assert section.locator("h2").inner_text() == aspect["title_zh"]
        text = section.text_content()
        for item in aspect["items"]:
            assert item["label_zh"] in text
            for choice in item.get("choices", []):
                assert choice["label_zh"] in text
    assert page.locator("input[name=include-tap_water]").is_checked() is False  # optional: left out at first
    assert page.locator("input[name=include-garbage]").is_checked()
    assert no_horizontal_scroll(page)
    screenshot(page, "11-phone-inspect")

    # online once: the server's copy is kept, and it is what the form shows offline afterwards
    page.unroute("**/api/v1/checklist")
    page.reload()
    page.locator("section[data-aspect=garbage]").wait_for()
    page.wait_for_function("(key) => localStorage.getItem(key) !== null", arg=CACHE_KEY)
    page.evaluate("""(key) => {
        const kept = JSON.parse(localStorage.getItem(key));
        kept.aspects[0].title_zh = "保存的清单";
        localStorage.setItem(key, JSON.stringify(kept));
    }""", CACHE_KEY)
    page.route("**/api/v1/checklist", lambda route: route.abort("internetdisconnected"))
    page.reload()
    assert page.locator(f"section[data-aspect={CHECKLIST[0]['aspect']}] h2").inner_text() == "保存的清单"


def test_reviewer_moves_through_the_queue_and_steps_through_photos(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    with_photos = submit_with_photos(app, inspector, code, lat, lon)
    later = factories.create_inspection(app, village=code, garbage_stable=True).id  # submitted after: second

    page = phone_page(new_context)
    log_in(page, reviewer)
    first = page.locator(f'.review-item[data-id="{with_photos}"]')
    second = page.locator(f'.review-item[data-id="{later}"]')
    first.locator(".thumbs img").nth(1).wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.thumbs img')].every((i) => i.complete && i.naturalWidth > 0)")
    assert no_horizontal_scroll(page)
    screenshot(page, "12-phone-review")

    first.focus()
    page.keyboard.press("j")
    assert "selected" in second.get_attribute("class")
    assert second.evaluate("(el) => el === document.activeElement")
    page.keyboard.press("k")
    assert "selected" in first.get_attribute("class")
    assert first.get_attribute("aria-current") == "true"

    first.locator(".thumbs button").first.click()
    caption = page.locator("#photo-viewer p")
    page.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    titles = {a["aspect"]: a["title_zh"] for a in CHECKLIST}  # the queue lists photos by aspect key
    assert caption.inner_text().startswith(f"#{with_photos} {name} · {titles['cleanliness']} 1/2")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(t) => document.querySelector('#photo-viewer p')?.textContent.includes(t)",
                           arg=f"{titles['garbage']} 2/2")
    page.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    screenshot(page, "13-phone-photo-viewer")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#photo-viewer p')?.textContent.includes('1/2')")
    page.keyboard.press("Escape")
    assert page.locator("#photo-viewer").evaluate("(d) => d.open") is False


def test_bureau_drills_down_and_back_up_on_a_phone(database, make_user, new_context, screenshot):
    bureau = make_user("bureau", "2303")
    page = phone_page(new_context)
    log_in(page, bureau)
    page.get_by_role("link", name="达标率").click()
    county = page.locator('#rates-table tr[data-code="230382"] th button')
    county.wait_for()

    county.click()
    page.wait_for_selector(f'#rates-table tr[data-code="{TOWNSHIP}"]')
    assert page.locator("#level").input_value() == "township"
    assert page.locator("h1").inner_text().endswith("密山市")
    page.locator("#map path.leaflet-interactive").first.wait_for()
    page.locator("#trend-chart canvas").wait_for()
    clean = page.locator("#map-metric option[value=village_clean]").inner_text()
    page.select_option("#map-metric", "village_clean")
    page.wait_for_function("(m) => document.querySelector('#map + .legend + p')?.textContent.startsWith(m + ':')", arg=clean)
    page.select_option("#trend-metric", "village_clean")
    page.wait_for_function("(m) => document.querySelector('#trend-chart .u-title')?.textContent.endsWith(m)", arg=clean)
    assert no_horizontal_scroll(page)
    screenshot(page, "14-phone-rates")

    page.locator("#rates-up").click()
    county.wait_for()
    assert page.locator("#level").input_value() == "county"


def test_app_opens_offline_from_the_service_workers_cache(database, make_user, new_context):
    inspector = make_user("inspector", TOWNSHIP)
    page = phone_page(new_context)
    log_in(page, inspector)
    page.locator("section[data-aspect=garbage]").wait_for()
    loaded = page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        const cache = await caches.open((await caches.keys())[0]);
        const kept = new Set((await cache.keys()).map((r) => new URL(r.url).pathname));
        const modules = [...new Set(performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
            .filter((p) => p.startsWith("/static/client/")))];
        return { modules, missing: modules.filter((p) => !kept.has(p)) };
    }""")
    assert "/static/client/views/inspect/aspect.js" in loaded["modules"]
    assert loaded["missing"] == []  # every client file the page loaded is precached

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#net.off")
    for aspect in CHECKLIST:
        page.locator(f"section[data-aspect={aspect['aspect']}]").wait_for()
    assert page.locator("select[name=village] option").count() > 1  # the villages kept from the last visit

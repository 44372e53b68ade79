"""The web client end to end in headless Chromium, against gunicorn, on SQLite and on PostGIS:
an inspector submits offline from a phone-sized screen, the outbox sends it when the network is
back (exactly once, even when a response is lost), a reviewer approves it with the keyboard and the
bureau's rates for the township move by one village; the XLSX export opens."""
import re
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Division, Inspection
from app.services.exports import column_title
from tests.conftest import sql

pytestmark = pytest.mark.browser

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"
BIG_PHOTO = PHOTOS / "gps_samsung_sm-g930f.jpg"  # 4032×2012 with EXIF GPS: downscaled in the browser
SMALL_PHOTO = PHOTOS / "gps_htc_desire.jpg"  # 776×909: sent as taken
TOWNSHIP = "230382100"  # 密山镇
COUNTY = "230382"  # 密山市
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def first_rural_village(app, township=TOWNSHIP):
    with app.app_context():
        village = db.session.scalars(
            select(Division).where(Division.parent_code == township, Division.kind == "rural")
            .order_by(Division.code)).first()
        return village.code, village.name, village.point.y, village.point.x


def log_in(page, user):
    page.goto("/")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(user.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_selector("#logout")


def township_numbers(page, metric_column):
    """(met, counted) of 密山镇 in the bureau's township table, read from the cell text 'met/counted'."""
    cell = page.locator(f'#rates-table tr[data-code="{TOWNSHIP}"] td.metric').nth(metric_column)
    met, counted = re.search(r"(\d+)/(\d+)", cell.inner_text()).groups()
    return int(met), int(counted)


def open_township_rates(page):
    page.goto("/#/rates")
    page.reload()  # a fresh start at the bureau's own scope, broken down by county
    page.wait_for_selector('#rates-table tr[data-code="230382"] th button')
    page.locator('#rates-table tr[data-code="230382"] th button').click()
    page.wait_for_selector(f'#rates-table tr[data-code="{TOWNSHIP}"]')


def no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_offline_inspection_is_sent_once_approved_and_counted(database, make_user, new_context, screenshot, tmp_path):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    bureau = make_user("bureau", "2303")
    code, name, lat, lon = first_rural_village(app)

    # the bureau's numbers before
    bureau_page = new_context(viewport=DESKTOP).new_page()
    log_in(bureau_page, bureau)
    open_township_rates(bureau_page)
    garbage_before = township_numbers(bureau_page, 0)
    clean_before = township_numbers(bureau_page, 2)

    # the inspector, on a phone, standing in the village
    phone = new_context(viewport=PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12},
                        permissions=["geolocation"], is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto("/")
    screenshot(page, "01-login")
    log_in(page, inspector)
    page.get_by_role("button", name="我在哪里？").click()
    page.wait_for_function("(n) => document.querySelector('#where-result')?.textContent.includes(n)", arg=name)
    assert page.locator("select[name=village]").input_value() == code

    for aspect, photo in (("garbage", BIG_PHOTO), ("cleanliness", SMALL_PHOTO)):
        section = page.locator(f"section[data-aspect={aspect}]")
        for radio in section.locator("input[type=radio][value=true]").all():
            radio.check()
        section.locator("input[type=file]").set_input_files(str(photo))
        section.locator("ul.photos li").wait_for()
    page.locator("input[name=include-sewage]").uncheck()
    assert "2048×1022" in page.locator("section[data-aspect=garbage] .photo-info").inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "02-inspect-form")

    # offline: the inspection waits in the outbox
    phone.set_offline(True)
    page.wait_for_selector("#net.off")
    page.get_by_role("button", name="提交").click()
    item = page.locator("#outbox-list .outbox-item")
    item.wait_for()
    assert item.get_attribute("data-state") == "waiting"
    client_uuid = item.get_attribute("data-key")
    screenshot(page, "03-outbox-offline")
    assert sql(app, "SELECT count(*) FROM inspections")[0][0] == 0

    # back online, but the first answer to the create is lost on the way back: the server has
    # stored it, the phone does not know, and retries with the same client_uuid
    lost = []

    def lose_response(route):
        route.fetch()
        lost.append(route.request.url)
        route.abort("connectionreset")

    page.route("**/api/v1/inspections", lose_response)
    phone.set_offline(False)
    page.locator("#outbox-list .outbox-item[data-state=waiting]", has_text="已尝试 1 次").wait_for()
    assert len(lost) == 1
    assert sql(app, "SELECT count(*) FROM inspections")[0][0] == 1  # stored, though the phone did not hear
    page.unroute("**/api/v1/inspections")
    page.get_by_role("button", name="立即发送").click()
    page.wait_for_selector("#outbox-list .outbox-item[data-state=sent]")
    screenshot(page, "04-outbox-sent")

    rows = sql(app, "SELECT id, status, version, village_code FROM inspections")
    assert len(rows) == 1
    inspection_id, status, version, village = rows[0]
    assert (status, version, village) == ("submitted", 1, code)
    with app.app_context():
        assert db.session.scalar(select(Inspection.id).where(Inspection.client_uuid == uuid.UUID(client_uuid))) \
            == inspection_id
    photos = sql(app, "SELECT p.width, p.height, p.exif_lat, ip.aspect FROM photos p "
                      "JOIN inspection_photos ip ON ip.photo_id = p.id ORDER BY ip.aspect")
    by_aspect = {aspect: (w, h, exif_lat) for w, h, exif_lat, aspect in photos}
    assert by_aspect["garbage"][:2] == (2048, 1022)  # downscaled in the browser ...
    assert by_aspect["garbage"][2] == pytest.approx(51.025, abs=1e-3)  # ... with the EXIF GPS kept
    assert by_aspect["cleanliness"][:2] == (776, 909)  # small enough: sent as taken

    # the reviewer, on a PC, approves it with the keyboard
    review_page = new_context(viewport=DESKTOP).new_page()
    log_in(review_page, reviewer)
    card = review_page.locator(f'.review-item[data-id="{inspection_id}"]')
    card.wait_for()
    assert "照片 GPS 距提交位置" in card.locator("ul.flags").inner_text()  # the flag says why
    card.locator(".thumbs img").first.wait_for()
    review_page.wait_for_function("() => [...document.querySelectorAll('.thumbs img')].every((i) => i.complete && i.naturalWidth > 0)")
    screenshot(review_page, "05-review-queue")
    review_page.set_viewport_size({"width": 640, "height": 900})  # a 1280 px window at 200 % zoom
    assert no_horizontal_scroll(review_page)
    review_page.set_viewport_size(DESKTOP)
    card.focus()
    review_page.keyboard.press("v")
    review_page.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    screenshot(review_page, "06-photo-viewer")
    review_page.keyboard.press("Escape")
    review_page.keyboard.press("a")
    review_page.get_by_text("队列为空。").wait_for()
    assert sql(app, "SELECT status FROM inspections WHERE id = :i", i=inspection_id)[0][0] == "approved"

    # the bureau: 密山镇 has one more village meeting both answered metrics
    open_township_rates(bureau_page)
    assert township_numbers(bureau_page, 0) == (garbage_before[0] + 1, garbage_before[1])
    assert township_numbers(bureau_page, 2) == (clean_before[0] + 1, clean_before[1])
    bureau_page.locator("#map path.leaflet-interactive").first.wait_for()
    bureau_page.locator("#trend-chart canvas").wait_for()
    screenshot(bureau_page, "07-bureau-rates")
    bureau_page.set_viewport_size({"width": 640, "height": 900})  # 200 % zoom: the table scrolls in its box
    assert no_horizontal_scroll(bureau_page)

    with bureau_page.expect_download() as download_info:
        bureau_page.get_by_role("button", name="导出 Excel").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"rates-{COUNTY}-")
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    rows = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    title = column_title(("garbage_stable", "met"), "zh", units=True)  # the client asks for Chinese headers
    header = next(r for r in rows if title in r)
    township_row = next(r for r in rows if r and str(r[0]) == TOWNSHIP)
    assert township_row[header.index(title)] == garbage_before[0] + 1

"""A bureau user goes from a county's rate to the photos of one of its not-met villages: the count
of not-met villages in the county's row lists them, each with the inspection its status comes from,
and that inspection shows its photos."""
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division
from tests.e2e.test_client_flow import COUNTY, DESKTOP, PHONE, log_in
from tests.factories import create_inspection

pytestmark = pytest.mark.browser

# UPDATE_SCREENSHOTS=1 refreshes the README's picture; otherwise it goes to test-artifacts/
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
                                                        else "test-artifacts/screenshots")


def rural_villages(app, n):
    with app.app_context():
        rows = db.session.scalars(select(Division).where(Division.level == "village", Division.kind == "rural",
                                                         Division.code.startswith(COUNTY)).order_by(Division.code)).all()
        return [(d.code, d.name) for d in rows[:n]]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_county_rate_to_a_not_met_villages_photo_in_four_clicks(database, make_user, new_context, viewport):
    app = database
    (dirty, dirty_name), (clean, _) = rural_villages(app, 2)
    bad = create_inspection(app, village=dirty, status="approved", village_clean=False, photos=["village"])
    create_inspection(app, village=clean, status="approved", village_clean=True)
    bureau = make_user("bureau", "2303")

    page = new_context(viewport=viewport).new_page()
    log_in(page, bureau)  # lands on the rates, broken down by county
    page.wait_for_selector(f'#rates-table tr[data-code="{COUNTY}"]')
    assert page.url.endswith("#/rates")
    assert page.locator("#rates-up").is_hidden()  # no "返回上级" at the top of the user's tree
    basis = page.locator("#rates-basis").inner_text()
    assert "365" in basis and "未巡查按未达标计" in basis and "rural" in basis
    tap = page.locator(f'#rates-table tr[data-code="{COUNTY}"] td.metric').nth(3).inner_text()
    assert "户" in tap and "差距（户）" in tap and "按村" not in tap  # households, never a village fraction
    cell = page.locator(f'#rates-table tr[data-code="{COUNTY}"] button.cell[data-metric="village_clean"][data-status="not_met"]')
    assert cell.inner_text().endswith("1")
    cell.click()  # 1
    item = page.locator(f'#cell-villages li[data-code="{dirty}"]')
    item.wait_for()
    assert dirty_name in item.inner_text()
    assert page.locator("#cell-villages li").count() == 1  # exactly the villages behind the count
    if viewport is PHONE:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "rates-drill-down-phone.png"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # the page does not scroll
        assert page.evaluate("(() => { const w = document.querySelector('#rates-table'); "
                             "return w.scrollWidth > w.clientWidth; })()")  # the table scrolls in its wrapper
    item.locator("a.inspection-link").click()  # 2
    page.wait_for_url(f"**#/inspection/{bad.id}")
    thumb = page.locator(f'.thumbs img[data-photo="{bad.photo_ids[0]}"]')
    thumb.wait_for(state="attached")

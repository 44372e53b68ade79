"""Every number of the bureau's rates screen leads to its evidence, in Chromium at 1280 px and on a
phone: a count of the table lists the villages behind it, each with its status, its deciding
inspection and that inspection's day (China time); a village clicked on the map shows its statuses
and deciding inspections (and offers the child division it lies in); each inspection opens with its
photos; a point of the trend switches the table and the map to that period."""
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division
from tests.e2e.test_client_flow import COUNTY, DESKTOP, PHONE, log_in
from tests.factories import create_inspection

pytestmark = pytest.mark.browser

CN = timezone(timedelta(hours=8))
PHONE_390 = {"width": 390, "height": 844}

# UPDATE_SCREENSHOTS=1 refreshes the README's pictures; otherwise they go to test-artifacts/
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
                                                        else "test-artifacts/screenshots")


def rural_villages(app, n):
    with app.app_context():
        rows = db.session.scalars(select(Division).where(Division.level == "village", Division.kind == "rural",
                                                         Division.code.startswith(COUNTY)).order_by(Division.code)).all()
        return [(d.code, d.name) for d in rows[:n]]


def urban_community(app):
    with app.app_context():
        d = db.session.scalars(select(Division).where(Division.level == "village", Division.kind == "urban",
                                                      Division.code.startswith(COUNTY)).order_by(Division.code)).first()
        return d.code, d.name


def earlier_this_year():
    """00:30 China time yesterday (this year's first half hour on 1 January): in this year's period,
    and a day before the UTC date of the same instant."""
    now = datetime.now(CN)
    moment = (now - timedelta(days=1)).replace(hour=0, minute=30, second=0, microsecond=0)
    if moment.year != now.year:
        moment = now.replace(month=1, day=1, hour=0, minute=30, second=0, microsecond=0)
    return moment


def china_day(moment):
    """The day as the page shows it in Chinese (zh-CN: 2026/9/14)."""
    return f"{moment.year}/{moment.month}/{moment.day}"


def shot(page, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / name))


def click_village_on_map(page, code, division):
    """Click the village's shape where it is really hit (its own pixel, not a neighbour's), once the
    map shows `division`."""
    shape = page.locator(f'#map[data-division="{division}"] path.village-shape[data-code="{code}"]')
    shape.wait_for(state="attached")
    shape.scroll_into_view_if_needed()
    point = shape.evaluate("""(path) => {
        const box = path.getBoundingClientRect();
        const step = Math.max(1, Math.min(box.width, box.height) / 12);
        for (let y = box.top + step / 2; y < box.bottom; y += step) {
          for (let x = box.left + step / 2; x < box.right; x += step) {
            if (document.elementFromPoint(x, y) === path) return { x, y };
          }
        }
        const c = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
        return { miss: [box.left, box.top, box.width, box.height, c?.tagName, c?.className?.baseVal ?? c?.className, c?.dataset?.code] };
    }""")
    assert point and "x" in point, f"village {code} has no visible pixel on the map: {point}"
    page.mouse.click(point["x"], point["y"])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_county_count_to_a_not_met_villages_inspection_and_photo(database, make_user, new_context, viewport):
    app = database
    (dirty, dirty_name), (clean, _) = rural_villages(app, 2)
    when = earlier_this_year()
    bad = create_inspection(app, village=dirty, status="approved", village_clean=False, photos=["village"],
                            observed_at=when.astimezone(timezone.utc))
    create_inspection(app, village=clean, status="approved", village_clean=True)
    bureau = make_user("bureau", "2303")

    page = new_context(viewport=viewport).new_page()
    log_in(page, bureau)  # lands on the rates, broken down by county
    page.wait_for_selector(f'#rates-table tr[data-code="{COUNTY}"]')
    assert page.url.endswith("#/rates")
    assert page.locator("#rates-up").is_hidden()  # no "返回上级" at the top of the user's tree
    basis = page.locator("#rates-basis").inner_text()
    assert "365" in basis and "未巡查按未达标计" in basis and "农村" in basis and "数据截至" in basis
    tap = page.locator(f'#rates-table tr[data-code="{COUNTY}"] td.metric').nth(3).inner_text()
    assert "户" in tap and "差距（户）" in tap and "按户" in tap and "按村" not in tap  # households, never a village fraction
    sewage = page.locator(f'#rates-table tr[data-code="{COUNTY}"] td.metric').nth(1).inner_text()
    assert "按村" in sewage and "按户" in sewage  # both rates, each labelled
    cell = page.locator(f'#rates-table tr[data-code="{COUNTY}"] button.cell[data-metric="village_clean"][data-status="not_met"]')
    assert cell.inner_text().endswith("1")
    cell.click()  # 1
    item = page.locator(f'#cell-villages li[data-code="{dirty}"]')
    item.wait_for()
    text = item.inner_text()
    assert dirty_name in text and "未达标" in text
    assert f"巡查 #{bad.id}" in text and f"巡查于 {china_day(when)}" in text  # its deciding inspection and its day
    assert page.locator("#cell-villages li").count() == 1  # exactly the villages behind the count
    if viewport is PHONE:
        shot(page, "rates-drill-down-phone.png")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")  # the page does not scroll
        assert page.evaluate("() => { const w = document.querySelector('#rates-table'); "
                             "return w.scrollWidth > w.clientWidth; }")  # the table scrolls in its wrapper
    item.locator("a.inspection-link").click()  # 2
    page.wait_for_url(f"**#/inspection/{bad.id}")
    thumb = page.locator(f'.thumbs img[data-photo="{bad.photo_ids[0]}"]')
    thumb.wait_for(state="attached")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "phone"])
def test_a_village_on_the_map_opens_its_statuses_its_county_and_its_inspections_photo(database, make_user, new_context,
                                                                                      viewport):
    app = database
    ((dirty, dirty_name),) = rural_villages(app, 1)
    urban, urban_name = urban_community(app)
    when = earlier_this_year()
    bad = create_inspection(app, village=dirty, status="approved", village_clean=False, garbage_stable=True,
                            photos=["village"], observed_at=when.astimezone(timezone.utc))
    bureau = make_user("bureau", "2303")

    page = new_context(viewport=viewport).new_page()
    log_in(page, bureau)
    page.select_option("#map-metric", "village_clean")
    page.locator('#map[data-metric="village_clean"]').wait_for(state="attached")

    # the city's map: the village, its statuses, and the county it lies in
    click_village_on_map(page, dirty, "2303")
    clean = page.locator('#map-village li[data-metric="village_clean"]')
    clean.wait_for()
    assert clean.get_attribute("data-status") == "not_met"
    assert f"巡查 #{bad.id}" in clean.inner_text() and f"巡查于 {china_day(when)}" in clean.inner_text()
    assert page.locator('#map-village li[data-metric="garbage_stable"]').get_attribute("data-status") == "met"
    assert page.locator('#map-village li[data-metric="sewage_treated"]').get_attribute("data-status") == "unknown"
    assert dirty_name in page.locator("#map-village h2").inner_text()
    if viewport is PHONE_390:
        shot(page, "rates-map-village-phone.png")
    county = page.locator(f'#evidence-division[data-code="{COUNTY}"]')
    county.click()  # the child division: the table and the map switch to 密山市
    page.wait_for_selector(f'#rates-table caption:has-text("密山市")')
    assert page.locator("#rates-up").is_visible()

    # an urban community is not counted, not unknown
    click_village_on_map(page, urban, COUNTY)
    page.locator('#map-village [data-status="not_counted"]').wait_for()
    assert "不纳入统计" in page.locator("#map-village").inner_text() and urban_name in page.locator("#map-village h2").inner_text()

    # the county's map: the village again, then its inspection with its photo
    click_village_on_map(page, dirty, COUNTY)
    link = page.locator('#map-village li[data-metric="village_clean"] a.inspection-link')
    link.wait_for()
    link.click()
    page.wait_for_url(f"**#/inspection/{bad.id}")
    page.locator(f'.thumbs img[data-photo="{bad.photo_ids[0]}"]').wait_for(state="attached")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "phone"])
def test_a_point_of_the_trend_switches_the_table_and_the_map_to_its_period(database, make_user, new_context, viewport):
    app = database
    ((dirty, _),) = rural_villages(app, 1)
    now = datetime.now(CN)
    create_inspection(app, village=dirty, status="approved", village_clean=False)  # observed now: this month
    bureau = make_user("bureau", "2303")

    page = new_context(viewport=viewport).new_page()
    log_in(page, bureau)
    year = str(now.year)
    page.wait_for_selector(f'#rates-table tr[data-code="{COUNTY}"]')
    assert page.locator("#period").input_value() == year
    not_met = page.locator(f'#rates-table tr[data-code="{COUNTY}"] button.cell[data-metric="village_clean"][data-status="not_met"]')
    assert not_met.inner_text().endswith("1")

    chart = page.locator(f'#trend-chart[data-selected="{year}"]')
    chart.wait_for(state="attached")
    periods = chart.get_attribute("data-periods").split()
    assert periods[0] == f"{year}-01" and periods[-1] == f"{year}-{now.month:02d}"
    over = page.locator("#trend-chart .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    over.click(position={"x": 1, "y": box["height"] / 2})  # the first point: January
    january = f"{year}-01"
    page.wait_for_selector(f'#rates-table caption:has-text("{january}")')
    assert page.locator("#period").input_value() == january
    assert january in page.locator("#rates-meta").inner_text()
    page.locator(f'#map[data-period="{january}"]').wait_for(state="attached")  # the map redrawn for January
    page.locator(f'#trend-chart[data-selected="{january}"]').wait_for(state="attached")  # and the point marked
    if now.month > 1:  # observed this month: not in January's numbers
        assert page.locator(f'#rates-table tr[data-code="{COUNTY}"] button.cell[data-metric="village_clean"]'
                            '[data-status="not_met"]').count() == 0
        last = len(periods) - 1  # the last point: this month again
        over.click(position={"x": box["width"] - 1, "y": box["height"] / 2})
        page.wait_for_selector(f'#rates-table caption:has-text("{periods[last]}")')
        assert not_met.inner_text().endswith("1")

    # the trend of tap water in households: its table says so
    page.select_option("#trend-metric", "tap_water")
    page.locator("#trend-chart ~ details summary").click()
    page.wait_for_selector('#trend-chart ~ details th:has-text("差距（户）")')
    assert "按户" in page.locator("#trend-chart ~ details thead").inner_text()


def test_a_count_overtaken_by_a_later_click_is_dropped(database, make_user, new_context):
    """The villages of the count clicked last stay, even when the answer for an earlier click comes later."""
    app = database
    (dirty, _), (clean, clean_name) = rural_villages(app, 2)
    create_inspection(app, village=dirty, status="approved", village_clean=False)
    create_inspection(app, village=clean, status="approved", village_clean=True)
    bureau = make_user("bureau", "2303")
    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, bureau)
    row = f'#rates-table tr[data-code="{COUNTY}"]'
    page.wait_for_selector(row)
    held = []
    page.route("**/api/v1/rates?*status=not_met*", lambda route: held.append(route))  # answered only later
    page.locator(f'{row} button.cell[data-metric="village_clean"][data-status="not_met"]').click()
    page.locator(f'{row} button.cell[data-metric="village_clean"][data-status="met"]').click()
    item = page.locator(f'#cell-villages li[data-code="{clean}"]')
    item.wait_for()
    assert held, "the earlier request was not held"
    with page.expect_request_finished(lambda r: "status=not_met" in r.url):
        held[0].continue_()  # the earlier answer arrives now
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert page.locator("#cell-villages li").count() == 1 and clean_name in item.inner_text()
    assert page.locator(f'#cell-villages li[data-code="{dirty}"]').count() == 0
    assert "达标" in page.locator("#cell-villages h2").inner_text() and "未达标" not in page.locator("#cell-villages h2").inner_text()

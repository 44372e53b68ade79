"""The rates screen on paper and on a phone, in Chromium: the print view (`@media print`) hides the
navigation and the controls and keeps the title block (division, period, 口径, generated at), the
table, the map and the trend, on A4 landscape; `page.pdf()` of it holds the division's name and the
口径; 打印 opens the browser's print; the PDF button downloads the server's report for the table as
shown; on a 390×844 phone the bureau lands on 达标率 and reads the table by scrolling it sideways
under its names, never the page."""
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.e2e.test_client_flow import COUNTY, DESKTOP, log_in
from tests.factories import create_inspection

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
A4_LONG, A4_SHORT = 842, 595  # points
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
                                                        else "test-artifacts/screenshots")


def rates_page(new_context, make_user, viewport):
    bureau = make_user("bureau", "2303")
    page = new_context(viewport=viewport).new_page()
    log_in(page, bureau)
    page.wait_for_selector(f'#rates-table tr[data-code="{COUNTY}"]')
    page.locator('#map[data-division="2303"] path.village-shape').first.wait_for(state="attached")
    page.locator("#trend-chart canvas").wait_for(state="attached")
    return page


def test_print_view_hides_navigation_and_controls_and_keeps_the_title_table_map_and_trend(database, make_user, new_context):
    create_inspection(database, village=f"{COUNTY}100200", status="approved", village_clean=False)
    page = rates_page(new_context, make_user, DESKTOP)
    on_screen = ["#header nav", ".controls", "#print-actions", "#exports", "#map-metric", "#trend-metric"]
    for selector in on_screen:
        assert page.locator(selector).is_visible(), selector
    assert page.locator("#rates-generated").is_hidden()  # "generated at" is for paper

    page.emulate_media(media="print")
    for selector in on_screen + ["#logout", "#status"]:
        assert page.locator(selector).is_hidden(), selector
    for selector in ["#rates-title h1", "#rates-meta", "#rates-basis", "#rates-generated", "#rates-table table",
                     "#map", "#trend-chart canvas"]:
        assert page.locator(selector).is_visible(), selector
    assert "鸡西市" in page.locator("#rates-title h1").inner_text()
    assert "2026" in page.locator("#rates-meta").inner_text()
    assert "口径" in page.locator("#rates-basis").inner_text()
    assert "生成于" in page.locator("#rates-generated").inner_text()
    # the table's counts print as text, not as underlined buttons
    cell = page.locator(f'#rates-table tr[data-code="{COUNTY}"] button.cell').first
    assert cell.evaluate("(b) => getComputedStyle(b).textDecorationLine") == "none"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "rates-print-view.png"), full_page=True)

    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    box = pdf.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (A4_LONG, A4_SHORT)  # A4 landscape (@page)
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "鸡西市" in text and "密山市" in text and "口径" in text and "生成于" in text
    assert "导出 Excel" not in text and "查询" not in text  # no controls on paper

    page.emulate_media(media="screen")
    assert page.locator("#header nav").is_visible() and page.locator("#rates-generated").is_hidden()


def test_print_button_opens_the_browsers_print_and_pdf_downloads_the_report_as_shown(database, make_user, new_context):
    page = rates_page(new_context, make_user, DESKTOP)
    # window.print() blocks in a headless browser: count the calls instead of opening the dialog
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    page.locator("#rates-print").click()
    assert page.evaluate("() => window.__printed") == 1
    assert "生成于" in page.locator("#rates-generated").text_content()

    page.locator(f'#rates-table tr[data-code="{COUNTY}"] th button').click()  # 密山市, by township
    page.wait_for_selector('#rates-table caption:has-text("密山市")')
    with page.expect_request("**/api/v1/rates/export?*format=pdf*") as asked, page.expect_download() as downloaded:
        page.locator("#rates-pdf").click()
    query = dict(pair.split("=", 1) for pair in asked.value.url.split("?", 1)[1].split("&"))
    assert query == {"format": "pdf", "division": COUNTY, "period": page.locator("#period").input_value(),
                     "level": "township", "lang": "zh"}
    body = Path(downloaded.value.path()).read_bytes()
    assert body.startswith(b"%PDF-")
    assert downloaded.value.suggested_filename.endswith(".pdf")
    assert "密山市" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)


def test_bureau_lands_on_rates_and_reads_the_table_on_a_390_px_phone(database, make_user, new_context):
    page = rates_page(new_context, make_user, PHONE_390)
    assert page.url.endswith("#/rates")
    assert page.locator('#header nav a[aria-current="page"]').inner_text() == "达标率"
    assert page.locator("#rates-up").is_hidden()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")  # the page never scrolls sideways
    wrap = page.locator("#rates-table")
    assert wrap.evaluate("(w) => w.scrollWidth > w.clientWidth")  # the table does, inside its frame
    name = page.locator(f'#rates-table tr[data-code="{COUNTY}"] th')
    left = name.bounding_box()["x"]
    wrap.evaluate("(w) => { w.scrollLeft = 300; }")
    assert wrap.evaluate("(w) => w.scrollLeft") > 0
    assert abs(name.bounding_box()["x"] - left) < 1  # the names stay while the numbers scroll under them
    metric = page.locator(f'#rates-table tr[data-code="{COUNTY}"] td.metric').first
    assert metric.bounding_box()["width"] >= 150  # a metric column wide enough to read, not a column of single characters
    assert page.locator(f'#rates-table tr[data-code="{COUNTY}"] th button').inner_text() == "密山市"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "rates-phone-390.png"))

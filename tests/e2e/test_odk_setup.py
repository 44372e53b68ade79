"""An inspector sets up ODK Collect from the web client: a settings QR code for a new device key,
the key working at the OpenRosa form list, and turned off again after a confirmation."""
import pytest

from tests.e2e.test_client_flow import PHONE, TOWNSHIP, log_in

pytestmark = pytest.mark.browser

FORM_LIST = """async (url) => {
    const r = await fetch(url + '/formList', {headers: {'X-OpenRosa-Version': '1.0'}});
    return [r.status, r.headers.get('X-OpenRosa-Version'), await r.text()];
}"""


def test_an_inspector_makes_a_collect_qr_code_and_turns_the_key_off(database, make_user, new_context, screenshot):
    inspector = make_user("inspector", TOWNSHIP)
    page = new_context(viewport=PHONE).new_page()
    log_in(page, inspector)
    page.locator("nav a[data-route=odk]").click()
    page.locator("#odk-keys li.muted").wait_for()  # no phone yet
    page.locator("input[name=odk-label]").fill("张三的红米手机")
    page.get_by_role("button", name="生成设置二维码").click()

    qr = page.locator("#odk-qr")
    qr.wait_for()
    assert page.evaluate("() => document.querySelector('#odk-qr')?.naturalWidth") > 100  # a real PNG
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    server_url = page.locator("#odk-url").inner_text()
    assert "/openrosa/key/" in server_url
    assert "只显示这一次" in page.locator("#odk-created").inner_text()
    page.locator("#odk-keys li.odk-key").wait_for()
    assert "张三的红米手机" in page.locator("#odk-keys").inner_text()
    screenshot(page, "odk-collect-qr")

    status, version, body = page.evaluate(FORM_LIST, server_url)
    assert status == 200 and version == "1.0" and "<xforms" in body

    page.locator("#odk-keys li.odk-key").get_by_role("button", name="停用").click()
    page.locator("#confirm-dialog").get_by_role("button", name="停用").click()
    page.locator("#odk-keys li.odk-key .warn-text").wait_for()
    assert "已停用" in page.locator("#odk-keys").inner_text()
    status, version, body = page.evaluate(FORM_LIST, server_url)
    assert status == 403 and version == "1.0" and "OpenRosaResponse" in body

"""An administrator manages accounts in the browser: creates a reviewer, who logs in and must set
their own password first; the administrator disables them and their next request is 401."""
import pytest

from tests.e2e.test_client_flow import DESKTOP, TOWNSHIP, log_in

pytestmark = pytest.mark.browser


def test_admin_creates_a_reviewer_then_disables_them(database, make_user, new_context, screenshot):
    admin = make_user("admin", "2303")
    admin_page = new_context(viewport=DESKTOP).new_page()
    log_in(admin_page, admin)
    admin_page.goto("/#/users")
    admin_page.wait_for_selector("#users-table")

    create = admin_page.locator("#users-create")
    create.locator("input[name=new-username]").fill("reviewer-e2e")
    create.locator("input[name=new-display-name]").fill("赵审核")
    create.locator("input[name=new-password]").fill("temporary-1")
    create.locator("select[name=new-role]").select_option("reviewer")
    create.locator("input[name=new-scope]").fill(TOWNSHIP)
    create.get_by_role("button", name="创建").click()
    row = admin_page.locator('#users-table tr[data-username="reviewer-e2e"]')
    row.wait_for()
    assert "须修改密码" in row.inner_text() and "从未登录" in row.inner_text()
    assert admin_page.locator("#users-message").inner_text() == "已创建用户 reviewer-e2e，首次登录时须修改密码。"

    # the reviewer logs in and must change the password before anything else
    reviewer_page = new_context(viewport=DESKTOP).new_page()
    reviewer_page.goto("/")
    reviewer_page.get_by_label("用户名").fill("reviewer-e2e")
    reviewer_page.get_by_label("密码").fill("temporary-1")
    reviewer_page.get_by_role("button", name="登录").click()
    form = reviewer_page.locator("#password-form")
    form.wait_for()
    form.locator("input[name=current-password]").fill("temporary-1")
    form.locator("input[name=new-password]").fill("my-own-pass-2")
    form.locator("input[name=new-password-again]").fill("my-own-pass-2")
    form.get_by_role("button", name="修改密码").click()
    reviewer_page.wait_for_selector("nav a[data-route=review]")  # no navigation until the password is changed
    assert form.count() == 0
    screenshot(reviewer_page, "reviewer-after-password-change")

    # the admin sees the last login and disables the account
    admin_page.get_by_role("button", name="查询").click()
    row = admin_page.locator('#users-table tr[data-username="reviewer-e2e"]')
    admin_page.wait_for_function(
        "() => !document.querySelector('#users-table tr[data-username=\"reviewer-e2e\"] td.last-login')"
        "?.textContent.includes('从未登录')")
    assert "须修改密码" not in row.inner_text()
    row.get_by_role("button", name="停用").click()
    admin_page.locator('#users-table tr[data-username="reviewer-e2e"].disabled').wait_for()
    screenshot(admin_page, "admin-users")

    # the reviewer's very next request is 401, and the client goes back to the login screen
    status = reviewer_page.evaluate("""async () => (await fetch('/api/v1/me', {headers: {
        Authorization: 'Bearer ' + localStorage.getItem('rie.token')}})).status""")
    assert status == 401
    reviewer_page.locator("nav a[data-route=records]").click()
    reviewer_page.get_by_role("button", name="登录").wait_for()

"""An administrator in the browser: adds a webhook endpoint for a township, presses 发送测试事件 and
a real local server receives a request signed with the secret the screen showed once, the screen
says it succeeded; the audit log screen filters by action and pages, each entry's details in words."""
import json

import pytest

from app.extensions import db
from app.services.audit import record_audit
from tests.e2e.test_client_flow import DESKTOP, TOWNSHIP, log_in
from tests.webhook_receiver import WebhookReceiver, refused_url, signed_with

pytestmark = pytest.mark.browser


def test_admin_adds_a_township_endpoint_and_sends_a_test_event(database, make_user, new_context, screenshot):
    admin = make_user("admin", "2303")
    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, admin)
    page.locator("nav a[data-route=webhooks]").click()
    page.wait_for_selector("#webhook-endpoints-empty")

    form = page.locator("#webhook-form")
    # a URL that is not http(s) is refused by the server, in Chinese
    form.locator("input[name=division]").fill(TOWNSHIP)
    form.locator("input[name=url]").fill("ftp://example.org/hooks")
    form.get_by_role("button", name="添加").click()
    page.wait_for_selector("#webhooks-error:not([hidden])")
    assert "网址：不是有效的网址" in page.locator("#webhooks-error").inner_text()

    with WebhookReceiver("/hooks/mishan") as receiver:
        form.locator("input[name=url]").fill(receiver.url)
        form.get_by_role("button", name="添加").click()
        row = page.locator(f'#webhook-endpoints tr[data-url="{receiver.url}"]')
        row.wait_for()
        assert "密山镇" in row.inner_text() and "全部事件" in row.inner_text()
        secret = page.locator("#webhook-secret-value").inner_text().strip()
        assert len(secret) >= 40

        row.get_by_role("button", name="发送测试事件").click()
        outcome = row.locator(".test-result.ok")
        outcome.wait_for()
        assert outcome.inner_text().startswith("成功：HTTP 200，用时")
        (got,) = receiver.received
        assert got["path"] == "/hooks/mishan" and got["headers"]["X-Event"] == "ping"
        assert signed_with(got, secret)
        assert json.loads(got["body"])["endpoint"]["division"] == TOWNSHIP

    delivered = page.locator('#webhook-deliveries tr[data-event="ping"][data-status="delivered"]')
    delivered.wait_for()
    assert "测试事件" in delivered.inner_text() and "HTTP 200" in delivered.inner_text()

    # an endpoint where nobody listens: the test event says it failed, and the delivery is listed as failed
    dead = refused_url()
    form.locator("input[name=url]").fill(dead)
    form.get_by_role("button", name="添加").click()
    dead_row = page.locator(f'#webhook-endpoints tr[data-url="{dead}"]')
    dead_row.wait_for()
    dead_row.get_by_role("button", name="发送测试事件").click()
    failed = dead_row.locator(".test-result.bad")
    failed.wait_for()
    assert failed.inner_text().startswith("失败：") and "refused" in failed.inner_text().lower()
    page.locator("select[name=filter-status]").select_option("failed")
    page.locator("#deliveries-filters").get_by_role("button", name="查询").click()
    page.wait_for_function("() => { const rows = document.querySelectorAll('#webhook-deliveries tbody tr');"
                           " return rows.length === 1 && rows[0].dataset.status === 'failed'; }")
    screenshot(page, "admin-webhooks")


def test_the_audit_screen_filters_by_action_and_pages(database, make_user, new_context, screenshot):
    admin = make_user("admin", "2303")
    with database.app_context():
        for i in range(25):
            record_audit("webhook_endpoint.created", "webhook_endpoint", 1000 + i, actor=admin.id, division_code=TOWNSHIP,
                         details={"url": f"https://hooks.example.org/{i}", "events": None, "active": True})
        for i in range(3):
            record_audit("user.updated", "user", 2000 + i, actor=admin.id, division_code="230381100",
                         details={"username": f"u{i}", "changes": {"role": ["inspector", "reviewer"]}})
        db.session.commit()
    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, admin)
    page.locator("nav a[data-route=audit]").click()
    page.wait_for_selector("#audit-table")

    filters = page.locator("#audit-filters")
    filters.locator("input[name=filter-action]").fill("webhook_endpoint.created")
    filters.get_by_role("button", name="查询").click()
    pager = page.locator("#audit-pager .page-of")
    page.wait_for_function("() => document.querySelector('#audit-pager .page-of')?.textContent === '第 1/2 页，共 25 条'")
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 20
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.action)")) == {"webhook_endpoint.created"}
    first = rows.first
    assert "新增 Webhook 端点" in first.inner_text()
    shown = dict(zip(first.locator("dl.audit-details dt").all_inner_texts(),
                     first.locator("dl.audit-details dd").all_inner_texts()))
    assert shown == {"网址": "https://hooks.example.org/24", "推送事件": "全部事件", "启用": "是"}

    page.locator("#audit-pager").get_by_role("button", name="下一页").click()
    page.wait_for_function("() => document.querySelector('#audit-pager .page-of')?.textContent === '第 2/2 页，共 25 条'")
    assert rows.count() == 5
    assert pager.inner_text() == "第 2/2 页，共 25 条"

    # another action and a division: the change of an update reads "before → after"
    filters.locator("input[name=filter-action]").fill("user.updated")
    filters.locator("input[name=filter-division]").fill("230381")
    filters.get_by_role("button", name="查询").click()
    page.wait_for_function("() => document.querySelector('#audit-pager .page-of')?.textContent === '第 1/1 页，共 3 条'")
    details = rows.first.locator("dl.audit-details")
    assert dict(zip(details.locator("dt").all_inner_texts(), details.locator("dd").all_inner_texts())) == {
        "用户名": "u2", "角色": "巡查员 → 审核员"}
    screenshot(page, "admin-audit")

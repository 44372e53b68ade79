"""A village inspector on a 360 px phone, as issue 11 found them stuck: a shared phone (an item made
by one user is never sent as another's), no GPS (submitted without a location, flagged
`no_location`), a phone clock 40 minutes fast (accepted, flagged `clock_skew`), a refusal the
inspector can fix ("修改"), deleting that asks first, drafts that survive a reload offline,
progress while photos are prepared and sent, the villages due this month and "my inspections"
paged, filtered, opened and readable offline."""
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests import factories
from tests.conftest import sql
from tests.e2e.test_client_flow import PHONE, SMALL_PHOTO, TOWNSHIP, first_rural_village, log_in, no_horizontal_scroll

pytestmark = pytest.mark.browser

BIG_PHOTO = SMALL_PHOTO.with_name("gps_samsung_sm-g930f.jpg")
ANOTHER_PHOTO = SMALL_PHOTO.with_name("gps_apple_iphone4.jpg")


def phone(new_context, located=None, **options):
    """A phone page; `located` = (lat, lon) grants the position, else geolocation is denied."""
    if located:
        options.update(geolocation={"latitude": located[0], "longitude": located[1], "accuracy": 12},
                       permissions=["geolocation"])
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True, **options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def fill_garbage(page, photo=SMALL_PHOTO, answer="true"):
    """Answer the garbage aspect (all yes by default) with a photo; leave sewage and cleanliness out."""
    section = page.locator("section[data-aspect=garbage]")
    for radio in section.locator(f"input[type=radio][value={answer}]").all():
        radio.check()
    section.locator("input[type=file]").set_input_files(str(photo))
    section.locator("ul.photos li").first.wait_for()
    for aspect in ("sewage", "cleanliness"):
        page.locator(f"input[name=include-{aspect}]").uncheck()


def log_out(page):
    page.locator("#logout").click()


def confirm(page, text, accept=True):
    """The app's own confirmation dialog: check its words, then confirm or cancel."""
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for()
    assert text in dialog.inner_text(), dialog.inner_text()
    dialog.locator("button[type=submit]" if accept else "button[type=button]").click()
    dialog.wait_for(state="detached")


def test_an_item_made_by_one_user_is_never_sent_as_another(database, make_user, new_context, screenshot):
    app = database
    first = make_user("inspector", TOWNSHIP)
    second = make_user("inspector", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    page = phone(new_context, located=(lat, lon))
    log_in(page, first)
    page.get_by_role("button", name="我在哪里？").click()
    page.wait_for_function("(n) => document.querySelector('#where-result')?.textContent.includes(n)", arg=name)
    fill_garbage(page)
    page.context.set_offline(True)
    page.get_by_role("button", name="提交").click()
    item = page.locator("#outbox-list .outbox-item[data-state=waiting]")
    item.wait_for()
    client_uuid = item.get_attribute("data-key")

    # logging out with an unsent item warns and names the count; cancelling keeps the user logged in
    log_out(page)
    confirm(page, "还有 1 条巡查没有发送", accept=False)
    assert page.locator("#logout").is_visible()
    log_out(page)
    screenshot(page, "20-logout-unsent")
    confirm(page, "还有 1 条巡查没有发送")
    page.wait_for_selector("input[name=username]")

    # the second inspector logs in on the same phone, online: the first one's item is not sent
    page.context.set_offline(False)
    creates = []
    page.on("request", lambda r: creates.append(r) if r.url.endswith("/api/v1/inspections") and r.method == "POST" else None)
    log_in(page, second)
    page.get_by_role("link", name=re.compile("待发送")).click()
    note = page.locator("#others-items")
    note.wait_for()
    assert "1 条其他账号" in note.inner_text() and first.username in note.inner_text()
    assert page.locator("#outbox-list .outbox-item").count() == 0
    page.evaluate("() => window.dispatchEvent(new Event('online'))")  # any send would start now ...
    page.evaluate("() => navigator.locks.request('rie-outbox', () => true)")  # ... and be over once the lock is free
    assert creates == [] and sql(app, "SELECT count(*) FROM inspections")[0][0] == 0

    # sent as the second user by hand, the server refuses the first user's client_uuid: 409, not re-attributed
    log_out(page)
    page.wait_for_selector("input[name=username]")
    log_in(page, first)
    page.get_by_role("link", name=re.compile("待发送")).click()
    page.wait_for_selector("#outbox-list .outbox-item[data-state=sent]")
    assert [(uuid.UUID(str(u)), i) for u, i in sql(app, "SELECT client_uuid, inspector_id FROM inspections")] \
        == [(uuid.UUID(client_uuid), first.id)]
    refusal = page.evaluate("""async ([token, uuid, village]) => {
        const r = await fetch("/api/v1/inspections", {method: "POST", headers: {"Content-Type": "application/json",
            Authorization: "Bearer " + token}, body: JSON.stringify({client_uuid: uuid, village,
            observed_at: new Date().toISOString(), answers: {tap_water: {households: 10, households_with_tap: 10}}})});
        return [r.status, await r.json()];
    }""", [second.token, client_uuid, code])
    assert refusal[0] == 409 and refusal[1]["error"]["code"] == "duplicate_conflict"
    assert refusal[1]["error"]["details"]["reason"] == "other_user"
    assert [r[0] for r in sql(app, "SELECT inspector_id FROM inspections")] == [first.id]
    assert page.errors == []


def test_without_gps_the_village_is_chosen_by_hand_and_the_reviewer_sees_no_location(
        database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    code, name, _, _ = first_rural_village(app)
    page = phone(new_context)  # location permission denied
    log_in(page, inspector)
    page.get_by_role("button", name="我在哪里？").click()
    result = page.locator("#where-result")
    page.wait_for_function("() => document.querySelector('#where-result')?.textContent.includes('定位权限被拒绝')")
    assert "手动选择村" in result.inner_text() and "不定位也可以提交" in result.inner_text()
    assert page.locator("#no-gps-hint").is_visible()
    page.select_option("select[name=village]", code)
    fill_garbage(page)
    screenshot(page, "21-no-gps-form")
    assert no_horizontal_scroll(page)
    page.get_by_role("button", name="提交").click()
    sent = page.locator("#outbox-list .outbox-item[data-state=sent]")
    sent.wait_for()
    assert "未定位" in sent.inner_text()
    rows = sql(app, "SELECT i.id, f.code FROM inspections i JOIN inspection_flags f ON f.inspection_id = i.id "
                    "WHERE f.code = 'no_location'")
    assert len(rows) == 1
    assert sql(app, "SELECT location IS NULL FROM inspections")[0][0] in (1, True)

    review = phone(new_context)
    log_in(review, reviewer)
    card = review.locator(f'.review-item[data-id="{rows[0][0]}"]')
    card.wait_for()
    assert "未定位（村为手动选择）" in card.inner_text()
    assert page.errors == [] and review.errors == []


def test_a_phone_clock_40_minutes_fast_gives_an_accepted_inspection_flagged_clock_skew(
        database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    page = phone(new_context, located=(lat, lon))
    page.context.clock.install(time=datetime.now() + timedelta(minutes=40))  # the phone's clock only
    log_in(page, inspector)
    page.select_option("select[name=village]", code)
    page.get_by_role("button", name="我在哪里？").click()
    page.wait_for_function("(n) => document.querySelector('#where-result')?.textContent.includes(n)", arg=name)
    fill_garbage(page)
    page.get_by_role("button", name="提交").click()
    sent = page.locator("#outbox-list .outbox-item[data-state=sent]")
    sent.wait_for()
    assert "手机时间快了 40 分钟" in sent.inner_text()
    screenshot(page, "22-clock-skew-sent")
    (observed, device), = sql(app, "SELECT observed_at, device_observed_at FROM inspections")
    observed = observed if isinstance(observed, datetime) else datetime.fromisoformat(str(observed))
    device = device if isinstance(device, datetime) else datetime.fromisoformat(str(device))
    observed, device = (d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d for d in (observed, device))
    now = datetime.now(timezone.utc)
    assert abs(observed - now) < timedelta(minutes=3)  # corrected to the server's clock
    assert timedelta(minutes=38) < device - observed < timedelta(minutes=42)  # the phone's own value kept
    (facts,), = sql(app, "SELECT facts FROM inspection_flags WHERE code = 'clock_skew'")
    facts = facts if isinstance(facts, dict) else json.loads(facts)
    assert 38 * 60 < facts["skew_seconds"] < 42 * 60 and facts["observed_at"] == "corrected"
    assert page.errors == []


def test_a_refusal_the_inspector_can_fix_offers_edit_and_delete_asks_first(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    page = phone(new_context, located=(lat, lon))
    log_in(page, inspector)
    page.select_option("select[name=village]", code)
    for aspect in ("garbage", "sewage", "cleanliness"):
        page.locator(f"input[name=include-{aspect}]").uncheck()
    page.locator("input[name=include-tap_water]").check()
    tap = page.locator("section[data-aspect=tap_water]")
    tap.locator("input[name='tap_water.households']").fill("100")
    tap.locator("input[name='tap_water.households_with_tap']").fill("120")  # more than there are: the server refuses
    page.get_by_role("button", name="提交").click()
    failed = page.locator("#outbox-list .outbox-item[data-state=failed]")
    failed.wait_for()
    assert "自来水入户 · 自来水入户户数：不能超过“总户数”。" in failed.inner_text()  # Chinese, field named in words
    screenshot(page, "23-outbox-fix")
    failed.get_by_role("button", name="修改").click()
    form = page.locator("section[data-aspect=tap_water]")
    assert form.locator("input[name='tap_water.households_with_tap']").input_value() == "120"
    assert "不能超过“总户数”" in page.locator(".notice").inner_text()
    form.locator("input[name='tap_water.households_with_tap']").fill("98")
    page.get_by_role("button", name="保存并重新发送").click()
    page.wait_for_selector("#outbox-list .outbox-item[data-state=sent]")
    assert [tuple(r) for r in sql(app, "SELECT tap_households, tap_households_with_tap FROM inspections")] == [(100, 98)]

    # deleting an unsent item asks first; cancelling keeps it
    page.context.set_offline(True)
    page.get_by_role("link", name="巡查", exact=True).click()
    page.select_option("select[name=village]", code)
    fill_garbage(page)
    page.get_by_role("button", name="提交").click()
    waiting = page.locator("#outbox-list .outbox-item[data-state=waiting]")
    waiting.wait_for()
    waiting.get_by_role("button", name="删除").click()
    confirm(page, "删除这条未发送的巡查", accept=False)
    assert waiting.count() == 1
    waiting.get_by_role("button", name="删除").click()
    confirm(page, "删除这条未发送的巡查")
    waiting.wait_for(state="detached")
    assert page.errors == []


def test_a_draft_survives_switching_screens_and_a_reload_offline(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    other = make_user("inspector", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    page = phone(new_context)
    log_in(page, inspector)
    page.select_option("select[name=village]", code)
    garbage = page.locator("section[data-aspect=garbage]")
    garbage.locator("fieldset[data-question=collection_points] input[value=true]").check()
    garbage.locator("fieldset[data-question=no_informal_dumping] input[value=false]").check()
    garbage.locator("input[type=file]").set_input_files(str(SMALL_PHOTO))
    garbage.locator("ul.photos li").wait_for()
    page.locator("textarea[name=notes]").fill("村东头有垃圾")
    saved = """(uid) => new Promise((resolve) => {
        const req = indexedDB.open("rie-client");
        req.onsuccess = () => {
            const get = req.result.transaction("drafts").objectStore("drafts").get(uid + ":new");
            get.onsuccess = () => resolve(Boolean(get.result && get.result.notes === "村东头有垃圾"
                                                   && get.result.aspects.garbage.added.length === 1));
        };
    })"""
    page.wait_for_function(saved, arg=inspector.id)

    page.get_by_role("link", name=re.compile("待发送")).click()
    page.get_by_role("link", name="巡查", exact=True).click()
    page.locator("#draft-note").wait_for()

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#net.off")
    page.locator("#draft-note").wait_for()
    garbage = page.locator("section[data-aspect=garbage]")
    assert page.locator("select[name=village]").input_value() == code
    assert garbage.locator("fieldset[data-question=collection_points] input[value=true]").is_checked()
    assert garbage.locator("fieldset[data-question=no_informal_dumping] input[value=false]").is_checked()
    assert page.locator("textarea[name=notes]").input_value() == "村东头有垃圾"
    page.wait_for_function("() => document.querySelector('section[data-aspect=garbage] ul.photos img')?.naturalWidth > 0")
    screenshot(page, "24-draft-restored")

    # per user: another inspector on this phone starts from an empty form
    page.context.set_offline(False)
    log_out(page)
    page.wait_for_selector("input[name=username]")
    log_in(page, other)
    page.locator("section[data-aspect=garbage]").wait_for()
    assert page.locator("#draft-note").count() == 0 and page.locator("textarea[name=notes]").input_value() == ""
    log_out(page)
    page.wait_for_selector("input[name=username]")

    # back as its author: discarding asks first, then the form is empty
    log_in(page, inspector)
    page.locator("#draft-note").wait_for()
    page.locator("#discard-draft").click()
    confirm(page, "放弃这份草稿")
    page.wait_for_function("() => !document.querySelector('#draft-note') && document.querySelector('textarea[name=notes]')?.value === ''")
    page.reload()
    page.locator("section[data-aspect=garbage]").wait_for()
    assert page.locator("#draft-note").count() == 0
    assert page.errors == []


def test_preparing_and_uploading_photos_show_progress_and_stay_alive(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    page = phone(new_context, located=(lat, lon))
    log_in(page, inspector)
    page.select_option("select[name=village]", code)
    page.evaluate("""() => {
        window.seen = [];
        new MutationObserver(() => document.querySelectorAll('.preparing, .send-progress').forEach(
            (el) => window.seen.push(el.textContent))).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")
    garbage = page.locator("section[data-aspect=garbage]")
    for radio in garbage.locator("input[type=radio][value=true]").all():
        radio.check()
    garbage.locator("input[type=file]").set_input_files([str(BIG_PHOTO), str(ANOTHER_PHOTO)])
    page.wait_for_function("() => document.querySelectorAll('section[data-aspect=garbage] ul.photos li').length === 2")
    seen = page.evaluate("window.seen")
    assert any("正在处理照片 1/2" in s for s in seen) and any("正在处理照片 2/2" in s for s in seen)
    for aspect in ("sewage", "cleanliness"):
        page.locator(f"input[name=include-{aspect}]").uncheck()

    held, released = [], []
    page.route("**/api/v1/photos", lambda route: route.continue_() if released else held.append(route))
    page.get_by_role("button", name="提交").click()
    progress = page.locator("#outbox-list .send-progress")
    page.wait_for_function("() => document.querySelector('#outbox-list .send-progress')?.textContent.includes('正在上传照片 1/2')")
    assert progress.locator("progress").count() == 1 and "%" in progress.inner_text()
    page.wait_for_function("() => /已用时 [2-9]/.test(document.querySelector('#outbox-list .send-progress')?.textContent)")
    screenshot(page, "25-outbox-progress")
    released.append(True)
    for route in held:
        route.continue_()
    page.wait_for_selector("#outbox-list .outbox-item[data-state=sent]")
    seen = page.evaluate("window.seen")
    assert any("正在上传照片 2/2" in s for s in seen) and any("正在提交巡查" in s for s in seen)
    assert sql(app, "SELECT count(*) FROM inspection_photos")[0][0] == 2
    assert page.errors == []


def test_due_this_month_lists_villages_without_a_visit_and_opens_the_form(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from app.models import Division

        villages = db.session.execute(select(Division.code, Division.name).where(
            Division.parent_code == TOWNSHIP, Division.kind == "rural").order_by(Division.code)).all()
    (visited, _), (returned, returned_name) = villages[0], villages[1]
    now = datetime.now(timezone.utc)
    factories.create_inspection(app, village=visited, status="submitted", observed_at=now)
    factories.create_inspection(app, village=returned, status="returned", observed_at=now)
    page = phone(new_context)
    log_in(page, inspector)
    page.get_by_role("link", name="本月待巡查").click()
    items = page.locator("#due-list .due-item")
    items.first.wait_for()
    codes = [items.nth(i).get_attribute("data-code") for i in range(items.count())]
    assert visited not in codes and returned in codes and len(codes) == len(villages) - 1
    assert "从未巡查" in items.first.inner_text()
    assert "已退回" in page.locator(f'#due-list .due-item[data-code="{returned}"]').inner_text()
    assert f"还有 {len(villages) - 1} 个村" in page.locator("#due-summary").inner_text()
    screenshot(page, "26-due")

    page.context.set_offline(True)
    page.reload()
    page.locator(".offline-copy").wait_for()
    assert page.locator("#due-list .due-item").count() == len(villages) - 1
    page.context.set_offline(False)
    page.locator(f'#due-list .due-item[data-code="{returned}"] a').click()
    page.locator("section[data-aspect=garbage]").wait_for()
    assert page.locator("select[name=village]").input_value() == returned
    assert page.errors == []


def test_my_inspections_page_filter_open_and_read_offline(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    code, name, lat, lon = first_rural_village(app)
    now = datetime.now(timezone.utc)
    rejected = factories.create_inspection(app, village=code, inspector_id=inspector.id, observed_at=now - timedelta(days=20),
                                           garbage_stable=False,
                                           answers={"garbage": {"collection_points": True, "collected_on_schedule": False,
                                                                "transfer_working": True, "no_informal_dumping": True}}).id
    client = app.test_client()
    r = client.post(f"/api/v1/inspections/{rejected}/review", headers=reviewer.headers,
                    json={"decision": "reject", "comment": "照片不是本村的", "version": 1})
    assert r.status_code == 200, r.get_json()
    for i in range(55):  # newer ones: the rejected one is far beyond the first 50
        factories.create_inspection(app, village=code, inspector_id=inspector.id, observed_at=now - timedelta(hours=i + 1),
                                    status="approved", garbage_stable=True)
    page = phone(new_context)
    log_in(page, inspector)
    page.get_by_role("link", name="我的巡查").click()
    summary = page.locator("#mine-summary")
    page.wait_for_function("() => document.querySelector('#mine-summary')?.textContent.includes('共 56 条')")
    assert "第 1/3 页" in summary.inner_text()
    page.locator("#mine-next").click()
    page.locator("#mine-next").click()
    page.wait_for_function("() => document.querySelector('#mine-summary')?.textContent.includes('第 3/3 页')")
    assert page.locator(f'#mine-list .mine-item[data-id="{rejected}"]').count() == 1  # reachable on the last page

    page.select_option("#mine-status", "rejected")
    page.wait_for_function("() => document.querySelector('#mine-summary')?.textContent.includes('共 1 条')")
    item = page.locator(f'#mine-list .mine-item[data-id="{rejected}"]')
    item.wait_for()
    assert "照片不是本村的" in item.inner_text() and page.locator("#mine-list .mine-item").count() == 1
    screenshot(page, "27-mine-filtered")
    item.locator("a").first.click()
    summary_box = page.locator("#inspection-summary")
    summary_box.wait_for()
    assert "未通过" in summary_box.inner_text() and "照片不是本村的" in summary_box.inner_text()
    answers = page.locator(".answers [data-aspect=garbage]")
    assert "垃圾按时清运 ✗ 否" in answers.inner_text().replace("\n", " ")
    screenshot(page, "28-inspection-detail")

    page.context.set_offline(True)
    page.reload()
    page.locator(".offline-copy").wait_for()
    assert "照片不是本村的" in page.locator("#inspection-summary").inner_text()
    page.get_by_role("link", name="我的巡查").click()
    page.locator("#mine-list .mine-item").nth(19).wait_for()  # the list's own copy, not the detail screen's
    assert page.locator("#mine-list .offline-copy, main .offline-copy").count() >= 1
    assert page.locator("#mine-list .mine-item").count() == 20
    assert page.errors == []

"""A township reviewer working a real queue, as issue 11 asked: all 209 reachable with their totals,
sorted, filtered and searched on the screen; each card with every checklist answer, what a
resubmission changed, a map of where it was taken, evidence side by side, a photo viewer with each
photo's own facts, zoom, the original and the decisions; bulk approval that asks first and reports
what failed; comments, history and reopening in the UI; keyboard hints only with a keyboard; and
thumbnails loaded only when on screen."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.domain import full_answers
from app.extensions import db
from app.models import Division
from tests import factories
from tests.conftest import sql
from tests.e2e.test_client_flow import DESKTOP, PHONE, PHOTOS, TOWNSHIP, log_in, no_horizontal_scroll

pytestmark = pytest.mark.browser

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def rural_villages(app):
    with app.app_context():
        return db.session.execute(select(Division.code, Division.name).where(
            Division.parent_code == TOWNSHIP, Division.kind == "rural").order_by(Division.code)).all()


def desk(new_context):
    page = new_context(viewport=DESKTOP).new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def phone(new_context):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def confirm(page, text, accept=True):
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for()
    assert text in dialog.inner_text(), dialog.inner_text()
    dialog.locator("button[type=submit]" if accept else "button[type=button]").click()
    dialog.wait_for(state="detached")


def test_a_queue_of_209_is_reachable_to_its_last_item_with_a_filter_and_a_sort(
        database, make_user, new_context, screenshot):
    app = database
    reviewer = make_user("reviewer", TOWNSHIP)
    wang = make_user("inspector", TOWNSHIP, username="wang_wei")
    li = make_user("inspector", TOWNSHIP, username="li_na")
    villages = rural_villages(app)
    flagged = []
    for i in range(209):
        village = villages[i % len(villages)][0]
        is_flagged = i % 5 < 2 and len(flagged) < 82
        made = factories.create_inspection(
            app, village=village, inspector_id=(wang if i % 2 else li).id, observed_at=T0,
            submitted_at=T0 + timedelta(minutes=i), garbage_stable=True, photos=["garbage"],
            flags=[("no_exif", {"photos": []})] if is_flagged else None)
        if is_flagged:
            flagged.append(made.id)
    assert len(flagged) == 82

    page = desk(new_context)
    thumbs = []
    page.on("request", lambda r: thumbs.append(r.url) if r.url.endswith("/thumb") else None)
    log_in(page, reviewer)
    summary = page.locator("#queue-summary")
    page.wait_for_function("() => document.querySelector('#queue-summary')?.textContent.includes('共 209 条')")
    assert summary.inner_text() == "共 209 条，其中 82 条有警示"
    assert page.locator("#shortcuts").is_visible()  # a PC with a keyboard: the keys are hinted
    assert page.locator(".review-item").count() == 50 and "第 1/5 页" in page.locator("#queue-page").inner_text()
    page.locator(".review-item .thumbs img").first.wait_for()
    assert len(thumbs) < 20, len(thumbs)  # only what is on screen, not 50 cards' worth
    page.screenshot(path=str(screenshot(page, "30-queue-200")))  # the first screen of it

    # filter (flagged) and sort (by village), then to the last page: its last card is the last one
    page.select_option("#queue-flag", "any")
    page.wait_for_function("() => document.querySelector('#queue-summary')?.textContent.includes('共 82 条')")
    page.select_option("#queue-order", "village")
    page.wait_for_function("() => document.querySelector('#queue-page')?.textContent.includes('第 1/2 页')")
    page.locator("#queue-last").click()
    page.wait_for_function("() => document.querySelector('#queue-page')?.textContent.includes('第 2/2 页')")
    last_expected = sql(app, "SELECT id FROM inspections WHERE flag_count > 0 ORDER BY village_code, submitted_at, id")[-1][0]
    assert page.locator(".review-item").count() == 32
    assert page.locator(".review-item").last.get_attribute("data-id") == str(last_expected)

    # search: a village's name and an inspector
    page.locator("#queue-reset").click()
    page.wait_for_function("() => document.querySelector('#queue-summary')?.textContent.includes('共 209 条')")
    page.locator("#queue-q").fill("wang_wei")
    page.wait_for_function("() => document.querySelector('#queue-summary')?.textContent.includes('共 104 条')")
    page.locator("#queue-q").fill(villages[0][1])
    expected = sql(app, "SELECT count(*) FROM inspections WHERE village_code = :v", v=villages[0][0])[0][0]
    page.wait_for_function("(n) => document.querySelector('#queue-summary')?.textContent.includes('共 ' + n + ' 条')",
                           arg=expected)
    assert page.errors == []


def test_bulk_approve_asks_first_covers_exactly_its_items_and_says_which_failed(
        database, make_user, new_context, screenshot):
    app = database
    reviewer = make_user("reviewer", TOWNSHIP)
    other = make_user("reviewer", TOWNSHIP)
    code = rural_villages(app)[0][0]
    plain = [factories.create_inspection(app, village=code, garbage_stable=True).id for _ in range(5)]
    flagged = [factories.create_inspection(app, village=code, garbage_stable=True,
                                           flags=[("low_accuracy", {"accuracy_m": 250, "threshold_m": 100})]).id
               for _ in range(2)]
    page = phone(new_context)
    log_in(page, reviewer)
    page.get_by_role("button", name="批量通过无警示的 5 条").click()
    confirm(page, "通过 5 条无警示巡查？", accept=False)
    assert dict(sql(app, "SELECT id, status FROM inspections")) == {i: "submitted" for i in plain + flagged}

    page.get_by_role("button", name="批量通过无警示的 5 条").click()
    page.locator("#confirm-dialog").wait_for()
    page.screenshot(path=str(screenshot(page, "31-bulk-confirm")))  # the dialog as it is seen
    # meanwhile another reviewer approves one of the five: it is reported, not silently counted
    r = app.test_client().post(f"/api/v1/inspections/{plain[0]}/review", headers=other.headers,
                               json={"decision": "approve", "version": 1})
    assert r.status_code == 200
    new = factories.create_inspection(app, village=code, garbage_stable=True).id  # came after the question
    confirm(page, "通过 5 条无警示巡查？")
    result = page.locator("#bulk-result")
    result.locator("p").wait_for()
    assert "已通过 4 条；1 条未能通过" in result.inner_text()
    assert f"#{plain[0]}" in result.inner_text() and "已通过" in page.locator("#bulk-failures").inner_text()
    statuses = dict(sql(app, "SELECT id, status FROM inspections"))
    assert all(statuses[i] == "approved" for i in plain) and all(statuses[i] == "submitted" for i in flagged)
    assert statuses[new] == "submitted"  # exactly the items it named
    assert page.errors == []


def submit(client, user, village, lat, lon, answers, photos, observed_at=None, client_uuid=None):
    import uuid

    body = {"client_uuid": client_uuid or str(uuid.uuid4()), "village": village,
            "observed_at": (observed_at or datetime.now(timezone.utc)).isoformat(),
            "location": {"lat": lat, "lon": lon, "accuracy_m": 10}, "answers": answers, "photos": photos}
    r = client.post("/api/v1/inspections", headers=user.headers, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json(), body


def upload(client, user, name):
    with open(PHOTOS / name, "rb") as f:
        r = client.post("/api/v1/photos", headers=user.headers, data={"file": (f, name)},
                        content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()["id"]


def test_a_card_shows_answers_changes_map_evidence_and_photo_facts(database, make_user, new_context, screenshot):
    app = database
    inspector = make_user("inspector", TOWNSHIP)
    reviewer = make_user("reviewer", TOWNSHIP)
    code, name = rural_villages(app)[0]
    with app.app_context():
        point = db.session.get(Division, code).point
    lat, lon = point.y, point.x
    client = app.test_client()
    garbage = full_answers()["garbage"]
    # the village's previous approved inspection, with a photo
    old_photo = upload(client, inspector, "gps_apple_iphone4.jpg")
    previous, _ = submit(client, inspector, code, lat, lon, {"garbage": garbage}, {"garbage": [old_photo]},
                         observed_at=datetime.now(timezone.utc) - timedelta(days=30))
    client.post(f"/api/v1/inspections/{previous['id']}/review", headers=reviewer.headers,
                json={"decision": "approve", "version": 1})
    # this one: one garbage item 否, returned, then resubmitted with it fixed and a second photo
    photo = upload(client, inspector, "gps_htc_desire.jpg")  # its GPS is thousands of km away
    made, body = submit(client, inspector, code, lat, lon, {"garbage": {**garbage, "no_informal_dumping": False}},
                        {"garbage": [photo]})
    client.post(f"/api/v1/inspections/{made['id']}/review", headers=reviewer.headers,
                json={"decision": "return", "comment": "补拍垃圾点", "version": 1})
    second = upload(client, inspector, "nogps_canon_40d.jpg")
    r = client.put(f"/api/v1/inspections/{made['id']}", headers=inspector.headers,
                   json={**{k: v for k, v in body.items() if k != "client_uuid"}, "version": 1,
                         "answers": {"garbage": garbage}, "photos": {"garbage": [photo, second]}})
    assert r.status_code == 200, r.get_json()
    # a third inspection reusing the previous one's photo: photo_reused links to it
    reused, _ = submit(client, inspector, code, lat, lon, {"garbage": garbage}, {"garbage": [old_photo]})

    small = phone(new_context)
    log_in(small, reviewer)
    small_card = small.locator(f'.review-item[data-id="{made["id"]}"]')
    small_card.locator(".diff").wait_for()
    small.wait_for_function("(id) => [...document.querySelectorAll(`.review-item[data-id='${id}'] .thumbs img`)]"
                            ".every((i) => i.complete && i.naturalWidth > 0)", arg=str(made["id"]))
    screenshot(small, "38-phone-card")
    small_card.locator("[data-action=map]").click()
    small.locator("#map-dialog path.map-location").wait_for()
    small.screenshot(path=str(screenshot(small, "39-phone-map")))  # the dialog as it is seen
    small.locator("#map-dialog").get_by_role("button", name="关闭").click()
    small_card.locator("[data-action=compare]").click()
    small.wait_for_function("() => document.querySelectorAll('#compare-dialog img').length === 3 && "
                            "[...document.querySelectorAll('#compare-dialog img')].every((i) => i.complete && i.naturalWidth > 0)")
    small.screenshot(path=str(screenshot(small, "40-phone-compare")))  # the dialog as it is seen
    small.locator("#compare-dialog").get_by_role("button", name="关闭").click()
    small_card.locator(".thumbs button").first.click()
    small.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    small.screenshot(path=str(screenshot(small, "41-phone-viewer")))  # the dialog as it is seen
    assert small.errors == []

    page = desk(new_context)
    log_in(page, reviewer)
    card = page.locator(f'.review-item[data-id="{made["id"]}"]')
    card.wait_for()
    answers = card.locator(".answers [data-aspect=garbage]").inner_text().replace("\n", " ")
    assert "无乱堆乱倒 ✓ 是" in answers and "垃圾按时清运 ✓ 是" in answers
    diff = card.locator(".diff")
    diff.wait_for()
    assert "无乱堆乱倒：✗ 否 → ✓ 是" in diff.inner_text() and "新增 1 张照片" in diff.inner_text()
    assert "公里" in card.locator("ul.flags").inner_text()  # 8,6xx 公里, not 8595300 米
    screenshot(page, "32-queue-card")

    # where it was taken: the (synthetic) boundary, the location, the photos' GPS
    card.locator("[data-action=map]").click()
    dialog = page.locator("#map-dialog")
    dialog.locator("path.leaflet-interactive").first.wait_for()
    assert "村界（示意，合成数据）" in dialog.locator("#map-legend").inner_text()
    assert dialog.locator("path.map-location").count() == 1 and dialog.locator("path.map-photo").count() == 1
    facts = dialog.locator("#map-facts").inner_text()
    assert "公里" in facts and "无 GPS" in facts
    screenshot(page, "33-map")
    dialog.get_by_role("button", name="关闭").click()

    # evidence side by side: the previous approved inspection
    card.locator("[data-action=compare]").click()
    compare = page.locator("#compare-dialog")
    compare.locator(f'.compare-column[data-id="{previous["id"]}"] img').first.wait_for()
    assert compare.locator(f'.compare-column[data-id="{made["id"]}"] img').count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('#compare-dialog img')].every((i) => i.complete && i.naturalWidth > 0)")
    screenshot(page, "34-compare")
    compare.get_by_role("button", name="关闭").click()
    reused_card = page.locator(f'.review-item[data-id="{reused["id"]}"]')
    reused_card.locator(f'.reused-link[data-other="{previous["id"]}"]').click()
    compare.locator(f'.compare-column[data-id="{previous["id"]}"]').wait_for()
    compare.get_by_role("button", name="关闭").click()

    # the photo viewer: each photo's own facts, zoom, the original, a swipe, a decision
    card.locator(".thumbs button").first.click()
    viewer = page.locator("#photo-viewer")
    page.wait_for_function("() => document.querySelector('#photo-viewer img')?.naturalWidth > 0")
    facts = viewer.locator("#photo-facts").inner_text()
    assert "拍摄时间" in facts and "此照片 GPS 距提交位置" in facts and "公里" in facts
    viewer.locator("#viewer-zoom").click()
    assert "zoomed" in viewer.locator("#viewer-frame").get_attribute("class")
    viewer.locator("#viewer-original").click()
    page.wait_for_function("() => document.querySelector('.viewer-caption')?.textContent.includes('原图')")
    screenshot(page, "35-viewer")
    viewer.locator("#viewer-zoom").click()
    box = viewer.locator("#viewer-frame").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('.viewer-caption')?.textContent.includes('2/2')")
    assert "照片无 GPS" in viewer.locator("#photo-facts").inner_text()
    viewer.locator("[data-decision=approve]").click()
    card.wait_for(state="detached")
    assert sql(app, "SELECT status FROM inspections WHERE id = :i", i=made["id"])[0][0] == "approved"
    assert page.errors == []


def test_comments_history_and_reopen_in_the_ui(database, make_user, new_context, screenshot):
    app = database
    reviewer = make_user("reviewer", TOWNSHIP)
    bureau = make_user("bureau", "2303")
    code = rural_villages(app)[0][0]
    waiting = factories.create_inspection(app, village=code, garbage_stable=True).id
    approved = factories.create_inspection(app, village=code, status="approved", garbage_stable=True,
                                           observed_at=datetime.now(timezone.utc) - timedelta(days=3)).id

    page = phone(new_context)
    log_in(page, reviewer)
    assert page.locator("#shortcuts").count() == 0  # a phone without a keyboard: no key hints
    card = page.locator(f'.review-item[data-id="{waiting}"]')
    card.wait_for()
    assert "(a)" not in card.locator("[data-decision=approve]").inner_text()
    assert "null" not in page.locator("main").inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "37-phone-queue")
    card.locator("[data-action=detail]").click()
    page.locator("textarea[name=comment-body]").fill("请补充污水照片")
    page.get_by_role("button", name="发表评论").click()
    page.locator("#comment-list", has_text="请补充污水照片").wait_for()
    assert sql(app, "SELECT body FROM inspection_comments")[0][0] == "请补充污水照片"
    assert "评论" in page.locator("#history-list").inner_text()
    screenshot(page, "36-detail-comments")

    bureau_page = desk(new_context)
    log_in(bureau_page, bureau)
    bureau_page.goto(f"/#/records")
    bureau_page.select_option("#mine-status", "approved")
    bureau_page.locator(f'#mine-list .mine-item[data-id="{approved}"] a').click()
    bureau_page.locator("textarea[name=reopen-reason]").fill("抽查发现问题")
    bureau_page.get_by_role("button", name="重新打开").click()
    bureau_page.locator("#inspection-summary", has_text="待审核").wait_for()
    assert sql(app, "SELECT status FROM inspections WHERE id = :i", i=approved)[0][0] == "submitted"
    assert "重新打开" in bureau_page.locator("#history-list").inner_text()
    page.goto("/#/review")
    page.locator(f'.review-item[data-id="{approved}"]').wait_for()
    assert page.errors == [] and bureau_page.errors == []

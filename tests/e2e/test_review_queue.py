"""The reviewer's queue in the browser: bulk approval (after its confirmation) takes only the
unflagged items, and the `r` key rejects the selected one with the comment typed in the dialog."""
import pytest

from app.extensions import db
from app.models import InspectionFlag
from tests import factories
from tests.conftest import sql
from tests.e2e.test_client_flow import DESKTOP, TOWNSHIP, first_rural_village, log_in

pytestmark = pytest.mark.browser


def flag(app, inspection_id, code, facts):
    with app.app_context():
        db.session.add(InspectionFlag(inspection_id=inspection_id, code=code, facts=facts))
        db.session.execute(db.text("UPDATE inspections SET flag_count = 1 WHERE id = :i"), {"i": inspection_id})
        db.session.commit()


def test_bulk_approves_unflagged_and_r_rejects_with_comment(database, make_user, new_context, screenshot):
    app = database
    reviewer = make_user("reviewer", TOWNSHIP)
    code, *_ = first_rural_village(app)
    plain = [factories.create_inspection(app, village=code, garbage_stable=True).id for _ in range(2)]
    flagged = factories.create_inspection(app, village=code, garbage_stable=True).id
    flag(app, flagged, "outside_village", {"distance_m": 5230, "has_boundary": True})

    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, reviewer)
    card = page.locator(f'.review-item[data-id="{flagged}"]')
    assert "不在村范围内：距村 5.2 公里" in card.inner_text()  # distances as people read them
    page.get_by_role("button", name="批量通过无警示的 2 条").click()
    page.locator("#confirm-dialog", has_text="通过 2 条无警示巡查？").get_by_role("button", name="通过这 2 条").click()
    page.wait_for_function("() => document.querySelectorAll('.review-item').length === 1")
    statuses = dict(sql(app, "SELECT id, status FROM inspections"))
    assert statuses == {plain[0]: "approved", plain[1]: "approved", flagged: "submitted"}

    card.focus()
    page.keyboard.press("r")
    page.get_by_label("意见").fill("位置不在本村")
    screenshot(page, "10-reject-dialog")
    page.keyboard.press("Control+Enter")
    page.get_by_text("队列为空。").wait_for()
    rows = sql(app, "SELECT i.status, r.decision, r.comment FROM inspections i JOIN reviews r ON r.inspection_id = i.id "
                    "WHERE i.id = :i", i=flagged)
    assert [tuple(r) for r in rows] == [("rejected", "reject", "位置不在本村")]


def test_an_item_whose_photos_are_still_being_checked_says_so_and_bulk_approval_leaves_it(database, make_user,
                                                                                         new_context):
    """Until its photos' hashes are made (a background job), an item without flags is not "clean":
    its card says the check is pending and the bulk approval of unflagged items leaves it out."""
    app = database
    reviewer = make_user("reviewer", TOWNSHIP)
    code, *_ = first_rural_village(app)
    plain = factories.create_inspection(app, village=code, garbage_stable=True).id
    checking = factories.create_inspection(app, village=code, garbage_stable=True, photos=["garbage"])
    with app.app_context():  # as between the upload and its variants job
        db.session.execute(db.text("UPDATE photos SET variants_status = 'pending' WHERE id = :p"),
                           {"p": checking.photo_ids[0]})
        db.session.commit()

    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, reviewer)
    pending_card = page.locator(f'.review-item[data-id="{checking.id}"]')
    assert "照片查重中，警示尚未确定" in pending_card.locator(".flags").inner_text()
    assert "无警示" not in pending_card.locator(".flags").inner_text()
    assert "无警示" in page.locator(f'.review-item[data-id="{plain}"] .flags').inner_text()

    page.get_by_role("button", name="批量通过无警示的 2 条").click()
    dialog = page.locator("#confirm-dialog", has_text="通过 1 条无警示巡查？")
    assert "1 条的照片仍在查重，未包含在内" in dialog.inner_text()
    dialog.get_by_role("button", name="通过这 1 条").click()
    page.wait_for_function("() => document.querySelectorAll('.review-item').length === 1")
    assert dict(sql(app, "SELECT id, status FROM inspections")) == {plain: "approved", checking.id: "submitted"}

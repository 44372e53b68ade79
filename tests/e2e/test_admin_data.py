"""An administrator in Chromium: uploads a GBK history (Chinese village names, 是/否, 通过), sees the
preview with its map and saves it; uploads a division CSV with a bad line and sees that line's
problems with nothing stored; saves a target override (a bad value is named under its field); marks
a village inactive and active again. No screen raises a script error or a CSP violation."""
import json
import os
from pathlib import Path

import pytest

from tests.conftest import sql
from tests.e2e.test_client_flow import DESKTOP, log_in

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data"
# UPDATE_SCREENSHOTS=1 refreshes the README's pictures; otherwise they go to test-artifacts/
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / ("docs/screenshots" if os.environ.get("UPDATE_SCREENSHOTS")
                                                        else "test-artifacts/screenshots")


def shot(page, name, engine_name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    suffix = "" if os.environ.get("UPDATE_SCREENSHOTS") else f"-{engine_name}"
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}{suffix}.png"), full_page=True)


def admin_page(new_context, make_user, path):
    """The admin's page on `path`, and the list its script errors and CSP violations go to."""
    page = new_context(viewport=DESKTOP).new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script("""document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Content Security Policy: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));""")
    log_in(page, make_user("admin", "2303"))
    page.goto(path)
    return page, errors


def test_admin_uploads_a_gbk_history_previews_it_on_a_map_and_saves(database, make_user, new_context, engine_name):
    page, errors = admin_page(new_context, make_user, "/#/imports")
    form = page.locator("#import-form")
    form.locator("select[name=import-kind]").select_option("inspections")
    form.locator("input[name=import-file]").set_input_files(str(DATA / "history_gbk.csv"))
    form.get_by_role("button", name="预览").click()

    page.wait_for_selector("#import-map[data-features='3']")
    assert page.locator("#import-counts").inner_text() == "新增 3 条，已存在 0 条（跳过）"
    assert page.locator("#import-ignored").inner_text() == "忽略的列：村名、备注"
    assert page.locator("#import-map .leaflet-interactive").count() == 3  # one marker per row
    first = page.locator("#import-rows tr[data-line='2']").inner_text()
    assert "长青村委会" in first and "通过" in first and "是" in first and "否" in first
    assert "退回" in page.locator("#import-rows tr[data-line='4']").inner_text()
    assert sql(database, "SELECT count(*) FROM inspections")[0][0] == 0  # the preview stored nothing
    shot(page, "admin-import-preview", engine_name)

    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#import-message:not([hidden])")
    assert page.locator("#import-message").inner_text() == "已保存：导入 3 条，已存在 0 条（跳过）。"
    rows = sql(database, "SELECT village_code, status, garbage_stable FROM inspections ORDER BY village_code")
    assert [(r[0], r[1], bool(r[2])) for r in rows] == [("230382100200", "approved", True),
                                                        ("230382100201", "approved", True),
                                                        ("230382100202", "returned", False)]
    assert errors == []


def test_a_division_csv_with_a_bad_line_shows_its_problems_and_stores_nothing(database, make_user, new_context,
                                                                              tmp_path):
    path = tmp_path / "区划.csv"
    path.write_bytes(("code,name,level,parent_code,households\n"
                      "230382100901,新建村村民委员会,village,230382100,86\n"
                      "2303821009,,hamlet,230382100,很多\n").encode("gbk"))
    page, errors = admin_page(new_context, make_user, "/#/imports")
    form = page.locator("#import-form")
    form.locator("select[name=import-kind]").select_option("divisions")
    form.locator("input[name=import-file]").set_input_files(str(path))
    form.get_by_role("button", name="预览").click()

    page.wait_for_selector("#import-problems")
    assert page.locator("#import-error").inner_text() == "文件有 3 处问题，未导入任何数据。"
    problems = page.locator("#import-problems tbody tr[data-line='3']")
    assert problems.count() == 3 and page.locator("#import-problems tbody tr").count() == 3
    text = page.locator("#import-problems").inner_text()
    assert "级别 'hamlet' 无效" in text and "名称为空" in text and "户数 '很多' 不是整数" in text
    assert page.locator("#import-save").count() == 0  # nothing to save
    assert sql(database, "SELECT count(*) FROM divisions WHERE code = '230382100901'")[0][0] == 0
    assert errors == []


def test_a_boundary_file_is_drawn_in_the_preview_and_saved(fresh_divisions, make_user, new_context, tmp_path):
    square = [[[131.0, 45.0], [131.1, 45.0], [131.1, 45.1], [131.0, 45.1], [131.0, 45.0]]]
    path = tmp_path / "边界.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "230382100200"}, "geometry": {"type": "Polygon", "coordinates": square}},
    ]}), encoding="utf-8")
    page, errors = admin_page(new_context, make_user, "/#/imports")
    form = page.locator("#import-form")
    form.locator("select[name=import-kind]").select_option("boundaries")
    form.locator("input[name=import-file]").set_input_files(str(path))
    form.get_by_role("button", name="预览").click()
    page.wait_for_selector("#import-map[data-features='1']")
    assert page.locator("#import-counts").inner_text() == "新增 0，变更 1，不变 0"
    assert "长青村委会" in page.locator("#import-rows").inner_text()
    assert sql(fresh_divisions, "SELECT geometry_source FROM divisions WHERE code = '230382100200'") == [("synthetic",)]
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#import-message:not([hidden])")
    assert page.locator("#import-message").inner_text() == "已保存：新增 0，变更 1，不变 0。"
    assert sql(fresh_divisions, "SELECT geometry_source FROM divisions WHERE code = '230382100200'") == [("import",)]
    assert errors == []


def test_the_targets_screen_saves_an_override(database, make_user, new_context, engine_name):
    page, errors = admin_page(new_context, make_user, "/#/targets")
    page.wait_for_selector("#targets-effective")
    form = page.locator("#targets-form")
    form.locator("select[name=metric]").select_option("sewage_treated")
    form.locator("input[name=division_code]").fill("230382")
    form.locator("input[name=value]").fill("150")
    form.get_by_role("button", name="保存").click()
    page.wait_for_selector("#target-value-error:not([hidden])")
    assert page.locator("#target-value-error").inner_text() == "须在 0 到 1 之间。"
    assert sql(database, "SELECT count(*) FROM targets")[0][0] == 0

    form.locator("input[name=value]").fill("50")
    form.get_by_role("button", name="保存").click()
    row = page.locator("#targets-stored tr[data-division='230382']")
    row.wait_for()
    assert "密山市" in row.inner_text() and "50.0 %" in row.inner_text()
    assert row.locator("td.set-by").inner_text().startswith("admin")
    assert page.locator("#target-value-error").is_hidden()
    assert sql(database, "SELECT metric, division_code, value FROM targets") == [("sewage_treated", "230382", 0.5)]
    shot(page, "admin-targets", engine_name)
    assert errors == []


def test_a_village_is_marked_inactive_and_active_again(fresh_divisions, make_user, new_context):
    page, errors = admin_page(new_context, make_user, "/#/divisions")
    page.wait_for_selector("#divisions-table")
    page.locator("#divisions-filters input[name=filter-q]").fill("长青村")
    page.locator("#divisions-filters").get_by_role("button", name="查询").click()
    row = page.locator("#divisions-table tr[data-code='230382100200']")
    row.get_by_role("button", name="停用").click()
    page.locator("#confirm-dialog").get_by_role("button", name="停用").click()
    page.locator("#divisions-table tr[data-code='230382100200'].disabled").wait_for()
    assert page.locator("#divisions-message").inner_text() == "已停用 长青村委会（共 1 个区划）。"
    assert sql(fresh_divisions, "SELECT active FROM divisions WHERE code = '230382100200'")[0][0] in (False, 0)
    page.locator("#divisions-table tr[data-code='230382100200']").get_by_role("button", name="启用").click()
    page.locator("#divisions-table tr[data-code='230382100200']:not(.disabled)").wait_for()
    assert sql(fresh_divisions, "SELECT active FROM divisions WHERE code = '230382100200'")[0][0] in (True, 1)
    assert errors == []

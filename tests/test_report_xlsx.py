"""The XLSX reports a clerk hands up, read back with openpyxl through the real HTTP stack: the title
block (division, period, 口径, who and when), percentages, 是/否, China-time dates, the frozen and
repeated header row, the print setup, the styled division total and the village sheet."""
import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import User
from tests.factories import create_inspection, refused

CN = timezone(timedelta(hours=8))
RATES = "/api/v1/rates/export"
INSPECTIONS = "/api/v1/inspections/export"
PARAMS = {"division": "230382", "period": "2026-Q3", "level": "township"}


@pytest.fixture
def history(database):
    app = database
    made = []
    for n, village in enumerate(("230382100200", "230382100201", "230382101200")):
        made.append(create_inspection(app, village=village, status="approved",
                                      observed_at=datetime(2026, 9, 1 + n, 9, 30, tzinfo=CN).astimezone(timezone.utc),
                                      garbage_stable=n != 1, sewage_treated=True, village_clean=n == 0,
                                      tap_water=True, tap_households=100, tap_households_with_tap=99 - n))
    made.append(create_inspection(app, village="230382100202", status="submitted", garbage_stable=True))
    return made


def workbook(client, user, path=RATES, **params):
    response = client.get(path, query_string=params, headers=user.headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    return openpyxl.load_workbook(io.BytesIO(response.data))


def block_of(sheet):
    """{label: value} of the title block (label in column A, value in column C)."""
    lines = {}
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[0] is None:
            break
        lines[row[0]] = row[2]
    return lines


def header_row(sheet, first_title):
    return next(r[0].row for r in sheet.iter_rows() if r[0].value == first_title)


def test_rates_report_title_block_says_what_when_and_by_whom(client, app, bureau, history):
    with app.app_context():
        db.session.execute(update(User).where(User.id == bureau.id).values(display_name="王会计"))
        db.session.commit()
    before = datetime.now(CN).replace(tzinfo=None, microsecond=0)
    book = workbook(client, bureau, format="xlsx", lang="zh", **PARAMS)
    sheet = book.worksheets[0]
    assert book.sheetnames == ["达标率", "村级状态"]
    assert sheet["A1"].value == "密山市（230382）农村人居环境整治达标率　2026-Q3" and sheet["A1"].font.b
    lines = block_of(sheet)
    assert lines["行政区划"] == "密山市（230382）"
    assert lines["统计期"] == "2026-Q3：2026-07-01 至 2026-09-30（北京时间）"
    assert lines["细分层级"] == "乡镇"
    assert "行政村（rural）" in lines["口径·纳入统计"]
    assert "365 天" in lines["口径·有效期"] and "2025-10-01 至 2026-09-30" in lines["口径·有效期"]
    assert "按未达标计" in lines["口径·未知"]
    assert lines["口径·rate"] == "达标率 = 达标村数 ÷ 纳入统计村数；未知按未达标计。"
    assert lines["生成人"] == f"王会计 ({bureau.username})"
    generated = datetime.strptime(lines["生成时间"].removesuffix("（北京时间）"), "%Y-%m-%d %H:%M:%S")
    assert before - timedelta(seconds=1) <= generated <= datetime.now(CN).replace(tzinfo=None) + timedelta(seconds=1)
    as_of = datetime.strptime(lines["数据截至"].removesuffix("（北京时间）"), "%Y-%m-%d %H:%M:%S")
    assert abs(as_of - generated) < timedelta(seconds=5)
    english = block_of(workbook(client, bureau, format="xlsx", **PARAMS).worksheets[0])
    assert english["Period"] == "2026-Q3: 2026-07-01 to 2026-09-30 (China time)"
    assert english["Rule: rate"] == "met / population; unknown counts as not met."


def test_rates_report_table_percentages_words_units_and_total(client, bureau, history):
    answer = client.get("/api/v1/rates", query_string=PARAMS, headers=bureau.headers).json
    sheet = workbook(client, bureau, format="xlsx", lang="zh", **PARAMS).worksheets[0]
    at = header_row(sheet, "区划代码")
    titles = [c.value for c in sheet[at]]
    column = {t: i for i, t in enumerate(titles)}
    # units in the titles: tap water in households (户), the others in villages
    assert "自来水入户·达标率（按户）" in column and "自来水入户·差距（户）" in column
    assert "自来水入户·通自来水户数（户）" in column and "生活污水治理·达标率（按村）" in column
    assert "生活污水治理·按户达标率" in column and "村庄干净整洁有序·差距（村）" in column
    rows = [list(r) for r in sheet.iter_rows(min_row=at + 1)]
    assert [r[0].value for r in rows[:-1]] == [r["code"] for r in answer["rows"]]
    at_town = [r["code"] for r in answer["rows"]].index("230382100")
    town = rows[at_town]  # 密山镇: two villages answered
    want = answer["rows"][at_town]["metrics"]
    rate = town[column["垃圾收转运体系稳定运行·达标率（按村）"]]
    assert rate.value == want["garbage_stable"]["rate"] and rate.number_format == "0.0%"
    tap = town[column["自来水入户·达标率（按户）"]]
    assert tap.value == want["tap_water"]["rate"] and tap.number_format == "0.0%"
    assert town[column["自来水入户·差距（户）"]].value == want["tap_water"]["gap"]
    assert town[column["自来水入户·通自来水户数（户）"]].value == want["tap_water"]["households_met"] == 197
    assert town[column["垃圾收转运体系稳定运行·目标"]].number_format == "0.0%"
    on_target = town[column["垃圾收转运体系稳定运行·是否达到目标"]].value
    assert on_target == ("是" if want["garbage_stable"]["on_target"] else "否")
    assert {r[column["自来水入户·是否达到目标"]].value for r in rows} <= {"是", "否", None}
    total = rows[-1]
    assert total[2].value == "合计" and total[column["纳入统计村数"]].value == answer["division"]["population"]
    assert total[0].font.b and total[0].fill.fgColor.rgb.endswith("FFF2CC") and total[0].border.top.style == "thin"
    assert total[column["纳入统计村数"]].font.b
    english = workbook(client, bureau, format="xlsx", **PARAMS).worksheets[0]
    en_at = header_row(english, "code")
    en_titles = [c.value for c in english[en_at]]
    assert "tap_water.rate (by household)" in en_titles and "tap_water.gap (households)" in en_titles
    values = {c.value for c in english[en_at + 1 + at_town]}
    assert values & {"Yes", "No"} and not any(isinstance(v, bool) for v in values)


def test_rates_report_freezes_and_prints_its_header_row(client, bureau, history):
    for sheet in workbook(client, bureau, format="xlsx", lang="zh", **PARAMS).worksheets:
        at = header_row(sheet, "区划代码")
        assert sheet.freeze_panes == f"C{at + 1}"
        assert sheet.print_title_rows == f"${at}:${at}"
        assert sheet.cell(at, 1).font.b
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and int(setup.paperSize) == 9
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and setup.fitToHeight == 0 and setup.fitToWidth in (None, 1)
        assert "&P" in sheet.oddFooter.center.text and "&N" in sheet.oddFooter.center.text
        assert sheet.page_margins.left == pytest.approx(0.4)
        assert sheet.column_dimensions["A"].width > 10 and sheet.column_dimensions["B"].width > 10


def test_the_village_sheet_lists_every_village_with_its_deciding_inspection(client, app, bureau, history):
    params = {**PARAMS, "division": "230382100", "level": "township"}
    answer = client.get("/api/v1/rates", query_string={**params, "level": "village"}, headers=bureau.headers).json
    sheet = workbook(client, bureau, format="xlsx", lang="zh", **params)["村级状态"]
    at = header_row(sheet, "区划代码")
    titles = [c.value for c in sheet[at]]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=at + 1)}
    assert list(rows) == [r["code"] for r in answer["rows"]]  # every active village, in order
    first = rows["230382100200"]
    cell = {t: c for t, c in zip(titles, first)}
    assert cell["垃圾收转运体系稳定运行·状态"].value == "达标"
    assert cell["垃圾收转运体系稳定运行·依据巡查记录编号"].value == history[0].id
    observed = cell["垃圾收转运体系稳定运行·巡查时间（北京时间）"]
    assert observed.value == datetime(2026, 9, 1, 9, 30) and observed.number_format == "yyyy-mm-dd hh:mm"
    assert cell["村庄干净整洁有序·状态"].value == "达标"
    second = {t: c.value for t, c in zip(titles, rows["230382100201"])}
    assert (second["垃圾收转运体系稳定运行·状态"], second["垃圾收转运体系稳定运行·依据巡查记录编号"]) == ("未达标", history[1].id)
    assert second["自来水入户·通自来水户数（户）"] == 98
    # 230382100202 has only a submitted inspection: unknown, no deciding inspection
    unknown = {t: c.value for t, c in zip(titles, rows["230382100202"])}
    assert (unknown["垃圾收转运体系稳定运行·状态"], unknown["垃圾收转运体系稳定运行·依据巡查记录编号"]) == ("未知", None)
    # villages of a kind not counted say so for every metric
    not_counted = [r for r in answer["rows"] if not r["counted"]]
    assert not_counted, "the fixture tree has urban or farm villages in 密山镇"
    other = {t: c.value for t, c in zip(titles, rows[not_counted[0]["code"]])}
    assert other["是否纳入统计"] == "否" and other["生活污水治理·状态"] == "不纳入统计"
    assert {r["code"] for r in answer["rows"] if r["counted"]} == {
        code for code, r in rows.items() if {t: c.value for t, c in zip(titles, r)}["是否纳入统计"] == "是"}


def test_a_village_level_report_keeps_the_answers_villages(client, bureau, history):
    params = {"division": "230382100", "period": "2026-Q3", "level": "village", "metric": "garbage_stable",
              "status": "met"}
    book = workbook(client, bureau, format="xlsx", **params)
    summary, villages = book["rates"], book["villages"]
    at = header_row(summary, "code")
    assert [r[2] for r in summary.iter_rows(min_row=at + 1, values_only=True)] == ["total"]
    at = header_row(villages, "code")
    codes = [r[0] for r in villages.iter_rows(min_row=at + 1, values_only=True)]
    assert codes == ["230382100200"]


def test_inspection_report_title_block_words_and_dates(client, bureau, history):
    params = {"format": "xlsx", "lang": "zh", "division": "230382", "status": "approved", "from": "2026-09-01"}
    sheet = workbook(client, bureau, INSPECTIONS, **params).worksheets[0]
    assert sheet["A1"].value == "巡查记录"
    lines = block_of(sheet)
    assert lines["可见范围"] == "鸡西市（2303）"
    assert lines["筛选条件"] == "状态=通过；区划=密山市（230382）；起始日期=2026-09-01"
    assert lines["生成人"] == bureau.username
    at = header_row(sheet, "编号")
    titles = [c.value for c in sheet[at]]
    rows = [dict(zip(titles, r)) for r in sheet.iter_rows(min_row=at + 1)]
    assert [r["编号"].value for r in rows] == [h.id for h in history if h.status == "approved"]
    first = rows[0]
    assert first["状态"].value == "通过"
    assert (first["垃圾收转运体系稳定运行"].value, first["村庄干净整洁有序"].value) == ("是", "是")
    assert rows[1]["村庄干净整洁有序"].value == "否"
    assert first["巡查时间（北京时间）"].value == datetime(2026, 9, 1, 9, 30)
    assert first["巡查时间（北京时间）"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.freeze_panes == f"A{at + 1}" and sheet.print_title_rows == f"${at}:${at}"
    assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
    english = workbook(client, bureau, INSPECTIONS, format="xlsx", status="approved").worksheets[0]
    en_at = header_row(english, "id")
    en_titles = [c.value for c in english[en_at]]
    first = dict(zip(en_titles, [c.value for c in english[en_at + 1]]))
    assert (first["garbage_stable"], first["status"], block_of(english)["Filters"]) == ("Yes", "approved",
                                                                                        "status=approved")


def test_an_inspectors_report_says_it_holds_their_own(client, app, inspector, history):
    create_inspection(app, village="230382100203", inspector_id=inspector.id, status="submitted")
    sheet = workbook(client, inspector, INSPECTIONS, format="xlsx", lang="zh").worksheets[0]
    assert block_of(sheet)["可见范围"] == "密山镇（230382100），本人提交的巡查"
    assert block_of(sheet)["筛选条件"] == "无（可见范围内全部）"


def test_the_report_is_scoped(client, make_user, history):
    county = make_user("bureau", "230381")
    refused(client.get(RATES, query_string={**PARAMS, "format": "xlsx"}, headers=county.headers), 404)


def test_a_village_level_report_checks_its_filter(client, bureau, history):
    params = {"division": "230382100", "period": "2026-Q3", "level": "village", "status": "met", "format": "xlsx"}
    response = client.get(RATES, query_string=params, headers=bureau.headers)
    assert response.status_code == 422 and list(response.json["error"]["fields"]) == ["metric"]


def test_a_village_level_report_without_a_filter_lists_every_village_once(client, bureau, history):
    params = {"division": "230382100", "period": "2026-Q3", "level": "village"}
    answer = client.get("/api/v1/rates", query_string=params, headers=bureau.headers).json
    book = workbook(client, bureau, format="xlsx", **params)
    summary, villages = book["rates"], book["villages"]
    at = header_row(summary, "code")
    titles = [c.value for c in summary[at]]
    total = dict(zip(titles, [c.value for c in summary[at + 1]]))
    assert total["population"] == answer["division"]["population"]
    assert total["garbage_stable.met (villages)"] == answer["division"]["metrics"]["garbage_stable"]["met"] == 1
    at = header_row(villages, "code")
    assert [r[0] for r in villages.iter_rows(min_row=at + 1, values_only=True)] == [r["code"] for r in answer["rows"]]

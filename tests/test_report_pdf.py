"""The rates report as PDF through the real HTTP stack, rendered by WeasyPrint and read back with
pypdf: the division, the period, a rate figure, the map and the trend; scope and bad input."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from tests.factories import create_inspection, refused

CN = timezone(timedelta(hours=8))
RATES = "/api/v1/rates/export"
PARAMS = {"division": "230382", "period": "2026-Q3", "level": "township"}


@pytest.fixture
def history(database):
    app = database
    for n, village in enumerate(("230382100200", "230382100201", "230382101200")):
        create_inspection(app, village=village, status="approved",
                          observed_at=datetime(2026, 8, 1 + n, 9, tzinfo=CN).astimezone(timezone.utc),
                          garbage_stable=n != 1, sewage_treated=True, village_clean=True,
                          tap_water=True, tap_households=100, tap_households_with_tap=99)


def pdf_of(client, user, **params):
    response = client.get(RATES, query_string={"format": "pdf", **params}, headers=user.headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="rates-{params["division"]}-{params["period"]}.pdf"')
    data = response.data
    assert data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(data))


def text_of(reader):
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_names_the_division_the_period_and_the_rates(client, bureau, history):
    answer = client.get("/api/v1/rates", query_string=PARAMS, headers=bureau.headers).json
    reader = pdf_of(client, bureau, lang="zh", **PARAMS)
    text = text_of(reader)
    assert "密山市（230382）" in text
    assert "2026-Q3：2026-07-01 至 2026-09-30（北京时间）" in text
    garbage = answer["division"]["metrics"]["garbage_stable"]
    assert f"{garbage['rate'] * 100:.1f}%" in text
    assert f"{garbage['met']} / {answer['division']['population']} 村" in text
    tap = answer["division"]["metrics"]["tap_water"]
    assert f"{tap['households_met']} / {tap['households']} 户" in text
    assert "未知按未达标计" in text and "密山镇" in text and "合计" in text
    assert "近 12 个月达标率走势" in text and "2025-10" in text and "2026-09" in text  # the trend's months
    assert reader.pages[0].mediabox.width > reader.pages[0].mediabox.height  # A4 landscape
    assert f"共 {len(reader.pages)} 页" in text


def test_the_pdf_map_draws_every_township_in_the_metrics_colours(client, app, bureau, history):
    from app.services import report_pdf

    with app.test_request_context():
        from app.extensions import db
        from app.models import Division
        from app.services.rates import compute_rates, make_query

        result = compute_rates(make_query(db.session.get(Division, "230382"), "2026-Q3", "township"))
        maps = report_pdf.map_svgs(result, "zh")
        html = report_pdf.report_html(result, "zh")
        db.session.rollback()
    assert set(maps) == {"garbage_stable", "sewage_treated", "village_clean", "tap_water"}
    townships = len(result["rows"])
    assert maps["garbage_stable"].count("<path ") == townships
    # every township's colour for the metric is drawn (its rate against its target)
    colours = {report_pdf.rate_colour(r["metrics"]["garbage_stable"]) for r in result["rows"]}
    assert all(f'fill="{c}"' in maps["garbage_stable"] for c in colours)
    assert html.count("<svg") == 5  # four maps and the trend


def test_the_english_pdf_and_a_village_level_pdf(client, bureau, history):
    text = text_of(pdf_of(client, bureau, **PARAMS))
    assert "Rates report: 密山市 (230382), 2026-Q3" in text and "Page 1 of" in text
    village = text_of(pdf_of(client, bureau, lang="zh", division="230382100", period="2026-Q3", level="village"))
    assert "密山镇（230382100）" in village and "长青村委会" in village and "不纳入统计" in village


def test_the_pdf_is_scoped_and_checks_its_arguments(client, make_user, bureau, history):
    county = make_user("bureau", "230381")
    refused(client.get(RATES, query_string={**PARAMS, "format": "pdf"}, headers=county.headers), 404)
    inspector = make_user("inspector", "230382100")
    refused(client.get(RATES, query_string={**PARAMS, "format": "pdf"}, headers=inspector.headers), 403)
    bad = client.get(RATES, query_string={**PARAMS, "format": "docx"}, headers=bureau.headers)
    assert bad.status_code == 422 and bad.is_json and list(bad.json["error"]["fields"]) == ["format"]
    assert bad.json["error"]["message"] and bad.json["error"]["message_zh"]
    bad_period = client.get(RATES, query_string={**PARAMS, "format": "pdf", "period": "2026-Q5"},
                            headers=bureau.headers)
    assert bad_period.status_code == 422 and "period" in bad_period.json["error"]["fields"]


def test_the_openapi_document_lists_pdf(client):
    spec = client.get("/api/v1/openapi.json").json
    params = spec["paths"]["/api/v1/rates/export"]["get"]["parameters"]
    fmt = next(p for p in params if p["name"] == "format")
    assert fmt["schema"]["enum"] == ["csv", "xlsx", "geojson", "pdf"]
    assert "application/pdf" in spec["paths"]["/api/v1/rates/export"]["get"]["responses"]["200"]["content"]
    inspections = spec["paths"]["/api/v1/inspections/export"]["get"]
    assert "application/pdf" not in inspections["responses"]["200"]["content"]


def test_a_pdf_of_too_many_rows_lists_the_total_and_points_to_the_xlsx(client, bureau, history, monkeypatch):
    from app.services import report_pdf

    monkeypatch.setattr(report_pdf, "TABLE_MAX_ROWS", 2)
    text = text_of(pdf_of(client, bureau, lang="zh", **PARAMS))
    assert "PDF 只列合计" in text and "合计" in text and "密山镇 230382100" not in text


def test_the_trend_of_the_first_year_starts_in_its_january(client, bureau, history):
    text = text_of(pdf_of(client, bureau, lang="zh", division="230382", period="2000-03", level="township"))
    assert "2000-01" in text and "2000-03" in text and "1999-05" not in text  # (the window starts 1999-04-02)


def test_making_a_pdf_leaves_truncated_uploads_refused(client, bureau):
    """WeasyPrint's import turns Pillow's LOAD_TRUNCATED_IMAGES on process-wide; the report puts it
    back, so an upload cut short is still refused after a PDF was made in the same process."""
    from PIL import ImageFile

    response = client.get(RATES, query_string={**PARAMS, "format": "pdf"}, headers=bureau.headers)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False

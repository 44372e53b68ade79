"""Exports read back with real readers (csv, openpyxl, Shapely) and checked cell by cell against JSON."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from shapely.geometry import shape

from tests.factories import create_inspection, refused

CN = timezone(timedelta(hours=8))
PARAMS = {"division": "230382", "period": "2026-Q3", "level": "township"}


@pytest.fixture
def history(database):
    app = database
    made = []
    for n, village in enumerate(("230382100200", "230382100201", "230382101200", "230382102200")):
        made.append(create_inspection(app, village=village, status="approved",
                                      observed_at=datetime(2026, 9, 1 + n, 9, tzinfo=CN).astimezone(timezone.utc),
                                      garbage_stable=n % 2 == 0, sewage_treated=True, village_clean=n < 3,
                                      tap_water=False, tap_households=100 + n, tap_households_with_tap=90 + n))
    made.append(create_inspection(app, village="230382100202", status="submitted", garbage_stable=True))
    made.append(create_inspection(app, village="230381100200", status="approved", garbage_stable=True))
    return made


def rates_json(client, user, **params):
    return client.get("/api/v1/rates", query_string={**PARAMS, **params}, headers=user.headers).json


def export(client, user, path="/api/v1/rates/export", **params):
    response = client.get(path, query_string=params, headers=user.headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def json_value(row, title):
    """The JSON value behind an English column title such as 'sewage_treated.households_rate'."""
    if "." not in title:
        return row[title]
    metric, name = title.split(".")
    block = row["metrics"][metric]
    if metric == "sewage_treated" and name.startswith("households_"):
        return block["households"][name.removeprefix("households_")]
    return block[name]


def table_of(rows, first_title):
    """Split an exported sheet into (header block, titles, data rows) at the titles row."""
    at = next(i for i, r in enumerate(rows) if r and r[0] == first_title)
    return rows[:at], rows[at], rows[at + 1:]


def csv_cell(value):
    return "" if value is None else str(value)


def test_rates_csv_cells_equal_the_json(client, bureau, history):
    answer = rates_json(client, bureau)
    text = export(client, bureau, format="csv", **PARAMS).get_data(as_text=True)
    header, titles, rows = table_of(list(csv.reader(io.StringIO(text.lstrip("\ufeff")))), "code")
    assert header[0] == ["division", "230382", answer["division"]["name"]]
    assert ["validity_days", "365"] in header
    expected_rows = answer["rows"] + [{**answer["division"], "level": "total"}]
    assert len(rows) == len(expected_rows)
    for got, want in zip(rows, expected_rows):
        assert got == [csv_cell(json_value(want, t)) for t in titles]


def report_value(value):
    """What the XLSX report writes for a JSON value: true/false as Yes/No, the rest as it is."""
    return {True: "Yes", False: "No"}.get(value, value) if isinstance(value, bool) else value


def test_rates_xlsx_numbers_are_numbers_and_equal_the_json(client, bureau, history):
    # the report's titles carry their unit after the field ('tap_water.gap (households)')
    answer = rates_json(client, bureau)
    english = openpyxl.load_workbook(io.BytesIO(export(client, bureau, format="xlsx", **PARAMS).data))
    _, unit_titles, rows = table_of([list(r) for r in english.active.iter_rows(values_only=True)], "code")
    titles = [t.split(" (")[0] for t in unit_titles]
    for got, want in zip(rows, answer["rows"]):
        for title, cell in zip(titles, got):
            value = report_value(json_value(want, title))
            assert cell == value and isinstance(cell, str) == isinstance(value, str), title
    rate_column = titles.index("garbage_stable.rate")
    assert all(isinstance(r[rate_column], (int, float)) for r in rows if r[titles.index("population")])
    book = openpyxl.load_workbook(io.BytesIO(export(client, bureau, format="xlsx", lang="zh", **PARAMS).data))
    _, zh_titles, zh_rows = table_of([list(r) for r in book.active.iter_rows(values_only=True)], "区划代码")
    assert "垃圾收转运体系稳定运行·达标率（按村）" in zh_titles and "生活污水治理·按户达标率" in zh_titles
    assert [r[2] for r in zh_rows] == ["乡镇"] * len(answer["rows"]) + ["合计"]


def test_rates_xlsx_total_row_is_the_division(client, bureau, history):
    answer = rates_json(client, bureau)
    book = openpyxl.load_workbook(io.BytesIO(export(client, bureau, format="xlsx", **PARAMS).data))
    _, titles, rows = table_of([list(r) for r in book.active.iter_rows(values_only=True)], "code")
    total = rows[-1]
    assert total[2] == "total" and total[titles.index("population")] == answer["division"]["population"]
    assert total[titles.index("tap_water.households_met (households)")] == (
        answer["division"]["metrics"]["tap_water"]["households_met"])


def test_rates_csv_and_geojson_state_the_definition_in_chinese(client, bureau, history):
    text = export(client, bureau, format="csv", lang="zh", **PARAMS).get_data(as_text=True)
    header, titles, rows = table_of(list(csv.reader(io.StringIO(text.lstrip("\ufeff")))), "区划代码")
    rules = {line[1]: line[2] for line in header if line and line[0] == "口径"}
    assert rules["rate"] == "达标率 = 达标村数 ÷ 纳入统计村数；未知按未达标计。"
    assert set(rules) == {"population", "status", "rate", "coverage", "target", "gap", "sewage_treated.households",
                          "tap_water"}
    assert {r[titles.index("垃圾收转运体系稳定运行·是否达到目标")] for r in rows} <= {"是", "否", ""}
    english = export(client, bureau, format="csv", **PARAMS).get_data(as_text=True)
    assert "unknown counts as not met" in english and "未知按未达标计" not in english
    collection = json.loads(export(client, bureau, format="geojson", lang="zh", **PARAMS).data)
    assert collection["definition"]["rules"]["rate"] == rules["rate"]
    assert collection["features"][0]["properties"]["code"] == rows[0][0]  # the properties keep their keys


def test_rates_geojson_features_have_shapes_and_the_json_numbers(client, bureau, history):
    answer = rates_json(client, bureau)
    collection = json.loads(export(client, bureau, format="geojson", **PARAMS).data)
    assert collection["definition"]["validity_days"] == 365
    assert [f["properties"]["code"] for f in collection["features"]] == [r["code"] for r in answer["rows"]]
    for feature, row in zip(collection["features"], answer["rows"]):
        geometry = shape(feature["geometry"])
        assert geometry.geom_type == "MultiPolygon" and geometry.is_valid and geometry.area > 0
        for title, value in feature["properties"].items():
            assert value == json_value(row, title), title


def test_village_geojson_carries_status_and_inspection(client, bureau, history):
    params = {"division": "230382100", "period": "2026-Q3", "level": "village"}
    answer = rates_json(client, bureau, **params)
    collection = json.loads(export(client, bureau, format="geojson", **params).data)
    by_code = {f["properties"]["code"]: f for f in collection["features"]}
    first = by_code["230382100200"]["properties"]
    row = next(r for r in answer["rows"] if r["code"] == "230382100200")
    assert (first["garbage_stable.status"], first["garbage_stable.inspection_id"]) == (
        row["metrics"]["garbage_stable"]["status"], history[0].id)
    assert shape(by_code["230382100200"]["geometry"]).is_valid


def test_rates_export_is_scoped(client, make_user, history):
    county = make_user("bureau", "230381")
    response = client.get("/api/v1/rates/export", query_string={**PARAMS, "format": "csv"}, headers=county.headers)
    refused(response, 404)


INSPECTIONS = "/api/v1/inspections/export"


def test_inspection_csv_lists_the_scope_with_filters(client, reviewer, history):
    response = export(client, reviewer, INSPECTIONS, format="csv", status="approved")
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    in_scope_approved = [h for h in history if h.village_code.startswith("230382100") and h.status == "approved"]
    assert [int(r["id"]) for r in rows] == [h.id for h in in_scope_approved]
    first, made = rows[0], in_scope_approved[0]
    assert (first["client_uuid"], first["village_code"], first["status"], first["garbage_stable"]) == (
        made.client_uuid, made.village_code, "approved", "True")
    assert datetime.fromisoformat(first["observed_at"]) == made.observed_at


def test_inspection_xlsx_has_chinese_headers_and_typed_cells(client, bureau, history):
    book = openpyxl.load_workbook(io.BytesIO(export(client, bureau, INSPECTIONS, format="xlsx", lang="zh",
                                                    division="230382").data))
    rows = list(book.active.iter_rows(values_only=True))
    rows = rows[next(i for i, r in enumerate(rows) if r[0] == "编号"):]  # below the report's title block
    assert rows[0][:4] == ("编号", "客户端编号", "村代码", "村名称")
    ids = [r[0] for r in rows[1:]]
    assert ids == [h.id for h in history if h.village_code.startswith("230382")]
    assert all(isinstance(r[rows[0].index("纬度")], float) for r in rows[1:])


def test_inspection_geojson_points_are_the_stored_locations(client, bureau, app, history):
    from app.extensions import db
    from app.models import Inspection

    collection = json.loads(export(client, bureau, INSPECTIONS, format="geojson").data)
    with app.app_context():
        stored = {i.id: i.location for i in db.session.query(Inspection)}
    assert len(collection["features"]) == len(history)
    for feature in collection["features"]:
        assert shape(feature["geometry"]).equals_exact(stored[feature["properties"]["id"]], 1e-9)


def test_inspectors_export_only_their_own(client, app, inspector, history):
    own = create_inspection(app, village="230382100203", inspector_id=inspector.id, status="submitted")
    text = export(client, inspector, INSPECTIONS, format="csv").get_data(as_text=True)
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))] == [own.id]


def test_export_route_answers_before_any_inspection_id_route(client, bureau):
    response = client.get(INSPECTIONS, query_string={"format": "pdf"}, headers=bureau.headers)
    assert (response.status_code, list(response.json["error"]["fields"])) == (422, ["format"])


def test_rates_report_command_writes_the_same_numbers(app, bureau, history, tmp_path):
    answer = rates_json(app.test_client(), bureau, division="2303", level="county")
    out = tmp_path / "report.xlsx"
    result = app.test_cli_runner().invoke(args=["rates", "report", "--division", "2303", "--period", "2026-Q3",
                                                "--level", "county", "--format", "xlsx", "--lang", "en", "-o", str(out)])
    assert result.exit_code == 0, result.output
    _, titles, rows = table_of([list(r) for r in openpyxl.load_workbook(out).active.iter_rows(values_only=True)], "code")
    assert [r[0] for r in rows[:-1]] == [r["code"] for r in answer["rows"]]
    for got, want in zip(rows, answer["rows"]):
        assert got[titles.index("village_clean.met (villages)")] == want["metrics"]["village_clean"]["met"]


def test_rates_report_command_json(app, history, tmp_path):
    out = tmp_path / "report.json"
    result = app.test_cli_runner().invoke(args=["rates", "report", "--division", "230382", "--period", "2026-Q3",
                                                "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["level"], data["definition"]["validity_days"]) == ("township", 365)

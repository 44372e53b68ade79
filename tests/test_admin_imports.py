"""Administrators import a division CSV, a boundary GeoJSON and a historical inspections CSV through
the API: a preview (dry run) that stores nothing, then a commit with the same checks; every problem
of every line; the administrator's scope; unreadable files as clean JSON errors."""
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Division, Inspection
from tests.factories import OTHER_TOWNSHIP, TOWNSHIP, refused

HISTORY_GBK = Path(__file__).parent / "data" / "history_gbk.csv"  # Chinese village names, 是/否, 通过/退回
SQUARE = [[[131.0, 45.0], [131.1, 45.0], [131.1, 45.1], [131.0, 45.1], [131.0, 45.0]]]


def upload(client, user, kind, data, name="file.csv", **form):
    fields = {"file": (io.BytesIO(data), name), **{k: str(v).lower() for k, v in form.items()}}
    return client.post(f"/api/v1/admin/imports/{kind}", data=fields, headers=user.headers,
                       content_type="multipart/form-data")


def inspections_stored(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Inspection))


def problems(response):
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["error"]["code"] == "validation_error" and body["error"]["message_zh"]
    return body["error"]["details"]["problems"]


def test_a_gbk_history_with_chinese_names_is_previewed_then_stored(client, database, admin):
    data = HISTORY_GBK.read_bytes()
    assert data != data.decode("gbk").encode("utf-8")  # really GBK bytes

    preview = upload(client, admin, "inspections", data, name="历史巡查.csv")
    assert preview.status_code == 200, preview.json
    answer = preview.json
    assert (answer["dry_run"], answer["committed"], answer["encoding"]) == (True, False, "GB18030/GBK")
    assert answer["counts"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert answer["ignored_columns"] == ["村名", "备注"]
    assert [(r["village_name"], r["status"], r["garbage_stable"], r["sewage_treated"]) for r in answer["rows"]] == [
        ("长青村委会", "approved", True, False), ("双胜村委会", "approved", True, True),
        ("牧副村委会", "returned", False, False)]
    points = [f for f in answer["features"]["features"] if f["properties"]["change"] == "created"]
    outlines = [f for f in answer["features"]["features"] if f["properties"]["change"] == "context"]
    assert len(points) == 3 and points[0]["geometry"] == {"type": "Point", "coordinates": [131.83, 45.55]}
    assert sorted(f["properties"]["name"] for f in outlines) == ["双胜村委会", "牧副村委会", "长青村委会"]
    assert inspections_stored(database) == 0  # a preview stores nothing

    saved = upload(client, admin, "inspections", data, name="历史巡查.csv", dry_run=False,
                   preview_sha256=answer["sha256"])
    assert saved.status_code == 200, saved.json
    assert (saved.json["committed"], saved.json["counts"]["created"]) == (True, 3)
    with database.app_context():
        stored = db.session.execute(select(Inspection.village_code, Inspection.status, Inspection.garbage_stable,
                                           Inspection.source).order_by(Inspection.village_code)).all()
        audited = db.session.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "inspections.imported"))
    assert [tuple(r) for r in stored] == [("230382100200", "approved", True, "import"),
                                          ("230382100201", "approved", True, "import"),
                                          ("230382100202", "returned", False, "import")]
    assert audited == admin.id

    again = upload(client, admin, "inspections", data)
    assert again.json["counts"] == {"created": 0, "updated": 0, "unchanged": 3}


def test_the_same_gbk_file_imports_through_the_command(database):
    result = database.test_cli_runner().invoke(args=["inspections", "import", str(HISTORY_GBK)])
    assert result.exit_code == 0, result.output
    assert "read as GB18030/GBK" in result.output and "ignored column(s): 村名, 备注" in result.output
    assert "inspections: 3 imported, 0 already stored (skipped)" in result.output
    with database.app_context():
        stored = db.session.execute(select(Inspection.village_code, Inspection.status, Inspection.sewage_treated)
                                    .order_by(Inspection.village_code)).all()
    assert [tuple(r) for r in stored] == [("230382100200", "approved", False), ("230382100201", "approved", True),
                                          ("230382100202", "returned", False)]


def test_every_problem_of_every_line_is_listed_in_both_languages_and_nothing_stored(client, database, admin):
    text = HISTORY_GBK.read_bytes().decode("gbk").splitlines()
    bad = "not-a-uuid,230382100203,双跃村委会,昨天,131.8,,也许,否,,12,20,待定,\n"
    data = ("\n".join(text) + "\n" + bad).encode("gbk")
    for dry_run in (True, False):
        found = problems(upload(client, admin, "inspections", data, dry_run=dry_run))
        assert {p["line"] for p in found} == {5}
        messages = " | ".join(p["message"] for p in found)
        for part in ("client_uuid 'not-a-uuid'", "observed_at '昨天'", "give both lon and lat",
                     "garbage_stable '也许'", "status '待定'", "households_with_tap 20 is more than households 12"):
            assert part in messages
        assert len(found) == 6
        assert all(p["message_zh"] and p["message_zh"] != p["message"] for p in found)
    assert inspections_stored(database) == 0


def test_a_commit_of_other_bytes_than_the_preview_is_refused(client, database, admin):
    data = HISTORY_GBK.read_bytes()
    r = upload(client, admin, "inspections", data + b"\n", dry_run=False, preview_sha256="0" * 64)
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict", r.json
    assert inspections_stored(database) == 0


def test_rows_outside_a_township_admins_scope_are_problems_of_their_lines(client, database, make_user):
    admin = make_user("admin", OTHER_TOWNSHIP)  # 连珠山镇: the file's villages are in 密山镇
    found = problems(upload(client, admin, "inspections", HISTORY_GBK.read_bytes()))
    assert [p["line"] for p in found] == [2, 3, 4]
    assert all("outside your scope 230382101" in p["message"] and "不在您的管辖范围" in p["message_zh"] for p in found)
    assert inspections_stored(database) == 0


@pytest.mark.parametrize("kind", ["divisions", "boundaries", "inspections"])
def test_only_administrators_may_import(client, database, bureau, kind):
    refused(upload(client, bureau, kind, HISTORY_GBK.read_bytes()), 403)


def test_an_import_needs_a_login(client, database):
    r = client.post("/api/v1/admin/imports/inspections", data={"file": (io.BytesIO(b"x"), "a.csv")})
    assert r.status_code == 401


@pytest.mark.parametrize("kind", ["divisions", "inspections"])
@pytest.mark.parametrize("data, said, said_zh", [
    (b"", "the file is empty", "文件是空的"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml", "Excel workbook", "Excel 工作簿"),
    (b"code,name\n\x80\x80\x80\n", "neither UTF-8 nor GB18030/GBK", "既不是 UTF-8"),
], ids=["empty", "an xlsx renamed .csv", "undecodable"])
def test_unreadable_files_are_clean_json_errors(client, database, admin, kind, data, said, said_zh):
    found = problems(upload(client, admin, kind, data))
    assert len(found) == 1 and found[0]["line"] == 1
    assert said in found[0]["message"] and said_zh in found[0]["message_zh"]


def test_a_file_over_the_limit_is_413(client, database, admin):
    database.config["MAX_IMPORT_BYTES"] = 1000
    try:
        r = upload(client, admin, "inspections", HISTORY_GBK.read_bytes() * 3)
    finally:
        database.config["MAX_IMPORT_BYTES"] = 20 * 1024 * 1024
    assert r.status_code == 413 and r.json["error"]["code"] == "payload_too_large"
    assert r.json["error"]["details"] == {"max_bytes": 1000} and "1000" in r.json["error"]["message_zh"]


def test_a_missing_file_part_is_422(client, database, admin):
    r = client.post("/api/v1/admin/imports/divisions", data={"dry_run": "true"}, headers=admin.headers,
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["error"]["fields"]


DIVISIONS = ("code,name,level,parent_code,households,说明\n"
             "230382100200,长青村委会,village,230382100,130,户数更新\n"
             "230382100201,双胜村委会,village,230382100,,\n"
             "230382100901,新建村村民委员会,village,230382100,86,新增\n")


def test_a_division_csv_is_previewed_with_shapes_then_stored(client, fresh_divisions, admin):
    data = DIVISIONS.encode("gbk")
    preview = upload(client, admin, "divisions", data)
    assert preview.status_code == 200, preview.json
    assert preview.json["counts"] == {"created": 1, "updated": 1, "unchanged": 1}
    changes = {r["code"]: r["change"] for r in preview.json["rows"]}
    assert changes == {"230382100200": "updated", "230382100201": "unchanged", "230382100901": "created"}
    drawn = {f["properties"]["code"]: f["properties"]["of"] for f in preview.json["features"]["features"]}
    assert drawn == {"230382100200": "230382100200", "230382100201": "230382100201",
                     "230382100901": TOWNSHIP}  # a new village is drawn as its township
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100901") is None

    saved = upload(client, admin, "divisions", data, dry_run=False)
    assert saved.status_code == 200 and saved.json["counts"]["created"] == 1
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100901").name == "新建村村民委员会"
        assert db.session.get(Division, "230382100200").households == 130
        assert db.session.scalar(select(AuditEntry.details).where(AuditEntry.action == "divisions.imported"))[
            "created"] == 1


def test_a_division_csv_with_a_bad_line_stores_nothing(client, fresh_divisions, admin):
    data = (DIVISIONS + "2303821009,,hamlet,230382100,很多,\n").encode("gbk")
    for dry_run in (True, False):
        found = problems(upload(client, admin, "divisions", data, dry_run=dry_run))
        assert {p["line"] for p in found} == {5} and len(found) == 3
        assert {p["message_zh"] for p in found} == {"级别 'hamlet' 无效（应为 province, city, county, township, village 之一）",
                                                   "名称为空", "户数 '很多' 不是整数"}
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100901") is None
        assert db.session.get(Division, "230382100200").households != 130


def test_divisions_outside_the_admins_scope_are_problems(client, fresh_divisions, make_user):
    admin = make_user("admin", OTHER_TOWNSHIP)
    found = problems(upload(client, admin, "divisions", DIVISIONS.encode("utf-8")))
    assert [p["line"] for p in found] == [2, 3, 4]
    assert all("outside your scope" in p["message"] for p in found)


def geojson(*features):
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def polygon(code, ring=SQUARE):
    return {"type": "Feature", "properties": {"code": code}, "geometry": {"type": "Polygon", "coordinates": ring}}


def test_boundaries_are_previewed_then_stored(client, fresh_divisions, admin):
    data = geojson(polygon("230382100200"))
    preview = upload(client, admin, "boundaries", data, name="b.geojson")
    assert preview.status_code == 200, preview.json
    assert preview.json["counts"] == {"created": 0, "updated": 1, "unchanged": 0}  # it had a synthetic shape
    assert preview.json["features"]["features"][0]["geometry"]["type"] == "MultiPolygon"
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100200").geometry_source == "synthetic"
    saved = upload(client, admin, "boundaries", data, dry_run=False)
    assert saved.status_code == 200 and saved.json["committed"]
    with fresh_divisions.app_context():
        village = db.session.get(Division, "230382100200")
        assert (village.geometry_source, village.boundary.bounds) == ("import", (131.0, 45.0, 131.1, 45.1))
    assert upload(client, admin, "boundaries", data).json["counts"] == {"created": 0, "updated": 0, "unchanged": 1}


def test_bad_boundary_features_are_each_reported_and_nothing_stored(client, fresh_divisions, make_user):
    admin = make_user("admin", TOWNSHIP)
    data = geojson(polygon("230382100200"), polygon("999999999999"), polygon("230382101200"),
                   {"type": "Feature", "properties": {"code": "230382100201"},
                    "geometry": {"type": "LineString", "coordinates": [[131, 45], [131.1, 45.1]]}})
    found = problems(upload(client, admin, "boundaries", data, dry_run=False))
    assert [p["feature"] for p in found] == [2, 3, 4]
    assert "unknown division code" in found[0]["message"] and "outside your scope" in found[1]["message"]
    assert "LineString" in found[2]["message"]
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100200").geometry_source == "synthetic"


@pytest.mark.parametrize("data", [b"", b"{not json", b"[1, 2]", b'{"type": "FeatureCollection"}'])
def test_a_file_that_is_no_feature_collection_is_a_clean_error(client, database, admin, data):
    found = problems(upload(client, admin, "boundaries", data, name="b.geojson"))
    assert len(found) == 1 and found[0]["message_zh"]

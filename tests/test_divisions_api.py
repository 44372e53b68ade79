"""Division API: listing, detail, locate — all scoped."""
import pytest

from app import geo
from app.extensions import db
from app.models import Division
from tests.factories import FOREIGN_VILLAGE, VILLAGE, refused, village_point


def test_list_is_limited_to_scope(client, inspector):
    body = client.get("/api/v1/divisions?per_page=200", headers=inspector.headers).json
    assert body["total"] == 16  # the township and its 15 villages
    assert all(item["code"].startswith("230382100") for item in body["items"])


def test_list_filters_and_pages_in_code_order(client, bureau):
    r = client.get("/api/v1/divisions?level=village&kind=rural&per_page=50&page=2", headers=bureau.headers)
    body = r.json
    assert r.status_code == 200 and body["total"] == 459 and body["page"] == 2 and len(body["items"]) == 50
    codes = [i["code"] for i in body["items"]]
    assert codes == sorted(codes)


def test_list_by_parent_and_name(client, bureau):
    body = client.get("/api/v1/divisions?parent=2303", headers=bureau.headers).json
    assert body["total"] == 9
    body = client.get("/api/v1/divisions?q=长青", headers=bureau.headers).json
    assert any(i["code"] == VILLAGE for i in body["items"])


def test_detail_with_ancestors_counts_and_geometry(client, bureau):
    body = client.get("/api/v1/divisions/230382?geometry=true", headers=bureau.headers).json
    assert [a["code"] for a in body["ancestors"]] == ["2303"]
    assert body["counts"]["children"] == 27 and body["counts"]["village"] == 186
    assert body["geometry"]["synthetic"] is True and body["geometry"]["boundary"]["type"] == "MultiPolygon"


def test_detail_outside_scope_is_404(client, inspector):
    r = client.get(f"/api/v1/divisions/{FOREIGN_VILLAGE}", headers=inspector.headers)
    refused(r, 404)
    assert "沙岗" not in str(r.get_json())  # not even the name of the village


def test_detail_of_an_unknown_code_is_404(client, bureau):
    refused(client.get("/api/v1/divisions/230399999999", headers=bureau.headers), 404)


def test_locate_inside_a_village(client, inspector, database):
    lat, lon = village_point(database, VILLAGE)
    body = client.get(f"/api/v1/divisions/locate?lat={lat}&lon={lon}", headers=inspector.headers).json
    assert body["village"]["code"] == VILLAGE and body["inside"] is True and body["distance_m"] == 0
    assert body["township"]["code"] == "230382100" and body["boundary_synthetic"] is True


def test_locate_converts_gcj02(client, inspector, database):
    lat, lon = village_point(database, VILLAGE)
    glat, glon = geo.wgs84_to_gcj02(lat, lon)
    body = client.get(f"/api/v1/divisions/locate?lat={glat}&lon={glon}&crs=gcj02", headers=inspector.headers).json
    assert body["village"]["code"] == VILLAGE
    assert body["location"]["lat"] == pytest.approx(lat, abs=1e-6)


def test_locate_converts_bd09(client, inspector, database):
    lat, lon = village_point(database, VILLAGE)
    blat, blon = geo.gcj02_to_bd09(*geo.wgs84_to_gcj02(lat, lon))
    body = client.get(f"/api/v1/divisions/locate?lat={blat}&lon={blon}&crs=bd09", headers=inspector.headers).json
    assert body["village"]["code"] == VILLAGE and body["inside"] is True


def test_locate_outside_gives_the_nearest_village_in_scope(client, inspector, database):
    # a point in 虎林市, far from 密山镇: the nearest of the inspector's villages, with its distance
    body = client.get("/api/v1/divisions/locate?lat=45.9&lon=133.0", headers=inspector.headers).json
    assert body["inside"] is False and body["village"]["code"].startswith("230382100")
    with database.app_context():
        villages = db.session.query(Division).filter(Division.parent_code == "230382100").all()
        expected = min(villages, key=lambda v: geo.distance_m(45.9, 133.0, v.point.y, v.point.x))
        expected_m = geo.distance_m(45.9, 133.0, expected.point.y, expected.point.x)
    assert body["village"]["code"] == expected.code
    assert body["distance_m"] == pytest.approx(expected_m, abs=0.1)


def test_locate_nearest_without_boundaries(fresh_divisions, bureau):
    # villages with a point but no boundary: the nearest point wins, with its distance
    with fresh_divisions.app_context():
        db.session.execute(db.update(Division).where(Division.level == "village").values(boundary_geom=None))
        db.session.commit()
    lat, lon = village_point(fresh_divisions, VILLAGE)
    client = fresh_divisions.test_client()
    body = client.get(f"/api/v1/divisions/locate?lat={lat + 0.0005}&lon={lon}", headers=bureau.headers).json
    assert body["village"]["code"] == VILLAGE and body["inside"] is False
    assert body["distance_m"] == pytest.approx(geo.distance_m(lat, lon, lat + 0.0005, lon), abs=0.1)


def test_locate_validates_coordinates(client, inspector):
    r = client.get("/api/v1/divisions/locate?lat=95&lon=131&crs=utm", headers=inspector.headers)
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"lat", "crs"}


def test_divisions_need_a_token(client):
    assert client.get("/api/v1/divisions").status_code == 401

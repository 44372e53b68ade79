"""Coordinate systems against published reference pairs, and distances."""
import pytest

from app import geo

# (lat, lon) pairs published with wandergis/coordtransform (test/app.js), input 116.404, 39.915
BEIJING = (39.915, 116.404)
WGS_TO_GCJ_BEIJING = (39.91640428150164, 116.41024449916938)
BD_TO_GCJ_BEIJING = (39.90865673957631, 116.39762729119315)
GCJ_TO_BD_BEIJING = (39.92133699351021, 116.41036949371029)
# (wgs lat, wgs lon, gcj lat, gcj lon) published with googollee/eviltransform's tests
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def test_wgs84_to_gcj02_matches_published_pair():
    assert geo.wgs84_to_gcj02(*BEIJING) == pytest.approx(WGS_TO_GCJ_BEIJING, abs=1e-9)


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM_PAIRS)
def test_gcj02_round_trip_matches_published_pairs(wlat, wlon, glat, glon):
    assert geo.wgs84_to_gcj02(wlat, wlon) == pytest.approx((glat, glon), abs=1e-9)
    # the inverse recovers the WGS-84 point to well under a centimetre
    assert geo.gcj02_to_wgs84(glat, glon) == pytest.approx((wlat, wlon), abs=1e-7)


def test_bd09_conversions_match_published_pairs():
    assert geo.bd09_to_gcj02(*BEIJING) == pytest.approx(BD_TO_GCJ_BEIJING, abs=1e-9)
    assert geo.gcj02_to_bd09(*BEIJING) == pytest.approx(GCJ_TO_BD_BEIJING, abs=1e-9)


def test_bd09_to_wgs84_goes_through_gcj02():
    gcj = geo.bd09_to_gcj02(45.30, 130.98)
    assert geo.to_wgs84(45.30, 130.98, "bd09") == pytest.approx(geo.gcj02_to_wgs84(*gcj), abs=1e-12)


def test_gcj02_shift_in_jixi_is_hundreds_of_metres():
    lat, lon = 45.5461, 131.8623
    glat, glon = geo.wgs84_to_gcj02(lat, lon)
    assert 100 < geo.distance_m(lat, lon, glat, glon) < 1000


def test_gcj02_is_identity_outside_china():
    assert geo.wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)
    assert geo.to_wgs84(48.85, 2.35, "gcj02") == (48.85, 2.35)


def test_unknown_crs_is_refused():
    with pytest.raises(ValueError):
        geo.to_wgs84(45.0, 131.0, "utm")


def test_distance_of_one_degree_of_latitude():
    assert geo.distance_m(45.0, 131.0, 46.0, 131.0) == pytest.approx(111_195, rel=1e-3)


def test_box_half_widths_cover_the_radius():
    dlat, dlon = geo.metres_to_degrees(10_000, 45.5)
    assert geo.distance_m(45.5, 131.0, 45.5 + dlat, 131.0) >= 9_999
    assert geo.distance_m(45.5, 131.0, 45.5, 131.0 + dlon) >= 9_999

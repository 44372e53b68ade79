"""Exports that stream: the headers go out before the body is ready, PostgreSQL's COPY writes the
same CSV as the Python writer, the XLSX writer freezes and prints its header row, and an empty
export is still a valid file (its title block and column titles)."""
import csv
import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from werkzeug.test import EnvironBuilder

from app.extensions import db
from app.models import User
from app.services import exports
from tests.factories import create_inspection

CN = timezone(timedelta(hours=8))
INSPECTIONS = "/api/v1/inspections/export"


@pytest.fixture
def history(database):
    app = database
    made = [
        create_inspection(app, village="230382100200", status="approved", lat=45.5, lon=131.0,
                          observed_at=datetime(2026, 9, 1, 9, 0, 0, 123456, tzinfo=CN).astimezone(timezone.utc),
                          garbage_stable=True, sewage_treated=False, tap_households=100, tap_households_with_tap=99),
        create_inspection(app, village="230382100201", status="submitted", lat=45.51234567, lon=131.87654321,
                          observed_at=datetime(2026, 9, 30, 23, 30, tzinfo=CN).astimezone(timezone.utc),
                          village_clean=True),
        create_inspection(app, village="230382101200", status="rejected",
                          observed_at=datetime(2026, 10, 1, 0, 10, tzinfo=CN).astimezone(timezone.utc)),
    ]
    return made


def test_postgresql_copy_writes_the_same_csv_as_the_python_writer(history, app, engine_name):
    if engine_name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    with app.app_context():
        admin = User(username="x", role="admin", scope_code="2303", password_hash="x")
        stmt = exports.inspection_export_query(admin)
        copied = b"".join(exports._copy_csv(stmt)).decode("utf-8")
        written = "".join(exports._written_csv(stmt))
        db.session.rollback()
    assert copied == written
    rows = list(csv.reader(io.StringIO(written)))
    assert len(rows) == 3 and rows[0][exports.INSPECTION_COLUMNS.index("observed_at")] == "2026-09-01T09:00:00.123456+08:00"
    assert rows[0][exports.INSPECTION_COLUMNS.index("lon")] == "131.0"


def test_a_file_export_sends_its_headers_before_the_body(client, bureau, history):
    for fmt in ("csv", "xlsx", "geojson"):
        response = client.get(INSPECTIONS, query_string={"format": fmt}, headers=bureau.headers)
        assert response.status_code == 200 and response.is_streamed
        chunks = iter(response.response)
        first = next(chunks)
        assert len(first) < 1000, fmt  # headers and at most a header line: nothing waits for the rows
        assert sum(len(c) for c in chunks) > 0
        response.close()



def test_nothing_between_the_view_and_the_server_reads_a_streamed_export_first(database, bureau, history,
                                                                               monkeypatch):
    """The access line and the metrics count a streamed answer as it leaves: when the server gets
    the status and headers, not one chunk of the export has been made (before, measuring its
    length read the whole file first, so the headers waited for the last row)."""
    made = []
    real = exports.INSPECTION_EXPORTS["csv"]

    def watched(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            made.append(len(chunk))
            yield chunk

    monkeypatch.setitem(exports.INSPECTION_EXPORTS, "csv", watched)
    started = []
    environ = EnvironBuilder(path=INSPECTIONS, query_string={"format": "csv"}, headers=bureau.headers).get_environ()
    body = database.wsgi_app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        assert started == ["200 OK"] and made == []
        received = b"".join(body)
    finally:
        body.close()
    assert len(made) > 1 and received.count(b"\n") == 4  # the title line and three rows

def titles_row(sheet, first_title):
    """The 1-based row of the column titles (below the report's title block)."""
    return next(r[0].row for r in sheet.iter_rows() if r[0].value == first_title)


def test_the_xlsx_header_row_is_frozen_bold_and_printed_on_every_page(client, bureau, history):
    data = client.get(INSPECTIONS, query_string={"format": "xlsx"}, headers=bureau.headers).data
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    at = titles_row(sheet, "id")
    assert sheet.freeze_panes == f"A{at + 1}"
    assert sheet.print_title_rows == f"${at}:${at}"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.cell(at, 1).font.b
    assert [c.value for c in sheet[at + 1]][:3] == [history[0].id, history[0].client_uuid, "230382100200"]


def test_an_empty_xlsx_export_has_the_header_row(client, bureau, history):
    data = client.get(INSPECTIONS, query_string={"format": "xlsx", "status": "returned"}, headers=bureau.headers).data
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    at = titles_row(sheet, "id")
    rows = [r for r in sheet.iter_rows(min_row=at, values_only=True) if any(r)]
    assert rows == [tuple(exports.INSPECTION_COLUMNS)]


def test_the_rates_xlsx_keeps_its_header_block_and_freezes_the_titles(client, bureau, history):
    params = {"division": "230382", "period": "2026-Q3", "level": "township", "format": "xlsx", "lang": "zh"}
    data = client.get("/api/v1/rates/export", query_string=params, headers=bureau.headers).data
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    at = titles_row(sheet, "区划代码")
    assert rows[1][:3] == ["行政区划", None, "密山市（230382）"] and rows[1][3:] == [None] * (len(rows[1]) - 3)
    assert rows[2][:3] == ["统计期", None, "2026-Q3：2026-07-01 至 2026-09-30（北京时间）"]
    assert not any(rows[at - 2])
    assert sheet.freeze_panes == f"C{at + 1}"
    assert sheet.print_title_rows == f"${at}:${at}"
    assert sheet.cell(at, 1).font.b

"""The CSV imports take the files a Chinese office saves: GB18030/GBK (Excel's "CSV" on a Chinese
Windows) or UTF-8 with or without BOM, Chinese yes/no and review words, every problem of a line,
extra columns named, and never a traceback."""
import codecs
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Division, Inspection

VILLAGE = "230382100200"
INSPECTION_HEADER = ("client_uuid,village_code,observed_at,lon,lat,garbage_stable,sewage_treated,village_clean,"
                     "households,households_with_tap,status,备注\n")
ENCODINGS = {
    "gb18030": lambda text: text.encode("gb18030"),
    "gbk": lambda text: text.encode("gbk"),
    "utf-8 with BOM": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-8": lambda text: text.encode("utf-8"),
}
LABELS = {"gb18030": "GB18030/GBK", "gbk": "GB18030/GBK", "utf-8 with BOM": "UTF-8 (BOM)", "utf-8": "UTF-8"}


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def write(tmp_path, data, name="file.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def inspection_line(uid, garbage="是", sewage="否", clean="", status="通过", note="村口有垃圾"):
    return f"{uid},{VILLAGE},2026-06-01T10:00:00+08:00,131.83,45.55,{garbage},{sewage},{clean},120,118,{status},{note}\n"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_inspections_in_any_office_encoding_with_chinese_words(database, tmp_path, encoding):
    uids = [uuid.uuid4() for _ in range(4)]
    text = INSPECTION_HEADER + "".join([
        inspection_line(uids[0], "是", "否", "是", "通过"),
        inspection_line(uids[1], "否", "", "true", "退回"),
        inspection_line(uids[2], "FALSE", "是", "", "驳回"),
        inspection_line(uids[3], "", "", "", "不通过", note="备注：无"),
    ])
    data = ENCODINGS[encoding](text)
    if encoding.startswith("gb"):
        assert data != text.encode("utf-8")  # really GBK bytes
    result = run(database, "inspections", "import", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert f"read as {LABELS[encoding]}" in result.output
    assert "ignored column(s): 备注" in result.output
    assert "4 imported" in result.output
    with database.app_context():
        stored = {i.client_uuid: i for i in db.session.scalars(select(Inspection))}
    assert [(stored[u].status, stored[u].garbage_stable, stored[u].sewage_treated, stored[u].village_clean)
            for u in uids] == [("approved", True, False, True), ("returned", False, None, True),
                               ("rejected", False, True, None), ("rejected", None, None, None)]


def test_every_problem_of_a_line_is_reported(database, tmp_path):
    text = INSPECTION_HEADER + inspection_line(uuid.uuid4()) + (
        f"not-a-uuid,{VILLAGE},yesterday,131.83,45.55,也许,否,,120,118,待定,\n")
    result = run(database, "inspections", "import", write(tmp_path, text.encode("gb18030")))
    assert result.exit_code != 0 and "Traceback" not in result.output
    problems = [line for line in result.output.splitlines() if line.startswith("line 3")]
    assert len(problems) == 4, result.output
    joined = "\n".join(problems)
    for part in ("client_uuid 'not-a-uuid'", "observed_at 'yesterday'", "garbage_stable '也许'", "status '待定'"):
        assert part in joined
    assert "4 problem(s); nothing imported" in result.output
    with database.app_context():
        assert db.session.scalar(select(Inspection.id)) is None


def test_divisions_in_gbk_with_chinese_names(fresh_divisions, tmp_path):
    text = ("code,name,level,parent_code,households,说明\n"
            "230382100901,新建村村民委员会,village,230382100,86,新增\n"
            "230382100902,东方红社区居民委员会,village,230382100,,\n")
    data = text.encode("gbk")
    result = run(fresh_divisions, "divisions", "import", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert "read as GB18030/GBK" in result.output and "ignored column(s): 说明" in result.output
    assert "2 created" in result.output
    with fresh_divisions.app_context():
        village = db.session.get(Division, "230382100901")
        assert (village.name, village.kind, village.households) == ("新建村村民委员会", "rural", 86)
        assert db.session.get(Division, "230382100902").kind == "urban"


def test_divisions_report_every_problem_of_a_line(fresh_divisions, tmp_path):
    text = "code,name,level,parent_code\n2303821009,,hamlet,230382100\n230382100903,新村,village,230382100\n"
    result = run(fresh_divisions, "divisions", "import", write(tmp_path, text.encode("gb18030")))
    assert result.exit_code != 0 and "Traceback" not in result.output
    line2 = [line for line in result.output.splitlines() if line.startswith("line 2")]
    assert any("unknown level 'hamlet'" in p for p in line2) and any("name is empty" in p for p in line2)
    with fresh_divisions.app_context():
        assert db.session.get(Division, "230382100903") is None


@pytest.mark.parametrize("command", [("divisions", "import"), ("inspections", "import")])
@pytest.mark.parametrize("data, said", [
    (b"code,name\n\x80\x80\x80\n", "neither UTF-8 nor GB18030/GBK"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "Excel workbook"),
    (b"code,name\n\x00\x00\n", "NUL"),
    (b"", "empty"),
], ids=["undecodable", "an xlsx renamed", "a NUL byte", "empty"])
def test_unreadable_files_are_a_clean_error(database, tmp_path, command, data, said):
    result = run(database, *command, write(tmp_path, data))
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and said in result.output


@pytest.mark.parametrize("command, columns", [
    (("divisions", "import"), ["code", "name", "level", "parent_code", "kind", "households", "GB18030"]),
    (("inspections", "import"), ["client_uuid", "village_code", "observed_at", "status", "通过", "true/是", "false/否",
                                 "households_with_tap", "GB18030"]),
])
def test_help_lists_the_columns(database, command, columns):
    result = run(database, *command, "--help")
    assert result.exit_code == 0
    for column in columns:
        assert column in result.output

"""Importing the division tree: the real Jixi file, idempotency, and bad rows."""
import csv
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Division
from app.services.demo import JIXI_CSV
from app.services.divisions import ImportFailed, derive_kind, import_divisions

with open(JIXI_CSV, encoding="utf-8") as fh:
    JIXI_ROWS = list(csv.DictReader(fh))


def level_counts(app):
    with app.app_context():
        return dict(db.session.execute(select(Division.level, func.count()).group_by(Division.level)).all())


def test_jixi_counts_per_level_equal_the_file(database):
    assert level_counts(database) == dict(Counter(r["level"] for r in JIXI_ROWS))
    assert level_counts(database) == {"city": 1, "county": 9, "township": 95, "village": 706}


def test_every_parent_exists_and_codes_nest(database):
    with database.app_context():
        rows = db.session.execute(select(Division.code, Division.parent_code, Division.level)).all()
    codes = {code for code, _, _ in rows}
    for code, parent, level in rows:
        if level == "city":
            assert parent is None  # the province (23) is not in the file
        else:
            assert parent in codes and code.startswith(parent)


def test_village_kinds_are_derived_from_names(database):
    with database.app_context():
        kinds = dict(db.session.execute(
            select(Division.kind, func.count()).where(Division.level == "village").group_by(Division.kind)).all())
    assert kinds == {"rural": 459, "urban": 143, "farm": 104}


@pytest.mark.parametrize("name,kind", [
    ("长青村委会", "rural"), ("金沙社区居民委员会", "urban"), ("向阳社区", "urban"),
    ("八五〇农场第一管理区", "farm"), ("青年水库虚拟生活区", "farm"), ("某某街道办事处", None),
])
def test_derive_kind(name, kind):
    assert derive_kind(name) == kind


def test_reimport_changes_nothing(database):
    with database.app_context():
        result = import_divisions(str(JIXI_CSV))
        db.session.commit()
    assert (result.created, result.updated, result.unchanged) == (0, 0, 811)
    assert sum(level_counts(database).values()) == 811


def test_reimport_updates_a_renamed_division(fresh_divisions):
    text = "code,name,level,parent_code\n230382100200,长青新村村委会,village,230382100\n"
    with fresh_divisions.app_context():
        result = import_divisions(text)
        db.session.commit()
        assert db.session.get(Division, "230382100200").name == "长青新村村委会"
    assert (result.created, result.updated) == (0, 1)


def test_a_kind_column_overrides_the_derived_kind(fresh_divisions):
    text = "code,name,level,parent_code,kind\n230382100001,金沙社区居民委员会,village,230382100,rural\n"
    with fresh_divisions.app_context():
        import_divisions(text)
        db.session.commit()
        assert db.session.get(Division, "230382100001").kind == "rural"


BAD_FILES = {
    "unknown level": ("code,name,level,parent_code\n2303,鸡西市,city,23\n230302,鸡冠区,district,2303\n", 3, "unknown level"),
    "bad code": ("code,name,level,parent_code\n2303,鸡西市,city,23\n23030,鸡冠区,county,2303\n", 3, "bad code"),
    "missing parent": ("code,name,level,parent_code\n2303,鸡西市,city,23\n230399001,某街道,township,230399\n", 3,
                       "neither in the file nor in the database"),
    "prefix": ("code,name,level,parent_code\n2303,鸡西市,city,23\n230402,某区,county,2303\n", 3, "does not start with"),
    "duplicate": ("code,name,level,parent_code\n2303,鸡西市,city,23\n2303,鸡西市,city,23\n", 3, "already given"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_row_is_named_by_line_and_nothing_is_imported(fresh_divisions, case):
    text, line, words = BAD_FILES[case]
    with fresh_divisions.app_context():
        db.session.execute(db.delete(Division))  # an empty tree: nothing to hide a partial import
        db.session.commit()
        with pytest.raises(ImportFailed) as caught:
            import_divisions(text)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Division)) == 0
    assert f"line {line}" in caught.value.message and words in caught.value.message


def test_good_rows_before_a_bad_one_are_not_written(fresh_divisions):
    text = ("code,name,level,parent_code\n230382100300,新村村委会,village,230382100\n"
            "230382100301,坏村村委会,village,230381100\n")
    with fresh_divisions.app_context():
        with pytest.raises(ImportFailed):
            import_divisions(text)
        db.session.rollback()
        assert db.session.get(Division, "230382100300") is None


def test_missing_columns_are_reported(database):
    with database.app_context(), pytest.raises(ImportFailed) as caught:
        import_divisions("code,name\n2303,鸡西市\n")
    assert "parent_code" in caught.value.message


def test_a_province_can_sit_above_the_city(fresh_divisions):
    with fresh_divisions.app_context():
        import_divisions("code,name,level,parent_code\n23,黑龙江省,province,\n2303,鸡西市,city,23\n")
        db.session.commit()
        assert db.session.get(Division, "2303").parent_code == "23"

"""The rates statements as text (no database): each declares exactly the bind parameters its SQL
uses, and the statements share their parts, so that a change to one part reaches every statement
made from it."""
import re

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from app.services import rates
from app.services.village_status import REFRESH, REFRESH_SQL

STATEMENTS = [rates.ROLLUP, rates.MAINTAINED_ROLLUP, rates.VILLAGES, REFRESH]
BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # how text() finds its binds


def binds_in(sql):
    return set(BIND.findall(sql))


def cte(sql, name):
    """The text of the CTE `name AS ( ... )` in `sql`, read by matching parentheses."""
    start = sql.index(f"{name} AS (")
    depth = 0
    for at in range(sql.index("(", start), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[at], 0)
        if depth == 0:
            return sql[start:at + 1]
    raise AssertionError(f"unbalanced {name}")


def final_select(sql):
    return sql[sql.rindex("\nSELECT "):]


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.name)
def test_declared_parameters_are_exactly_the_binds_of_the_text(statement):
    assert len(set(statement.params)) == len(statement.params)
    assert binds_in(statement.sql) == set(statement.params)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.name)
def test_each_statement_compiles_with_its_declared_binds(statement, dialect):
    compiled = statement.clause().compile(dialect=dialect)
    assert set(compiled.binds) == set(statement.params)


def test_a_statement_takes_only_its_own_values():
    available = {"window_start": 1, "window_end": 2, "lo": "23", "hi": "24", "true": True, "kinds": ["rural"],
                 "prefix_length": 6, "level": "county"}
    assert rates.MAINTAINED_ROLLUP.values(available) == {k: v for k, v in available.items() if k != "window_end"}
    assert REFRESH.values(available) == {"lo": "23", "hi": "24"}


def test_the_period_window_binds_only_where_the_window_applies():
    window = {"window_start", "window_end"}
    assert window <= set(rates.ROLLUP.params) and window <= set(rates.VILLAGES.params)
    assert set(rates.MAINTAINED_ROLLUP.params) & window == {"window_start"}  # answers older than the window
    assert not set(REFRESH.params) & window
    for statement in (rates.ROLLUP, rates.VILLAGES):
        assert statement.sql.count(rates.PERIOD_WINDOW) == 1
    for statement in (rates.MAINTAINED_ROLLUP, REFRESH):
        assert rates.PERIOD_WINDOW not in statement.sql


def test_the_statements_from_the_inspections_share_ranked_and_latest():
    rollup, villages = rates.ROLLUP.sql, rates.VILLAGES.sql
    assert cte(rollup, "ranked") == cte(villages, "ranked") == rates.RANKED_CTE
    assert cte(rollup, "latest") == cte(villages, "latest") == cte(REFRESH.sql, "latest") == rates.LATEST_CTE


def test_the_refresh_ranks_like_the_rates_without_the_period_window():
    ranked = cte(REFRESH.sql, "ranked")
    assert ranked == rates.RANKED_ALL_TIME_CTE
    assert ranked == cte(rates.ROLLUP.sql, "ranked").replace(rates.PERIOD_WINDOW + "\n    AND ", "")


def test_both_rollups_share_population_grouping_and_final_select():
    scratch, maintained = rates.ROLLUP.sql, rates.MAINTAINED_ROLLUP.sql
    for name in ("pop", "grouped"):
        assert cte(scratch, name) == cte(maintained, name)
    assert final_select(scratch) == final_select(maintained) == rates.ROLLUP_SELECT
    assert cte(maintained, "latest") == rates.MAINTAINED_LATEST_CTE
    assert "ranked" not in maintained


def test_every_metric_has_its_columns_in_latest_and_grouped():
    for m in rates.METRICS:
        for column in (f"AS {m}", f"AS {m}_id", f"AS {m}_at"):
            assert column in rates.LATEST_CTE
        assert f"AS {m}" in rates.MAINTAINED_LATEST_CTE
        assert f"AS {m}_met" in rates.GROUPED_CTE and f"AS {m}_not_met" in rates.GROUPED_CTE


def test_the_migration_fills_the_table_with_the_refresh_statement():
    assert REFRESH_SQL == REFRESH.sql

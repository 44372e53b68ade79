"""The snapshot statements as text (no database): each declares exactly the bind parameters its SQL
uses, and they are made of the same parts as the rates statements they stand in for (the township
aggregate is built with the trend's months and latest and the roll-up's population and sums)."""
import re

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from app.services import rates
from app.services.village_status import SNAPSHOT_STATEMENTS

STATEMENTS = [rates.SNAPSHOT_ROLLUP, rates.SNAPSHOT_VILLAGES, rates.trend_statement(1), rates.trend_statement(12),
              *SNAPSHOT_STATEMENTS.values(), rates.township_aggregate_statement(1),
              rates.township_aggregate_statement(12), rates.TOWNSHIP_ROLLUP,
              rates.township_trend_statement(1), rates.township_trend_statement(12)]
BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def cte(sql, name):
    start = sql.index(f"{name} AS (")
    depth = 0
    for at in range(sql.index("(", start), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[at], 0)
        if depth == 0:
            return sql[start:at + 1]
    raise AssertionError(f"unbalanced {name}")


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.name)
def test_declared_parameters_are_exactly_the_binds_of_the_text(statement):
    assert len(set(statement.params)) == len(statement.params)
    assert set(BIND.findall(statement.sql)) == set(statement.params)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.name)
def test_each_statement_compiles_with_its_declared_binds(statement, dialect):
    assert set(statement.clause().compile(dialect=dialect).binds) == set(statement.params)


def test_the_snapshot_rollup_shares_population_grouping_and_final_select_with_the_others():
    for name in ("pop", "grouped"):
        assert cte(rates.SNAPSHOT_ROLLUP.sql, name) == cte(rates.ROLLUP.sql, name)
    assert rates.SNAPSHOT_ROLLUP.sql.endswith(rates.ROLLUP_SELECT)
    assert rates.SNAPSHOT_VILLAGES.sql.endswith(rates.VILLAGES_SELECT)
    assert "inspections" not in rates.SNAPSHOT_ROLLUP.sql and "ranked" not in rates.SNAPSHOT_ROLLUP.sql
    assert cte(rates.trend_statement(2).sql, "pop") == rates.POP_CTE


def test_a_month_is_built_with_the_rates_own_latest_answers():
    for statement in SNAPSHOT_STATEMENTS.values():
        assert cte(statement.sql, "latest") == rates.LATEST_CTE
        assert "i.status = 'approved'" in cte(statement.sql, "ranked")


def test_the_township_aggregate_is_built_from_the_trends_and_the_rollups_parts():
    built, trend = rates.township_aggregate_statement(3).sql, rates.trend_statement(3).sql
    assert rates.months_cte(3) in built and rates.months_cte(3) in trend
    assert cte(built, "latest") == cte(trend, "latest")
    assert cte(built, "pop") == cte(rates.SNAPSHOT_ROLLUP.sql, "pop")
    # each (month, township) group sums the roll-up's own counts
    assert rates.GROUPED_CTE.split("AS grp, ")[1].split("\n  FROM")[0] in cte(built, "grouped")
    assert rates.TOWNSHIP_ROLLUP.sql.endswith(rates.ROLLUP_SELECT)
    for statement in (rates.TOWNSHIP_ROLLUP, rates.township_trend_statement(3)):
        assert "township_snapshots" in statement.sql
        assert "village_snapshots" not in statement.sql and "inspections" not in statement.sql
    # it sums every count the roll-up gives a division
    grouped = cte(rates.TOWNSHIP_ROLLUP.sql, "grouped")
    assert all(f"SUM(t.{key}) AS {key}" in grouped for key in rates.COUNT_KEYS)

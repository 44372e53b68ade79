"""monthly village snapshots

For every built month, each village's latest approved answer per metric observed before the
month's end (China time), kept exact with approvals, reopenings and imports, so that rates for
past periods and trends read O(villages) rows instead of the inspections. The tables start empty:
`flask rates build-snapshots` builds the months of the data already stored (until then the rates
read those periods from the inspections, as before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CODE = sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql')


def _answers():
    columns = []
    for metric in ('garbage_stable', 'sewage_treated', 'village_clean', 'tap_water'):
        columns += [sa.Column(metric, sa.Boolean(), nullable=True),
                    sa.Column(f'{metric}_at', sa.DateTime(timezone=True), nullable=True),
                    sa.Column(f'{metric}_id', sa.BigInteger(), nullable=True)]
    return columns + [sa.Column('tap_households', sa.Integer(), nullable=True),
                      sa.Column('tap_households_with_tap', sa.Integer(), nullable=True)]


def upgrade():
    op.create_table('snapshot_months',
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('village_snapshots',
    sa.Column('village_code', CODE, nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    *_answers(),
    sa.ForeignKeyConstraint(['village_code'], ['divisions.code'], ),
    sa.PrimaryKeyConstraint('village_code', 'month')
    )
    op.create_index('ix_village_snapshots_month_village', 'village_snapshots', ['month', 'village_code'], unique=False)


def downgrade():
    op.drop_index('ix_village_snapshots_month_village', table_name='village_snapshots')
    op.drop_table('village_snapshots')
    op.drop_table('snapshot_months')

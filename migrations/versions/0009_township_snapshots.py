"""per-township monthly aggregate of the village snapshots

For every built month and township, the counts the rates sum over the township's counted villages
(from that month's village snapshots, the validity window applied at the month's end), keyed by the
validity days and counted kinds it was built with; and an index on divisions.updated_at, by which a
read sees that a division changed since a month was built. The tables start empty: `flask rates
build-snapshots` builds the aggregate of every built month (until then the rates read the village
snapshots, as before).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 07:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

CODE = sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql')
METRICS = ('garbage_stable', 'sewage_treated', 'village_clean', 'tap_water')


def upgrade():
    op.create_table('township_snapshot_months',
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('counted_kinds', sa.String(length=64), nullable=False),
    sa.Column('divisions_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('township_snapshots',
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('township_code', CODE, nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('sewage_households_known', sa.Integer(), nullable=True),
    sa.Column('sewage_households_met', sa.Integer(), nullable=True),
    sa.Column('tap_households', sa.Integer(), nullable=True),
    sa.Column('tap_households_with_tap', sa.Integer(), nullable=True),
    *[sa.Column(f'{m}_{s}', sa.Integer(), nullable=True) for m in METRICS for s in ('met', 'not_met')],
    sa.PrimaryKeyConstraint('month', 'township_code')
    )
    op.create_index('ix_divisions_updated_at', 'divisions', ['updated_at'], unique=False)


def downgrade():
    op.drop_index('ix_divisions_updated_at', table_name='divisions')
    op.drop_table('township_snapshots')
    op.drop_table('township_snapshot_months')

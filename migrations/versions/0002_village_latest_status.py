"""village latest status

Each village's latest approved answer per metric, maintained with approvals, reopenings and
imports, so that rates for current periods need not scan the inspections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:57:04.864404

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('village_latest',
    sa.Column('village_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.Column('garbage_stable', sa.Boolean(), nullable=True),
    sa.Column('garbage_stable_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('garbage_stable_id', sa.BigInteger(), nullable=True),
    sa.Column('sewage_treated', sa.Boolean(), nullable=True),
    sa.Column('sewage_treated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sewage_treated_id', sa.BigInteger(), nullable=True),
    sa.Column('village_clean', sa.Boolean(), nullable=True),
    sa.Column('village_clean_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('village_clean_id', sa.BigInteger(), nullable=True),
    sa.Column('tap_water', sa.Boolean(), nullable=True),
    sa.Column('tap_water_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tap_water_id', sa.BigInteger(), nullable=True),
    sa.Column('tap_households', sa.Integer(), nullable=True),
    sa.Column('tap_households_with_tap', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['village_code'], ['divisions.code'], ),
    sa.PrimaryKeyConstraint('village_code')
    )
    # fill it from the inspections already stored (the same statement the service uses)
    from app.services.village_status import REFRESH_SQL

    op.execute(sa.text(REFRESH_SQL).bindparams(lo="", hi="~"))
    op.create_index('ix_inspections_approved_observed', 'inspections', ['observed_at'], unique=False, sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'"))


def downgrade():
    op.drop_index('ix_inspections_approved_observed', table_name='inspections', sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'"))
    op.drop_table('village_latest')

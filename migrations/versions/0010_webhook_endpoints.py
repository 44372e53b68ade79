"""webhook endpoints in the database, per township (or any division)

`webhook_endpoints`: a division, a URL (http/https), the endpoint's own signing secret, the events
it subscribes to (null: all), active, who made it and when. An inspection's event goes to every
active endpoint whose division contains the inspection's village, besides the `WEBHOOK_URLS` one;
`webhook_deliveries.endpoint_id` says which endpoint (and so which secret) a delivery is for.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 07:25:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
CODE = sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql')
UTC = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('division_code', CODE, nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.Column('secret_rotated_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['division_code'], ['divisions.code']),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_webhook_endpoints_division_code'), 'webhook_endpoints', ['division_code'], unique=False)
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('endpoint_id', BIG_ID, nullable=True))
        batch.create_foreign_key('fk_webhook_deliveries_endpoint_id', 'webhook_endpoints', ['endpoint_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_index(batch.f('ix_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_index(batch.f('ix_webhook_deliveries_endpoint_id'))
        batch.drop_constraint('fk_webhook_deliveries_endpoint_id', type_='foreignkey')
        batch.drop_column('endpoint_id')
    op.drop_index(op.f('ix_webhook_endpoints_division_code'), table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')

"""photo variants status: variants and hash made by a background job

A photo's display and thumbnail variants and its perceptual hash are made by a job after the
upload has answered (app/jobs.py); `variants_status` is `pending` until then, `ready` after,
`failed` when the stored original cannot be rendered. Photos stored before have both: `ready`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 07:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('photos') as batch:
        batch.add_column(sa.Column('variants_status', sa.String(length=16), server_default='ready', nullable=False))
        batch.create_index('ix_photos_variants_status', ['variants_status'], unique=False)


def downgrade():
    with op.batch_alter_table('photos') as batch:
        batch.drop_index('ix_photos_variants_status')
        batch.drop_column('variants_status')

"""device_observed_at: the phone's own clock reading of a visit

The web client learns the server's clock from the `Date` header of any answer and corrects
`observed_at` by the measured offset; the phone's uncorrected value is kept beside it (on the
inspection and on each version the inspector sent), and a large difference raises the
`clock_skew` flag. `location` was already nullable: an inspection without one (the village chosen
by hand) is now accepted and flagged `no_location`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('inspections', sa.Column('device_observed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('inspection_versions', sa.Column('device_observed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('inspection_versions', 'device_observed_at')
    op.drop_column('inspections', 'device_observed_at')

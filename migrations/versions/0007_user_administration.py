"""user administration: last login and a forced password change

`last_login_at` is written at every successful login; `must_change_password` is set when an
administrator creates an account or resets its password through the API, and cleared when the
user sets their own password (POST /api/v1/me/password). While it is set, every other endpoint
answers 403 `password_change_required`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 05:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('last_login_at')
        batch.drop_column('must_change_password')

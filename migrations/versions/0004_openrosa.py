"""OpenRosa: device keys, published form versions, received submissions

ODK Collect, KoboCollect and Enketo submit through a device key inside the server URL. Every
form version ever served is kept (phones that were offline submit old versions for weeks), and
each instanceID is one row that collects its photos over split uploads until the inspection is
created (or resubmitted, for an edit). Inspections keep `source = 'openrosa'` (no constraint on
`source` to change).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CODE = sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql')
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('device_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_index(op.f('ix_device_keys_user_id'), 'device_keys', ['user_id'], unique=False)
    op.create_table('xform_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('scope_code', CODE, nullable=False),
    sa.Column('input_digest', sa.String(length=64), nullable=False),
    sa.Column('xml', sa.Text(), nullable=False),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('media', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['scope_code'], ['divisions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope_code', 'input_digest', name='uq_xform_versions_scope_digest'),
    sa.UniqueConstraint('version')
    )
    op.create_table('openrosa_submissions',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('instance_id', sa.String(length=100), nullable=False),
    sa.Column('deprecated_id', sa.String(length=100), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('device_key_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.String(length=100), nullable=True),
    sa.Column('form_id', sa.String(length=64), nullable=True),
    sa.Column('form_version', sa.String(length=32), nullable=True),
    sa.Column('village_code', CODE, nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('xml_sha256', sa.String(length=64), nullable=False),
    sa.Column('files', JSON, nullable=False),
    sa.Column('received', JSON, nullable=False),
    sa.Column('unreadable', JSON, nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('inspection_id', BIG_ID, nullable=True),
    sa.Column('inspection_version', sa.Integer(), nullable=True),
    sa.Column('posts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_key_id'], ['device_keys.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['village_code'], ['divisions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_id')
    )
    op.create_index(op.f('ix_openrosa_submissions_inspection_id'), 'openrosa_submissions', ['inspection_id'], unique=False)
    op.create_index(op.f('ix_openrosa_submissions_user_id'), 'openrosa_submissions', ['user_id'], unique=False)
    op.create_index('ix_openrosa_submissions_waiting', 'openrosa_submissions', ['complete', 'village_code'], unique=False)


def downgrade():
    op.drop_index('ix_openrosa_submissions_waiting', table_name='openrosa_submissions')
    op.drop_index(op.f('ix_openrosa_submissions_user_id'), table_name='openrosa_submissions')
    op.drop_index(op.f('ix_openrosa_submissions_inspection_id'), table_name='openrosa_submissions')
    op.drop_table('openrosa_submissions')
    op.drop_table('xform_versions')
    op.drop_index(op.f('ix_device_keys_user_id'), table_name='device_keys')
    op.drop_table('device_keys')

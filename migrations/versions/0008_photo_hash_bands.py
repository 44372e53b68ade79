"""photo hash bands: the near-duplicate search by index

Each photo's 64-bit perceptual hash split into 8 one-byte bands, indexed on (band, value): a
near duplicate (Hamming distance <= 6) shares at least 2 bands exactly, so the search reads the
photos sharing 2 bands through the index instead of computing the distance against every photo
of the county. Existing photos' bands are filled here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 05:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    bands = op.create_table(
        'photo_hash_bands',
        sa.Column('photo_id', sa.String(length=32), nullable=False),
        sa.Column('band', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('value', sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('photo_id', 'band'),
    )
    op.create_index('ix_photo_hash_bands_band_value', 'photo_hash_bands', ['band', 'value'], unique=False)
    conn = op.get_bind()
    photos = conn.execute(sa.text("SELECT id, phash FROM photos WHERE phash IS NOT NULL ORDER BY id")).all()
    for start in range(0, len(photos), BATCH):
        rows = [{"photo_id": photo_id, "band": band, "value": int(phash[2 * band:2 * band + 2], 16)}
                for photo_id, phash in photos[start:start + BATCH] for band in range(8)]
        if rows:
            op.bulk_insert(bands, rows)


def downgrade():
    op.drop_index('ix_photo_hash_bands_band_value', table_name='photo_hash_bands')
    op.drop_table('photo_hash_bands')

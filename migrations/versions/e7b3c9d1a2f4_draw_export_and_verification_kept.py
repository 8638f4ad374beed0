"""draws: the published draw file and its verification, kept once the draw is public

Revision ID: e7b3c9d1a2f4
Revises: b7d1c0a4e5f2
Create Date: 2026-12-01 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7b3c9d1a2f4'
down_revision = 'b7d1c0a4e5f2'
branch_labels = None
depends_on = None


def upgrade():
    # In place (ALTER TABLE ... ADD COLUMN): a rebuilt draws table would take its selections with it.
    op.add_column('draws', sa.Column('export_file', sa.LargeBinary(), nullable=True))
    op.add_column('draws', sa.Column('verification', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_column('verification')
        batch_op.drop_column('export_file')

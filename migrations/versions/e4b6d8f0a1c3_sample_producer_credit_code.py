"""the credit code of a named producer registered elsewhere

Revision ID: e4b6d8f0a1c3
Revises: 84f5b83f97e0
Create Date: 2026-12-01 21:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4b6d8f0a1c3'
down_revision = '84f5b83f97e0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.add_column(sa.Column('producer_credit_code', sa.String(length=18), nullable=True))


def downgrade():
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_column('producer_credit_code')

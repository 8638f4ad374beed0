"""drop job_runs: a table nothing wrote (every job is idempotent on its own data)

Revision ID: b7e2c41d9a05
Revises: 90dc690c265a
Create Date: 2026-12-01 20:45:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'b7e2c41d9a05'
down_revision = '90dc690c265a'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('job_runs')


def downgrade():
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('ran_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'key', name=op.f('uq_job_runs_job_key'))
    )

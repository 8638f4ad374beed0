"""tasks: draws and enterprise imports too large for a request, run in the background (issue 15)

Revision ID: d8d526315735
Revises: f2a9c7d41e60
Create Date: 2026-12-03 22:13:54.818637

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'd8d526315735'
down_revision = 'f2a9c7d41e60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=12), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.CheckConstraint("kind IN ('draw', 'enterprise_import')", name=op.f('ck_tasks_kind')),
    sa.CheckConstraint("stage IS NULL OR stage IN ('reading', 'drawing', 'writing', 'done')", name=op.f('ck_tasks_stage')),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f('ck_tasks_status')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_tasks_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_status'), ['status'], unique=False)
        batch_op.create_index('uq_tasks_active_draw', ['plan_id'], unique=True, sqlite_where=sa.text("kind = 'draw' AND status IN ('queued', 'running')"), postgresql_where=sa.text("kind = 'draw' AND status IN ('queued', 'running')"))



def downgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_tasks_active_draw')
        batch_op.drop_index(batch_op.f('ix_tasks_status'))

    op.drop_table('tasks')

"""plans: stage, sampling window, uncovered_only; draws: allocation beside the snapshot

Revision ID: d5a1e2f3b4c6
Revises: c3a5e7f9b2d4
Create Date: 2026-12-01 21:00:00

A plan's stage decides which kind of enterprise its draw takes (existing plans drew producers:
``production``); the optional window bounds its sampling visits; ``uncovered_only`` limits a
draw to the producers of key categories not sampled within the coverage window. A draw's
allocation is kept as its own column, so reading it never decompresses the registry snapshot;
existing draws get theirs from the snapshot they stored it in.
"""
import json
import zlib

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5a1e2f3b4c6'
down_revision = 'c3a5e7f9b2d4'
branch_labels = None
depends_on = None

STAGES = ("production", "distribution", "online", "cross_border")


def upgrade():
    # Columns are added in place (ALTER TABLE ... ADD COLUMN), never by rebuilding a table: on SQLite
    # a rebuild drops the table, which the rows referencing plans and draws (samples, selections)
    # would not survive with foreign keys on. The server defaults give existing rows their value.
    stage_check = "stage IN (" + ", ".join(f"'{s}'" for s in STAGES) + ")"
    window_check = "window_start IS NULL OR window_end IS NULL OR window_start <= window_end"
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column('plans', sa.Column('stage', sa.String(length=16), sa.CheckConstraint(stage_check, name=op.f('ck_plans_stage')),
                                     nullable=False, server_default='production'))
    op.add_column('plans', sa.Column('window_start', sa.Date(), nullable=True))
    window_end = [sa.CheckConstraint(window_check, name=op.f('ck_plans_sampling_window'))] if sqlite else []
    op.add_column('plans', sa.Column('window_end', sa.Date(), *window_end, nullable=True))
    if not sqlite:
        op.create_check_constraint(op.f('ck_plans_sampling_window'), 'plans', window_check)
    op.add_column('plans', sa.Column('uncovered_only', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.add_column('draws', sa.Column('allocation', sa.JSON(), nullable=False, server_default='{}'))
    draws = sa.table('draws', sa.column('id', sa.Integer), sa.column('snapshot', sa.LargeBinary),
                     sa.column('allocation', sa.JSON))
    connection = op.get_bind()
    for draw_id, snapshot in connection.execute(sa.select(draws.c.id, draws.c.snapshot)).all():
        allocation = json.loads(zlib.decompress(snapshot))["allocation"]
        connection.execute(draws.update().where(draws.c.id == draw_id).values(allocation=allocation))


def downgrade():
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_column('allocation')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('uncovered_only')
        batch_op.drop_column('window_end')
        batch_op.drop_column('window_start')
        batch_op.drop_column('stage')

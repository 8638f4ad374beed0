"""follow-up actions and partner events

Revision ID: 90dc690c265a
Revises: 4671bda2527b
Create Date: 2026-12-01 20:35:26.996800

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = '90dc690c265a'
down_revision = '4671bda2527b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partner_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type IN ('grade_changed', 'listed', 'lapsed', 'removed', 'serious_failure', 'follow_up')", name=op.f('ck_partner_events_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_events')),
    sa.UniqueConstraint('position', name=op.f('uq_partner_events_position'))
    )
    with op.batch_alter_table('partner_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_events_credit_code'), ['credit_code'], unique=False)

    op.create_table('followup_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('basis', sa.String(length=24), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('held_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('person', sa.String(length=100), nullable=True),
    sa.Column('quantity_out', sa.Integer(), nullable=True),
    sa.Column('recovered_qty', sa.Integer(), nullable=True),
    sa.Column('case_no', sa.String(length=64), nullable=True),
    sa.Column('penalty', sa.String(length=500), nullable=True),
    sa.Column('to_authority', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("basis IS NULL OR basis IN ('serious_failure', 'recheck_failed', 'refusal', 'producer_elsewhere')", name=op.f('ck_followup_actions_basis')),
    sa.CheckConstraint("kind IN ('interview', 'stop_sale', 'recall', 'case', 'referral')", name=op.f('ck_followup_actions_kind')),
    sa.CheckConstraint("status IN ('open', 'done')", name=op.f('ck_followup_actions_status')),
    sa.CheckConstraint('quantity_out IS NULL OR quantity_out >= 0', name=op.f('ck_followup_actions_quantity_out')),
    sa.CheckConstraint('recovered_qty IS NULL OR recovered_qty >= 0', name=op.f('ck_followup_actions_recovered_qty')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_followup_actions_sample_id_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_actions'))
    )
    with op.batch_alter_table('followup_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followup_actions_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_actions_sample_id'), ['sample_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_actions_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('followup_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followup_actions_status'))
        batch_op.drop_index(batch_op.f('ix_followup_actions_sample_id'))
        batch_op.drop_index(batch_op.f('ix_followup_actions_due_date'))

    op.drop_table('followup_actions')
    with op.batch_alter_table('partner_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_events_credit_code'))

    op.drop_table('partner_events')

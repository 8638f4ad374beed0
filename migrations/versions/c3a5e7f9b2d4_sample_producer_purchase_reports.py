"""sample producer and purchase, cross-border stage, rectification reports; final_at of refusals

Revision ID: c3a5e7f9b2d4
Revises: b7e2c41d9a05
Create Date: 2026-12-01 21:00:00

"""
import sqlalchemy as sa
from alembic import op

import models.base

# revision identifiers, used by Alembic.
revision = 'c3a5e7f9b2d4'
down_revision = 'b7e2c41d9a05'
branch_labels = None
depends_on = None

OLD_STAGES = "stage IS NULL OR stage IN ('production', 'distribution', 'online')"
NEW_STAGES = "stage IS NULL OR stage IN ('production', 'distribution', 'online', 'cross_border')"


def upgrade():
    op.create_table('rectification_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('submitted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_rectification_reports_sample_id_samples'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_reports'))
    )
    with op.batch_alter_table('rectification_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_reports_sample_id'), ['sample_id'], unique=False)

    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.add_column(sa.Column('producer_enterprise_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('producer_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('producer_address', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('purchase_platform', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('purchase_order_no', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('purchase_price_fen', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('purchase_received_on', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_samples_producer_enterprise_id'), ['producer_enterprise_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_samples_producer_enterprise_id_enterprises'), 'enterprises',
                                    ['producer_enterprise_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_samples_stage'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_samples_stage'), NEW_STAGES)
        batch_op.create_check_constraint(batch_op.f('ck_samples_purchase_price_fen'),
                                         'purchase_price_fen IS NULL OR purchase_price_fen >= 0')

    # Samples taken before the named producer was recorded: the sampled enterprise made them.
    op.execute("UPDATE samples SET producer_enterprise_id = enterprise_id "
               "WHERE status NOT IN ('planned', 'refused')")
    # A refusal's verdict became final when it was recorded.
    op.execute("UPDATE samples SET final_at = refused_at WHERE status = 'refused' AND final_at IS NULL")


def downgrade():
    op.execute("UPDATE samples SET final_at = NULL WHERE status = 'refused'")
    op.execute("UPDATE samples SET stage = NULL WHERE stage = 'cross_border'")
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_samples_purchase_price_fen'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_samples_stage'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_samples_stage'), OLD_STAGES)
        batch_op.drop_constraint(batch_op.f('fk_samples_producer_enterprise_id_enterprises'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_samples_producer_enterprise_id'))
        batch_op.drop_column('purchase_received_on')
        batch_op.drop_column('purchase_price_fen')
        batch_op.drop_column('purchase_order_no')
        batch_op.drop_column('purchase_platform')
        batch_op.drop_column('producer_address')
        batch_op.drop_column('producer_name')
        batch_op.drop_column('producer_enterprise_id')

    with op.batch_alter_table('rectification_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_reports_sample_id'))

    op.drop_table('rectification_reports')

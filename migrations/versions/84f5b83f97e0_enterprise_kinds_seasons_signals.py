"""enterprise kinds, online shops' platform and shop id, seasonal categories, risk signals

Revision ID: 84f5b83f97e0
Revises: d5a1e2f3b4c6
Create Date: 2026-12-01 20:40:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = '84f5b83f97e0'
down_revision = 'd5a1e2f3b4c6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_producer', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('is_seller', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('is_online_shop', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('is_importer', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('platform', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('shop_id', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(
            'kinds', 'is_producer OR is_seller OR is_online_shop OR is_importer')

    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('season_months', sa.JSON(), nullable=True))

    op.create_table('risk_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signal_date', sa.Date(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('complaint', 'injury', 'outside_check')", name=op.f('ck_risk_signals_source')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_risk_signals_category_id_categories')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_signals_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_signals'))
    )
    with op.batch_alter_table('risk_signals', schema=None) as batch_op:
        batch_op.create_index('ix_risk_signals_category_date', ['category_id', 'signal_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_signals_enterprise_id'), ['enterprise_id'], unique=False)


def downgrade():
    with op.batch_alter_table('risk_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_signals_enterprise_id'))
        batch_op.drop_index('ix_risk_signals_category_date')
    op.drop_table('risk_signals')

    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('season_months')

    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_constraint('ck_enterprises_kinds', type_='check')
        batch_op.drop_column('shop_id')
        batch_op.drop_column('platform')
        batch_op.drop_column('is_importer')
        batch_op.drop_column('is_online_shop')
        batch_op.drop_column('is_seller')
        batch_op.drop_column('is_producer')

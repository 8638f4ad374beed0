"""list supplements; entries keep the day their verdict became final

Revision ID: b7d1c0a4e5f2
Revises: c41f7a2e8b13
Create Date: 2026-12-01 20:40:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'b7d1c0a4e5f2'
down_revision = 'c41f7a2e8b13'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('supplements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('no', sa.Integer(), nullable=False),
    sa.Column('published_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['publication_id'], ['publications.id'], name=op.f('fk_supplements_publication_id_publications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplements')),
    sa.UniqueConstraint('publication_id', 'no', name=op.f('uq_supplements_publication_id_no'))
    )
    with op.batch_alter_table('supplements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supplements_publication_id'), ['publication_id'], unique=False)

    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplement_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_in_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('final_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_list_entries_supplement_id_supplements'), 'supplements', ['supplement_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_list_entries_withdrawn_in_id_supplements'), 'supplements', ['withdrawn_in_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_list_entries_supplement_id'), ['supplement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_list_entries_sample_id'), ['sample_id'], unique=False)
    op.execute("UPDATE list_entries SET final_on = listed_at")


def downgrade():
    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_entries_sample_id'))
        batch_op.drop_index(batch_op.f('ix_list_entries_supplement_id'))
        batch_op.drop_constraint(batch_op.f('fk_list_entries_withdrawn_in_id_supplements'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_list_entries_supplement_id_supplements'), type_='foreignkey')
        batch_op.drop_column('final_on')
        batch_op.drop_column('withdrawn_in_id')
        batch_op.drop_column('supplement_id')

    with op.batch_alter_table('supplements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supplements_publication_id'))

    op.drop_table('supplements')

"""users: roles enterprise and partner, a token bound to an enterprise, expiry and revocation

Revision ID: c41f7a2e8b13
Revises: e4b6d8f0a1c3
Create Date: 2026-12-01 21:00:00

``active`` becomes ``revoked_at`` (a token switched off before keeps the time it was made as the
time it was revoked).
"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'c41f7a2e8b13'
down_revision = 'e4b6d8f0a1c3'
branch_labels = None
depends_on = None

ROLES = "role IN ('supervisor', 'inspector', 'lab', 'enterprise', 'partner')"
OLD_ROLES = "role IN ('supervisor', 'inspector', 'lab')"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enterprise_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_users_enterprise_id_enterprises'), 'enterprises',
                                    ['enterprise_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_users_role'), ROLES)
        batch_op.create_check_constraint(batch_op.f('ck_users_enterprise_bound'),
                                         "role != 'enterprise' OR enterprise_id IS NOT NULL")
    op.execute("UPDATE users SET revoked_at = created_at WHERE NOT active")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('active')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=True))
    op.execute("UPDATE users SET active = (revoked_at IS NULL)")
    op.execute("DELETE FROM users WHERE role IN ('enterprise', 'partner')")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('active', existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_constraint(batch_op.f('ck_users_enterprise_bound'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_users_role'), OLD_ROLES)
        batch_op.drop_constraint(batch_op.f('fk_users_enterprise_id_enterprises'), type_='foreignkey')
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('enterprise_id')

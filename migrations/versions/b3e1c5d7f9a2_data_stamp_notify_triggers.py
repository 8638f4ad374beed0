"""data stamp: the audit trail and the samples notify the channel data_stamp on every change (issue 15)

Revision ID: b3e1c5d7f9a2
Revises: d8d526315735
Create Date: 2026-12-04 02:20:00

PostgreSQL only: on SQLite the stamp is read in the request's session, as before.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b3e1c5d7f9a2'
down_revision = 'd8d526315735'
branch_labels = None
depends_on = None

TABLES = ("audit_events", "samples")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
CREATE OR REPLACE FUNCTION notify_data_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('data_stamp', '');
    RETURN NULL;
END
$$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_data_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION notify_data_stamp()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_stamp ON {table}")
    op.execute("DROP FUNCTION IF EXISTS notify_data_stamp()")

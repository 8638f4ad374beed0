"""``users``: API users and their tokens."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from auth import hash_token, new_token
from extensions import db
from models.auth import ROLES, User
from models.registry import Inspector, Lab
from services.audit import record_event

users_cli = AppGroup("users", help="API users and their tokens.")


@users_cli.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--inspector", "inspector_code", help="inspector code (role inspector)")
@click.option("--lab", "lab_code", help="lab code (role lab)")
@click.argument("name")
def create_user(role, inspector_code, lab_code, name):
    """Create a user and print its token once, alone on the last line."""
    user = User(name=name, role=role)
    if role == "inspector":
        user.inspector = _bound_record(Inspector, inspector_code, "--inspector")
    if role == "lab":
        user.lab = _bound_record(Lab, lab_code, "--lab")
    token = new_token()
    user.token_hash = hash_token(token)
    db.session.add(user)
    db.session.flush()
    record_event("create", "user", user.id, after={"name": name, "role": role}, actor="cli")
    db.session.commit()
    click.echo(f"Created {role} user {name!r} (id {user.id}). The token is shown once; store it now:")
    click.echo(token)


def _bound_record(model, code, option):
    if not code:
        raise click.UsageError(f"{option} CODE is required for this role")
    record = db.session.scalar(select(model).where(model.code == code))
    if record is None:
        raise click.UsageError(f"no {model.__name__.lower()} with code {code!r}")
    return record

"""CLI: ``users create``, ``enterprises import`` and ``demo``."""

import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from auth import hash_token, new_token
from extensions import db
from models.auth import ROLES, User
from models.registry import Enterprise, Inspector, Lab
from sampling.errors import DomainError
from services import registry
from services.audit import record_event

users_cli = AppGroup("users", help="API users and their tokens.")
enterprises_cli = AppGroup("enterprises", help="The enterprise registry.")


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


@enterprises_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_enterprises(path):
    """Upsert enterprises from a CSV file, all or nothing."""
    summary = run_csv_import(path, "Checking rows", registry.import_enterprises)
    click.echo(f"created {summary['created']}, updated {summary['updated']}")


def run_csv_import(path: str, label: str, importer) -> dict:
    """Run an all-or-nothing CSV import with a progress bar; on bad rows list them and exit 1."""
    with open(path, "rb") as handle:
        text = registry.decode_upload(handle.read())
    total = max(sum(1 for _ in text) - 1, 0)
    text.seek(0)
    try:
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            return importer(text, progress=bar.update)
    except DomainError as error:
        db.session.rollback()
        click.echo(f"Error: {error.message}", err=True)
        for row, problems in list(error.errors.items())[:50]:
            click.echo(f"  row {row}: {'; '.join(problems)}", err=True)
        raise SystemExit(1) from None


@click.command("demo")
@click.option("--seed", default=2026, show_default=True, help="random seed of the demo city")
@with_appcontext
def demo(seed):
    """Load the demo city into an empty database (does nothing if enterprises exist)."""
    from scripts.demo import load_demo
    from scripts.demo_quarter import load_past_quarter

    if db.session.scalar(select(func.count()).select_from(Enterprise)):
        click.echo("The database already has enterprises; demo data not loaded.")
        return
    tokens = load_demo(seed=seed)
    summary = load_past_quarter(seed=seed)
    click.echo(
        f"Past quarter {summary['period']}: {summary['samples']} samples drawn, tested and published; "
        f"red list {summary['red']}, black list {summary['black']}"
    )
    click.echo("Demo city loaded. Tokens (shown once):")
    for role, token in tokens.items():
        click.echo(f"  {role:<12} {token}")
    path = current_app.config.get("DEMO_TOKENS_FILE") or os.path.join(current_app.instance_path, "demo-tokens.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{role} {token}\n" for role, token in tokens.items())
    click.echo(f"(also written to {path})")


COMMANDS = (users_cli, enterprises_cli, demo)

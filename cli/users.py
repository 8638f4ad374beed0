"""``users``: API users and their tokens (create, list, revoke)."""

import click
from flask.cli import AppGroup

from sampling.enums import ROLES
from sampling.errors import DomainError
from services import calendar, users

users_cli = AppGroup("users", help="API users and their tokens.")
ACTOR = "cli"


@users_cli.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--inspector", "inspector_code", help="inspector code (role inspector)")
@click.option("--lab", "lab_code", help="lab code (role lab)")
@click.option("--enterprise", "credit_code", help="the enterprise's credit code (role enterprise)")
@click.option("--expires-days", type=click.IntRange(min=1), help="the token stops working after N days")
@click.argument("name")
def create_user(role, inspector_code, lab_code, credit_code, expires_days, name):
    """Create a user and print its token once, alone on the last line."""
    given = {code for code in (inspector_code, lab_code, credit_code) if code}
    if len(given) > 1:
        raise click.UsageError("give at most one of --inspector, --lab, --enterprise")
    option = {"inspector": "--inspector", "lab": "--lab", "enterprise": "--enterprise"}.get(role)
    bound_to = {"inspector": inspector_code, "lab": lab_code, "enterprise": credit_code}.get(role)
    if option and not bound_to:
        raise click.UsageError(f"{option} CODE is required for role {role}")
    if not option and given:
        raise click.UsageError(f"role {role} is not bound to a record; drop {', '.join(sorted(given))}")
    try:
        user, token = users.create_user(name, role, actor=ACTOR, now=calendar.now(), bound_to=bound_to,
                                        expires_days=expires_days)
    except DomainError as error:
        raise click.UsageError(error.message) from None
    until = f", valid until {calendar.local_time(user.expires_at):%Y-%m-%d %H:%M}" if user.expires_at else ""
    click.echo(f"Created {role} user {name!r} (id {user.id}{until}). The token is shown once; store it now:")
    click.echo(token)


@users_cli.command("list")
def list_users():
    """List the users: name, role, bound record, created, expires, state (never a token)."""
    rows = users.list_users(calendar.now())
    if not rows:
        click.echo("No users.")
        return
    click.echo(f"{'id':>4}  {'name':<24} {'role':<11} {'bound to':<20} {'created':<16} {'expires':<16} state")
    for row in rows:
        created = f"{calendar.local_time(row['created_at']):%Y-%m-%d %H:%M}"
        expires = f"{calendar.local_time(row['expires_at']):%Y-%m-%d %H:%M}" if row["expires_at"] else "never"
        click.echo(f"{row['id']:>4}  {row['name']:<24} {row['role']:<11} {row['bound_to'] or '-':<20} "
                   f"{created:<16} {expires:<16} {row['state']}")


@users_cli.command("revoke")
@click.argument("name")
def revoke_user(name):
    """Revoke the live token(s) of NAME: from now on they answer 401."""
    try:
        count = users.revoke_user(name, actor=ACTOR, now=calendar.now())
    except DomainError as error:
        raise click.UsageError(error.message) from None
    click.echo(f"Revoked {count} token(s) named {name!r}.")

"""``plans``: spot-check plans and the 双随机 draw from the command line.

``flask --app wsgi plans create --name ... --period 2026Q4 --category FZ-01 --sample-size 50``
and ``flask --app wsgi plans draw PLAN_ID [--entropy ...]``; the same services as the API.
"""

import json

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from blueprints.plans import PlanSchema
from sampling.enums import PLAN_KINDS, PLAN_LEVELS
from sampling.errors import DomainError
from services import calendar, draws, plans

CLI_ACTOR = "cli"

plans_cli = AppGroup("plans", help="Spot-check plans and the 双随机 draw.")


def _failure(exc: DomainError) -> click.ClickException:
    return click.ClickException(f"{exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")


@plans_cli.command("draw")
@click.argument("plan_id", type=int)
@click.option("--entropy", default="", help="public entropy, e.g. a lottery result read out in public")
def draw_command(plan_id, entropy):
    """Draw a plan and print its seed, registry hash and selection count."""
    try:
        drawn = draws.draw_plan(plan_id, entropy, actor=CLI_ACTOR, now=calendar.now())
    except DomainError as exc:
        raise _failure(exc) from None
    click.echo(f"plan {plan_id} drawn: {len(drawn['selections'])} enterprise(s)")
    click.echo(f"seed {drawn['seed']}")
    click.echo(f"registry_hash {drawn['registry_hash']}")


@plans_cli.command("create")
@click.option("--name", required=True)
@click.option("--level", type=click.Choice(PLAN_LEVELS), default="municipal", show_default=True,
              help="the API asks for it; a city's own plans are municipal")
@click.option("--kind", type=click.Choice(PLAN_KINDS), default="routine", show_default=True)
@click.option("--period", required=True, help="YYYYQn")
@click.option("--category", "category_codes", multiple=True, required=True, help="category code (repeatable)")
@click.option("--region", "regions", multiple=True, help="region (repeatable; none: every region)")
@click.option("--sample-size", type=int)
@click.option("--ratio", "sampling_ratio", type=float)
@click.option("--risk-weighting", is_flag=True, default=None)
@click.option("--team-size", type=int)
def create_command(**options):
    """Create a plan and print its id and seed commitment; what is not given takes the plan defaults."""
    body = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items() if v is not None}
    try:
        plan = plans.create_plan(PlanSchema().load(body), actor=CLI_ACTOR, now=calendar.now())
    except ValidationError as exc:
        raise click.ClickException(json.dumps(exc.messages, ensure_ascii=False)) from None
    except DomainError as exc:
        raise _failure(exc) from None
    click.echo(f"plan {plan.id} created; seed_commitment {plan.seed_commitment}")

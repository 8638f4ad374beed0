"""``actions``: follow-up after a failure, by hand (the same services the views and the scheduler use)."""

import click
from flask.cli import AppGroup

from sampling.enums import ACTION_KINDS
from services import actions, calendar

actions_cli = AppGroup("actions", help="Follow-up actions after a failure (后处理).")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


@actions_cli.command("flag-overdue")
@click.option("--on", "on", type=_DAY, help="the day to judge by (default: today)")
def flag_overdue_command(on):
    """Flag the open follow-up actions past their due date (each once)."""
    flagged = actions.flag_overdue_actions(on.date() if on else calendar.today())
    click.echo(f"{flagged} follow-up action(s) newly flagged overdue")


@actions_cli.command("list")
@click.option("--overdue", is_flag=True, help="only open actions past their due date")
@click.option("--kind", type=click.Choice(ACTION_KINDS))
def list_command(overdue, kind):
    """The follow-up actions, one line each: id, sample, kind, status, due date."""
    query = {"kind": kind, **({"overdue": True} if overdue else {})}
    for row in actions.list_actions(query, calendar.today()):
        late = " OVERDUE" if row["overdue"] else ""
        click.echo(f"{row['id']}\t{row['sample_code']}\t{row['credit_code']}\t{row['kind']}\t{row['status']}"
                   f"\t{row['due_date'] or '-'}{late}")

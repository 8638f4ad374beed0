"""``samples``: the sample life cycle's jobs, by hand (the same services the scheduler runs)."""

from datetime import datetime

import click
from flask.cli import AppGroup

from services import calendar, samples

samples_cli = AppGroup("samples", help="The sample life cycle.")
_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day_or_today(on: datetime | None):
    return on.date() if on else calendar.today()


@samples_cli.command("flag-overdue")
@click.option("--on", "on", type=_DAY, help="the day to judge by (default: today)")
def flag_overdue_command(on):
    """Flag the samples past a deadline (each deadline once)."""
    click.echo(f"{samples.flag_overdue(_day_or_today(on))} new overdue flag(s)")


@samples_cli.command("finalize-expired")
@click.option("--on", "on", type=_DAY, help="the day to judge by (default: today)")
def finalize_expired_command(on):
    """Make final the failing results whose objection window passed with no objection."""
    closed = samples.finalize_expired(_day_or_today(on), calendar.now())
    click.echo(f"{len(closed)} sample(s) made final" + (f": {', '.join(closed)}" if closed else ""))

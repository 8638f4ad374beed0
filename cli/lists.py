"""``lists``: publish a period's red/black lists (or its supplement) and lapse entries by hand."""

import click
from flask.cli import AppGroup

from services import calendar, lists

lists_cli = AppGroup("lists", help="The red/black lists (红黑榜).")


@lists_cli.command("publish")
@click.argument("period")
@click.option("--reason", help="the reason written on a supplement")
def publish(period, reason):
    """Publish PERIOD's lists, or a supplement with what reached it since."""
    publication, supplement, created = lists.publish_lists(period, "cli", calendar.now(), reason)
    if supplement is not None:
        click.echo(f"published supplement {supplement.no} of {period}: {supplement.reason}")
    elif created:
        click.echo(f"published {period}: {len(publication.entries)} entries")
    else:
        click.echo(f"{period} was already published; nothing new")


@lists_cli.command("lapse")
def lapse():
    """Lapse every entry whose time is up today."""
    lapsed = lists.lapse_entries(calendar.today(), "cli")
    click.echo(f"lapsed {len(lapsed)}")

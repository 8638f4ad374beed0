"""``audit``: verify the trail and publish the day's anchor from the command line."""

import json

import click
from flask.cli import AppGroup

from services import audit, calendar

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify():
    """Recompute the keyed chain against its head and anchors; exit 1 if anything differs."""
    outcome = audit.verify_chain()
    click.echo(json.dumps(outcome, ensure_ascii=False, indent=2))
    raise SystemExit(0 if outcome["verified"] else 1)


@audit_cli.command("anchor")
def anchor():
    """Publish today's anchor (the scheduler does this daily)."""
    published = audit.publish_anchor(calendar.today())
    click.echo(f"{published.day}: {published.events} events, head {published.hash}")

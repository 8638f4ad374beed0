"""``demo``: load the demo city, its two years of record and the quarter under way."""

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from extensions import db
from models.registry import Enterprise

TOKENS_HEADER = """\
# Demo tokens, made by `flask --app wsgi demo` (shown once; only their hashes are stored).
# Send one as:  Authorization: Bearer <token>
# The two inspectors are one drawn team: sample {sample} of the current quarter is planned for
# them, and {lab} is its lab, so the sample's whole life can be walked with these tokens.
# For another team, read its inspector codes from GET /api/v1/samples/<code> (supervisor) and run
#   .venv/bin/flask --app wsgi users create --role inspector --inspector INS007 某某
# key\trole\tbound to\tname\ttoken
"""


@click.command("demo")
@click.option("--seed", default=2026, show_default=True, help="random seed of the demo city")
@with_appcontext
def demo(seed):
    """Load the demo city into an empty database (does nothing if enterprises exist)."""
    from scripts.demo import load_demo, make_users
    from scripts.demo_quarter import (
        demo_team,
        load_current_quarter,
        load_history,
        load_market_checks,
        load_past_quarter,
    )

    if db.session.scalar(select(func.count()).select_from(Enterprise)):
        click.echo("The database already has enterprises; demo data not loaded.")
        return
    load_demo(seed=seed)
    imported = load_history(seed=seed)
    past = load_past_quarter(seed=seed)
    current = load_current_quarter(seed=seed)
    market = load_market_checks(seed=seed)
    click.echo(f"History: {imported} results imported (seven quarters, and the province's checks of the last). "
               f"Quarter {past['period']}: "
               f"{past['samples']} samples drawn and tested; red list {past['red']}, black list {past['black']}. "
               f"Quarter {current['period']} under way: {current['samples']} samples at every stage, a distribution, "
               f"an online and a seasonal plan; {market['complaints']} complaints and reports.")
    team, lab, sample = demo_team(current["plan_id"])
    users = make_users(team, lab)
    click.echo("Demo users (tokens shown once):")
    for user in users:
        click.echo(f"  {user['key']:<11} {user['role']:<10} {user['bound'] or '-':<7} {user['token']}  {user['name']}")
    path = current_app.config.get("DEMO_TOKENS_FILE") or os.path.join(current_app.instance_path, "demo-tokens.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(TOKENS_HEADER.format(sample=sample or "-", lab=lab.code))
        handle.writelines(f"{u['key']}\t{u['role']}\t{u['bound'] or '-'}\t{u['name']}\t{u['token']}\n" for u in users)
    click.echo(f"(also written to {path}, each token labelled with its role and inspector or lab code)")


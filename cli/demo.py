"""``demo``: load the demo city."""

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from extensions import db
from models.registry import Enterprise


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

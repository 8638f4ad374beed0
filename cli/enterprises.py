"""``enterprises``: the enterprise registry from the command line."""

from functools import partial

import click
from flask.cli import AppGroup

from cli.imports import run_csv_import
from services import enterprise_import

enterprises_cli = AppGroup("enterprises", help="The enterprise registry.")


@enterprises_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_enterprises(path):
    """Upsert enterprises from a CSV file, all or nothing."""
    summary = run_csv_import(path, "Checking rows", partial(enterprise_import.import_enterprises, actor="cli"))
    click.echo(f"created {summary['created']}, updated {summary['updated']}")

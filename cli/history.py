"""``history import FILE``: the city's past spot-check record from the command line."""

import click
from flask.cli import AppGroup

from cli.imports import run_csv_import
from services import calendar, history

history_cli = AppGroup("history", help="The city's past spot-check record.")


@history_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_history_file(path):
    """Import past results and refusals from a CSV file, all or nothing."""
    today = calendar.today()

    def importer(lines, progress):
        return history.import_history(lines, "cli", today, progress=progress)

    summary = run_csv_import(path, "Importing history", importer)
    click.echo(f"imported {summary['imported']}")

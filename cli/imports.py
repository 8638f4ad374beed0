"""Running an all-or-nothing CSV import from the command line."""

import sys

import click

from extensions import db
from sampling.errors import DomainError
from services import registry


def run_csv_import(path: str, label: str, importer) -> dict:
    """Run an all-or-nothing CSV import with a progress bar; on bad rows list them and exit 1."""
    with open(path, "rb") as handle:
        text = registry.decode_upload(handle.read())
    total = max(sum(1 for _ in text) - 1, 0)
    text.seek(0)
    try:
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            return importer(text, progress=bar.update)
    except DomainError as error:
        db.session.rollback()
        click.echo(f"Error: {error.message}", err=True)
        for row, problems in list(error.errors.items())[:50]:
            click.echo(f"  row {row}: {'; '.join(problems)}", err=True)
        raise SystemExit(1) from None

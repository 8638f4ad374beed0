"""Running an all-or-nothing CSV import from the command line."""

import sys

import click

from extensions import db
from sampling.errors import DomainError
from services.uploads import open_csv


def run_csv_import(path: str, label: str, importer) -> dict:
    """Run an all-or-nothing CSV import with a progress bar; on bad rows list them and exit 1."""
    with open(path, "rb") as handle:  # streamed: never the whole file in memory
        total = max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
        handle.seek(0)
        try:
            with open_csv(handle) as text, \
                    click.progressbar(length=total, label=label, file=sys.stderr) as bar:
                return importer(text, progress=bar.update)
        except DomainError as error:
            db.session.rollback()
            click.echo(f"Error: {error.message}", err=True)
            for row, problems in list(error.errors.items())[:50]:
                click.echo(f"  row {row}: {'; '.join(problems)}", err=True)
            raise SystemExit(1) from None

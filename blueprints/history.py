"""Import of past spot-check results (历史抽查数据): HTTP and ``flask history import FILE``."""


import click
from flask.cli import AppGroup
from flask.views import MethodView
from marshmallow import Schema, fields

from auth import SUPERVISOR, roles_required
from blueprints.common import Blueprint
from cli.imports import run_csv_import
from services import history
from services.uploads import decode_upload

blp = Blueprint("history", __name__, url_prefix="/api/v1/history", description="Past results (历史数据)")


class HistoryFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description": (
        "CSV with header " + ",".join(history.HISTORY_HEADER))})


class HistoryResultSchema(Schema):
    imported = fields.Integer()


@blp.route("/import")
class HistoryImport(MethodView):
    @roles_required(*SUPERVISOR)
    @blp.arguments(HistoryFileSchema, location="files")
    @blp.response(200, HistoryResultSchema)
    def post(self, files):
        """Import past final results and refusals, all or nothing; errors keyed by row number."""
        return history.import_history(decode_upload(files["file"].read()))


history_cli = AppGroup("history", help="The city's past spot-check record.")


@history_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_history_file(path):
    """Import past results and refusals from a CSV file, all or nothing."""
    summary = run_csv_import(path, "Importing history", history.import_history)
    click.echo(f"imported {summary['imported']}")


cli_commands = (history_cli,)

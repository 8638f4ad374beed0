"""The application factory."""

import importlib
import logging
import os

from flask import Flask, send_from_directory
from flask_smorest import Blueprint as ApiBlueprint

from config import config_for
from errors import register_error_handlers
from guards import register_guards

# One module per resource under blueprints/; each defines ``blp`` and may define ``cli``.
BLUEPRINTS = (
    "health", "categories", "enterprises", "inspectors", "labs", "plans", "samples", "overdue",
    "reports", "lists", "credit", "history", "audit", "pages", "report_pages", "draw_page",
    "public", "public_pages", "feeds", "partner", "actions", "signals", "tasks",
)


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, request guards, commands."""
    app = Flask(__name__, instance_relative_config=True)
    configure(app, config)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_guards(app)
    register_commands(app)
    return app


def configure(app: Flask, config: dict | None) -> None:
    """Settings from the environment, then the caller's overrides."""
    settings = config_for(config.get("ENV_NAME") if config else None)
    app.config.from_object(settings)
    if config:
        app.config.update(config)
    for secret in ("SECRET_KEY", "AUDIT_KEY"):
        if not app.config.get(secret):
            raise RuntimeError(f"{secret} must be set in the environment outside development and testing")
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "spotcheck.db")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # chatter at every start
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations and the API to the app."""
    import models  # noqa: F401  (every table on the metadata)
    from extensions import api, db, migrate

    db.init_app(app)
    migrate.init_app(app, db)
    api.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app, db)
    else:
        from services.stamp import count_commits

        with app.app_context():
            count_commits(db.engine)  # this process's writes show to its next request at once

    import swagger_ui_bundle

    @app.route("/api/swagger-ui/<path:filename>")
    def swagger_ui_asset(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


def _tune_sqlite(app: Flask, db) -> None:
    """Foreign keys on, WAL and a busy timeout so the embedded database serves several workers."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    """API blueprints go through flask-smorest (documented); pages straight to Flask."""
    from extensions import api

    for name in BLUEPRINTS:
        module = importlib.import_module(f"blueprints.{name}")
        if isinstance(module.blp, ApiBlueprint):
            api.register_blueprint(module.blp)
        else:
            app.register_blueprint(module.blp)


def register_commands(app: Flask) -> None:
    """CLI groups: users, enterprises, demo, and each blueprint's own ``cli``."""
    from cli import COMMANDS

    for command in COMMANDS:
        app.cli.add_command(command)
    for name in BLUEPRINTS:
        module = importlib.import_module(f"blueprints.{name}")
        for command in getattr(module, "cli_commands", ()):
            app.cli.add_command(command)

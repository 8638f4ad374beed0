"""Settings, read from the environment once, here."""

import os


class Config:
    """Defaults for every environment; each rule of the domain has its setting here."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Keys the audit trail's hash chain (HMAC); kept out of the database, so someone who can write
    # to it cannot recompute the chain after an edit. Required in production, like SECRET_KEY.
    AUDIT_KEY = os.environ.get("AUDIT_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")  # None: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 64 * 1024 * 1024))
    # Bad input is refused before any schema (guards.py): a JSON body's size and nesting, and
    # the longest line of an uploaded CSV file (services/uploads.py).
    MAX_JSON_BYTES = 2 * 1024 * 1024
    MAX_JSON_DEPTH = 32
    CSV_MAX_LINE_CHARS = 10_000
    # /healthz asks the database at most this often per process (services/health.py).
    HEALTH_CHECK_SECONDS = float(os.environ.get("HEALTH_CHECK_SECONDS", 1))

    API_TITLE = "Product quality spot checks (产品质量监督抽查)"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/api/swagger-ui/"  # served by the app itself: no CDN
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }

    # Time zone of the regulator: quarters, "today" and the scheduler's cron.
    TIMEZONE = os.environ.get("APP_TIMEZONE", "Asia/Shanghai")

    # Life-cycle deadlines, in days (Product Quality Law art. 15-17; spot-check measures 2019).
    LAB_RESULT_DAYS = 20
    OBJECTION_DAYS = 15
    RECTIFICATION_DAYS = 60
    RECHECK_DAYS = 75
    # The largest rectification report (整改报告) an enterprise may upload: a PDF or an image.
    RECTIFICATION_REPORT_MAX_BYTES = int(os.environ.get("RECTIFICATION_REPORT_MAX_BYTES", 10 * 1024 * 1024))

    # Follow-up after a final failure (后处理), in days from the day it became final: an
    # interview (约谈) for a serious failure or a refusal; a referral (移送) for a producer
    # registered elsewhere.
    INTERVIEW_DAYS = 30
    REFERRAL_DAYS = 10

    # The draw, and what a plan is when its body does not say.
    EXCLUSION_DAYS = 180
    PLAN_DEFAULTS = {"team_size": 2, "avoid_same_region": True, "risk_weighting": False, "stage": "production",
                     "uncovered_only": False}
    RISK_WEIGHTS = {"A": 0.5, "B": 1.0, "C": 2.0, "D": 4.0}

    # Red/black lists and credit grades.
    BLACK_GENERAL_MONTHS = 6
    BLACK_SERIOUS_MONTHS = 12
    REPEAT_FAILURE_MONTHS = 12
    RED_CONSECUTIVE_PASSES = 3
    RED_CLEAN_MONTHS = 12
    GRADE_D_MONTHS = 24
    GRADE_C_MONTHS = 12
    GRADE_A_MONTHS = 24

    # Default pass-rate targets by plan level (every category group).
    DEFAULT_TARGETS = {"municipal": 0.94, "national": 0.90, "provincial": 0.95}

    # Key-product coverage goal: every active producer of a key-supervised category sampled at
    # least once in this many years (DESIGN.md "Risk signals and key products").
    COVERAGE_YEARS = 2

    # Pass-rate reports, pages and the lists users work from are kept per process while the data
    # they show is unchanged (services.stamp: a stamp of the latest write). On PostgreSQL each
    # process LISTENs for the stamp's notifications and reads it only after one; set
    # DATA_STAMP_LISTEN=0 to read it on every request instead, e.g. behind a connection pooler in
    # transaction mode (PgBouncer), which does not deliver notifications.
    REPORTS_CACHE = os.environ.get("REPORTS_CACHE", "1") != "0"
    DATA_STAMP_LISTEN = os.environ.get("DATA_STAMP_LISTEN", "1") != "0"

    # Background tasks (issue 15). A draw over more candidates than this, or an enterprise upload
    # larger than this, answers 202 with a task (GET /api/v1/tasks/{id}) instead of running inside
    # the request, as does any request sent with ``Prefer: respond-async``. An HTTP draw over
    # 1,000,000 candidates fits in gunicorn's 30 s timeout; ~4 MiB of CSV is ~40,000 rows.
    DRAW_SYNC_MAX_CANDIDATES = int(os.environ.get("DRAW_SYNC_MAX_CANDIDATES", 1_000_000))
    IMPORT_SYNC_MAX_BYTES = int(os.environ.get("IMPORT_SYNC_MAX_BYTES", 4 * 1024 * 1024))
    # Where a queued import's upload waits (default: instance/uploads); removed when its task ends.
    TASK_UPLOAD_FOLDER = os.environ.get("TASK_UPLOAD_FOLDER")
    # The web process runs a task it queued in a thread of its own at once; the scheduler picks up
    # whatever is left queued, and a running task whose heartbeat is older than TASK_STALE_SECONDS
    # (its process died; its one transaction wrote nothing) is run again once, then failed.
    TASKS_IN_PROCESS = os.environ.get("TASKS_IN_PROCESS", "1") != "0"
    TASKS_WAIT = False  # the request waits for the task's thread (the tests, to be deterministic)
    TASK_HEARTBEAT_SECONDS = 30
    TASK_STALE_SECONDS = int(os.environ.get("TASK_STALE_SECONDS", 300))

    # Published lists are read far more than written: each process keeps rendered answers this
    # long. A write in the process clears its copy at once; other workers follow within the TTL.
    LISTS_CACHE_SECONDS = float(os.environ.get("LISTS_CACHE_SECONDS", 5))


class DevelopmentConfig(Config):
    """Local use: a fixed secret is acceptable."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    AUDIT_KEY = os.environ.get("AUDIT_KEY", "dev-only-audit-key")


class TestingConfig(Config):
    """The test suite; the database comes from TEST_DATABASE_URL or a temporary SQLite file."""

    TESTING = True
    LISTS_CACHE_SECONDS = 0  # tests share one process across many databases
    HEALTH_CHECK_SECONDS = 0
    TASKS_WAIT = True  # a queued task has run (in its own thread and app context) when the 202 comes
    SECRET_KEY = "test-only"
    AUDIT_KEY = "test-only-audit-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")


class ProductionConfig(Config):
    """Production: SECRET_KEY and AUDIT_KEY must come from the environment."""


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> type[Config]:
    """Pick the settings class named by ``name`` or ``APP_ENV`` (default development)."""
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None

"""Fixtures: the app on SQLite (or PostgreSQL from TEST_DATABASE_URL), clients, tokens, factories."""

import itertools
import os

import pytest
from sqlalchemy import text

from app import create_app
from extensions import db
from models.auth import User
from models.base import Base
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.credit_code import make_code
from services.users import hash_token, new_token

POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.postgres`` tests skip by themselves on SQLite."""
    if POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (TEST_DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """One app per test session; tables created once and emptied after every test."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    tokens = tmp_path_factory.mktemp("instance") / "demo-tokens.txt"  # never the developer's own file
    uploads = tmp_path_factory.mktemp("uploads")  # a queued import's file, never in the instance folder
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url, "DEMO_TOKENS_FILE": str(tokens),
                      "TASK_UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table after a test that used the database."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    for kept in ("view_answers", "principals", "pass_rate_answers", "published_answers", "final_verdicts"):
        app.extensions.pop(kept, None)  # a new database starts with none kept
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def workers(app, app_ctx):
    """Two more apps on the test database, as two gunicorn workers are: each request in its own
    app context and database session, each process with its own kept answers."""
    made = [create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
            for _ in range(2)]
    yield [worker.test_client() for worker in made]
    for worker in made:
        with worker.app_context():
            db.session.remove()
            db.engine.dispose()  # and the stamp's engine with it


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app, app_ctx):
    return app.test_client()


@pytest.fixture
def db_session(app_ctx):
    return db.session


class Factory:
    """Make registry rows directly in the database, with valid credit codes."""

    _counter = itertools.count(1)

    def category(self, code=None, group="industrial", parent=None, **kw):
        n = next(self._counter)
        category = Category(code=code or f"C{n:04d}", name=kw.pop("name", f"类别{n}"), group=group,
                            parent=parent, **kw)
        db.session.add(category)
        db.session.commit()
        return category

    def enterprise(self, categories, region="南城街道", credit_code=None, **kw):
        n = next(self._counter)
        code = credit_code or make_code(f"91441900{n:09d}")
        enterprise = Enterprise(credit_code=code, name=kw.pop("name", f"东莞市测试{n}有限公司"), region=region,
                                categories=list(categories), **kw)
        db.session.add(enterprise)
        db.session.commit()
        return enterprise

    def inspector(self, region="东城街道", code=None, **kw):
        n = next(self._counter)
        inspector = Inspector(code=code or f"I{n:04d}", name=kw.pop("name", f"检查员{n}"), region=region, **kw)
        db.session.add(inspector)
        db.session.commit()
        return inspector

    def lab(self, categories, code=None, capacity=100, **kw):
        n = next(self._counter)
        lab = Lab(code=code or f"L{n:04d}", name=kw.pop("name", f"检验所{n}"),
                  accreditation=kw.pop("accreditation", f"CNAS L{n:04d}"), capacity=capacity,
                  categories=list(categories), **kw)
        db.session.add(lab)
        db.session.commit()
        return lab


@pytest.fixture
def factory(app_ctx):
    return Factory()


class Auth:
    """Real tokens per role: ``auth.headers("lab", lab=lab)``, ``auth.headers("enterprise", enterprise=e)``."""

    def token(self, role, inspector=None, lab=None, name=None, enterprise=None):
        token = new_token()
        db.session.add(User(name=name or f"{role}-user", role=role, inspector=inspector, lab=lab,
                            enterprise=enterprise, token_hash=hash_token(token)))
        db.session.commit()
        return token

    def headers(self, role, inspector=None, lab=None, name=None, enterprise=None):
        return {"Authorization": f"Bearer {self.token(role, inspector, lab, name, enterprise)}"}


@pytest.fixture
def auth(app_ctx):
    return Auth()

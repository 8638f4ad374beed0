"""The operator's commands: users create, enterprises import, demo; settings checks."""

import pytest
from sqlalchemy import func, select

from app import create_app
from models.auth import User
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.credit_code import is_valid, make_code
from services.users import hash_token


def test_users_create_prints_token_once_and_stores_only_its_hash(app, db_session, factory):
    inspector = factory.inspector(code="INS9")
    args = ["users", "create", "--role", "inspector", "--inspector", "INS9", "陈伟"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    user = db_session.scalar(select(User))
    assert user.token_hash == hash_token(token) and token not in (user.token_hash, user.name)
    assert user.inspector_id == inspector.id
    missing = app.test_cli_runner().invoke(args=["users", "create", "--role", "lab", "x"])
    assert missing.exit_code != 0 and "--lab" in missing.output


def test_users_create_binds_an_enterprise_token_to_its_credit_code(app, db_session, factory):
    enterprise = factory.enterprise([factory.category()])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--role", "enterprise", "--enterprise", enterprise.credit_code,
                                 "--expires-days", "90", "东莞市测试企业"])
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.name == "东莞市测试企业"))
    assert (user.role, user.enterprise_id, user.revoked_at) == ("enterprise", enterprise.id, None)
    assert user.expires_at is not None and "valid until" in result.output
    for args, problem in (
        (["--role", "enterprise", "x"], "--enterprise"),
        (["--role", "enterprise", "--enterprise", make_code("91441900MA4W99999"), "y"], "no enterprise"),
        (["--role", "partner", "--lab", "L1", "z"], "not bound"),
        (["--role", "partner", "--expires-days", "0", "z"], "0"),
        (["--role", "partner", "东莞市测试企业"], "revoke it first"),
    ):
        refused = runner.invoke(args=["users", "create", *args])
        assert refused.exit_code == 2 and problem in refused.output, (args, refused.output)
    assert db_session.scalar(select(func.count()).select_from(User)) == 1


def test_users_list_and_revoke(app, client, db_session):
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("张主任", "supervisor"), ("发改委", "partner")):
        result = runner.invoke(args=["users", "create", "--role", role, name])
        tokens[name] = result.output.strip().splitlines()[-1]
    listing = runner.invoke(args=["users", "list"])
    assert listing.exit_code == 0
    lines = {line.split()[1]: line for line in listing.output.splitlines()[1:]}
    assert set(lines) == {"张主任", "发改委"} and all(line.endswith("active") for line in lines.values())
    assert not any(token in listing.output for token in tokens.values())
    assert not any(u.token_hash in listing.output for u in db_session.scalars(select(User)))

    revoked = runner.invoke(args=["users", "revoke", "发改委"])
    assert revoked.exit_code == 0 and "Revoked 1" in revoked.output
    partner = {"Authorization": f"Bearer {tokens['发改委']}"}
    assert client.get("/api/v1/partner/events", headers=partner).status_code == 401
    listing = runner.invoke(args=["users", "list"])
    assert [line.split()[-1] for line in listing.output.splitlines()[1:]] == ["active", "revoked"]
    again = runner.invoke(args=["users", "revoke", "发改委"])
    assert again.exit_code == 2 and "no live token" in again.output
    supervisor = {"Authorization": f"Bearer {tokens['张主任']}"}
    assert client.get("/api/v1/categories", headers=supervisor).status_code == 200
    # A new token may take the revoked one's name.
    assert runner.invoke(args=["users", "create", "--role", "partner", "发改委"]).exit_code == 0


def test_token_from_cli_works_on_the_api(app, client):
    result = app.test_cli_runner().invoke(args=["users", "create", "--role", "supervisor", "张主任"])
    token = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/categories", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_cli_import_all_or_nothing(app, db_session, factory, tmp_path):
    factory.category(code="DQ-01")
    header = "credit_code,name,region,address,scale,category_codes,status\n"
    good = [f"{make_code(f'91441900MA4W1234{i}')},企业{i},虎门镇,,small,DQ-01,active\n" for i in range(3)]
    bad = tmp_path / "bad.csv"
    bad.write_text(header + good[0] + "91441900MA4W12345X,坏,虎门镇,,small,DQ-01,active\n" + good[1], encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["enterprises", "import", str(bad)])
    assert result.exit_code == 1 and "row 3" in result.output
    assert db_session.scalar(select(func.count()).select_from(Enterprise)) == 0
    ok = tmp_path / "ok.csv"
    ok.write_text(header + "".join(good), encoding="utf-8-sig")  # Excel's BOM is accepted
    result = app.test_cli_runner().invoke(args=["enterprises", "import", str(ok)])
    assert result.exit_code == 0 and "created 3" in result.output


def test_demo_loads_a_city_once(app, db_session, client):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    published = client.get("/api/v1/lists").json
    with open(app.config["DEMO_TOKENS_FILE"], encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    tokens = {row[0]: row[-1] for row in rows}
    assert set(tokens) == {"supervisor", "inspector", "inspector2", "lab"}
    labels = {row[0]: (row[1], row[2]) for row in rows}  # each token says whose it is
    assert labels["supervisor"] == ("supervisor", "-") and labels["lab"][0] == "lab"
    assert labels["inspector"][1].startswith("INS") and labels["lab"][1].startswith("LAB")
    supervisor = {"Authorization": f"Bearer {tokens['supervisor']}"}
    assert client.get("/api/v1/plans/1/draw/verify", headers=supervisor).json["verified"] is True
    assert published and published[0]["red"] and published[0]["black"]  # a finished past quarter
    enterprises = db_session.scalars(select(Enterprise)).all()
    assert len(enterprises) >= 200
    assert all(is_valid(e.credit_code) for e in enterprises)
    assert len({e.region for e in enterprises}) >= 10
    assert db_session.scalar(select(func.count()).select_from(Inspector)) >= 12
    assert db_session.scalar(select(func.count()).select_from(Lab)) >= 2
    assert db_session.scalar(select(func.count()).select_from(Category)) >= 10
    again = app.test_cli_runner().invoke(args=["demo"])
    assert "already" in again.output
    assert db_session.scalar(select(func.count()).select_from(Enterprise)) == len(enterprises)


def test_production_requires_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})

"""The enterprise import at any mix of new and existing rows: one set-based merge, all or nothing."""

import io

from sqlalchemy import func, select

from models.audit import AuditEvent
from models.registry import Enterprise, enterprise_categories
from sampling.credit_code import make_code
from scripts.benchmarks.importer import CATEGORIES, make_csv
from services import enterprise_import

HEADER = "credit_code,name,region,address,scale,category_codes,status"


def _upload(client, headers, data: bytes):
    return client.post("/api/v1/enterprises/import", data={"file": (io.BytesIO(data), "e.csv")},
                       headers=headers, content_type="multipart/form-data")


def _registry(session) -> dict[str, tuple]:
    """Every enterprise's fields and category codes, by credit code."""
    rows = {}
    for enterprise in session.scalars(select(Enterprise)):
        rows[enterprise.credit_code] = (enterprise.name, enterprise.region, enterprise.address, enterprise.scale,
                                        enterprise.status, tuple(enterprise.category_codes))
    session.expire_all()
    return rows


def _expected(data: bytes) -> dict[str, tuple]:
    lines = data.decode().splitlines()[1:]
    rows = {}
    for line in lines:
        code, name, region, address, scale, cats, status = line.split(",")
        rows[code] = (name, region, address or None, scale, status, tuple(sorted(cats.split(";"))))
    return rows


def _seed_categories(factory):
    for code in CATEGORIES:
        factory.category(code=code)


def test_a_reimport_of_existing_rows_over_http_updates_them_all(client, auth, factory, monkeypatch):
    _seed_categories(factory)
    monkeypatch.setattr(enterprise_import, "CHUNK", 40)  # several chunks even for a small file
    sup = auth.headers("supervisor")
    first = make_csv(300, seed=11)
    assert _upload(client, sup, first).json == {"created": 300, "updated": 0}
    session = client.application.extensions["sqlalchemy"].session
    assert _registry(session) == _expected(first)

    again = _upload(client, sup, first)
    assert again.status_code == 200 and again.json == {"created": 0, "updated": 300}
    assert _registry(session) == _expected(first)

    changed = make_csv(300, seed=11, variant=1)  # same codes; names, regions, scales and categories changed
    resp = _upload(client, sup, changed)
    assert resp.status_code == 200 and resp.json == {"created": 0, "updated": 300}
    assert _registry(session) == _expected(changed)
    links = session.scalar(select(func.count()).select_from(enterprise_categories))
    assert links == sum(len(row[5]) for row in _expected(changed).values())
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "enterprise")).all()
    assert [(e.action, e.after) for e in events] == [("import", {"created": 300, "updated": 0}),
                                                     ("import", {"created": 0, "updated": 300}),
                                                     ("import", {"created": 0, "updated": 300})]


def test_a_mix_of_new_and_existing_rows(client, auth, factory):
    _seed_categories(factory)
    sup = auth.headers("supervisor")
    old = make_csv(120, seed=3)
    assert _upload(client, sup, old).json == {"created": 120, "updated": 0}
    old_lines = old.decode().splitlines()
    new_lines = make_csv(50, seed=4).decode().splitlines()
    mixed = "\n".join([old_lines[0], *old_lines[1:61], *new_lines[1:]]) + "\n"
    resp = _upload(client, sup, mixed.encode())
    assert resp.status_code == 200 and resp.json == {"created": 50, "updated": 60}
    session = client.application.extensions["sqlalchemy"].session
    assert _registry(session) == {**_expected(old), **_expected(mixed.encode())}


def test_a_bad_row_anywhere_leaves_the_registry_as_it_was(client, auth, factory, monkeypatch):
    _seed_categories(factory)
    monkeypatch.setattr(enterprise_import, "CHUNK", 25)
    sup = auth.headers("supervisor")
    first = make_csv(100, seed=5)
    assert _upload(client, sup, first).status_code == 200
    session = client.application.extensions["sqlalchemy"].session
    before = _registry(session)
    lines = make_csv(100, seed=5, variant=2).decode().splitlines()
    duplicate = [*lines, lines[7]]  # row 102 repeats row 8, after several chunks were staged
    resp = _upload(client, sup, ("\n".join(duplicate) + "\n").encode())
    assert resp.status_code == 422 and resp.json["errors"] == {
        "102": ["credit_code: appears twice in the file (row 8)"]}
    assert _registry(session) == before
    wrong = [*lines[:90], lines[90].replace(",active", ",dormant"), *lines[91:]]
    resp = _upload(client, sup, ("\n".join(wrong) + "\n").encode())
    assert resp.status_code == 422 and list(resp.json["errors"]) == ["91"]
    assert _registry(session) == before


def test_a_nul_byte_or_a_wrong_column_count_is_a_422_on_its_row(client, auth, factory):
    factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    good = f"{make_code('91441900MA4W30001')},甲厂,虎门镇,,small,DQ-01,active\n"
    nul = f"{make_code('91441900MA4W30002')},乙\x00厂,虎门镇,,small,DQ-01,active\n"
    short = f"{make_code('91441900MA4W30003')},丙厂,虎门镇,,small,DQ-01\n"
    resp = _upload(client, sup, f"{HEADER}\n{good}{nul}{short}".encode())
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"3", "4"}
    assert any("NUL" in m for m in resp.json["errors"]["3"])
    session = client.application.extensions["sqlalchemy"].session
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_an_upload_in_gb18030_or_with_a_bom_is_read(client, auth, factory):
    factory.category(code="DQ-01")
    sup = auth.headers("supervisor")
    text = f"{HEADER}\n{make_code('91441900MA4W30004')},东莞市丁厂,虎门镇,莞太路1号,small,DQ-01,active\n"
    assert _upload(client, sup, text.encode("gb18030")).json == {"created": 1, "updated": 0}
    assert _upload(client, sup, text.encode("utf-8-sig")).json == {"created": 0, "updated": 1}
    listed = client.get("/api/v1/enterprises", headers=sup).json
    assert [(e["name"], e["address"]) for e in listed] == [("东莞市丁厂", "莞太路1号")]
    garbage = _upload(client, sup, b"\xff\xfe\x00\x81" * 10)
    assert garbage.status_code == 422


def test_the_cli_reimports_existing_rows_from_a_streamed_file(app, db_session, factory, tmp_path):
    _seed_categories(factory)
    path = tmp_path / "enterprises.csv"
    path.write_bytes(make_csv(150, seed=9))
    first = app.test_cli_runner().invoke(args=["enterprises", "import", str(path)])
    assert first.exit_code == 0 and "created 150, updated 0" in first.output
    path.write_bytes(make_csv(150, seed=9, variant=1))
    again = app.test_cli_runner().invoke(args=["enterprises", "import", str(path)])
    assert again.exit_code == 0 and "created 0, updated 150" in again.output
    assert _registry(db_session) == _expected(path.read_bytes())

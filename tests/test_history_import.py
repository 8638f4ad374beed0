"""Import of past results (POST /history/import, ``flask history import``): all or nothing."""

import io
from datetime import date

import pytest
from credit_factory import local_today
from sqlalchemy import func, select

from extensions import db
from models.registry import Enterprise
from models.samples import Sample
from sampling import credit

HEADER = "credit_code,category_code,period,level,kind,stage,sampled_on,verdict,failed_items,critical,lab,report_no"


@pytest.fixture
def registry(factory):
    category = factory.category(code="C-TOY")
    return {"category": category, "a": factory.enterprise([category]), "b": factory.enterprise([category])}


def csv_file(*rows):
    return (io.BytesIO(("\n".join((HEADER, *rows)) + "\n").encode()), "history.csv")


def post(client, auth, *rows):
    return client.post("/api/v1/history/import", data={"file": csv_file(*rows)},
                       headers=auth.headers("supervisor"), content_type="multipart/form-data")


def good_rows(a, b):
    return [
        f"{a},C-TOY,2025Q1,municipal,routine,production,2025-02-10,pass,,false,东莞市质检所,R-1",
        f"{a},C-TOY,2025Q3,provincial,special,online,2025-08-10,fail,邻苯二甲酸酯;小零件,true,东莞市质检所,R-2",
        f"{b},C-TOY,2025Q3,municipal,routine,distribution,2025-08-12,refused,,false,,",
    ]


def test_import_counts_in_grades_and_history(client, auth, registry):
    a, b = registry["a"].credit_code, registry["b"].credit_code
    response = post(client, auth, *good_rows(a, b))
    assert response.status_code == 200 and response.get_json() == {"imported": 3}
    samples = db.session.scalars(select(Sample).order_by(Sample.id)).all()
    assert {s.source for s in samples} == {"import"}
    assert [s.status for s in samples] == ["final", "final", "refused"]
    standing = client.get(f"/api/v1/enterprises/{a}/credit", headers=auth.headers("supervisor")).get_json()
    failed = next(h for h in standing["history"] if h["verdict"] == "fail")
    assert failed["failed_items"] == ["邻苯二甲酸酯", "小零件"]
    assert failed["critical_failed"] and failed["source"] == "import"
    on = local_today()
    expected_a = "C" if credit.within(date(2025, 8, 10), on, 12) else "B"
    assert db.session.get(Enterprise, registry["a"].id).credit_grade == expected_a


def test_imported_failures_reach_the_black_list(client, auth, registry):
    from services.lists import period_listings

    a, b = registry["a"].credit_code, registry["b"].credit_code
    post(client, auth, *good_rows(a, b))
    listings = period_listings("2025Q3")  # imported history is final on its sampling date
    assert {(x.sample.enterprise.credit_code, x.list, x.severity, x.final_on) for x in listings} == {
        (a, "black", "serious", date(2025, 8, 10)), (b, "black", "serious", date(2025, 8, 12))}
    assert period_listings("2025Q4") == []


def test_one_bad_row_imports_nothing_and_names_every_bad_row(client, auth, registry):
    a = registry["a"].credit_code
    response = post(client, auth,
                    f"{a},C-TOY,2025Q1,municipal,routine,production,2025-02-10,pass,,false,所,R-1",
                    f"{a},C-NONE,2025Q9,county,routine,production,2099-01-01,maybe,,perhaps,所,R-2",
                    "91440000000000000X,C-TOY,2025Q1,municipal,routine,production,2025-02-10,fail,,false,所,",
                    f"{a},C-TOY,2025Q1,municipal,routine,production,2025-02-10,pass,,false,所,R-1")
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"3", "4", "5"}
    text = " ".join(errors["3"])
    for field in ("category_code", "period", "level", "sampled_on", "verdict", "critical"):
        assert field in text
    assert any("credit_code" in m for m in errors["4"]) and any("failed_items" in m for m in errors["4"])
    assert db.session.scalar(select(func.count()).select_from(Sample)) == 0


def test_the_same_row_cannot_be_imported_twice(client, auth, registry):
    row = f"{registry['a'].credit_code},C-TOY,2025Q1,municipal,routine,production,2025-02-10,pass,,false,所,R-1"
    assert post(client, auth, row).status_code == 200
    again = post(client, auth, row)
    assert again.status_code == 422 and "2" in again.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(Sample)) == 1


def test_missing_column_and_roles(client, auth, registry):
    bad = client.post("/api/v1/history/import", data={"file": (io.BytesIO(b"credit_code\n"), "h.csv")},
                      headers=auth.headers("supervisor"), content_type="multipart/form-data")
    assert bad.status_code == 422 and "header" in bad.get_json()["errors"]
    assert client.post("/api/v1/history/import", data={"file": csv_file()},
                       content_type="multipart/form-data").status_code == 401


def test_cli_imports_with_a_progress_bar(app, registry, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("\n".join((HEADER, *good_rows(registry["a"].credit_code, registry["b"].credit_code))) + "\n",
                    encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["history", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 3" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nx,C-TOY,2025Q1,municipal,routine,,2025-02-10,pass,,false,,R\n", encoding="utf-8")
    failed = app.test_cli_runner().invoke(args=["history", "import", str(bad)])
    assert failed.exit_code == 1 and "row 2" in failed.output


def test_imported_history_is_not_reported_or_flagged_overdue(client, auth, registry):
    a, b = registry["a"].credit_code, registry["b"].credit_code
    assert post(client, auth, *good_rows(a, b)).status_code == 200
    from services.samples import flag_overdue

    assert flag_overdue(on=date(2026, 11, 1)) == 0  # the 2025 failure's rectification is the old system's
    report = client.get("/api/v1/reports/overdue", headers=auth.headers("supervisor"))
    assert report.status_code == 200 and report.json == []

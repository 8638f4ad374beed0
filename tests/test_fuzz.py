"""A fuzz suite beyond schemathesis' examples (issue 16), over every write endpoint read from the
app's own OpenAPI document (endpoints added later are covered too):

- hypothesis bodies made of unicode edge cases (NUL, lone surrogates, bidirectional controls,
  the BOM, combining marks, astral characters, very long text), JSON nested deep and JSON
  bodies of odd shapes, sent to every JSON write endpoint with a supervisor token;
- malformed multipart bodies and CSV files (random bytes, broken quotes, NUL, wrong column
  counts, odd encodings) sent to every upload endpoint.

Every answer must be below 500, and a refusal (4xx) must leave every table as it was. The figures
(requests, operations reached with a 2xx, 5xx answers) are printed and written to
``bench-out/fuzz.json``.
"""

import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from extensions import db
from models.base import Base
from sampling.credit_code import make_code

ROOT = Path(__file__).resolve().parent.parent
WRITE_METHODS = ("post", "put", "patch", "delete")
FIGURES: dict[str, Counter] = defaultdict(Counter)  # kind -> counts of requests, statuses, operations

NASTY = [
    "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "\u202e\u0644\u202c", "\u2066isolate\u2069", "\u200f", "\u061c",
    "\ufeff", "e\u0301\u0301\u0301", "\U0001f600" * 50, "𠀀𪚥", "\r\n", "\t", " ", "", "'; DROP TABLE enterprises;--",
    "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "${jndi:ldap://x}", "%s%n", "\\u0000", "null", "[]",
    "9" * 400, "-0", "1e309", "0001-01-01", "9999-12-31T23:59:59-12:00", "9999Q4", "0000Q0", "NaN",
]
TEXT = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                 st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Mn", "Zs", "Lo"]),
                         max_size=30),
                 st.builds(lambda s, n: s * n, st.sampled_from(["长", "a", "\u202e"]), st.integers(1000, 70_000)))
SCALARS = st.one_of(TEXT, st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.booleans(), st.none())
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def deep(depth: int) -> str:
    return '{"name": ' + "[" * depth + "1" + "]" * depth + "}"


def row_counts() -> dict[str, int]:
    """Rows per table as committed, read on a connection of its own."""
    with db.engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def spec_of(app) -> dict:
    return app.test_client().get("/api/openapi.json").get_json()


def resolve(spec: dict, schema: dict | None) -> dict:
    while schema and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema or {}


def write_operations(app, kind: str) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of each documented write taking ``kind`` (json or multipart)."""
    found = []
    for path, item in spec_of(app)["paths"].items():
        for method, operation in item.items():
            if method not in WRITE_METHODS:
                continue
            content = (operation.get("requestBody") or {}).get("content", {})
            takes = "multipart" if "multipart/form-data" in content else "json"
            if path.startswith("/api/v1/") and takes == kind:
                found.append((method, path, operation))
    return found


def concrete(path: str, codes: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: codes.get(m.group(1), "X0001"), path)


@pytest.fixture
def world(auth, factory):
    """A supervisor token and a small registry the fuzzed bodies can name."""
    category = factory.category(code="DQ-01")
    enterprise = factory.enterprise([category], credit_code=make_code("91441900MA4W00001"))
    factory.inspector(code="I0001")
    factory.lab([category], code="L0001")
    codes = {"credit_code": enterprise.credit_code, "code": "S0001", "plan_id": "1", "period": "2026Q3",
             "entry_id": "1", "id": "1", "sample_code": "S0001"}
    return auth.headers("supervisor"), codes


def check(kind: str, label: str, resp, before: dict) -> None:
    """No 5xx; a refusal wrote nothing. Counted for the figures."""
    FIGURES[kind]["requests"] += 1
    FIGURES[kind][f"{resp.status_code // 100}xx"] += 1
    assert resp.status_code < 500, (label, resp.status_code, resp.get_data(as_text=True)[:300])
    if resp.status_code >= 400:
        body = resp.get_json()
        assert body and set(body) == {"code", "status", "message", "errors"}, (label, body)
        after = row_counts()
        changed = {table: (before[table], rows) for table, rows in after.items() if rows != before[table]}
        assert not changed, (label, resp.status_code, changed)
    else:
        FIGURES["operations with a 2xx"][label] += 1


FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def test_every_json_write_survives_hostile_bodies(app, client, world):
    headers, codes = world
    operations = write_operations(app, "json")
    assert len(operations) >= 20

    @FUZZ
    @given(index=st.integers(0, len(operations) - 1), body=st.one_of(
        st.dictionaries(st.sampled_from(["name", "code", "reason", "credit_code", "public_entropy", "items", "period",
                                         "category_codes", "region", "notes", "standard", "summary", "kind"]),
                        JSON_VALUES, max_size=6),
        JSON_VALUES))
    def send(index, body):
        method, path, operation = operations[index]
        properties = resolve(spec_of_app, ((operation.get("requestBody") or {}).get("content", {})
                                           .get("application/json", {}).get("schema"))).get("properties", {})
        if isinstance(body, dict) and properties:  # aim at the fields the operation reads
            body = {name: value for name, value in zip(properties, body.values(), strict=False)} | body
        before = row_counts()
        try:
            data = json.dumps(body, ensure_ascii=True)
        except (ValueError, OverflowError):
            return
        resp = client.open(concrete(path, codes), method=method.upper(), data=data, content_type="application/json",
                           headers=headers)
        check("json", f"{method.upper()} {path}", resp, before)

    spec_of_app = spec_of(app)
    send()
    for method, path, _ in operations:  # and nesting too deep for any parser, on each of them
        before = row_counts()
        for depth in (40, 1000, 50_000):
            resp = client.open(concrete(path, codes), method=method.upper(), data=deep(depth),
                               content_type="application/json", headers=headers)
            check("json", f"{method.upper()} {path}", resp, before)
            assert resp.status_code in (413, 422), (path, depth, resp.status_code)


CSV_ROWS = st.lists(st.lists(st.one_of(TEXT, st.sampled_from(["DQ-01", make_code("91441900MA4W00002"), "南城街道",
                                                               "small", "active", "pass", "2026Q3"])),
                             min_size=0, max_size=9), max_size=6)
RAW = st.one_of(
    st.binary(max_size=400),
    CSV_ROWS.map(lambda rows: "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogatepass")),
    CSV_ROWS.map(lambda rows: "\n".join(",".join(f'"{v}' for v in row) for row in rows).encode("utf-8", "replace")),
    CSV_ROWS.map(lambda rows: ("\n".join(",".join(row) for row in rows)).encode("utf-16", "surrogatepass")),
    st.builds(lambda n: b"credit_code,name\n" + b"x," * n, st.integers(1, 20_000)),
)


# A truncated multipart body leaves werkzeug's half-made part file (a SpooledTemporaryFile) to the
# garbage collector, which closes it at once and warns; nothing is kept or written.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_every_upload_survives_malformed_multipart_and_csv(app, client, world):
    headers, codes = world
    operations = write_operations(app, "multipart")
    assert len(operations) >= 3

    @FUZZ
    @given(index=st.integers(0, len(operations) - 1), raw=RAW, header=st.booleans(), field=st.sampled_from(
        ["file", "file", "upload", ""]), filename=st.sampled_from(["x.csv", "", "../../etc/passwd", "a\u202e.csv"]))
    def send(index, raw, header, field, filename):
        method, path, operation = operations[index]
        schema = resolve(spec_of_app, operation["requestBody"]["content"]["multipart/form-data"]["schema"])
        described = schema.get("properties", {}).get("file", {}).get("description", "")
        found = re.search(r"header ([a-z_,]+)", described)
        if header and found:
            raw = found.group(1).encode() + b"\n" + raw
        # Werkzeug's test client spools a body over 500 KB to a temporary file it never closes (the
        # server side closes its own); the size limit itself is test_security's.
        raw = raw[:400_000]
        before = row_counts()
        data = {field or "file": (io.BytesIO(raw), filename)} if field != "" else {}
        resp = client.open(concrete(path, codes), method=method.upper(), data=data,
                           content_type="multipart/form-data", headers=headers)
        check("multipart", f"{method.upper()} {path}", resp, before)

    spec_of_app = spec_of(app)
    send()
    for method, path, _ in operations:  # a body that is not multipart at all, and a truncated one
        before = row_counts()
        for body, ctype in ((b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nab",
                             "multipart/form-data; boundary=xyz"), (b"\x00\xff" * 100, "multipart/form-data"),
                            (b"a,b\n", "text/csv")):
            resp = client.open(concrete(path, codes), method=method.upper(), data=body, content_type=ctype,
                               headers=headers)
            check("multipart", f"{method.upper()} {path}", resp, before)


def test_zz_fuzz_figures(capsys):
    """The figures of the runs above (printed; also in bench-out/fuzz.json)."""
    if not FIGURES:
        pytest.skip("the fuzz tests did not run in this session")
    figures = {kind: dict(counts) for kind, counts in FIGURES.items()}
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    with capsys.disabled():
        print("\nfuzz figures:", json.dumps({k: v for k, v in figures.items() if "operations" not in k},
                                            ensure_ascii=False, sort_keys=True))
    assert all(counts.get("5xx", 0) == 0 for counts in FIGURES.values())

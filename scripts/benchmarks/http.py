"""Benchmark: every public page, open-data endpoint and the main authenticated lists under gunicorn,
against a bare hello-world Flask app on the same gunicorn settings, with wrk.

It builds the demo city (``flask --app wsgi db upgrade``, ``flask --app wsgi demo``; its lists
published), makes a supervisor token, then measures with wrk: hello world first
(``scripts/benchmarks/hello.py``, the baseline), then ``gunicorn wsgi:app`` with the production
settings (APP_ENV=production, gunicorn.conf.py) on every URL of ``targets()`` — the public pages,
``/api/v1/public/…``, the lists, reports and plans, a published draw, ``/healthz`` — and the
authenticated lists with the token; hello world again at the end, to show how the machine's
load moved. Each row: requests/s, the ratio to hello world, its goal (0.5 for what is published
and never changes — ended quarters, published draws — and for ``/healthz``; 0.3 for the rest),
the non-2xx answers (must be 0) and p99 latency, as a markdown table.

    python scripts/bench.py http --duration 10 --connections 32
    python scripts/bench.py http --duration 3 --only samples     # one URL, quickly
    python scripts/bench.py http --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
SMALL_ARGV = ["--duration", "5"]  # what ``bench.py all`` runs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    """Run ``flask --app wsgi ARGS``; its standard output."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def request(url: str, method: str = "GET", token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Gunicorn:
    """``gunicorn APP`` with gunicorn.conf.py, on a free port, for the length of a ``with``."""

    def __init__(self, app: str, env: dict, workers: int):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                        "-w", str(workers), "-b", f"127.0.0.1:{self.port}", app]
        self.env = env
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {self.process.stderr.read()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start within 60 s")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wrk(url: str, duration: int, connections: int, threads: int, token: str | None = None) -> dict:
    """Requests/s, non-2xx count, socket errors and p99 latency of one wrk run."""
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", *auth, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    return {
        "rps": rps, "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0, "p99": p99.group(1) if p99 else "?",
    }


CREATE_ALL = "from app import create_app\nfrom extensions import db\nwith create_app().app_context(): db.create_all()"


def prepare(env: dict, create_all: bool = False) -> tuple[str | None, str, str]:
    """The demo city with its lists published, and a supervisor's token: (period, description, token)."""
    if create_all:  # the models' schema, for when the migration lags behind them during development
        subprocess.run([sys.executable, "-c", CREATE_ALL], cwd=ROOT, env=env, check=True)
    else:
        flask(env, "db", "upgrade")
    tokens_file = ROOT / "instance" / "demo-tokens.txt"
    kept = tokens_file.read_bytes() if tokens_file.exists() else None
    try:
        flask(env, "demo")  # does nothing on a database that holds it already
    finally:  # it writes instance/demo-tokens.txt: the developer's copy is put back
        if kept is not None:
            tokens_file.write_bytes(kept)
        elif tokens_file.exists():
            tokens_file.unlink()
    name = f"bench-{secrets.token_hex(4)}"
    token = flask(env, "users", "create", "--role", "supervisor", name).strip().splitlines()[-1]
    with Gunicorn("wsgi:app", env, workers=1) as server:
        status, body = request(server.base + "/api/v1/lists")
        published = json.loads(body) if status == 200 else []
        if published:
            period = published[0]["period"]
        else:
            from datetime import date

            from sampling.credit import quarter_just_ended

            period = quarter_just_ended(date.today())
            status, body = request(f"{server.base}/api/v1/lists/{period}/publish", "POST", token)
            if status not in (200, 201):
                return None, f"publishing {period} failed: {status} {body[:300]!r}", token
        status, body = request(f"{server.base}/api/v1/lists/{period}")
        lists = json.loads(body)
        red, black = len(lists.get("red", [])), len(lists.get("black", []))
        return period, f"period {period}: {red} red, {black} black rows", token


GOAL_PUBLISHED = 0.5  # ended quarters and published draws: never change, so they can be fast
GOAL_OTHER = 0.3  # every other public page and the main authenticated lists
GOAL_HEALTH = 0.5


def discover(base: str, period: str | None) -> dict:
    """Ids the URLs need, found through the public API: a published draw, a plan, an enterprise."""
    found = {"period": period}
    status, body = request(base + "/api/v1/public/plans?page_size=100")
    plans = json.loads(body) if status == 200 else []
    public_draws = [p for p in plans if p.get("draw_public")]
    found["draw"] = public_draws[0]["id"] if public_draws else None
    found["plan"] = found["draw"] or (plans[0]["id"] if plans else None)
    status, body = request(base + "/api/v1/public/results?verdict=fail&page_size=1")
    rows = json.loads(body) if status == 200 else []
    unit = rows[0]["sampled_unit"] if rows else {}
    found["code"] = unit.get("credit_code")
    found["name"] = quote(unit.get("name", "")[:4]) or None  # a part of a name, as a visitor searches
    return found


# (URL, goal, sent with the supervisor's token); {period}, {draw}, {plan}, {code} and {name} come from
# discover(); a URL whose id the demo lacks is left out.
TARGETS = [
    ("/healthz", GOAL_HEALTH, False),
    # public pages
    ("/", GOAL_OTHER, False),
    ("/results", GOAL_OTHER, False),
    ("/plans", GOAL_OTHER, False),
    ("/plans/{plan}", GOAL_OTHER, False),
    ("/catalogue", GOAL_OTHER, False),
    ("/enterprises?q={name}", GOAL_OTHER, False),
    ("/enterprises/{code}", GOAL_OTHER, False),
    ("/lists", GOAL_OTHER, False),
    ("/lists/{period}", GOAL_PUBLISHED, False),
    ("/reports", GOAL_OTHER, False),
    ("/reports?period={period}", GOAL_PUBLISHED, False),
    ("/draws/{draw}", GOAL_PUBLISHED, False),
    ("/feeds/publications.atom", GOAL_OTHER, False),
    # open data and the public API
    ("/api/v1/public/catalogue", GOAL_OTHER, False),
    ("/api/v1/public/plans", GOAL_OTHER, False),
    ("/api/v1/public/plans/{plan}", GOAL_OTHER, False),
    ("/api/v1/public/results", GOAL_OTHER, False),
    ("/api/v1/public/results.csv", GOAL_OTHER, False),
    ("/api/v1/public/enterprises?q={name}", GOAL_OTHER, False),
    ("/api/v1/public/enterprises/{code}", GOAL_OTHER, False),
    ("/api/v1/public/audit-anchors", GOAL_OTHER, False),
    ("/api/v1/lists", GOAL_OTHER, False),
    ("/api/v1/lists/{period}", GOAL_PUBLISHED, False),
    ("/api/v1/lists/{period}.csv", GOAL_PUBLISHED, False),
    ("/api/v1/reports/pass-rates", GOAL_OTHER, False),
    ("/api/v1/reports/pass-rates?period={period}", GOAL_PUBLISHED, False),
    ("/api/v1/targets", GOAL_OTHER, False),
    ("/api/v1/plans", GOAL_OTHER, False),
    ("/api/v1/plans/{draw}", GOAL_OTHER, False),
    ("/api/v1/plans/{draw}/draw", GOAL_PUBLISHED, False),
    ("/api/v1/plans/{draw}/draw/verify", GOAL_PUBLISHED, False),
    ("/api/v1/plans/{draw}/draw/export", GOAL_PUBLISHED, False),
    # the main authenticated lists
    ("/api/v1/samples?page_size=50", GOAL_OTHER, True),
    ("/api/v1/enterprises?page_size=50", GOAL_OTHER, True),
    ("/api/v1/actions", GOAL_OTHER, True),
    ("/api/v1/plans", GOAL_OTHER, True),
    ("/api/v1/plans/{draw}/draw", GOAL_PUBLISHED, True),
]


def targets(found: dict) -> list[tuple[str, float, bool]]:
    """(URL, goal, with the token) of every URL measured, in order."""
    rows = []
    for template, goal, authenticated in TARGETS:
        if all(found.get(name) for name in re.findall(r"{(\w+)}", template)):
            rows.append((template.format(**found), goal, authenticated))
    return rows


def main(argv=None) -> int:
    """Measure and print; exit 1 with --check if a goal is missed or any answer was not 2xx."""
    parser = argparse.ArgumentParser(prog="bench.py http", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per URL (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)),
                        help="gunicorn workers for both apps (default 2)")
    parser.add_argument("--database-url", help="use this database instead of a fresh SQLite file: empty (the demo "
                                               "is loaded into it) or holding the demo city already")
    parser.add_argument("--create-all", action="store_true",
                        help="make the schema from the models instead of `flask db upgrade`")
    parser.add_argument("--only", metavar="REGEX", help="measure only the URLs matching REGEX (hello world always)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed or any answer was not 2xx")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("http: wrk is not installed (Debian: apt-get install wrk); nothing measured", file=sys.stderr)
        return 2

    def measure(base: str, path: str, token: str | None = None) -> dict:
        status, _ = request(base + path, token=token)  # warms the worker; says what the URL answers
        result = wrk(base + path, args.duration, args.connections, args.threads, token)
        result["first_status"] = status
        return result

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "AUDIT_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING",
               "DATABASE_URL": args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"}
        period, described, token = prepare(env, args.create_all)
        load = os.getloadavg()
        print(f"http: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, gunicorn -w {args.workers} "
              f"(gunicorn.conf.py), APP_ENV=production, {'postgresql' if args.database_url else 'sqlite'}, "
              f"{os.cpu_count()} CPUs shared by wrk and gunicorn, load average {load[0]:.2f} {load[1]:.2f} "
              f"{load[2]:.2f}", flush=True)
        print(f"  demo city, {described}", flush=True)
        with Gunicorn("scripts.benchmarks.hello:app", env, args.workers) as server:
            hello = measure(server.base, "/")
        print(f"  hello world: {hello['rps']:.1f} req/s", flush=True)
        rows = []
        with Gunicorn("wsgi:app", env, args.workers) as server:
            for path, goal, authenticated in targets(discover(server.base, period)):
                if args.only and not re.search(args.only, path):
                    continue
                result = measure(server.base, path, token if authenticated else None)
                rows.append((path, goal, authenticated, result))
                print(f"  {path}{' (supervisor)' if authenticated else ''}: {result['rps']:.1f} req/s", flush=True)
        with Gunicorn("scripts.benchmarks.hello:app", env, args.workers) as server:
            hello_after = measure(server.base, "/")
        load_after = os.getloadavg()

    print(f"\nhello world {hello['rps']:.0f} req/s before, {hello_after['rps']:.0f} after (the ratios use the "
          f"first); load average {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} at the end\n")
    print("| URL | req/s | ratio to hello | goal | non-2xx | p99 | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(f"| hello world `/` (baseline) | {hello['rps']:,.0f} | 1.00 | | {hello['non_2xx']} | {hello['p99']} | |")
    failed = False
    for path, goal, authenticated, r in rows:
        ratio = r["rps"] / hello["rps"]
        bad = r["non_2xx"] + r["socket_errors"] + (r["first_status"] // 100 != 2)
        met = ratio >= goal and not bad
        failed |= not met
        who = " (supervisor)" if authenticated else ""
        first = "" if r["first_status"] // 100 == 2 else f" (first answer {r['first_status']})"
        errors = r["non_2xx"] + r["socket_errors"]
        print(f"| `{path}`{who} | {r['rps']:,.0f} | {ratio:.2f} | {goal} | {errors}{first} | {r['p99']} "
              f"| {'met' if met else '**missed**'} |")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

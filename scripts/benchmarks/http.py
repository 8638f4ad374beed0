"""Benchmark: the public list endpoints under gunicorn vs a bare hello-world Flask app, with wrk.

It builds a demo database (``flask --app wsgi db upgrade``, ``flask --app wsgi demo``), publishes
the lists of the quarter just ended (unless the demo already has a publication), starts
``gunicorn wsgi:app`` with the production settings (APP_ENV=production, gunicorn.conf.py) and runs
wrk against ``/api/v1/lists/{period}`` and ``/lists/{period}``; then the same gunicorn settings
serve ``scripts/benchmarks/hello.py`` and wrk measures it. It prints requests/s of each, the ratio
to hello world (goal >= 50%) and the count of non-2xx answers (must be 0).

    python scripts/bench.py http --duration 10 --connections 32
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

ROOT = Path(__file__).resolve().parents[2]
GOAL = 0.5
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


def wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    """Requests/s and non-2xx count of one wrk run (non-2xx includes socket errors and timeouts)."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
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


def prepare(env: dict, create_all: bool = False) -> tuple[str | None, str]:
    """Demo database with published lists; (period or None, description)."""
    if create_all:  # the models' schema, for when the migration lags behind them during development
        subprocess.run([sys.executable, "-c", CREATE_ALL], cwd=ROOT, env=env, check=True)
    else:
        flask(env, "db", "upgrade")
    tokens_file = ROOT / "instance" / "demo-tokens.txt"
    kept = tokens_file.read_bytes() if tokens_file.exists() else None
    try:
        flask(env, "demo")  # writes instance/demo-tokens.txt; the developer's copy is put back below
    finally:
        if kept is not None:
            tokens_file.write_bytes(kept)
        elif tokens_file.exists():
            tokens_file.unlink()
    token = flask(env, "users", "create", "--role", "supervisor", "bench").strip().splitlines()[-1]
    with Gunicorn("wsgi:app", env, workers=1) as server:
        status, body = request(server.base + "/api/openapi.json")
        paths = json.loads(body)["paths"]
        if "/api/v1/lists/{period}/publish" not in paths or "/api/v1/lists/{period}" not in paths:
            return None, "the lists endpoints are not there yet"
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
                return None, f"publishing {period} failed: {status} {body[:300]!r}"
        status, body = request(f"{server.base}/api/v1/lists/{period}")
        lists = json.loads(body)
        return period, f"period {period}: {len(lists.get('red', []))} red, {len(lists.get('black', []))} black rows"


def public_paths(base: str) -> list[str]:
    """The open data and public pages of issue 12: the results (JSON and page) and one enterprise's record."""
    status, body = request(base + "/api/v1/public/results?verdict=fail")
    rows = json.loads(body) if status == 200 else []
    if not rows:
        return []
    return ["/api/v1/public/results", "/results", f"/enterprises/{rows[0]['sampled_unit']['credit_code']}"]


def main(argv=None) -> int:
    """Measure and print; exit 1 with --check if a goal is missed or any answer was not 2xx."""
    parser = argparse.ArgumentParser(prog="bench.py http", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per URL (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)),
                        help="gunicorn workers for both apps (default 2)")
    parser.add_argument("--database-url", help="use this (empty) database instead of a fresh SQLite file")
    parser.add_argument("--create-all", action="store_true",
                        help="make the schema from the models instead of `flask db upgrade`")
    parser.add_argument("--check", action="store_true", help="exit 1 if the goal is missed or any answer was not 2xx")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("http: wrk is not installed (Debian: apt-get install wrk); nothing measured", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
               "AUDIT_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING",
               "DATABASE_URL": args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"}
        period, described = prepare(env, args.create_all)
        print(f"http: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, gunicorn -w {args.workers} "
              f"(gunicorn.conf.py), APP_ENV=production, {'postgresql' if args.database_url else 'sqlite'}, "
              f"{os.cpu_count()} CPUs shared by wrk and gunicorn", flush=True)
        results = {}
        if period is None:
            print(f"  skipping /api/v1/lists/{{period}} and /lists/{{period}}: {described}")
        else:
            print(f"  demo city, {described}", flush=True)
            with Gunicorn("wsgi:app", env, args.workers) as server:
                for path in (f"/api/v1/lists/{period}", f"/lists/{period}"):
                    request(server.base + path)  # warm the workers
                    results[path] = wrk(server.base + path, args.duration, args.connections, args.threads)
                for path in public_paths(server.base):
                    request(server.base + path)
                    results[path] = wrk(server.base + path, args.duration, args.connections, args.threads)
        with Gunicorn("scripts.benchmarks.hello:app", env, args.workers) as server:
            results["hello world /"] = wrk(server.base + "/", args.duration, args.connections, args.threads)

    hello = results["hello world /"]["rps"]
    failed = False
    for name, r in results.items():
        ratio = r["rps"] / hello
        bad = r["non_2xx"] + r["socket_errors"]
        goal = "" if name.startswith("hello") else f"  ratio {ratio:.2f} ({'met' if ratio >= GOAL else 'NOT met'})"
        print(f"  {name:<28} {r['rps']:9.1f} req/s  p99 {r['p99']:>8}  {r['requests']:7d} requests, "
              f"non-2xx {r['non_2xx']}, socket errors {r['socket_errors']}{goal}")
        failed |= bad > 0 or (not name.startswith("hello") and ratio < GOAL)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

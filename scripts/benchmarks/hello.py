"""The baseline of the HTTP benchmark: a bare hello-world Flask app (``gunicorn scripts.benchmarks.hello:app``)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    """One small JSON answer, no database: what gunicorn and Flask cost on their own."""
    return {"hello": "world"}

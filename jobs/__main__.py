"""``python -m jobs``: the scheduler process, built through the app factory."""

from app import create_app
from jobs.scheduler import run_scheduler

if __name__ == "__main__":
    run_scheduler(create_app())

"""The small world the plan and draw tests draw from, and plans with known server seeds."""

import hashlib
import itertools

from sampling import draw as algorithm
from sampling.credit_code import make_code

REGIONS = ("虎门镇", "长安镇", "大朗镇")


def fix_server_seeds(monkeypatch, prefix: str) -> None:
    """Plans get known server seeds, so each test's draws are the same on every run."""
    seeds = (hashlib.sha256(f"{prefix}-{n}".encode()).hexdigest() for n in itertools.count())
    monkeypatch.setattr(algorithm, "new_server_seed", lambda: next(seeds))


def plans_world(factory) -> dict:
    """Two categories, 30 enterprises over three towns, fifteen inspectors, two labs.

    Plans here draw 8 to 12 (or a few), so the load cap ``ceil(2 × drawn / 15)`` leaves slack;
    with little (7 or 15 drawn) a greedy team assignment under avoidance can reach a dead end.
    """
    fz = factory.category(code="FZ-01", name="服装")
    wj = factory.category(code="WJ-01", name="五金")
    enterprises = [
        factory.enterprise([fz] if i % 3 else [fz, wj], region=REGIONS[i % 3], credit_grade="ABCD"[i % 4],
                           credit_code=make_code(f"91441900{i:09d}"))
        for i in range(30)
    ]
    inspectors = [factory.inspector(region=REGIONS[i % 3], code=f"INS{i:02d}") for i in range(15)]
    labs = [factory.lab([fz, wj], code="LAB-A"), factory.lab([fz], code="LAB-B", capacity=5)]
    return {"categories": (fz, wj), "enterprises": enterprises, "inspectors": inspectors, "labs": labs}

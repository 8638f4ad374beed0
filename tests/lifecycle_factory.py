"""Test data for the sample life cycle: a plan with its draw and samples still ``planned``.

The draw service makes such samples in the app; here they are made directly through the
models, so the life-cycle tests depend on nothing but the models.
"""

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from extensions import db
from models.plans import Draw, Plan
from models.registry import Category, Enterprise, Inspector, Lab
from models.samples import Sample

_counter = itertools.count(1)


@dataclass
class World:
    """One plan, its draw, a team of three inspectors, an outsider, and three accredited labs."""

    category: Category
    enterprise: Enterprise
    team: list[Inspector]
    outsider: Inspector
    lab: Lab
    other_labs: list[Lab]
    plan: Plan
    draw: Draw
    samples: list[Sample] = field(default_factory=list)

    def sample(self, enterprise: Enterprise | None = None, team=None, lab: Lab | None = None) -> Sample:
        """A new ``planned`` sample of the plan for ``enterprise`` (default: the world's)."""
        n = next(_counter)
        sample = Sample(
            code=f"S{self.plan.id:04d}-{n:05d}", plan_id=self.plan.id, enterprise=enterprise or self.enterprise,
            category=self.category, period=self.plan.period, level=self.plan.level, kind=self.plan.kind,
            source="draw", status="planned", lab=lab or self.lab, team=list(team or self.team[:2]),
            drawn_at=self.draw.drawn_at,
        )
        db.session.add(sample)
        db.session.commit()
        self.samples.append(sample)
        return sample


def make_world(factory, drawn_days_ago: int = 90, lab_capacity: int = 100) -> World:
    """Registry rows, a plan and its draw made ``drawn_days_ago`` days ago, and one planned sample."""
    n = next(_counter)
    category = factory.category()
    enterprise = factory.enterprise([category])
    team = [factory.inspector() for _ in range(3)]
    outsider = factory.inspector()
    labs = [factory.lab([category], capacity=lab_capacity) for _ in range(3)]
    server_seed = hashlib.sha256(f"seed-{n}".encode()).hexdigest()
    plan = Plan(name=f"计划{n}", level="municipal", kind="routine", period="2026Q3",
                sample_size=1, team_size=2, server_seed=server_seed,
                seed_commitment=hashlib.sha256(server_seed.encode()).hexdigest(), categories=[category])
    db.session.add(plan)
    db.session.flush()
    drawn_at = datetime.now(UTC) - timedelta(days=drawn_days_ago)
    draw = Draw(plan_id=plan.id, seed=hashlib.sha256(f"{server_seed}:".encode()).hexdigest(),
                registry_hash="0" * 64, algorithm="test", snapshot=b"", drawn_at=drawn_at)
    db.session.add(draw)
    db.session.commit()
    world = World(category, enterprise, team, outsider, labs[0], labs[1:], plan, draw)
    world.sample()
    return world

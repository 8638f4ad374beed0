"""The 双随机 draw: commit-reveal seed, tickets, strata, allocation, teams and labs.

Pure: plain values in, plain values out, no Flask and no database. The rules are those of
DESIGN.md ("The 双随机 draw"); ``scripts/verify_draw.py`` restates them with the standard
library only, and ``tests/test_draw_algorithm.py`` proves that the two agree.

Readings of DESIGN.md made here (the verifier makes the same ones):

* ``int(first 8 bytes ...)`` is big-endian, i.e. ``int(hexdigest[:16], 16)``.
* Every membership of an enterprise in a stratum is a candidate row; the ticket depends only
  on the seed, the plan, the credit code and the weight, so a multi-category enterprise has
  the same ticket in every stratum it belongs to.
* Sizes count candidate rows (an enterprise in two plan categories is a row in each stratum).
  ``sampling_ratio``: the plan total is ``round(ratio × rows)``; ``grade_ratios``: each
  grade's total is ``round(ratio × rows of that grade)``, split over the grade's
  ``(region, category, grade)`` strata by largest remainder, which is what "each stratum
  draws round(ratio × size) (largest remainder within the grade)" asks. ``round`` is half up,
  on the exact decimal value of the ratio. A grade missing from ``grade_ratios`` is not drawn.
  ``sample_size`` above the number of distinct eligible enterprises is a 409.
  The minimum-one rule applies to the plan total only (not within a grade: a 3% ratio for
  grade A must not become one A enterprise per stratum).
* "If the total allows" means: the plan total is at least the number of non-empty strata.
* Strata are ordered by their key tuple ``(region, category[, grade])`` compared element by
  element on Unicode code points; the key's text form joins the parts with ``|``.
* A stratum that runs out of candidates because its members were drawn in an earlier stratum
  draws fewer (a shortfall, reported); that is not an error.
* Teams (algorithm version 2, ``sha256-exp-tickets/2``, "least loaded first"): the load levels
  are the distinct assignment counts among the enterprise's candidates, ascending; within a
  level the candidates are listed by inspector code (Unicode code points); a team is listed
  in pick order. Loads are updated once the enterprise's team is complete, so an inspector
  picked at one level is never offered again at the next for the same enterprise.
* Version 1 (``sha256-exp-tickets/1``, kept so that its draws still verify): teams by hash
  rank under a load cap ``ceil(team_size × drawn / active inspectors)``, greedy in ticket
  order; it could dead-end on feasible draws (a 409 naming ``load_cap``).
* Risk signals: a stratum row of the snapshot may carry a fifth element, one digit per credit
  code (its risk signals, capped at 5); under risk weighting the weight is
  ``risk_weights[grade] × (1 + signals / 5)``. Without it every count is 0.
* A lab's capacity is per plan, so "capacity left" is capacity minus this draw's assignments;
  no capacity means no limit.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import secrets
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from itertools import chain
from operator import truediv
from typing import NamedTuple

from sampling.enums import DEFAULT_GRADE, GRADES, PLAN_LEVELS
from sampling.errors import InvalidInput, RuleViolation

ALGORITHM_V1 = "sha256-exp-tickets/1"  # teams by hash rank under a load cap
ALGORITHM_V2 = "sha256-exp-tickets/2"  # teams least loaded first
ALGORITHM = ALGORITHM_V2  # what new draws use
ALGORITHMS = (ALGORITHM_V1, ALGORITHM_V2)
MAX_SIGNALS = 5  # risk signals beyond this many do not raise the weight further
EXPORT_FORMAT = "shuangsuiji-draw/1"
STRATUM_SEPARATOR = "|"

_sha256 = hashlib.sha256
_TWO_POW_MINUS_64 = 2.0**-64  # exact, so multiplying equals dividing by 2**64


# --- seed: commit, then reveal ------------------------------------------------------------


def sha256_hex(text: str) -> str:
    """Lowercase hex sha256 of the UTF-8 text (every hash of the draw is this)."""
    return _sha256(text.encode("utf-8")).hexdigest()


def new_server_seed() -> str:
    """A fresh 32-byte server seed as 64 lowercase hex characters."""
    return secrets.token_hex(32)


def commitment(server_seed: str) -> str:
    """The public commitment to a server seed: ``sha256(server_seed)``."""
    return sha256_hex(server_seed)


def effective_seed(server_seed: str, public_entropy: str = "") -> str:
    """The draw's seed: ``sha256(server_seed + ":" + public_entropy)``."""
    return sha256_hex(f"{server_seed}:{public_entropy or ''}")


# --- tickets and ranks --------------------------------------------------------------------


def ticket(seed: str, plan_id: int, credit_code: str, weight: float = 1.0) -> float:
    """An enterprise's ticket, ``-ln(u) / weight``; the smallest tickets are drawn first."""
    digest = _sha256(f"{seed}:{plan_id}:{credit_code}".encode()).digest()
    return -math.log((int.from_bytes(digest[:8], "big") + 0.5) / 2**64) / weight


def rank_key(seed: str, plan_id: int, credit_code: str, code: str) -> str:
    """Rank of an inspector or lab ``code`` for an enterprise; lower ranks are chosen first."""
    return sha256_hex(f"{seed}:{plan_id}:{credit_code}:{code}")


def unweighted_tickets(seed: str, plan_id: int, credit_codes: Iterable[str]) -> list[float]:
    """``ticket(seed, plan_id, code, 1.0)`` for each code, in a tight loop over one hash prefix."""
    base = _sha256(f"{seed}:{plan_id}:".encode())
    log, from_bytes = math.log, int.from_bytes
    tickets = []
    append = tickets.append
    for code in credit_codes:
        h = base.copy()
        h.update(code.encode("utf-8"))
        append(-log((from_bytes(h.digest()[:8], "big") + 0.5) * _TWO_POW_MINUS_64))
    return tickets


def _ranked(base, entries: list[tuple[bytes, str]], count: int) -> list[str]:
    """The ``count`` codes with the lowest rank keys; ``base`` has hashed ``seed:plan_id:credit_code:``.

    ``entries`` are ``(code as UTF-8, code)``; raw digests order as their hex does.
    """
    keyed = []
    append = keyed.append
    for encoded, code in entries:
        h = base.copy()
        h.update(encoded)
        append((h.digest(), code))
    keyed.sort()
    return [code for _, code in keyed[:count]]


# --- plain data in and out ----------------------------------------------------------------


class Candidate(NamedTuple):
    """An eligible enterprise; a tuple (not a dataclass) because a draw may hold a million.

    ``categories`` are the plan categories it produces and may be drawn in (exclusion window
    already applied); ``last_team`` the inspector codes of its previous sampling visit;
    ``signals`` its risk signals in the plan's categories (only counted under risk weighting).
    """

    credit_code: str
    region: str
    categories: tuple[str, ...]
    grade: str = DEFAULT_GRADE
    last_team: tuple[str, ...] = ()
    signals: int = 0


@dataclass(frozen=True)
class InspectorInfo:
    """An inspector as the draw sees them."""

    code: str
    region: str
    active: bool = True


@dataclass(frozen=True)
class LabInfo:
    """A lab: the categories it is accredited for and its capacity per plan (None: no limit)."""

    code: str
    categories: tuple[str, ...]
    capacity: int | None = None


@dataclass(frozen=True, kw_only=True)
class DrawRules:
    """A plan's draw rules; exactly one of ``sample_size``, ``sampling_ratio``, ``grade_ratios``.

    The team size and the regional avoidance come from the plan, the risk weights (needed
    only under risk weighting) from the settings: nothing here has a default of its own.
    """

    sample_size: int | None = None
    sampling_ratio: float | None = None
    grade_ratios: Mapping[str, float] | None = None
    risk_weighting: bool = False
    risk_weights: Mapping[str, float] | None = None
    team_size: int
    avoid_same_region: bool

    def __post_init__(self):
        given = [n for n in ("sample_size", "sampling_ratio", "grade_ratios") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InvalidInput(
                "Exactly one of sample_size, sampling_ratio, grade_ratios is required.",
                {"_schema": ["exactly one of sample_size, sampling_ratio, grade_ratios"]},
            )
        if self.sample_size is not None and self.sample_size < 1:
            raise InvalidInput("sample_size must be at least 1.", {"sample_size": ["must be >= 1"]})
        if self.sampling_ratio is not None and not 0 < self.sampling_ratio <= 1:
            raise InvalidInput("sampling_ratio must be in (0, 1].", {"sampling_ratio": ["must be in (0, 1]"]})
        if self.grade_ratios is not None:
            bad = [g for g, r in self.grade_ratios.items() if g not in GRADES or not 0 <= r <= 1]
            if bad or not any(self.grade_ratios.values()):
                raise InvalidInput(
                    "grade_ratios maps grades A-D to ratios in [0, 1], at least one above 0.",
                    {"grade_ratios": [f"bad entries: {bad}" if bad else "all ratios are 0"]},
                )
        if self.team_size < 2:
            raise InvalidInput("team_size must be at least 2.", {"team_size": ["must be >= 2"]})
        if self.risk_weighting and self.risk_weights is None:
            raise InvalidInput("Risk weighting needs the risk weights.", {"risk_weights": ["required"]})
        if self.risk_weights is not None and (
                sorted(self.risk_weights) != list(GRADES) or min(self.risk_weights.values()) <= 0):
            raise InvalidInput("risk_weights needs a positive weight for A, B, C and D.")

    def to_dict(self) -> dict:
        """The rules as published in the draw file."""
        return {
            "sample_size": self.sample_size,
            "sampling_ratio": self.sampling_ratio,
            "grade_ratios": dict(sorted(self.grade_ratios.items())) if self.grade_ratios is not None else None,
            "risk_weighting": self.risk_weighting,
            "risk_weights": dict(sorted(self.risk_weights.items())) if self.risk_weights is not None else None,
            "team_size": self.team_size,
            "avoid_same_region": self.avoid_same_region,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> DrawRules:
        """Rules read back from ``to_dict``'s output."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and data[k] is not None}
        return cls(**known)


class Selection(NamedTuple):
    """One drawn enterprise, with the stratum it was drawn in, its team and its lab."""

    credit_code: str
    region: str
    category: str
    grade: str
    stratum: str
    ticket: float
    inspectors: tuple[str, ...] = ()
    lab: str = ""

    def to_dict(self) -> dict:
        """The selection as published (without the sample code, which the service adds)."""
        return {
            "credit_code": self.credit_code,
            "stratum": self.stratum,
            "ticket": self.ticket,
            "inspectors": list(self.inspectors),
            "lab": self.lab,
        }


@dataclass
class DrawResult:
    """What a draw produced: selections in ticket order, and the snapshot it was drawn from."""

    seed: str
    plan_id: int
    algorithm: str
    registry_hash: str
    snapshot: dict
    snapshot_json: bytes  # the canonical JSON the hash was taken over, ready to store
    allocation: dict[str, int]
    selections: list[Selection]
    shortfalls: dict[str, int]
    load_cap: int | None  # version 1 only: the most selections one inspector could get


# --- exclusion window ---------------------------------------------------------------------


def excluding_levels(level: str) -> tuple[str, ...]:
    """The plan levels whose samples keep an enterprise out of a ``level`` draw: the same level or a
    higher one (Product Quality Law art. 15); ``PLAN_LEVELS`` runs from the highest down."""
    return PLAN_LEVELS[: PLAN_LEVELS.index(level) + 1]


def within_exclusion_window(last_sampled_on: date | None, as_of: date, exclusion_days: int) -> bool:
    """True when a sample taken on ``last_sampled_on`` bars a new one on ``as_of`` (six-month rule)."""
    return last_sampled_on is not None and (as_of - last_sampled_on).days < exclusion_days


# --- the registry snapshot ----------------------------------------------------------------


def canonical_json(obj) -> bytes:
    """The canonical UTF-8 JSON text that hashes are taken over."""
    return b"".join(canonical_pieces(obj))


def canonical_pieces(obj) -> Iterator[bytes]:
    """``canonical_json(obj)`` in pieces whose concatenation is exactly that text: a dict's
    lists item by item, so a province's snapshot (a million credit codes) is never one str in
    memory, whose Chinese region names would make it four times the size of its UTF-8 bytes."""
    if not (isinstance(obj, dict) and all(isinstance(k, str) for k in obj)):
        yield _dumps(obj).encode("utf-8")
        return
    yield b"{"
    for n, key in enumerate(sorted(obj)):
        yield (b',"' if n else b'"') + _dumps(key)[1:].encode("utf-8") + b":"
        value = obj[key]
        if isinstance(value, list):
            yield b"["
            for i, item in enumerate(value):
                yield (b"," if i else b"") + _dumps(item).encode("utf-8")
            yield b"]"
        else:
            yield _dumps(value).encode("utf-8")
    yield b"}"


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def registry_hash(snapshot: Mapping) -> str:
    """``sha256`` of the snapshot's canonical JSON."""
    return _sha256(canonical_json(snapshot)).hexdigest()


def build_snapshot(
    candidates: Iterable[Candidate], inspectors: Iterable[InspectorInfo], labs: Iterable[LabInfo]
) -> dict:
    """The eligible registry in canonical form; the same registry in any row order gives the same one.

    ``strata`` lists ``[region, category, [credit codes ascending], grades]`` ascending by
    ``(region, category)``, ``grades`` holding one letter per credit code, and when any
    candidate has risk signals a fifth element, one digit per credit code (its signals, at most
    ``MAX_SIGNALS``), so the weight of every candidate is in the snapshot; ``last_teams``
    ``[credit_code, [inspector codes]]``; ``inspectors`` the active ones as ``[code, region]``;
    ``labs`` ``[code, [categories], capacity]``.
    """
    builder = SnapshotBuilder()
    add = builder.add
    for code, region, categories, grade, last_team, signals in candidates:
        for category in categories:
            add(code, region, category, grade, signals, last_team)
    return builder.snapshot(inspectors, labs)


class SnapshotBuilder:
    """``build_snapshot`` made one (enterprise, category) row at a time, as a registry is read.

    A province's registry is a million rows: each stratum keeps three plain lists (codes, grade
    letters, signal counts), not a tuple per enterprise, and is sorted by credit code once at the end.
    """

    def __init__(self):
        self._strata: dict[tuple[str, str], tuple[list[str], list, list[int]]] = {}
        self._teams: dict[str, tuple[str, ...]] = {}

    def add(self, code: str, region: str, category: str, grade: str | None, signals: int = 0,
            last_team: Iterable[str] = ()) -> None:
        """One eligible enterprise in one category (``grade`` None: no record yet, grade B)."""
        stratum = self._strata.get((region, category))
        if stratum is None:
            stratum = self._strata[region, category] = ([], [], [])
        stratum[0].append(code)
        stratum[1].append(grade)
        stratum[2].append(signals)
        if last_team:
            self._teams[code] = last_team

    def snapshot(self, inspectors: Iterable[InspectorInfo], labs: Iterable[LabInfo]) -> dict:
        """The canonical snapshot of what was added (see ``build_snapshot``)."""
        with_signals = any(any(signals) for _, _, signals in self._strata.values())
        strata = []
        for (region, category), (codes, grades, signals) in sorted(self._strata.items()):
            order = sorted(range(len(codes)), key=codes.__getitem__)
            codes = list(map(codes.__getitem__, order))
            try:
                letters = "".join(map(grades.__getitem__, order))
            except TypeError:  # a grade of None: no record yet, which is grade B
                letters = "".join(grades[i] or DEFAULT_GRADE for i in order)
            if len(set(codes)) != len(codes):
                raise InvalidInput(f"Stratum {region}|{category}: a credit code is listed twice.")
            if not set(letters) <= set(GRADES):
                raise InvalidInput(f"Stratum {region}|{category}: credit grades must be A, B, C or D.")
            if with_signals:
                digits = "".join(str(min(signals[i], MAX_SIGNALS)) for i in order)
                strata.append([region, category, codes, letters, digits])
            else:
                strata.append([region, category, codes, letters])
        last_teams = sorted([code, sorted(set(team))] for code, team in self._teams.items())
        active = sorted({(i.code, i.region) for i in inspectors if i.active})
        lab_rows = sorted({(lab.code, tuple(sorted(set(lab.categories))), lab.capacity) for lab in labs})
        return {
            "strata": strata,
            "last_teams": last_teams,
            "inspectors": [list(i) for i in active],
            "labs": [[code, list(cats), capacity] for code, cats, capacity in lab_rows],
        }


# --- allocation ---------------------------------------------------------------------------


def round_half_up(ratio: float, size: int) -> int:
    """``round(ratio × size)`` with halves up, on the ratio's exact decimal value."""
    exact = Fraction(str(ratio)) * size
    return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


def allocate(total: int, sizes: Mapping[tuple, int], minimum_one: bool = True) -> dict[tuple, int]:
    """Split ``total`` over strata in proportion to size: largest remainder, then minimum one.

    Floors first, then one more to the largest remainders (ties: ascending key). Then, when the
    total reaches the number of non-empty strata, each non-empty stratum left at 0 (ascending
    key) gets one, taken from the stratum with the largest allocation (ties: ascending key).
    """
    keys = sorted(k for k, size in sizes.items() if size > 0)
    population = sum(sizes[k] for k in keys)
    if total > population:
        raise RuleViolation(f"Cannot draw {total} from {population} candidates.", {"rule": ["sample_size"]})
    if not keys:
        return {}
    alloc = {k: total * sizes[k] // population for k in keys}
    remainders = sorted(keys, key=lambda k: (-(total * sizes[k] % population), k))
    for k in remainders[: total - sum(alloc.values())]:
        alloc[k] += 1
    if minimum_one and total >= len(keys):
        for k in keys:
            if alloc[k] == 0:
                donor = min(keys, key=lambda d: (-alloc[d], d))
                alloc[donor] -= 1
                alloc[k] = 1
    return alloc


def stratum_text(key: tuple) -> str:
    """The stratum key as published: its parts joined by ``|``."""
    return STRATUM_SEPARATOR.join(key)


# --- the draw -----------------------------------------------------------------------------


def run_draw(
    seed: str,
    plan_id: int,
    candidates: Iterable[Candidate],
    inspectors: Iterable[InspectorInfo],
    labs: Iterable[LabInfo],
    rules: DrawRules,
    algorithm: str = ALGORITHM,
) -> DrawResult:
    """Freeze the eligible registry into a snapshot and draw from it."""
    return draw_from_snapshot(seed, plan_id, build_snapshot(candidates, inspectors, labs), rules, algorithm)


def draw_from_snapshot(
    seed: str, plan_id: int, snapshot: Mapping, rules: DrawRules, algorithm: str = ALGORITHM
) -> DrawResult:
    """The whole draw from a snapshot under ``algorithm``: the path the draw and its verification take."""
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"Unknown draw algorithm {algorithm!r}.", {"algorithm": [f"one of {ALGORITHMS}"]})
    strata = snapshot["strata"]
    if not any(row[2] for row in strata):
        raise RuleViolation("No eligible enterprise for this plan.", {"rule": ["eligible_enterprises"]})
    members = _stratum_members(strata, rules.grade_ratios is not None)
    allocation = _allocation(members, rules)
    selections, shortfalls = _select(seed, plan_id, members, allocation, rules)
    if algorithm == ALGORITHM_V1:
        load_cap = _assign_teams_under_load_cap(seed, plan_id, selections, snapshot, rules)
    else:
        load_cap = None
        _assign_teams_least_loaded(seed, plan_id, selections, snapshot, rules)
    digest, pieces = _sha256(), []
    for piece in canonical_pieces(snapshot):
        digest.update(piece)
        pieces.append(piece)
    snapshot_json = b"".join(pieces)
    del pieces
    return DrawResult(
        seed=seed,
        plan_id=plan_id,
        algorithm=algorithm,
        registry_hash=digest.hexdigest(),
        snapshot=snapshot if isinstance(snapshot, dict) else dict(snapshot),
        snapshot_json=snapshot_json,
        allocation={stratum_text(k): n for k, n in sorted(allocation.items())},
        selections=selections,
        shortfalls=shortfalls,
        load_cap=load_cap,
    )


def _signals_of(row) -> str:
    """The risk-signal digits of a snapshot stratum row (all ``0`` when it has none)."""
    if len(row) > 4:
        if len(row[4]) != len(row[2]) or not row[4].isdigit() or max(row[4]) > str(MAX_SIGNALS):
            raise InvalidInput(f"Stratum {row[0]}|{row[1]}: one signal digit 0-{MAX_SIGNALS} per credit code.")
        return row[4]
    return "0" * len(row[2])


def _stratum_members(strata: list, by_grade: bool) -> dict[tuple, tuple[list[str], str, str]]:
    """Stratum key -> (credit codes, grade letters, signal digits), the grade in the key if ``by_grade``."""
    if not by_grade:
        return {(row[0], row[1]): (row[2], row[3], _signals_of(row)) for row in strata}
    members: dict[tuple, tuple[list[str], str, str]] = {}
    for row in strata:
        region, category, codes, grades = row[:4]
        signals = _signals_of(row)
        for grade in sorted(set(grades)):
            picked = [i for i, g in enumerate(grades) if g == grade]
            members[(region, category, grade)] = (
                [codes[i] for i in picked], grade * len(picked), "".join(signals[i] for i in picked))
    return members


def candidate_weight(risk_weights: Mapping[str, float], grade: str, signals: int) -> float:
    """A candidate's weight under risk weighting: its grade's weight × ``1 + min(signals, 5) / 5``."""
    return risk_weights[grade] * (1 + min(signals, MAX_SIGNALS) / MAX_SIGNALS)


def _allocation(members: Mapping[tuple, tuple[list[str], str, str]], rules: DrawRules) -> dict[tuple, int]:
    sizes = {k: len(row[0]) for k, row in members.items()}
    if rules.grade_ratios is None:
        if rules.sample_size is None:
            total = round_half_up(rules.sampling_ratio, sum(sizes.values()))
            if total == 0:
                raise RuleViolation("The sampling ratio gives no sample.", {"rule": ["sampling_ratio"]})
        else:
            total = rules.sample_size
            _check_enough_enterprises(total, members)
        return allocate(total, sizes)
    allocation = {}
    for grade, ratio in sorted(rules.grade_ratios.items()):
        of_grade = {k: n for k, n in sizes.items() if k[2] == grade}
        allocation.update(allocate(round_half_up(ratio, sum(of_grade.values())), of_grade, minimum_one=False))
    if not any(allocation.values()):
        raise RuleViolation("The grade ratios give no sample.", {"rule": ["grade_ratios"]})
    return allocation


def _check_enough_enterprises(total: int, members: Mapping[tuple, tuple[list[str], str, str]]) -> None:
    """A sample size above the number of distinct eligible enterprises cannot be met."""
    if total <= max(len(row[0]) for row in members.values()):
        return  # the largest stratum alone has enough distinct enterprises
    enterprises = len(set(chain.from_iterable(row[0] for row in members.values())))
    if total > enterprises:
        raise RuleViolation(
            f"The plan asks for {total} samples but only {enterprises} enterprises are eligible.",
            {"rule": ["sample_size"]},
        )


def _select(seed, plan_id, members, allocation, rules) -> tuple[list[Selection], dict[str, int]]:
    """Lowest tickets per stratum, strata in key order, skipping enterprises already drawn."""
    weights = rules.risk_weights if rules.risk_weighting else None
    drawn: set[str] = set()
    chosen: list[Selection] = []
    shortfalls: dict[str, int] = {}
    for key in sorted(k for k, n in allocation.items() if n > 0):
        wanted = allocation[key]
        codes, grades, signals = members[key]
        tickets = unweighted_tickets(seed, plan_id, codes)
        if weights is not None:
            if signals.count("0") == len(signals):
                tickets = list(map(truediv, tickets, map(weights.__getitem__, grades)))
            else:
                tickets = [t / candidate_weight(weights, g, int(s)) for t, g, s in zip(tickets, grades, signals,
                                                                                      strict=True)]
        skip = sum(map(drawn.__contains__, codes)) if drawn else 0
        # ties on a ticket go to the lower index, i.e. the lower credit code
        best = heapq.nsmallest(wanted + skip, range(len(codes)), key=tickets.__getitem__)
        picked = [i for i in best if codes[i] not in drawn][:wanted]
        text = stratum_text(key)
        if len(picked) < wanted:
            shortfalls[text] = wanted - len(picked)
        for i in picked:
            drawn.add(codes[i])
            chosen.append(Selection(codes[i], key[0], key[1], grades[i], text, tickets[i]))
    chosen.sort(key=lambda s: (s.ticket, s.credit_code))
    return chosen, shortfalls


def _check_team_size(inspectors: list, team_size: int) -> None:
    if len(inspectors) < team_size:
        raise RuleViolation(
            f"Only {len(inspectors)} active inspectors for teams of {team_size}.", {"rule": ["team_size"]}
        )


def team_pick(base, k: int) -> int:
    """The hash of the ``k``-th team pick; ``base`` has hashed ``seed:plan_id:credit_code:``."""
    h = base.copy()
    h.update(b"team:%d" % k)
    return int.from_bytes(h.digest()[:8], "big")


def _assign_teams_least_loaded(seed, plan_id, selections: list[Selection], snapshot: Mapping,
                               rules: DrawRules) -> None:
    """Version 2: give each selection, in ticket order, a team (least loaded first) and a lab."""
    inspectors = sorted((code, region) for code, region in snapshot["inspectors"])
    team_size = rules.team_size
    _check_team_size(inspectors, team_size)
    load = dict.fromkeys((code for code, _ in inspectors), 0)
    levels: dict[int, list[str]] = {0: [code for code, _ in inspectors]}  # load -> codes, ascending
    of_region: dict[str, list[str]] = defaultdict(list)
    for code, region in inspectors:
        of_region[region].append(code)
    last_teams = {code: set(team) for code, team in snapshot["last_teams"]}
    labs = _LabPool(snapshot["labs"])
    for index, sel in enumerate(selections):
        base = _sha256(f"{seed}:{plan_id}:{sel.credit_code}:".encode())
        avoided = set(of_region.get(sel.region, ())) if rules.avoid_same_region else set()
        last = last_teams.get(sel.credit_code)
        if last:
            avoided |= last
        team = _least_loaded_team(base, levels, load, avoided, team_size)
        if len(team) < team_size:
            _team_failure(sel, inspectors, last or (), rules)
        for code in team:
            level = load[code]
            codes = levels[level]
            del codes[bisect_left(codes, code)]
            if not codes:
                del levels[level]
            load[code] = level + 1
            insort(levels.setdefault(level + 1, []), code)
        selections[index] = sel._replace(inspectors=tuple(team), lab=labs.choose(base, sel))


def _least_loaded_team(base, levels: dict[int, list[str]], load: dict[str, int], avoided: set[str],
                       team_size: int) -> list[str]:
    """Up to ``team_size`` picks: the k-th takes position ``team_pick(k) mod m`` among the m
    candidates still unpicked at the lowest load level that has any, listed by code."""
    team: list[str] = []
    for level in sorted(levels):
        codes = levels[level]
        skipped = sorted(bisect_left(codes, c) for c in avoided if load.get(c) == level)  # indexes not offered
        m = len(codes) - len(skipped)
        while m > 0:
            index = team_pick(base, len(team)) % m
            for s in skipped:  # the index-th code not skipped
                if s > index:
                    break
                index += 1
            team.append(codes[index])
            if len(team) == team_size:
                return team
            insort(skipped, index)
            m -= 1
    return team


def _assign_teams_under_load_cap(seed, plan_id, selections: list[Selection], snapshot: Mapping,
                                 rules: DrawRules) -> int:
    """Version 1: give each selection, in ticket order, a team (hash rank under a load cap) and a lab."""
    inspectors = [tuple(i) for i in snapshot["inspectors"]]
    team_size = rules.team_size
    _check_team_size(inspectors, team_size)
    load_cap = -(-team_size * len(selections) // len(inspectors))
    load = dict.fromkeys((code for code, _ in inspectors), 0)
    available = [(code.encode(), code, region) for code, region in inspectors]  # under the cap
    open_to: dict[str, list[tuple[bytes, str]]] = {}  # region -> available inspectors who may go there
    last_teams = {code: set(team) for code, team in snapshot["last_teams"]}
    labs = _LabPool(snapshot["labs"])
    for index, sel in enumerate(selections):
        base = _sha256(f"{seed}:{plan_id}:{sel.credit_code}:".encode())
        pool = open_to.get(sel.region)
        if pool is None:
            avoid = sel.region if rules.avoid_same_region else None
            pool = open_to[sel.region] = [(e, c) for e, c, r in available if r != avoid]
        last = last_teams.get(sel.credit_code)
        if last:
            pool = [entry for entry in pool if entry[1] not in last]
        if len(pool) < team_size:
            _team_failure(sel, inspectors, last or (), rules)
        team = _ranked(base, pool, team_size)
        for code in team:
            load[code] += 1
            if load[code] >= load_cap:
                available = [entry for entry in available if entry[1] != code]
                open_to.clear()
        selections[index] = sel._replace(inspectors=tuple(team), lab=labs.choose(base, sel))
    return load_cap


def _team_failure(sel: Selection, inspectors: list[tuple], last, rules: DrawRules):
    """Raise the 409 naming the first rule that leaves fewer than ``team_size`` inspectors."""
    size = rules.team_size
    allowed = [c for c, r in inspectors if not (rules.avoid_same_region and r == sel.region)]
    if len(allowed) < size:
        rule, why = "avoid_same_region", f"fewer than {size} active inspectors outside region {sel.region} (回避)"
    elif len([c for c in allowed if c not in last]) < size:
        rule, why = "avoid_last_team", f"fewer than {size} inspectors left after excluding its last team (回避)"
    else:  # version 1 only: version 2 has no cap
        rule, why = "load_cap", f"fewer than {size} eligible inspectors under the load cap"
    raise RuleViolation(
        f"No valid inspector team for enterprise {sel.credit_code} (stratum {sel.stratum}): {why}.",
        {"rule": [rule], "credit_code": [sel.credit_code], "stratum": [sel.stratum]},
    )


class _LabPool:
    """Labs by accredited category, with the capacity each has left in this plan."""

    def __init__(self, lab_rows):
        self.by_category: dict[str, list[str]] = defaultdict(list)
        self.left: dict[str, int | None] = {}
        for code, categories, capacity in lab_rows:
            self.left[code] = capacity
            for category in categories:
                self.by_category[category].append(code)

    def choose(self, base, sel: Selection) -> str:
        accredited = self.by_category.get(sel.category, [])
        open_labs = [c for c in accredited if self.left[c] is None or self.left[c] > 0]
        if not open_labs:
            rule, why = (
                ("lab_capacity", "every accredited lab is at capacity")
                if accredited else ("lab_accreditation", f"no lab is accredited for category {sel.category}")
            )
            raise RuleViolation(
                f"No lab for enterprise {sel.credit_code} (stratum {sel.stratum}): {why}.",
                {"rule": [rule], "credit_code": [sel.credit_code], "stratum": [sel.stratum]},
            )
        (lab,) = _ranked(base, [(c.encode(), c) for c in open_labs], 1)
        if self.left[lab] is not None:
            self.left[lab] -= 1
        return lab


# --- the published draw file and its verification ------------------------------------------


def make_export(
    *,
    plan: Mapping,
    rules: DrawRules,
    server_seed: str,
    public_entropy: str,
    seed: str,
    registry_hash_value: str,
    snapshot: Mapping,
    drawn_at: str,
    allocation: Mapping[str, int],
    selections: Iterable[Mapping],
    algorithm: str = ALGORITHM,
) -> dict:
    """The published draw file ``scripts/verify_draw.py`` reads; ``plan`` needs at least ``id``."""
    return {
        "format": EXPORT_FORMAT,
        "algorithm": algorithm,
        "plan_id": plan["id"],
        "plan": dict(plan),
        "rules": rules.to_dict(),
        "seed_commitment": commitment(server_seed),
        "server_seed": server_seed,
        "public_entropy": public_entropy,
        "seed": seed,
        "registry_hash": registry_hash_value,
        "drawn_at": drawn_at,
        "registry": snapshot,
        "allocation": dict(allocation),
        "selections": [dict(s) for s in selections],
    }


_COMPARED = ("credit_code", "stratum", "ticket", "inspectors", "lab")


def verify_draw(export: Mapping) -> list[str]:
    """Recompute a published draw; returns the mismatches (empty when everything matches)."""
    mismatches = []
    server_seed, entropy = export.get("server_seed") or "", export.get("public_entropy") or ""
    if commitment(server_seed) != export.get("seed_commitment"):
        mismatches.append("seed_commitment: sha256(server_seed) does not match the commitment")
    seed = effective_seed(server_seed, entropy)
    if seed != export.get("seed"):
        mismatches.append("seed: sha256(server_seed:public_entropy) does not match the seed")
    snapshot = export.get("registry") or {}
    if registry_hash(snapshot) != export.get("registry_hash"):
        mismatches.append("registry_hash: the registry snapshot does not match its hash")
    algorithm = export.get("algorithm")
    if algorithm not in ALGORITHMS:
        return mismatches + [f"algorithm: {algorithm!r} is not one of {ALGORITHMS}"]
    try:
        result = draw_from_snapshot(seed, export["plan_id"], snapshot, DrawRules.from_dict(export["rules"]),
                                    algorithm)
    except (KeyError, TypeError, ValueError, RuleViolation, InvalidInput) as exc:
        return mismatches + [f"draw: could not be recomputed ({exc})"]
    if result.allocation != export.get("allocation"):
        mismatches.append("allocation: the stratum allocation differs from the recomputed one")
    mismatches.extend(compare_selections(export.get("selections") or [], [s.to_dict() for s in result.selections]))
    return mismatches


def compare_selections(published: list[Mapping], recomputed: list[Mapping]) -> list[str]:
    """Differences between published and recomputed selections, one message per difference."""
    out = []
    if len(published) != len(recomputed):
        out.append(f"selections: {len(published)} published, {len(recomputed)} recomputed")
    for n, (pub, rec) in enumerate(zip(published, recomputed, strict=False), start=1):
        for name in _COMPARED:
            a, b = pub.get(name), rec[name]
            same = math.isclose(a, b, rel_tol=1e-12) if name == "ticket" and isinstance(a, float) else a == b
            if not same:
                out.append(f"selection {n} ({rec['credit_code']}): {name} is {a!r}, recomputed {b!r}")
    return out

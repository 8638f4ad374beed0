"""The pure 双随机 draw (sampling/draw.py) and the standalone verifier (scripts/verify_draw.py)."""

import copy
import hashlib
import json
import math
import subprocess
import sys
from collections import Counter
from itertools import chain
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, chisquare

from config import Config
from sampling import draw
from sampling.draw import Candidate, InspectorInfo, LabInfo
from sampling.errors import InvalidInput, RuleViolation
from scripts import verify_draw as standalone

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_draw.py"
REGIONS = ("虎门镇", "长安镇", "大朗镇", "松山湖")
CATEGORIES = ("DX-01", "FZ-01", "WJ-01")


def DrawRules(**rules):  # noqa: N802 - stands in for the class in these tests
    """Draw rules with what these tests assume unless told: teams of two, regional avoidance, the
    configured risk weights."""
    return draw.DrawRules(**{"team_size": 2, "avoid_same_region": True, "risk_weights": Config.RISK_WEIGHTS, **rules})


def code(n: int) -> str:
    return f"9144190{n:010d}X"[:18]


def seed_of(n: int) -> str:
    return draw.effective_seed(hashlib.sha256(str(n).encode()).hexdigest(), "")


def many_inspectors(n=24, regions=REGIONS):
    return [InspectorInfo(f"I{i:03d}", regions[i % len(regions)]) for i in range(n)]


def all_labs():
    return [LabInfo("L1", CATEGORIES), LabInfo("L2", CATEGORIES[:2]), LabInfo("L3", CATEGORIES[1:], 50)]


def export_of(result, server_seed, entropy, rules, plan_id):
    return draw.make_export(
        plan={"id": plan_id}, rules=rules, server_seed=server_seed, public_entropy=entropy, seed=result.seed,
        registry_hash_value=result.registry_hash, snapshot=result.snapshot, drawn_at="2026-11-01T00:00:00+00:00",
        allocation=result.allocation, selections=[s.to_dict() for s in result.selections],
        algorithm=result.algorithm,
    )


# --- seed, tickets, ranks -------------------------------------------------------------------


def test_commitment_and_effective_seed_are_sha256_of_the_text():
    server_seed = draw.new_server_seed()
    assert len(server_seed) == 64 and int(server_seed, 16) >= 0
    assert draw.commitment(server_seed) == hashlib.sha256(server_seed.encode()).hexdigest()
    assert draw.effective_seed(server_seed, "双色球 03 11") == hashlib.sha256(
        f"{server_seed}:双色球 03 11".encode()).hexdigest()
    assert draw.effective_seed(server_seed) == hashlib.sha256(f"{server_seed}:".encode()).hexdigest()
    assert draw.new_server_seed() != server_seed


def test_ticket_follows_the_published_formula():
    seed = seed_of(1)
    digest = hashlib.sha256(f"{seed}:7:{code(5)}".encode()).hexdigest()
    u = (int(digest[:16], 16) + 0.5) / 2**64
    assert draw.ticket(seed, 7, code(5)) == -math.log(u)
    assert draw.ticket(seed, 7, code(5), 4.0) == -math.log(u) / 4.0
    assert draw.unweighted_tickets(seed, 7, [code(5), code(6)]) == [
        draw.ticket(seed, 7, code(5)), draw.ticket(seed, 7, code(6))]
    assert draw.rank_key(seed, 7, code(5), "L1") == hashlib.sha256(f"{seed}:7:{code(5)}:L1".encode()).hexdigest()


# --- allocation ------------------------------------------------------------------------------


def test_allocation_largest_remainder_then_minimum_one():
    sizes = {("a", "x"): 90, ("b", "x"): 7, ("c", "x"): 3}
    # quotas 9, 0.7, 0.3: floors 9/0/0, the remainder 1 goes to b; then c gets one from a
    assert draw.allocate(10, sizes) == {("a", "x"): 8, ("b", "x"): 1, ("c", "x"): 1}
    assert draw.allocate(10, sizes, minimum_one=False) == {("a", "x"): 9, ("b", "x"): 1, ("c", "x"): 0}
    # total below the number of strata: the minimum-one rule does not apply
    assert draw.allocate(2, sizes) == {("a", "x"): 2, ("b", "x"): 0, ("c", "x"): 0}


def test_allocation_ties_go_to_the_lower_stratum_key():
    assert draw.allocate(1, {("b",): 5, ("a",): 5}) == {("a",): 1, ("b",): 0}
    # donor tie (two largest of 2): the lower key gives
    assert draw.allocate(4, {("a",): 40, ("b",): 40, ("c",): 1, ("d",): 0}) == {("a",): 1, ("b",): 2, ("c",): 1}


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=40),
    fraction=st.floats(min_value=0, max_value=1),
)
def test_allocation_sums_to_the_total_respects_sizes_and_minimum_one(sizes, fraction):
    strata = {(f"r{i:02d}", "c"): s for i, s in enumerate(sizes)}
    population = sum(sizes)
    total = int(population * fraction)
    alloc = draw.allocate(total, strata)
    assert sum(alloc.values()) == total
    assert all(0 <= alloc[k] <= strata[k] for k in alloc)
    nonempty = [k for k, s in strata.items() if s > 0]
    assert set(alloc) == set(nonempty)
    if total >= len(nonempty):
        assert all(alloc[k] >= 1 for k in nonempty)
    # without the minimum-one rule every stratum is within one of its exact quota
    for k, n in draw.allocate(total, strata, minimum_one=False).items():
        assert abs(n - total * strata[k] / population) < 1


def test_round_half_up_uses_the_decimal_ratio():
    assert draw.round_half_up(0.05, 30) == 2  # 1.5 rounds up, although 0.05 * 30 is 1.5000000000000002
    assert draw.round_half_up(0.03, 50) == 2  # 1.5
    assert draw.round_half_up(0.1, 14) == 1
    assert draw.round_half_up(1, 7) == 7


def test_grade_ratios_draw_each_grade_by_its_ratio_without_minimum_one():
    cands = [Candidate(code(i), "虎门镇", ("FZ-01",), "ABCD"[i % 4]) for i in range(400)]
    result = draw.run_draw(seed_of(3), 1, cands, many_inspectors(), all_labs(),
                           DrawRules(grade_ratios={"A": 0.03, "B": 0.1, "C": 0.3, "D": 1.0}, avoid_same_region=False))
    per_grade = Counter(s.grade for s in result.selections)
    assert per_grade == {"A": 3, "B": 10, "C": 30, "D": 100}
    assert result.allocation == {"虎门镇|FZ-01|A": 3, "虎门镇|FZ-01|B": 10, "虎门镇|FZ-01|C": 30, "虎门镇|FZ-01|D": 100}
    assert all(s.stratum.endswith("|" + s.grade) for s in result.selections)


# --- selection: fair and weighted -----------------------------------------------------------


def test_selection_frequency_within_a_stratum_is_uniform():
    cands = [Candidate(code(i), "虎门镇", ("FZ-01",)) for i in range(10)]
    snapshot = draw.build_snapshot(cands, many_inspectors(), all_labs())
    rules = DrawRules(sample_size=3, avoid_same_region=False)
    counts = Counter()
    runs = 2000
    for n in range(runs):
        counts.update(s.credit_code for s in draw.draw_from_snapshot(seed_of(n), 1, snapshot, rules).selections)
    observed = [counts[c.credit_code] for c in cands]
    assert sum(observed) == 3 * runs
    assert chisquare(observed).pvalue > 0.001


def test_weighted_draws_favour_heavier_weights_as_efraimidis_spirakis_predicts():
    # two items, one drawn: P(heavier first) = w1 / (w1 + w2) = 4 / 4.5 for grades D and A
    pair = [Candidate(code(1), "虎门镇", ("FZ-01",), "D"), Candidate(code(2), "虎门镇", ("FZ-01",), "A")]
    snapshot = draw.build_snapshot(pair, many_inspectors(), all_labs())
    rules = DrawRules(sample_size=1, risk_weighting=True)
    runs = 3000
    heavy = sum(
        draw.draw_from_snapshot(seed_of(n), 2, snapshot, rules).selections[0].credit_code == code(1)
        for n in range(runs)
    )
    assert binomtest(heavy, runs, 4 / 4.5).pvalue > 0.001
    assert heavy / runs > 0.8  # and far from the unweighted half

    # three items, weights 0.5, 1, 2: the first pick follows w / sum(w)
    trio = [Candidate(code(i), "虎门镇", ("FZ-01",), g) for i, g in enumerate("ABC")]
    snapshot = draw.build_snapshot(trio, many_inspectors(), all_labs())
    firsts = Counter(draw.draw_from_snapshot(seed_of(n), 2, snapshot, rules).selections[0].grade for n in range(runs))
    expected = [runs * w / 3.5 for w in (0.5, 1, 2)]
    assert chisquare([firsts[g] for g in "ABC"], expected).pvalue > 0.001


def test_without_risk_weighting_grades_do_not_change_tickets():
    cands = [Candidate(code(i), "虎门镇", ("FZ-01",), "ABCD"[i % 4]) for i in range(40)]
    result = draw.run_draw(seed_of(1), 3, cands, many_inspectors(), all_labs(), DrawRules(sample_size=5))
    for s in result.selections:
        assert s.ticket == draw.ticket(seed_of(1), 3, s.credit_code)


def test_a_multi_category_enterprise_is_drawn_once_and_the_next_ticket_takes_its_place():
    both = [Candidate(code(i), "虎门镇", ("DX-01", "FZ-01")) for i in range(6)]
    result = draw.run_draw(seed_of(4), 1, both, many_inspectors(), all_labs(), DrawRules(sample_size=4))
    drawn = [s.credit_code for s in result.selections]
    assert len(drawn) == len(set(drawn)) == 4
    assert result.allocation == {"虎门镇|DX-01": 2, "虎门镇|FZ-01": 2}
    by_ticket = sorted(both, key=lambda c: draw.ticket(seed_of(4), 1, c.credit_code))
    first_two = {c.credit_code for c in by_ticket[:2]}
    assert {s.credit_code for s in result.selections if s.category == "DX-01"} == first_two
    assert {s.credit_code for s in result.selections if s.category == "FZ-01"} == {
        c.credit_code for c in by_ticket[2:4]}


def test_a_stratum_emptied_by_earlier_strata_falls_short():
    cands = [Candidate(code(i), "虎门镇", ("DX-01", "FZ-01")) for i in range(2)]
    result = draw.run_draw(seed_of(1), 1, cands, many_inspectors(), all_labs(), DrawRules(sampling_ratio=1))
    assert len(result.selections) == 2
    assert result.shortfalls == {"虎门镇|FZ-01": 2}


# --- teams and labs --------------------------------------------------------------------------

registries = st.builds(
    lambda n_cands, n_insp, picks, grades, seed_n, size_frac, team_size: (
        [
            Candidate(code(i), REGIONS[picks[i % len(picks)] % len(REGIONS)],
                      tuple(sorted({CATEGORIES[picks[i % len(picks)] % 3], CATEGORIES[(i + seed_n) % 3]})),
                      grades[i % len(grades)],
                      (f"I{(i * 7) % n_insp:03d}",) if i % 5 == 0 else ())
            for i in range(n_cands)
        ],
        many_inspectors(n_insp),
        seed_of(seed_n),
        max(1, int(n_cands * size_frac)),
        team_size,
    ),
    n_cands=st.integers(min_value=1, max_value=60),
    n_insp=st.integers(min_value=12, max_value=40),
    picks=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8),
    grades=st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4),
    seed_n=st.integers(min_value=0, max_value=10**6),
    size_frac=st.floats(min_value=0.01, max_value=0.5),
    team_size=st.integers(min_value=2, max_value=3),
)


def try_draw(seed, cands, inspectors, labs, rules, plan_id=9, algorithm=draw.ALGORITHM):
    try:
        return draw.run_draw(seed, plan_id, cands, inspectors, labs, rules, algorithm)
    except RuleViolation as exc:
        event(f"rule violation: {exc.errors['rule'][0]}")
        allowed = {"avoid_same_region", "avoid_last_team", "lab_capacity"}
        if algorithm == draw.ALGORITHM_V1:
            allowed.add("load_cap")
        assert exc.errors["rule"][0] in allowed
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registry=registries, weighting=st.booleans(), avoid=st.booleans())
def test_version_1_teams_keep_the_avoidance_rules_and_the_load_cap(registry, weighting, avoid):
    cands, inspectors, seed, size, team_size = registry
    rules = DrawRules(sample_size=size, risk_weighting=weighting, team_size=team_size, avoid_same_region=avoid)
    result = try_draw(seed, cands, inspectors, all_labs(), rules, algorithm=draw.ALGORITHM_V1)
    if result is None:
        return
    region_of = {i.code: i.region for i in inspectors}
    last_team = {c.credit_code: set(c.last_team) for c in cands}
    cap = math.ceil(team_size * len(result.selections) / len(inspectors))
    assert result.load_cap == cap
    load = Counter()
    for s in result.selections:
        assert len(s.inspectors) == len(set(s.inspectors)) == team_size
        assert not set(s.inspectors) & last_team[s.credit_code]
        if avoid:
            assert all(region_of[i] != s.region for i in s.inspectors)
        lab = next(lab for lab in all_labs() if lab.code == s.lab)
        assert s.category in lab.categories
        load.update(s.inspectors)
    assert max(load.values()) <= cap
    assert sum(1 for s in result.selections if s.lab == "L3") <= 50
    drawn = [s.credit_code for s in result.selections]
    assert len(drawn) == len(set(drawn))
    assert [s.ticket for s in result.selections] == sorted(s.ticket for s in result.selections)


def teams_as_design_md_states_them(seed, plan_id, selections, snapshot, rules):
    """Version 2's teams restated plainly from DESIGN.md, one list comprehension per pick."""
    load = {code: 0 for code, _ in snapshot["inspectors"]}
    last_teams = {code: set(team) for code, team in snapshot["last_teams"]}
    teams = []
    for sel in selections:
        candidates = [code for code, region in snapshot["inspectors"]
                      if not (rules.avoid_same_region and region == sel.region)
                      and code not in last_teams.get(sel.credit_code, ())]
        team = []
        while len(team) < rules.team_size and len(team) < len(candidates):
            unpicked = [c for c in candidates if c not in team]
            lowest = min(load[c] for c in unpicked)
            level = sorted(c for c in unpicked if load[c] == lowest)
            digest = hashlib.sha256(f"{seed}:{plan_id}:{sel.credit_code}:team:{len(team)}".encode()).hexdigest()
            team.append(level[int(digest[:16], 16) % len(level)])
        for code in team:
            load[code] += 1
        teams.append(tuple(team))
    return teams


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registry=registries, weighting=st.booleans(), avoid=st.booleans())
def test_version_2_teams_are_least_loaded_first_as_design_md_states(registry, weighting, avoid):
    cands, inspectors, seed, size, team_size = registry
    rules = DrawRules(sample_size=size, risk_weighting=weighting, team_size=team_size, avoid_same_region=avoid)
    result = try_draw(seed, cands, inspectors, all_labs(), rules)
    region_of = {i.code: i.region for i in inspectors}
    last_team = {c.credit_code: set(c.last_team) for c in cands}
    if result is None:  # only when some drawn enterprise truly has fewer than team_size candidates
        snapshot = draw.build_snapshot(cands, inspectors, all_labs())
        with pytest.raises(RuleViolation) as exc:
            draw.draw_from_snapshot(seed, 9, snapshot, rules)
        if exc.value.errors["rule"][0] != "lab_capacity":
            code = exc.value.errors["credit_code"][0]
            region = next(c.region for c in cands if c.credit_code == code)
            allowed = [i for i in inspectors if not (avoid and i.region == region) and i.code not in last_team[code]]
            assert len(allowed) < team_size
        return
    assert result.algorithm == draw.ALGORITHM_V2 and result.load_cap is None
    load = Counter()
    for s in result.selections:
        assert len(s.inspectors) == len(set(s.inspectors)) == team_size
        assert not set(s.inspectors) & last_team[s.credit_code]
        if avoid:
            assert all(region_of[i] != s.region for i in s.inspectors)
        load.update(s.inspectors)
    assert [s.inspectors for s in result.selections] == teams_as_design_md_states_them(
        seed, 9, result.selections, result.snapshot, rules)
    if not avoid and not any(c.last_team for c in cands):
        loads = [load[i.code] for i in inspectors]
        assert max(loads) - min(loads) <= 1


def town_registry(size=3000, inspectors=100, regions=30):
    """``size`` enterprises over ``regions`` towns, ``inspectors`` inspectors spread over the same towns."""
    towns = [f"镇{n:02d}" for n in range(regions)]
    cands = [Candidate(code(i), towns[i % regions], (CATEGORIES[i % 3],), "ABCD"[i % 4]) for i in range(size)]
    pool = [InspectorInfo(f"I{i:03d}", towns[i % regions]) for i in range(inspectors)]
    return cands, pool, [LabInfo("L1", CATEGORIES)]


def test_300_drawn_from_100_inspectors_succeed_for_40_of_40_seeds():
    cands, pool, labs = town_registry()
    rules = DrawRules(sample_size=300, risk_weighting=True)
    free = DrawRules(sample_size=300, risk_weighting=True, avoid_same_region=False)
    snapshot = draw.build_snapshot(cands, pool, labs)
    failures_v1 = 0
    for n in range(40):
        result = draw.draw_from_snapshot(seed_of(n), 5, snapshot, rules)  # version 2: never raises here
        assert len(result.selections) == 300
        region_of = {i.code: i.region for i in pool}
        assert all(len(s.inspectors) == 2 and region_of[s.inspectors[0]] != s.region != region_of[s.inspectors[1]]
                   for s in result.selections)
        without = draw.draw_from_snapshot(seed_of(n), 5, snapshot, free)
        loads = Counter(chain.from_iterable(s.inspectors for s in without.selections))
        assert sorted(set(loads[i.code] for i in pool)) == [6]  # 600 places over 100 inspectors
        try:
            draw.draw_from_snapshot(seed_of(n), 5, snapshot, rules, draw.ALGORITHM_V1)
        except RuleViolation as exc:
            assert exc.errors["rule"] == ["load_cap"]
            failures_v1 += 1
    assert failures_v1 > 0  # the registry is one on which the load cap dead-ends


def test_without_avoidance_loads_differ_by_at_most_one():
    cands, pool, labs = town_registry(size=500, inspectors=37)
    for size, team_size in ((101, 2), (250, 3), (7, 2)):
        rules = DrawRules(sample_size=size, team_size=team_size, avoid_same_region=False)
        result = draw.run_draw(seed_of(size), 3, cands, pool, labs, rules)
        loads = Counter(chain.from_iterable(s.inspectors for s in result.selections))
        assert sum(loads.values()) == size * team_size
        assert max(loads.values()) - min(loads[i.code] for i in pool) <= 1


def test_risk_signals_are_in_the_snapshot_and_scale_the_weight():
    cands = [Candidate(code(1), "虎门镇", ("FZ-01",), "D", (), 9), Candidate(code(2), "虎门镇", ("FZ-01",), "B", (), 2),
             Candidate(code(3), "虎门镇", ("FZ-01",), "A")]
    snapshot = draw.build_snapshot(cands, many_inspectors(), all_labs())
    assert snapshot["strata"] == [["虎门镇", "FZ-01", [code(1), code(2), code(3)], "DBA", "520"]]
    rules = DrawRules(sample_size=3, risk_weighting=True)
    result = draw.draw_from_snapshot(seed_of(2), 4, snapshot, rules)
    weight = {code(1): 4.0 * 2, code(2): 1.0 * 1.4, code(3): 0.5}
    for s in result.selections:
        assert s.ticket == draw.ticket(seed_of(2), 4, s.credit_code, weight[s.credit_code])
    assert draw.candidate_weight(rules.risk_weights, "C", 5) == 4.0
    # without signals the snapshot keeps its four-element rows (version-1 hashes unchanged)
    plain = draw.build_snapshot([c._replace(signals=0) for c in cands], many_inspectors(), all_labs())
    assert all(len(row) == 4 for row in plain["strata"])


def test_doubled_weights_are_drawn_about_twice_as_often():
    # 200 enterprises of one grade, the first 100 with five or more risk signals (weight × 2)
    cands = [Candidate(code(i), "虎门镇", ("FZ-01",), "B", (), 5 + i % 3 if i < 100 else 0) for i in range(200)]
    snapshot = draw.build_snapshot(cands, many_inspectors(), all_labs())
    rules = DrawRules(sample_size=4, risk_weighting=True, avoid_same_region=False)
    heavy = light = 0
    for n in range(1500):
        for s in draw.draw_from_snapshot(seed_of(n), 8, snapshot, rules).selections:
            if int(s.credit_code[7:17]) < 100:
                heavy += 1
            else:
                light += 1
    assert heavy + light == 6000
    assert 1.8 < heavy / light < 2.2, heavy / light  # weight ratio 2, sampling only 2% of each group
    # the first pick of a pair follows w / (w1 + w2) = 2 / 3 exactly
    pair = draw.build_snapshot([cands[0], cands[150]], many_inspectors(), all_labs())
    first = sum(draw.draw_from_snapshot(seed_of(n), 8, pair, DrawRules(sample_size=1, risk_weighting=True,
                                                                         avoid_same_region=False)
                                        ).selections[0].credit_code == code(0) for n in range(3000))
    assert binomtest(first, 3000, 2 / 3).pvalue > 0.001


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registry=registries, order=st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_draw(registry, order):
    cands, inspectors, seed, size, team_size = registry
    rules = DrawRules(sample_size=size, team_size=team_size)
    first = try_draw(seed, cands, inspectors, all_labs(), rules)
    shuffled, insp, labs = list(cands), list(inspectors), all_labs()
    order.shuffle(shuffled)
    order.shuffle(insp)
    order.shuffle(labs)
    shuffled = [c._replace(categories=tuple(reversed(c.categories))) for c in shuffled]
    second = try_draw(seed, shuffled, insp, labs, rules)
    if first is None:
        assert second is None
        return
    assert second.selections == first.selections
    assert second.registry_hash == first.registry_hash
    assert second.allocation == first.allocation


# --- rules that cannot be met: 409 naming the rule --------------------------------------------


def test_no_eligible_enterprise_is_a_rule_violation():
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, [], many_inspectors(), all_labs(), DrawRules(sample_size=1))
    assert exc.value.status == 409 and exc.value.errors["rule"] == ["eligible_enterprises"]


def test_sample_size_above_the_eligible_enterprises_is_a_rule_violation():
    cands = [Candidate(code(i), REGIONS[i % 2], ("FZ-01", "WJ-01")) for i in range(3)]
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, cands, many_inspectors(), all_labs(), DrawRules(sample_size=4))
    assert exc.value.errors["rule"] == ["sample_size"]


def test_too_few_inspectors_outside_the_region_names_the_rule_and_enterprise():
    cands = [Candidate(code(1), "虎门镇", ("FZ-01",))]
    inspectors = [InspectorInfo("I1", "虎门镇"), InspectorInfo("I2", "虎门镇"), InspectorInfo("I3", "长安镇")]
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, cands, inspectors, all_labs(), DrawRules(sample_size=1))
    assert exc.value.errors["rule"] == ["avoid_same_region"]
    assert exc.value.errors["credit_code"] == [code(1)]
    assert code(1) in exc.value.message
    # the same registry draws when the plan does not ask for regional avoidance
    rules = DrawRules(sample_size=1, avoid_same_region=False)
    result = draw.run_draw(seed_of(1), 1, cands, inspectors, all_labs(), rules)
    assert len(result.selections[0].inspectors) == 2


def test_last_team_avoidance_and_inactive_inspectors():
    cands = [Candidate(code(1), "虎门镇", ("FZ-01",), "B", ("I1",))]
    inspectors = [InspectorInfo("I1", "长安镇"), InspectorInfo("I2", "长安镇"), InspectorInfo("I3", "长安镇", False)]
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, cands, inspectors, all_labs(), DrawRules(sample_size=1))
    assert exc.value.errors["rule"] == ["avoid_last_team"]


def test_no_accredited_lab_and_no_capacity_name_the_rule():
    cands = [Candidate(code(i), "虎门镇", ("DX-01",)) for i in range(3)]
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, cands, many_inspectors(), [LabInfo("L2", ("FZ-01",))], DrawRules(sample_size=1))
    assert exc.value.errors["rule"] == ["lab_accreditation"]
    assert exc.value.errors["stratum"] == ["虎门镇|DX-01"]
    with pytest.raises(RuleViolation) as exc:
        draw.run_draw(seed_of(1), 1, cands, many_inspectors(), [LabInfo("L9", ("DX-01",), 2)], DrawRules(sample_size=3))
    assert exc.value.errors["rule"] == ["lab_capacity"]


def test_rules_need_exactly_one_size_and_teams_of_two():
    with pytest.raises(InvalidInput):
        DrawRules()
    with pytest.raises(InvalidInput):
        DrawRules(sample_size=3, sampling_ratio=0.1)
    with pytest.raises(InvalidInput):
        DrawRules(sample_size=3, team_size=1)
    with pytest.raises(InvalidInput):
        DrawRules(grade_ratios={"E": 0.5})
    rules = DrawRules(grade_ratios={"D": 1.0, "A": 0.03}, risk_weighting=True)
    assert draw.DrawRules.from_dict(json.loads(json.dumps(rules.to_dict()))) == rules
    with pytest.raises(InvalidInput):  # risk weighting needs the configured weights
        draw.DrawRules(sample_size=3, risk_weighting=True, team_size=2, avoid_same_region=True)
    with pytest.raises(TypeError):  # the team size and the avoidance rule come from the plan, no default here
        draw.DrawRules(sample_size=3)


def test_only_a_check_of_the_same_or_a_higher_level_excludes():
    assert draw.excluding_levels("national") == ("national",)
    assert draw.excluding_levels("provincial") == ("national", "provincial")
    assert draw.excluding_levels("municipal") == ("national", "provincial", "municipal")


def test_a_category_sampled_within_the_exclusion_window_is_barred():
    from datetime import date, timedelta

    as_of = date(2026, 11, 1)
    assert draw.within_exclusion_window(date(2026, 9, 1), as_of, 180)
    assert not draw.within_exclusion_window(date(2026, 1, 1), as_of, 180)
    assert draw.within_exclusion_window(date(2026, 1, 1), as_of, 365)
    assert draw.within_exclusion_window(as_of - timedelta(days=179), as_of, 180)
    assert not draw.within_exclusion_window(as_of - timedelta(days=180), as_of, 180)  # the window has passed
    assert not draw.within_exclusion_window(None, as_of, 180)  # never sampled


# --- verification: in-process and the standalone script ---------------------------------------


def sample_export(rules=None, entropy="双色球 2026130 03 07 11 19 22 31 + 09", algorithm=draw.ALGORITHM):
    cands = [
        Candidate(code(i), REGIONS[i % 3], CATEGORIES[i % 3:i % 3 + 1 + (i % 7 == 0)], "ABCD"[i % 4],
                  ("I001", "I002") if i % 9 == 0 else (), i % 8)
        for i in range(120)
    ]
    server_seed = hashlib.sha256(b"fixed").hexdigest()
    rules = rules or DrawRules(sampling_ratio=0.1, risk_weighting=True)
    result = draw.run_draw(draw.effective_seed(server_seed, entropy), 42, cands, many_inspectors(30), all_labs(), rules,
                           algorithm)
    return export_of(result, server_seed, entropy, rules, 42)


def run_script(tmp_path, export):
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    # -I: isolated, so the script cannot reach the project's packages
    return subprocess.run([sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True, text=True, cwd=tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(registry=registries, mode=st.sampled_from(["size", "ratio", "grades"]), weighting=st.booleans(),
       version=st.sampled_from(draw.ALGORITHMS), signals=st.lists(st.integers(0, 9), min_size=1, max_size=7))
def test_the_standalone_verifier_recomputes_exactly_what_the_draw_made(registry, mode, weighting, version, signals):
    cands, inspectors, seed, size, team_size = registry
    if weighting:
        cands = [c._replace(signals=signals[i % len(signals)]) for i, c in enumerate(cands)]
    rules = {
        "size": DrawRules(sample_size=size, risk_weighting=weighting, team_size=team_size),
        "ratio": DrawRules(sampling_ratio=0.2, risk_weighting=weighting, team_size=team_size),
        "grades": DrawRules(grade_ratios={"A": 0.1, "C": 0.5, "D": 1.0}, team_size=team_size),
    }[mode]
    try:
        result = draw.run_draw(seed, 11, cands, inspectors, all_labs(), rules, version)
    except RuleViolation:
        return
    export = json.loads(json.dumps(export_of(result, "s" * 64, "", rules, 11)))
    assert export["algorithm"] == version
    export["seed"] = seed  # the server seed is irrelevant to the recomputation compared here
    allocation, selections = standalone.recompute(export)
    assert allocation == result.allocation
    assert [{k: s[k] for k in ("credit_code", "stratum", "ticket", "inspectors", "lab")} for s in selections] == [
        s.to_dict() for s in result.selections]


@pytest.mark.parametrize("version", draw.ALGORITHMS)
def test_verify_accepts_an_untouched_export(tmp_path, version):
    export = sample_export(algorithm=version)
    assert export["algorithm"] == version and len(export["registry"]["strata"][0]) == 5
    assert draw.verify_draw(export) == []
    done = run_script(tmp_path, export)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout
    for checked in ("commitment", "seed = sha256", "registry_hash", "allocation", "selections"):
        assert checked in done.stdout


def all_d(stratum):
    return "D" * len(stratum[3])


def all_5(stratum):
    return "5" * len(stratum[2])


def tampered_exports(algorithm=draw.ALGORITHM):
    base = sample_export(algorithm=algorithm)

    def edit(fn):
        export = copy.deepcopy(base)
        fn(export)
        return export

    other = next(c for s in base["registry"]["strata"] for c in s[2]
                 if c not in {x["credit_code"] for x in base["selections"]})
    return {
        "selection swapped": edit(lambda e: e["selections"][0].update(credit_code=other)),
        "team changed": edit(lambda e: e["selections"][1].update(inspectors=["I003", "I004"])),
        "lab changed": edit(lambda e: e["selections"][2].update(lab="L9")),
        "ticket changed": edit(lambda e: e["selections"][3].update(ticket=e["selections"][3]["ticket"] * 1.01)),
        "selection removed": edit(lambda e: e["selections"].pop()),
        "seed edited": edit(lambda e: e.update(seed=hashlib.sha256(b"chosen").hexdigest())),
        "server seed edited": edit(lambda e: e.update(server_seed="0" * 64)),
        "entropy edited": edit(lambda e: e.update(public_entropy="other")),
        "registry edited": edit(lambda e: e["registry"]["strata"][0][2].pop()),
        "grades edited": edit(lambda e: e["registry"]["strata"][0].__setitem__(3, all_d(e["registry"]["strata"][0]))),
        "signals edited": edit(lambda e: e["registry"]["strata"][0].__setitem__(4, all_5(e["registry"]["strata"][0]))),
        "version relabelled": edit(lambda e: e.update(algorithm=next(a for a in draw.ALGORITHMS if a != algorithm))),
    }


@pytest.mark.parametrize("version", draw.ALGORITHMS)
@pytest.mark.parametrize("name", list(tampered_exports()))
def test_verify_fails_when_the_export_is_edited(tmp_path, name, version):
    export = tampered_exports(version)[name]
    assert draw.verify_draw(export)
    done = run_script(tmp_path, export)
    assert done.returncode == 1, done.stdout
    assert "MISMATCH" in done.stdout and "FAILED" in done.stdout


def test_the_script_rejects_an_unreadable_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(SCRIPT), str(tmp_path / "bad.json")],
                          capture_output=True, text=True)
    assert done.returncode == 2


def test_the_script_uses_only_the_standard_library():
    source = SCRIPT.read_text(encoding="utf-8")
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names)


@settings(max_examples=60, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20))
def test_canonical_json_in_pieces_is_exactly_the_one_shot_text(value):
    """The registry hash is taken over the pieces: their concatenation must be the canonical text
    that anyone recomputes with one ``json.dumps`` (sorted keys, no spaces, UTF-8, not escaped)."""
    one_shot = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    assert b"".join(draw.canonical_pieces(value)) == one_shot
    assert draw.canonical_json(value) == one_shot


def test_a_town_snapshot_hashes_as_its_one_shot_canonical_text():
    cands, pool, labs = town_registry(size=500, inspectors=37)
    snapshot = draw.build_snapshot(cands, pool, labs)
    text = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    assert draw.registry_hash(snapshot) == hashlib.sha256(text).hexdigest()
    rules = draw.DrawRules(sample_size=20, team_size=2, avoid_same_region=True)
    result = draw.run_draw("a" * 64, 1, cands, pool, labs, rules)
    assert result.registry_hash == hashlib.sha256(text).hexdigest() and result.snapshot_json == text

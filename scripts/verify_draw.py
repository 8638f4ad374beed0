#!/usr/bin/env python3
"""Check a published 双随机 draw file with nothing but the Python standard library.

Usage: python3 verify_draw.py DRAW.json

It recomputes, from the file alone: the commitment from the revealed server seed, the
effective seed from the server seed and the public entropy, the registry hash from the
registry snapshot, and then the whole draw (allocation, every selection, ticket, inspector
team and lab). It prints each check and exits 0 when all hold, 1 on any mismatch, 2 when
the file cannot be read. The rules restated here are those of DESIGN.md "The 双随机 draw";
this script deliberately does not import the service's code.

Both versions of the draw are checked, by the file's "algorithm": version 2
(sha256-exp-tickets/2) staffs teams least loaded first; version 1 (sha256-exp-tickets/1)
ranked inspectors by hash under a load cap.
"""

import hashlib
import json
import math
import sys
from fractions import Fraction

ALGORITHM_V1 = "sha256-exp-tickets/1"
ALGORITHM_V2 = "sha256-exp-tickets/2"
GRADES = "ABCD"
MAX_SIGNALS = 5


def sha256_hex(text):
    """Every hash of the draw: sha256 over the UTF-8 text, as lowercase hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ticket(seed, plan_id, credit_code, weight):
    """u = (first 8 bytes of sha256(seed:plan_id:credit_code), big-endian, + 0.5) / 2**64; -ln(u)/weight."""
    first8 = int(sha256_hex(f"{seed}:{plan_id}:{credit_code}")[:16], 16)
    return -math.log((first8 + 0.5) / 2**64) / weight


def rank(seed, plan_id, credit_code, code):
    """Rank of an inspector or lab for an enterprise; the lowest is chosen first."""
    return sha256_hex(f"{seed}:{plan_id}:{credit_code}:{code}")


def registry_hash(registry):
    """sha256 of the snapshot as canonical JSON: sorted keys, no spaces, UTF-8, no \\u escapes."""
    text = json.dumps(registry, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return sha256_hex(text)


def round_half_up(ratio, size):
    """round(ratio × size), halves up, on the ratio's exact decimal value."""
    exact = Fraction(str(ratio)) * size
    return (2 * exact.numerator + exact.denominator) // (2 * exact.denominator)


def allocate(total, sizes, minimum_one):
    """Largest remainder (ties: ascending key), then the minimum-one rule if the total allows."""
    keys = sorted(k for k in sizes if sizes[k] > 0)
    population = sum(sizes[k] for k in keys)
    if total > population:
        raise ValueError(f"cannot draw {total} from {population} candidates")
    alloc = {k: total * sizes[k] // population for k in keys}
    left = total - sum(alloc.values())
    by_remainder = sorted(keys, key=lambda k: (-(total * sizes[k] % population), k))
    for k in by_remainder[:left]:
        alloc[k] += 1
    if minimum_one and total >= len(keys):
        for k in keys:
            if alloc[k] == 0:
                donor = sorted(keys, key=lambda d: (-alloc[d], d))[0]
                alloc[donor] -= 1
                alloc[k] = 1
    return alloc


def strata_of(registry, by_grade):
    """Stratum key -> [(credit_code, grade, signals)], the grade joining the key under grade ratios.

    A stratum row may carry a fifth element: one digit per credit code, its risk signals (at most 5).
    """
    strata = {}
    for row in registry["strata"]:
        region, category, codes, grades = row[:4]
        signals = row[4] if len(row) > 4 else "0" * len(codes)
        if len(signals) != len(codes) or not signals.isdigit() or max(signals, default="0") > str(MAX_SIGNALS):
            raise ValueError(f"stratum {region}|{category}: one signal digit 0-{MAX_SIGNALS} per credit code")
        for code, grade, signal in zip(codes, grades, signals, strict=True):
            key = (region, category, grade) if by_grade else (region, category)
            strata.setdefault(key, []).append((code, grade, int(signal)))
    return strata


def weight(rules, grade, signals):
    """1 without risk weighting; else the grade's weight × (1 + min(signals, 5) / 5)."""
    if not rules.get("risk_weighting"):
        return 1.0
    return rules["risk_weights"][grade] * (1 + min(signals, MAX_SIGNALS) / MAX_SIGNALS)


def allocation_of(strata, rules):
    sizes = {k: len(v) for k, v in strata.items()}
    if rules.get("grade_ratios") is not None:
        alloc = {}
        for grade, ratio in sorted(rules["grade_ratios"].items()):
            of_grade = {k: n for k, n in sizes.items() if k[2] == grade}
            alloc.update(allocate(round_half_up(ratio, sum(of_grade.values())), of_grade, False))
        return alloc
    if rules.get("sample_size") is not None:
        total = rules["sample_size"]
    else:
        total = round_half_up(rules["sampling_ratio"], sum(sizes.values()))
    return allocate(total, sizes, True)


def team_under_load_cap(seed, plan_id, code, candidates, team_size):
    """Version 1: the candidates under the load cap with the lowest hash ranks."""
    return [i for _, i in sorted((rank(seed, plan_id, code, i), i) for i in candidates)][:team_size]


def team_least_loaded(seed, plan_id, code, candidates, load, team_size):
    """Version 2: pick k takes position sha256(seed:plan_id:code:team:k) mod m among the m
    unpicked candidates with the fewest assignments so far, listed by inspector code."""
    team = []
    while len(team) < team_size and len(team) < len(candidates):
        unpicked = [i for i in candidates if i not in team]
        fewest = min(load[i] for i in unpicked)
        level = sorted(i for i in unpicked if load[i] == fewest)
        pick = int(sha256_hex(f"{seed}:{plan_id}:{code}:team:{len(team)}")[:16], 16)
        team.append(level[pick % len(level)])
    return team


def recompute(export):
    """The draw recomputed from the file: (allocation as text keys, selections in ticket order)."""
    seed, plan_id, rules, registry = export["seed"], export["plan_id"], export["rules"], export["registry"]
    strata = strata_of(registry, rules.get("grade_ratios") is not None)
    alloc = allocation_of(strata, rules)

    # Strata in ascending key order; lowest tickets win; an enterprise drawn in an earlier
    # stratum is skipped and the next ticket takes its place.
    drawn, selections = set(), []
    for key in sorted(alloc):
        ranked = sorted((ticket(seed, plan_id, code, weight(rules, grade, signals)), code, grade)
                        for code, grade, signals in strata[key])
        taken = [row for row in ranked if row[1] not in drawn][: alloc[key]]
        for t, code, _grade in taken:
            drawn.add(code)
            selections.append({"credit_code": code, "stratum": "|".join(key), "ticket": t,
                               "region": key[0], "category": key[1]})
    selections.sort(key=lambda s: (s["ticket"], s["credit_code"]))

    # Teams, then labs, for each selection in ascending ticket order.
    inspectors = registry["inspectors"]  # [code, region], the active ones
    team_size = rules["team_size"]
    cap = math.ceil(team_size * len(selections) / len(inspectors)) if inspectors else 0
    load = {code: 0 for code, _ in inspectors}
    last_teams = {code: set(team) for code, team in registry["last_teams"]}
    capacity_left = {code: capacity for code, _, capacity in registry["labs"]}
    for s in selections:
        code = s["credit_code"]
        candidates = [i for i, region in inspectors
                      if not (rules["avoid_same_region"] and region == s["region"])
                      and i not in last_teams.get(code, ())]
        if export.get("algorithm") == ALGORITHM_V1:
            team = team_under_load_cap(seed, plan_id, code, [i for i in candidates if load[i] < cap], team_size)
        else:
            team = team_least_loaded(seed, plan_id, code, candidates, load, team_size)
        if len(team) < team_size:
            raise ValueError(f"no valid team for {code}")
        for inspector in team:
            load[inspector] += 1
        labs = sorted((rank(seed, plan_id, code, lab), lab) for lab, categories, _ in registry["labs"]
                      if s["category"] in categories
                      and (capacity_left[lab] is None or capacity_left[lab] > 0))
        if not labs:
            raise ValueError(f"no lab for {code}")
        lab = labs[0][1]
        if capacity_left[lab] is not None:
            capacity_left[lab] -= 1
        s["inspectors"], s["lab"] = team, lab
    return {"|".join(k): n for k, n in sorted(alloc.items())}, selections


def verify(export, out=print):
    """Run every check, printing each; returns the list of mismatches."""
    problems = []

    def check(ok, what, detail=""):
        out(f"[{'ok' if ok else 'MISMATCH'}] {what}" + (f": {detail}" if detail and not ok else ""))
        if not ok:
            problems.append(f"{what}: {detail}" if detail else what)

    server_seed, entropy = export.get("server_seed") or "", export.get("public_entropy") or ""
    check(export.get("algorithm") in (ALGORITHM_V1, ALGORITHM_V2), f"algorithm is {export.get('algorithm')}",
          f"not one of {ALGORITHM_V1}, {ALGORITHM_V2}")
    check(sha256_hex(server_seed) == export.get("seed_commitment"),
          "commitment = sha256(server_seed)", "the revealed seed does not match the commitment")
    check(sha256_hex(f"{server_seed}:{entropy}") == export.get("seed"),
          f"seed = sha256(server_seed:public_entropy) with entropy {entropy!r}", "the seed differs")
    check(registry_hash(export.get("registry")) == export.get("registry_hash"),
          "registry_hash = sha256(canonical registry snapshot)", "the registry was changed")
    try:
        allocation, selections = recompute(export)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        check(False, "draw recomputed", str(exc))
        return problems
    check(allocation == export.get("allocation"), f"allocation over {len(allocation)} strata",
          "the allocation differs")
    published = export.get("selections") or []
    check(len(published) == len(selections), f"{len(selections)} selections",
          f"{len(published)} published, {len(selections)} recomputed")
    wrong = 0
    for n, (pub, rec) in enumerate(zip(published, selections, strict=False), start=1):
        for name in ("credit_code", "stratum", "ticket", "inspectors", "lab"):
            a, b = pub.get(name), rec[name]
            same = math.isclose(a, b, rel_tol=1e-12) if name == "ticket" and isinstance(a, float) else a == b
            if not same:
                wrong += 1
                problems.append(f"selection {n} ({rec['credit_code']}): {name} is {a!r}, recomputed {b!r}")
    check(wrong == 0, "every selection's enterprise, stratum, ticket, team and lab", f"{wrong} differences")
    for p in problems[len(problems) - wrong:] if wrong else []:
        out(f"    {p}")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            export = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"cannot read {argv[0]}: {exc}", file=sys.stderr)
        return 2
    print(f"Draw of plan {export.get('plan_id')} drawn at {export.get('drawn_at')}")
    problems = verify(export)
    print("VERIFIED: the draw follows from the published seed and registry." if not problems
          else f"FAILED: {len(problems)} mismatch(es).")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())

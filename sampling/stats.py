"""Statistics of pass rates: intervals, the test against a target, status, targets, planner.

Pure: plain numbers (or NumPy arrays of them) in, plain values out; no Flask, no database.
The rules are those of DESIGN.md "Pass rates":

- the pass rate is passed / tested (批次合格率); a row with no tested sample has no rate;
- the 95% interval is Wilson's score interval by default, Clopper–Pearson (``exact``) on
  request; both agree with ``scipy.stats.binomtest(...).proportion_ci`` and with
  statsmodels' ``proportion_confint`` (``wilson`` / ``beta``);
- ``status`` is the regulator's judgement of the rate itself: ``met`` when the rate is at or
  above the target, ``below`` when under it, ``no data`` when nothing was tested;
- ``significance`` says whether the sample can tell: ``significantly_below`` when the
  one-sided exact binomial test ``binomtest(passed, n, target, alternative="less")`` gives
  p < 0.05 (``p_below``), ``significantly_above`` when the test the other way
  (``alternative="greater"``, ``p_above``) does, else ``not_significant``;
- targets come from a table by plan level and category group (the defaults per level are a
  setting, ``DEFAULT_TARGETS`` in config.py, passed in; each cell overridable); a row
  mixing cells takes their average weighted by tested samples.

The closed forms are vectorised so that a report of thousands of rows costs milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import beta, binom

from sampling.enums import PLAN_LEVELS
from sampling.errors import InvalidInput

METHODS = ("wilson", "exact")
DEFAULT_METHOD = "wilson"
DEFAULT_CONFIDENCE = 0.95
DEFAULT_POWER = 0.80

STATUS_MET = "met"
STATUS_BELOW = "below"
STATUS_NO_DATA = "no data"
STATUSES = (STATUS_MET, STATUS_BELOW, STATUS_NO_DATA)

SIGNIFICANTLY_BELOW = "significantly_below"
SIGNIFICANTLY_ABOVE = "significantly_above"
NOT_SIGNIFICANT = "not_significant"
SIGNIFICANCES = (SIGNIFICANTLY_BELOW, SIGNIFICANTLY_ABOVE, NOT_SIGNIFICANT)
SIGNIFICANCE_LEVEL = 0.05  # each one-sided test
# p-values are given to this many significant digits (0.06, not 0.06000000000000005)
P_VALUE_DIGITS = 6

# The planner gives up beyond this many samples: the two rates are too close to tell apart
# (a whole year of national spot checks is under 30,000 batches).
MAX_PLANNED_N = 200_000


@dataclass(frozen=True)
class RateEstimate:
    """One row's statistics; rate, interval and p-values are None when nothing was tested."""

    tested: int
    passed: int
    pass_rate: float | None
    ci_low: float | None
    ci_high: float | None
    target: float | None
    p_below: float | None
    p_above: float | None
    status: str
    significance: str | None


@dataclass(frozen=True)
class SampleSizePlan:
    """Answer of the planner: test ``passed <= critical_passed`` out of ``n`` at level alpha."""

    n: int
    critical_passed: int
    achieved_power: float
    actual_alpha: float
    target: float
    expected: float
    confidence: float
    power: float


# --- validation -------------------------------------------------------------------------


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise InvalidInput(
            f"unknown interval method {method!r}", {"method": [f"must be one of {', '.join(METHODS)}"]}
        )


def _check_open_unit(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 < value < 1.0) or math.isnan(value):
        raise InvalidInput(f"{name} must lie strictly between 0 and 1", {name: ["must be > 0 and < 1"]})


def _check_target(value: float, name: str = "target") -> None:
    if not (isinstance(value, (int, float)) and 0.0 < value <= 1.0) or math.isnan(value):
        raise InvalidInput(f"{name} must be a rate above 0 and at most 1", {name: ["must be > 0 and <= 1"]})


def _counts(passed, tested) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(passed, dtype=np.int64)
    n = np.asarray(tested, dtype=np.int64)
    if k.shape != n.shape:
        raise InvalidInput("passed and tested must have the same length")
    if np.any(n < 0) or np.any(k < 0) or np.any(k > n):
        raise InvalidInput("counts must satisfy 0 <= passed <= tested", {"passed": ["must be between 0 and tested"]})
    return k, n


# --- intervals, p-values, status ----------------------------------------------------------


def confidence_intervals(
    passed, tested, method: str = DEFAULT_METHOD, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided intervals for arrays of counts; NaN where nothing was tested."""
    _check_method(method)
    _check_open_unit("confidence", confidence)
    k, n = _counts(passed, tested)
    k = k.astype(float)
    n = n.astype(float)
    empty = n == 0
    safe_n = np.where(empty, 1.0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "wilson":
            low, high = _wilson(k, safe_n, confidence)
        else:
            low, high = _clopper_pearson(k, safe_n, confidence)
    low = np.where(k == 0, 0.0, np.clip(low, 0.0, 1.0))
    high = np.where(k == safe_n, 1.0, np.clip(high, 0.0, 1.0))
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def _wilson(k: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (Newcombe 1998, as in scipy), no continuity correction."""
    z = ndtri(0.5 + 0.5 * confidence)
    p = k / n
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * np.sqrt(4 * n * p * (1 - p) + z**2)
    return center - delta, center + delta


def _clopper_pearson(k: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson interval from beta quantiles (the ends at k = 0 and k = n are fixed later)."""
    tail = (1 - confidence) / 2
    low = beta.ppf(tail, np.where(k == 0, 1.0, k), n - k + 1)
    high = beta.ppf(1 - tail, k + 1, np.where(k == n, 1.0, n - k))
    return low, high


def confidence_interval(
    passed: int, tested: int, method: str = DEFAULT_METHOD, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float | None, float | None]:
    """The interval of one row as ``(low, high)``; ``(None, None)`` when nothing was tested."""
    low, high = confidence_intervals([passed], [tested], method, confidence)
    return _float_or_none(low[0]), _float_or_none(high[0])


def p_values_below(passed, tested, targets) -> np.ndarray:
    """One-sided exact binomial p-values of "rate >= target" vs "rate < target"; NaN for n = 0."""
    k, n = _counts(passed, tested)
    t = np.asarray(targets, dtype=float)
    p = binom.cdf(k, n, np.where(np.isnan(t), 0.5, t))
    return np.where((n == 0) | np.isnan(t), np.nan, np.clip(p, 0.0, 1.0))


def p_values_above(passed, tested, targets) -> np.ndarray:
    """One-sided exact binomial p-values of "rate <= target" vs "rate > target"; NaN for n = 0."""
    k, n = _counts(passed, tested)
    t = np.asarray(targets, dtype=float)
    p = binom.sf(k - 1, n, np.where(np.isnan(t), 0.5, t))  # P(X >= k)
    return np.where((n == 0) | np.isnan(t), np.nan, np.clip(p, 0.0, 1.0))


def p_value_below(passed: int, tested: int, target: float) -> float | None:
    """``binomtest(passed, tested, target, alternative="less").pvalue``; None when n = 0."""
    _check_target(target)
    return _float_or_none(p_values_below([passed], [tested], [target])[0])


def rate_status(tested: int, pass_rate: float | None, target: float | None) -> str:
    """``met`` when the rate is at or above the target, ``below`` under it, ``no data`` for n = 0."""
    if tested == 0 or pass_rate is None or target is None:
        return STATUS_NO_DATA
    return STATUS_MET if pass_rate >= target else STATUS_BELOW


def significance(p_below: float | None, p_above: float | None, level: float = SIGNIFICANCE_LEVEL) -> str | None:
    """Whether the difference from the target is significant, from the two one-sided p-values."""
    if p_below is None or p_above is None:
        return None
    if p_below < level:
        return SIGNIFICANTLY_BELOW
    if p_above < level:
        return SIGNIFICANTLY_ABOVE
    return NOT_SIGNIFICANT


def readable(value: float | None, digits: int = P_VALUE_DIGITS) -> float | None:
    """``value`` to ``digits`` significant digits (0.06000000000000005 -> 0.06); None stays None."""
    return None if value is None else float(f"{value:.{digits}g}")


def estimate_rates(
    passed: Sequence[int],
    tested: Sequence[int],
    targets: Sequence[float | None],
    method: str = DEFAULT_METHOD,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[RateEstimate]:
    """Rate, interval, p-values, status and significance for many rows at once (one vectorised pass).

    The judgements use the exact p-values; the returned p-values are rounded by ``readable``.
    """
    k, n = _counts(passed, tested)
    t = np.array([np.nan if x is None else float(x) for x in targets], dtype=float)
    if t.shape != n.shape:
        raise InvalidInput("one target per row is needed")
    lows, highs = confidence_intervals(k, n, method, confidence)
    below, above = p_values_below(k, n, t), p_values_above(k, n, t)
    rows = []
    for i in range(len(n)):
        tested_i, passed_i = int(n[i]), int(k[i])
        low, high, target = _float_or_none(lows[i]), _float_or_none(highs[i]), _float_or_none(t[i])
        p_below, p_above = _float_or_none(below[i]), _float_or_none(above[i])
        rate = passed_i / tested_i if tested_i else None
        rows.append(
            RateEstimate(
                tested=tested_i,
                passed=passed_i,
                pass_rate=rate,
                ci_low=low,
                ci_high=high,
                target=target,
                p_below=readable(p_below),
                p_above=readable(p_above),
                status=rate_status(tested_i, rate, target),
                significance=significance(p_below, p_above),
            )
        )
    return rows


def estimate_rate(
    passed: int,
    tested: int,
    target: float | None,
    method: str = DEFAULT_METHOD,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RateEstimate:
    """Rate, interval, p-values, status and significance of one row."""
    return estimate_rates([passed], [tested], [target], method, confidence)[0]


def _float_or_none(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


# --- targets --------------------------------------------------------------------------------


def default_target(level: str, defaults: Mapping[str, float]) -> float:
    """The default target of a plan level (the same for every category group).

    ``defaults`` is the level → rate table from the settings (``DEFAULT_TARGETS``).
    """
    try:
        return float(defaults[level])
    except KeyError:
        message = f"must be one of {', '.join(PLAN_LEVELS)}"
        raise InvalidInput(f"unknown level {level!r}", {"level": [message]}) from None


def target_for(
    level: str,
    group: str,
    overrides: Mapping[tuple[str, str], float] | None,
    defaults: Mapping[str, float],
) -> float:
    """The target of one cell: an override for ``(level, group)`` if there is one, else the default."""
    if overrides and (level, group) in overrides:
        return float(overrides[(level, group)])
    return default_target(level, defaults)


def target_table(
    groups: Iterable[str],
    overrides: Mapping[tuple[str, str], float] | None,
    defaults: Mapping[str, float],
) -> list[dict]:
    """Every level × group cell with its rate and whether it is the default."""
    overrides = overrides or {}
    cells = []
    for level in PLAN_LEVELS:
        for group in sorted(set(groups) | {g for (lv, g) in overrides if lv == level}):
            cells.append(
                {
                    "level": level,
                    "group": group,
                    "rate": target_for(level, group, overrides, defaults),
                    "default": (level, group) not in overrides,
                }
            )
    return cells


def validate_target_rate(rate: float, name: str = "rate") -> float:
    """A target rate must lie in (0, 1]; returns it as float or raises InvalidInput."""
    _check_target(rate, name)
    return float(rate)


def weighted_target(cells: Iterable[tuple[float, int]]) -> float | None:
    """Average of the cells' targets weighted by their tested samples.

    With no tested sample at all (every weight 0) the plain mean of the cells' targets is
    returned, so an empty row still shows the target it would be held to; None without cells.
    """
    cells = [(float(t), int(n)) for t, n in cells if t is not None]
    if not cells:
        return None
    weight = sum(n for _, n in cells)
    if weight == 0:
        return round(sum(t for t, _ in cells) / len(cells), 12)
    # rounded so that a row of one target shows that target, not 0.9399999999999998
    return round(sum(t * n for t, n in cells) / weight, 12)


# --- planner -------------------------------------------------------------------------------


def critical_passed(n, target: float, alpha: float) -> np.ndarray:
    """Largest passed count ``c`` with ``P(X <= c | n, target) <= alpha`` (−1 if none), per n.

    Rejecting "rate >= target" when ``passed <= c`` is the exact one-sided binomial test at
    level alpha, the same decision as ``binomtest(passed, n, target, "less").pvalue <= alpha``.
    """
    n = np.asarray(n, dtype=np.int64)
    # Start from the normal approximation, then step to the exact boundary with the cdf.
    guess = np.floor(n * target + ndtri(alpha) * np.sqrt(n * target * (1 - target)) - 0.5)
    c = np.clip(guess, -1, n).astype(np.int64)
    while True:
        up = (c < n) & (binom.cdf(c + 1, n, target) <= alpha)
        down = (c >= 0) & (binom.cdf(c, n, target) > alpha)
        if not (up.any() or down.any()):
            return c
        c = c + up - down


def _normal_sample_size(target: float, expected: float, alpha: float, power: float) -> float:
    """The textbook normal-approximation n, used only to give up early on hopeless inputs."""
    z = ndtri(1 - alpha) * math.sqrt(target * (1 - target)) + ndtri(power) * math.sqrt(expected * (1 - expected))
    return (z / (target - expected)) ** 2


def plan_sample_size(
    target: float,
    expected: float,
    confidence: float = DEFAULT_CONFIDENCE,
    power: float = DEFAULT_POWER,
    max_n: int = MAX_PLANNED_N,
) -> SampleSizePlan:
    """Smallest n at which the exact one-sided test detects a true rate of ``expected`` < ``target``.

    The test rejects "rate >= target" at level ``alpha = 1 - confidence`` when
    ``passed <= critical_passed``; its power is ``P(X <= critical_passed | n, expected)``.

    The power of an exact test is not monotone in n (a saw-tooth: the critical count moves
    in whole steps, so adding a sample can lower the power a little). We return the smallest
    n whose own power reaches the goal, with that n's critical count, achieved power and
    actual size (``actual_alpha <= alpha``). A slightly larger n may fall just short again;
    the achieved power tells how much margin there is.
    """
    _check_open_unit("target", target)
    _check_open_unit("expected", expected)
    _check_open_unit("confidence", confidence)
    _check_open_unit("power", power)
    if expected >= target:
        raise InvalidInput(
            "expected must be below target: the test detects a pass rate under the target",
            {"expected": ["must be less than target"]},
        )
    alpha = 1.0 - confidence
    start, size = 1, 1024
    if _normal_sample_size(target, expected, alpha, power) > 1.1 * max_n:
        # beyond the cap: at such sizes the normal approximation is within a few per cent
        start = max_n + 1
    while start <= max_n:
        ns = np.arange(start, min(start + size, max_n + 1))
        crit = critical_passed(ns, target, alpha)
        powers = np.where(crit >= 0, binom.cdf(crit, ns, expected), 0.0)
        hits = np.nonzero(powers >= power)[0]
        if hits.size:
            i = int(hits[0])
            return SampleSizePlan(
                n=int(ns[i]),
                critical_passed=int(crit[i]),
                achieved_power=float(powers[i]),
                actual_alpha=float(binom.cdf(crit[i], ns[i], target)),
                target=float(target),
                expected=float(expected),
                confidence=float(confidence),
                power=float(power),
            )
        start += size
        size *= 4
    raise InvalidInput(
        f"more than {max_n} samples would be needed: expected and target are too close",
        {"expected": [f"too close to target for at most {max_n} samples"]},
    )

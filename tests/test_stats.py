"""sampling.stats against independent computations (statsmodels, scipy's binomtest)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, binomtest
from statsmodels.stats.proportion import proportion_confint

from config import Config
from sampling import stats
from sampling.errors import InvalidInput

GRID = [(n, k) for n in list(range(1, 41)) + [97, 250, 1000, 28265] for k in sorted({0, 1, n // 3, n // 2, n - 1, n})]
GRID += [(n, k) for n in range(1, 31) for k in range(n + 1)]
SM_METHOD = {"wilson": "wilson", "exact": "beta"}
SCIPY_METHOD = {"wilson": "wilson", "exact": "exact"}


@pytest.mark.parametrize("method", ["wilson", "exact"])
def test_intervals_match_statsmodels_and_scipy_over_grid(method):
    for confidence in (0.95, 0.90, 0.99):
        ks = [k for _, k in GRID]
        ns = [n for n, _ in GRID]
        lows, highs = stats.confidence_intervals(ks, ns, method, confidence)
        for (n, k), low, high in zip(GRID, lows, highs, strict=True):
            sm_low, sm_high = proportion_confint(k, n, alpha=1 - confidence, method=SM_METHOD[method])
            sp = binomtest(k, n).proportion_ci(confidence_level=confidence, method=SCIPY_METHOD[method])
            assert low == pytest.approx(sm_low, abs=1e-9), (n, k)
            assert high == pytest.approx(sm_high, abs=1e-9), (n, k)
            assert low == pytest.approx(sp.low, abs=1e-9), (n, k)
            assert high == pytest.approx(sp.high, abs=1e-9), (n, k)
            assert 0.0 <= low <= k / n <= high <= 1.0


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=200_000),
    frac=st.floats(min_value=0, max_value=1),
    method=st.sampled_from(["wilson", "exact"]),
)
def test_interval_matches_statsmodels_for_any_counts(n, frac, method):
    k = round(frac * n)
    low, high = stats.confidence_interval(k, n, method)
    sm_low, sm_high = proportion_confint(k, n, alpha=0.05, method=SM_METHOD[method])
    assert low == pytest.approx(sm_low, abs=1e-8)
    assert high == pytest.approx(sm_high, abs=1e-8)
    assert low <= k / n <= high


def test_interval_ends_are_exact_at_zero_and_all_passed():
    for method in ("wilson", "exact"):
        assert stats.confidence_interval(0, 50, method)[0] == 0.0
        assert stats.confidence_interval(50, 50, method)[1] == 1.0


def test_p_values_match_binomtest_over_grid():
    for target in (0.5, 0.9, 0.94, 0.95, 0.999, 1.0):
        ks = [k for _, k in GRID]
        ns = [n for n, _ in GRID]
        p_values = stats.p_values_below(ks, ns, [target] * len(GRID))
        for (n, k), p in zip(GRID, p_values, strict=True):
            expected = binomtest(k, n, target, alternative="less").pvalue
            assert p == pytest.approx(expected, rel=1e-9, abs=1e-300), (n, k, target)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=100_000),
    frac=st.floats(min_value=0, max_value=1),
    target=st.floats(min_value=0.01, max_value=1.0),
)
def test_p_value_matches_binomtest_for_any_counts(n, frac, target):
    k = round(frac * n)
    expected = binomtest(k, n, target, alternative="less").pvalue
    assert stats.p_value_below(k, n, target) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_p_values_above_match_binomtest_over_grid():
    for target in (0.01, 0.5, 0.9, 0.94, 0.999, 1.0):
        ks = [k for _, k in GRID]
        ns = [n for n, _ in GRID]
        p_values = stats.p_values_above(ks, ns, [target] * len(GRID))
        for (n, k), p in zip(GRID, p_values, strict=True):
            expected = binomtest(k, n, target, alternative="greater").pvalue
            assert p == pytest.approx(expected, rel=1e-9, abs=1e-300), (n, k, target)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=5_000),
    frac=st.floats(min_value=0, max_value=1),
    target=st.floats(min_value=0.5, max_value=1.0),
    method=st.sampled_from(["wilson", "exact"]),
)
def test_status_follows_the_rate_and_significance_the_tests(n, frac, target, method):
    k = round(frac * n)
    row = stats.estimate_rate(k, n, target, method)
    if n == 0:
        assert row.status == "no data"
        assert row.pass_rate is row.ci_low is row.ci_high is row.p_below is row.p_above is None
        assert row.significance is None
        return
    assert row.status == ("met" if k / n >= target else "below")
    below = binomtest(k, n, target, alternative="less").pvalue
    above = binomtest(k, n, target, alternative="greater").pvalue
    assert row.p_below == pytest.approx(below, rel=1e-5, abs=1e-300)
    assert row.p_above == pytest.approx(above, rel=1e-5, abs=1e-300)
    if below < 0.05:
        assert row.significance == "significantly_below" and row.status == "below"
    elif above < 0.05:
        assert row.significance == "significantly_above" and row.status == "met"
    else:
        assert row.significance == "not_significant"


def test_status_and_significance_examples():
    """The regulator's reading: the rate against the target; the tests say whether the sample can tell."""
    met = stats.estimate_rate(97, 100, 0.94)
    assert (met.status, met.significance) == ("met", "not_significant")
    below = stats.estimate_rate(80, 100, 0.94)
    assert (below.status, below.significance) == ("below", "significantly_below")
    one_failure = stats.estimate_rate(0, 1, 0.94)
    assert (one_failure.status, one_failure.significance) == ("below", "not_significant")
    assert one_failure.p_below == 0.06  # not 0.06000000000000005
    assert stats.estimate_rate(1000, 1000, 0.94).significance == "significantly_above"
    assert stats.estimate_rate(94, 100, 0.94).status == "met"  # at the target is met
    assert stats.estimate_rate(0, 0, 0.94).status == "no data"


def test_p_values_are_readable():
    assert stats.readable(0.06000000000000005) == 0.06
    assert stats.readable(0.123456789) == 0.123457
    assert stats.readable(1.5e-12) == 1.5e-12
    assert stats.readable(None) is None
    row = stats.estimate_rate(85, 90, 0.94)
    assert len(repr(row.p_below).lstrip("0.")) <= 6 and len(repr(row.p_above).lstrip("0.")) <= 6


def test_empty_row_has_no_rate_and_no_division_error():
    rows = stats.estimate_rates([0, 5], [0, 10], [0.94, 0.94])
    assert rows[0].tested == 0 and rows[0].pass_rate is None and rows[0].p_below is None
    assert rows[0].status == "no data" and rows[0].target == 0.94
    assert rows[1].pass_rate == 0.5


def test_national_figures_give_twelve_point_three_percent_failure():
    batches, failed = 28_265, 3_476
    row = stats.estimate_rate(batches - failed, batches, stats.default_target("national", Config.DEFAULT_TARGETS))
    assert round(1 - row.pass_rate, 3) == 0.123
    assert round(row.pass_rate, 3) == 0.877
    # 87.7% with n = 28,265 is clearly under the 90% national-level target.
    assert row.ci_high < 0.90 and row.status == "below" and row.significance == "significantly_below"
    assert row.p_below == pytest.approx(binomtest(batches - failed, batches, 0.90, alternative="less").pvalue,
                                        rel=1e-5, abs=1e-300)
    exact = stats.estimate_rate(batches - failed, batches, 0.90, method="exact")
    assert exact.ci_low == pytest.approx(proportion_confint(24_789, 28_265, method="beta")[0])


def test_default_targets_and_overrides():
    defaults = Config.DEFAULT_TARGETS  # the seed documents' figures, set in config.py
    assert stats.target_for("municipal", "industrial", {}, defaults) == 0.94
    assert stats.target_for("national", "food", {}, defaults) == 0.90
    assert stats.target_for("provincial", "consumer", {}, defaults) == 0.95
    overrides = {("municipal", "food"): 0.97}
    assert stats.target_for("municipal", "food", overrides, defaults) == 0.97
    assert stats.target_for("municipal", "industrial", overrides, defaults) == 0.94
    table = stats.target_table(["industrial", "food"], overrides, defaults)
    cell = next(c for c in table if c["level"] == "municipal" and c["group"] == "food")
    assert cell == {"level": "municipal", "group": "food", "rate": 0.97, "default": False}
    assert len(table) == 6
    with pytest.raises(InvalidInput):
        stats.default_target("county", defaults)


def test_weighted_target_for_mixed_rows():
    assert stats.weighted_target([(0.90, 100), (0.95, 300)]) == pytest.approx(0.9375)
    assert stats.weighted_target([(0.90, 0), (0.94, 10)]) == pytest.approx(0.94)
    assert stats.weighted_target([(0.90, 0), (0.94, 0)]) == pytest.approx(0.92)
    assert stats.weighted_target([]) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: stats.confidence_interval(5, 10, "agresti"),
        lambda: stats.confidence_interval(11, 10),
        lambda: stats.confidence_interval(5, 10, confidence=1.0),
        lambda: stats.p_value_below(5, 10, 0.0),
        lambda: stats.plan_sample_size(0.90, 0.94),
        lambda: stats.plan_sample_size(0.94, 0.94),
        lambda: stats.plan_sample_size(1.0, 0.9),
        lambda: stats.plan_sample_size(0.94, 0.9, confidence=0),
        lambda: stats.plan_sample_size(0.94, 0.9, power=1.5),
        lambda: stats.plan_sample_size(0.94, 0.9399999),
        lambda: stats.validate_target_rate(1.2),
    ],
)
def test_invalid_inputs_raise_invalid_input(call):
    with pytest.raises(InvalidInput):
        call()


def _power_by_binomtest(n, target, expected, alpha):
    """Power of the test that rejects when binomtest(k, n, target, "less").pvalue <= alpha."""
    lo, hi = -1, n  # largest k whose p-value is <= alpha, by bisection (p-value grows with k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if binomtest(mid, n, target, alternative="less").pvalue <= alpha:
            lo = mid
        else:
            hi = mid - 1
    return lo, (binom.cdf(lo, n, expected) if lo >= 0 else 0.0)


@pytest.mark.parametrize(
    "target, expected, confidence, power",
    [(0.94, 0.90, 0.95, 0.8), (0.90, 0.80, 0.95, 0.8), (0.95, 0.90, 0.99, 0.9), (0.6, 0.3, 0.95, 0.5)],
)
def test_planner_is_the_smallest_n_reaching_the_power(target, expected, confidence, power):
    plan = stats.plan_sample_size(target, expected, confidence, power)
    alpha = 1 - confidence
    critical, achieved = _power_by_binomtest(plan.n, target, expected, alpha)
    assert plan.critical_passed == critical
    assert plan.achieved_power == pytest.approx(achieved, rel=1e-12)
    assert plan.achieved_power >= power
    assert plan.actual_alpha <= alpha
    assert plan.actual_alpha == pytest.approx(binomtest(critical, plan.n, target, alternative="less").pvalue)
    for m in range(1, plan.n):
        assert _power_by_binomtest(m, target, expected, alpha)[1] < power, m


def test_planner_for_a_close_call_agrees_with_scipy_at_its_answer():
    plan = stats.plan_sample_size(0.95, 0.94)
    critical, achieved = _power_by_binomtest(plan.n, 0.95, 0.94, 0.05)
    assert (plan.critical_passed, plan.achieved_power) == (critical, pytest.approx(achieved))
    assert achieved >= 0.8
    # the normal approximation puts it in the low thousands; a sanity bound, not a tuned number
    z = 1.6449 + 0.8416
    approx = (z * math.sqrt(0.94 * 0.06) / 0.01) ** 2
    assert 0.5 * approx < plan.n < 2 * approx


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=3000), target=st.floats(min_value=0.05, max_value=0.999))
def test_critical_count_is_the_binomtest_decision(n, target):
    c = int(stats.critical_passed([n], target, 0.05)[0])
    if c >= 0:
        assert binomtest(c, n, target, alternative="less").pvalue <= 0.05
    if c < n:
        assert binomtest(c + 1, n, target, alternative="less").pvalue > 0.05


def test_default_targets_come_from_the_given_settings():
    settings = {"municipal": 0.96, "national": 0.91, "provincial": 0.97}
    assert stats.target_for("municipal", "consumer", {}, settings) == 0.96
    assert stats.target_for("municipal", "consumer", {("municipal", "consumer"): 0.9}, settings) == 0.9

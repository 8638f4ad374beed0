"""The pure credit rules: black/red lists, lapse and the credit grade (sampling/credit.py)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import Config
from sampling import credit
from sampling.credit import (
    BLACK,
    FAIL,
    GENERAL,
    PASS,
    RED,
    REFUSED,
    SERIOUS,
    CreditRules,
    Entry,
    Outcome,
    Record,
)
from sampling.enums import GRADES
from sampling.errors import InvalidInput

RULES = CreditRules.from_config(vars(Config))


def outcome(ref, on, verdict=PASS, **kw):
    """An outcome that became final on ``on`` (its list period is that day's quarter)."""
    return Outcome(ref=ref, on=on, verdict=verdict, **kw)


def black_entry(ref, listed_on, severity=GENERAL, removed_on=None):
    """A stored black entry for outcome ``ref``."""
    return Entry(
        list=BLACK,
        period=credit.period_of(listed_on),
        listed_on=listed_on,
        expires_on=credit.expiry(listed_on, BLACK, severity, RULES),
        severity=severity,
        ref=ref,
        removed_on=removed_on,
    )


# --- periods -----------------------------------------------------------------------


def test_period_bounds_and_neighbours():
    assert credit.period_start("2026Q1") == date(2026, 1, 1)
    assert credit.period_end("2026Q1") == date(2026, 3, 31)
    assert credit.period_end("2024Q1") == date(2024, 3, 31)
    assert credit.period_end("2026Q4") == date(2026, 12, 31)
    assert credit.previous_period("2026Q1") == "2025Q4"
    assert credit.next_period("2025Q4") == "2026Q1"


@pytest.mark.parametrize("bad", ["2026Q5", "2026Q0", "26Q1", "2026q1", "", "2026Q1 ", "0000Q1"])
def test_malformed_period_is_invalid_input(bad):
    with pytest.raises(InvalidInput):
        credit.period_start(bad)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_every_date_lies_in_its_period(day):
    period = credit.period_of(day)
    assert credit.period_start(period) <= day <= credit.period_end(period)
    assert credit.next_period(credit.previous_period(period)) == period


def test_quarter_just_ended_and_has_ended():
    assert credit.quarter_just_ended(date(2026, 4, 1)) == "2026Q1"
    assert credit.quarter_just_ended(date(2026, 3, 31)) == "2025Q4"
    assert credit.has_ended("2026Q1", date(2026, 4, 1)) and not credit.has_ended("2026Q1", date(2026, 3, 31))
    assert not credit.has_ended("9999Q4", date(2026, 12, 1))  # no date arithmetic past year 9999


def test_add_months_clamps_to_month_end():
    assert credit.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert credit.add_months(date(2024, 2, 29), -12) == date(2023, 2, 28)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 1, 1)),
       st.integers(min_value=-600, max_value=600))
def test_add_months_moves_whole_months(day, months):
    moved = credit.add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day <= day.day


def test_rules_come_from_the_settings_and_every_one_is_needed():
    rules = CreditRules.from_config({**vars(Config), "BLACK_GENERAL_MONTHS": 3, "OTHER": 1})
    assert rules.general_lapse_months == 3
    assert rules.serious_lapse_months == Config.BLACK_SERIOUS_MONTHS
    with pytest.raises(KeyError):
        CreditRules.from_config({"BLACK_GENERAL_MONTHS": 3})


# --- black list --------------------------------------------------------------------


def test_failure_in_period_is_general_with_failed_items_as_reason():
    record = Record.of([outcome(1, date(2026, 5, 10), FAIL, failed_items=("甲醛", "pH值"))])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.severity == GENERAL
    assert "甲醛" in listing.reason and "pH值" in listing.reason


def test_passes_and_other_periods_are_not_black_listed():
    record = Record.of([outcome(1, date(2026, 5, 10)), outcome(2, date(2026, 1, 5), FAIL)])
    assert credit.black_listings("2026Q2", record, RULES) == []


@pytest.mark.parametrize(
    "kw",
    [{"verdict": REFUSED}, {"verdict": FAIL, "critical_failed": True},
     {"verdict": FAIL, "recheck": FAIL, "recheck_on": date(2026, 6, 20)}],
    ids=["refusal", "critical", "recheck-failed"],
)
def test_serious_causes(kw):
    record = Record.of([Outcome(ref=1, on=date(2026, 5, 10), **kw)])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.severity == SERIOUS


def test_refusal_reason_says_refusal():
    record = Record.of([outcome(1, date(2026, 5, 10), REFUSED)])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert "拒绝" in listing.reason


def test_second_failure_exactly_twelve_months_later_is_serious():
    record = Record.of([outcome(1, date(2025, 5, 10), FAIL), outcome(2, date(2026, 5, 10), FAIL)])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.severity == SERIOUS


def test_second_failure_twelve_months_and_a_day_later_is_general():
    record = Record.of([outcome(1, date(2025, 5, 9), FAIL), outcome(2, date(2026, 5, 10), FAIL)])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.severity == GENERAL


def test_earlier_refusal_makes_a_failure_a_repeat():
    record = Record.of([outcome(1, date(2026, 1, 10), REFUSED), outcome(2, date(2026, 5, 10), FAIL)])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.severity == SERIOUS


def test_period_follows_the_day_the_verdict_became_final():
    late = Outcome(ref=1, on=date(2026, 7, 3), verdict=FAIL)  # sampled in Q2, final in Q3
    record = Record.of([late])
    assert credit.black_listings("2026Q2", record, RULES) == []
    assert len(credit.black_listings("2026Q3", record, RULES)) == 1


def test_reasons_are_chinese_only():
    record = Record.of([outcome(1, date(2025, 6, 1), FAIL), outcome(2, date(2026, 5, 10), FAIL, critical_failed=True,
                                                                    failed_items=("铅",))])
    [listing] = credit.black_listings("2026Q2", record, RULES)
    assert listing.reason == "不合格项目：铅; 安全项目不合格; 12个月内再次不合格"
    run = Record.of(passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1)))
    assert credit.red_reason("2026Q2", run) == "本期抽查全部合格，已连续3次合格"


# --- expiry and lapse --------------------------------------------------------------


def test_expiry_general_six_serious_twelve_months():
    listed = date(2026, 7, 1)
    assert credit.expiry(listed, BLACK, GENERAL, RULES) == date(2027, 1, 1)
    assert credit.expiry(listed, BLACK, SERIOUS, RULES) == date(2027, 7, 1)


def test_general_entry_lapses_at_expiry_once_recheck_passed():
    failed = outcome(1, date(2026, 5, 10), FAIL, recheck=PASS, recheck_on=date(2026, 8, 1))
    entry = black_entry(1, date(2026, 7, 1))
    record = Record.of([failed], [entry])
    assert credit.lapses_on(entry, record) == date(2027, 1, 1)
    assert credit.is_active(entry, date(2026, 12, 31), record)
    assert not credit.is_active(entry, date(2027, 1, 1), record)


def test_entry_without_passed_recheck_never_lapses():
    failed = outcome(1, date(2026, 5, 10), FAIL)
    entry = black_entry(1, date(2026, 7, 1))
    record = Record.of([failed], [entry])
    assert credit.lapses_on(entry, record) is None
    assert credit.is_active(entry, date(2030, 1, 1), record)


def test_recheck_passed_after_expiry_lapses_on_recheck():
    failed = outcome(1, date(2026, 5, 10), FAIL, recheck=PASS, recheck_on=date(2027, 3, 5))
    entry = black_entry(1, date(2026, 7, 1))
    assert credit.lapses_on(entry, Record.of([failed], [entry])) == date(2027, 3, 5)


def test_refusal_lapses_only_after_a_later_pass():
    refused = outcome(1, date(2026, 5, 10), REFUSED)
    entry = black_entry(1, date(2026, 7, 1), SERIOUS)
    assert credit.lapses_on(entry, Record.of([refused], [entry])) is None
    passed = outcome(2, date(2026, 11, 2))
    assert credit.lapses_on(entry, Record.of([refused, passed], [entry])) == date(2027, 7, 1)


def test_early_removal_ends_the_entry():
    entry = black_entry(1, date(2026, 7, 1), removed_on=date(2026, 8, 1))
    record = Record.of([outcome(1, date(2026, 5, 10), FAIL)], [entry])
    assert credit.is_active(entry, date(2026, 7, 31), record)
    assert not credit.is_active(entry, date(2026, 8, 1), record)


# --- red list ----------------------------------------------------------------------


def passes(*days):
    return [outcome(i, d) for i, d in enumerate(days, start=100)]


def test_three_consecutive_passes_make_the_red_list():
    record = Record.of(passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1)))
    assert credit.is_red("2026Q2", record, RULES)


def test_two_consecutive_passes_do_not():
    record = Record.of(passes(date(2026, 2, 1), date(2026, 5, 1)))
    assert not credit.is_red("2026Q2", record, RULES)


def test_no_sample_in_the_period_no_red_list():
    record = Record.of(passes(date(2025, 8, 1), date(2025, 11, 1), date(2026, 2, 1)))
    assert not credit.is_red("2026Q2", record, RULES)


def test_later_periods_do_not_count_towards_the_run():
    record = Record.of(passes(date(2026, 5, 1), date(2026, 8, 1), date(2026, 11, 1)))
    assert not credit.is_red("2026Q2", record, RULES)
    assert credit.is_red("2026Q4", record, RULES)


def test_a_refusal_in_the_period_keeps_it_off():
    record = Record.of(passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1))
                       + [outcome(1, date(2026, 6, 1), REFUSED)])
    assert not credit.is_red("2026Q2", record, RULES)


def test_failure_exactly_twelve_months_before_period_end_blocks_red():
    # 2026Q2 ends 2026-06-30; a failure on 2025-06-30 is within the 12 months.
    old = outcome(1, date(2025, 6, 30), FAIL)
    run = passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1))
    assert not credit.is_red("2026Q2", Record.of([old, *run]), RULES)


def test_failure_a_day_earlier_does_not_block_red():
    old = outcome(1, date(2025, 6, 29), FAIL)
    run = passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1))
    assert credit.is_red("2026Q2", Record.of([old, *run]), RULES)


def test_black_entry_in_force_during_the_window_blocks_red():
    old = outcome(1, date(2024, 5, 1), FAIL)  # never rechecked: its entry is still in force
    entry = black_entry(1, date(2024, 7, 1))
    run = passes(date(2025, 11, 1), date(2026, 2, 1), date(2026, 5, 1))
    assert not credit.is_red("2026Q2", Record.of([old, *run], [entry]), RULES)
    ended = black_entry(1, date(2024, 7, 1), removed_on=date(2025, 6, 30))
    assert credit.is_red("2026Q2", Record.of([old, *run], [ended]), RULES)


def test_red_threshold_is_configurable():
    record = Record.of(passes(date(2026, 2, 1), date(2026, 5, 1)))
    assert credit.is_red("2026Q2", record, CreditRules.from_config({**vars(Config), "RED_CONSECUTIVE_PASSES": 2}))


# --- credit grade ------------------------------------------------------------------

TODAY = date(2026, 11, 22)


def test_no_record_is_b():
    assert credit.credit_grade(Record(), TODAY, RULES) == "B"


def test_active_serious_entry_is_d():
    failed = outcome(1, date(2024, 1, 10), FAIL, critical_failed=True)
    entry = black_entry(1, date(2024, 4, 1), SERIOUS)
    assert credit.credit_grade(Record.of([failed], [entry]), TODAY, RULES) == "D"


def test_two_failures_in_24_months_is_d_boundary():
    two = [outcome(1, date(2024, 11, 22), FAIL), outcome(2, date(2026, 1, 5), REFUSED)]
    assert credit.credit_grade(Record.of(two), TODAY, RULES) == "D"
    older = [outcome(1, date(2024, 11, 21), FAIL), outcome(2, date(2026, 1, 5), FAIL)]
    assert credit.credit_grade(Record.of(older), TODAY, RULES) == "C"


def test_one_failure_in_12_months_is_c_boundary():
    assert credit.credit_grade(Record.of([outcome(1, date(2025, 11, 22), FAIL)]), TODAY, RULES) == "C"
    assert credit.credit_grade(Record.of([outcome(1, date(2025, 11, 21), FAIL)]), TODAY, RULES) == "B"


def test_active_general_entry_is_c():
    failed = outcome(1, date(2024, 1, 10), FAIL)
    entry = black_entry(1, date(2024, 4, 1))
    assert credit.credit_grade(Record.of([failed], [entry]), TODAY, RULES) == "C"


def test_active_red_entry_is_a():
    entry = Entry(list=RED, period="2026Q3", listed_on=date(2026, 10, 1),
                  expires_on=credit.expiry(date(2026, 10, 1), RED, None, RULES))
    record = Record.of(passes(date(2026, 8, 1)), [entry])
    assert credit.credit_grade(record, TODAY, RULES) == "A"
    assert credit.credit_grade(record, date(2027, 1, 1), RULES) == "B"


def test_three_passes_and_clean_24_months_is_a_two_is_b():
    three = passes(date(2025, 5, 1), date(2025, 11, 1), date(2026, 5, 1))
    assert credit.credit_grade(Record.of(three), TODAY, RULES) == "A"
    assert credit.credit_grade(Record.of(three[1:]), TODAY, RULES) == "B"


def test_old_failure_inside_24_months_blocks_a():
    three = passes(date(2025, 5, 1), date(2025, 11, 1), date(2026, 5, 1))
    old = outcome(1, date(2024, 12, 1), FAIL)
    assert credit.credit_grade(Record.of([old, *three]), TODAY, RULES) == "B"
    older = outcome(1, date(2024, 11, 21), FAIL)
    assert credit.credit_grade(Record.of([older, *three]), TODAY, RULES) == "A"


def test_future_outcomes_do_not_count():
    assert credit.credit_grade(Record.of([outcome(1, date(2026, 12, 1), FAIL)]), TODAY, RULES) == "B"


verdicts = st.sampled_from([PASS, PASS, FAIL, REFUSED])
days = st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 11, 22))


@st.composite
def records(draw):
    items = draw(st.lists(st.tuples(days, verdicts, st.booleans()), max_size=8))
    return Record.of(
        outcome(i, d, v, critical_failed=(c and v == FAIL)) for i, (d, v, c) in enumerate(items)
    )


@given(records())
def test_grade_is_always_one_of_four(record):
    assert credit.credit_grade(record, TODAY, RULES) in GRADES


@given(records(), st.sampled_from(["2025Q4", "2026Q1", "2026Q2", "2026Q3"]))
def test_red_and_black_exclude_each_other(record, period):
    if credit.is_red(period, record, RULES):
        assert credit.black_listings(period, record, RULES) == []


@given(records())
def test_any_failure_in_the_last_12_months_rules_out_a_and_b(record):
    if any(o.is_failure and credit.within(o.on, TODAY, 12) for o in record.outcomes):
        assert credit.credit_grade(record, TODAY, RULES) in ("C", "D")


@given(records(), st.sampled_from(["2025Q4", "2026Q1", "2026Q2", "2026Q3"]))
def test_every_failure_of_the_period_is_listed_once(record, period):
    listings = credit.black_listings(period, record, RULES)
    failing = [o for o in record.outcomes if o.period == period and o.is_failure]
    assert [x.outcome for x in listings] == failing
    for x in listings:
        if x.outcome.verdict == REFUSED or x.outcome.critical_failed:
            assert x.severity == SERIOUS

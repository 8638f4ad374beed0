"""The pure life-cycle rules: moves, event times, deadlines and verdicts."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import Config
from sampling import lifecycle as lc
from sampling.errors import InvalidInput, RuleViolation

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The diagram of DESIGN.md, written out by hand: (state, action, sample verdict) -> new state.
DIAGRAM = {
    ("planned", "sampling", None): "sampled",
    ("planned", "refusal", None): "refused",
    ("sampled", "receipt", None): "testing",
    ("testing", "result", None): "tested",
    ("tested", "notification", "pass"): "final",
    ("tested", "notification", "fail"): "notified",
    ("notified", "objection", "fail"): "objection",
    ("notified", "finalize", "fail"): "final",
    ("objection", "retest-result", "fail"): "final",
    ("final", "rectification", "fail"): "rectifying",
    ("rectifying", "recheck", "fail"): "rechecked",
}


def _expected(state, action, verdict):
    for (s, a, v), target in DIAGRAM.items():
        if s == state and a == action and v in (None, verdict):
            return target
    return None


ALL_CASES = [(s, a, v) for s in lc.STATES for a in lc.ACTIONS for v in (None, "pass", "fail")]


@pytest.mark.parametrize(("state", "action", "verdict"), [
    c for c in ALL_CASES if _expected(*c) is not None
])
def test_every_arrow_of_the_diagram_is_allowed(state, action, verdict):
    assert lc.check_move(state, action, verdict) == _expected(state, action, verdict)


@pytest.mark.parametrize(("state", "action", "verdict"), [
    c for c in ALL_CASES if _expected(*c) is None
])
def test_every_other_move_is_refused_naming_state_and_allowed_moves(state, action, verdict):
    with pytest.raises(RuleViolation) as caught:
        lc.check_move(state, action, verdict)
    err = caught.value
    assert err.status == 409
    assert f"'{state}'" in err.message
    allowed = lc.allowed_moves(state, verdict)
    assert action not in allowed
    assert ("allowed: " + (", ".join(allowed) if allowed else "none")) in err.message
    assert err.errors["status"] == [err.message]


def test_a_refused_move_is_explained_in_chinese_too():
    """409s read like every other error: English, then the Chinese a clerk reads."""
    with pytest.raises(RuleViolation) as caught:
        lc.check_move(lc.NOTIFIED, "receipt", lc.FAIL)
    assert "样品状态为“已告知”，不能样品接收；可进行：异议、确定结论" in caught.value.message
    with pytest.raises(RuleViolation) as caught:
        lc.check_move(lc.RECHECKED, "recheck", lc.FAIL)
    assert "可进行：无" in caught.value.message


def test_allowed_moves_depend_on_the_verdict():
    assert lc.allowed_moves("planned", None) == ["sampling", "refusal"]
    assert lc.allowed_moves("tested", "pass") == ["notification"]
    assert lc.allowed_moves("notified", "fail") == ["objection", "finalize"]
    assert lc.allowed_moves("final", "fail") == ["rectification"]
    assert lc.allowed_moves("final", "pass") == []
    assert lc.allowed_moves("refused", None) == []
    assert lc.allowed_moves("rechecked", "fail") == []


def test_a_passing_result_is_final_when_notified_and_never_open_to_objection():
    assert lc.check_move("tested", "notification", "pass") == "final"
    with pytest.raises(RuleViolation):
        lc.check_move("final", "objection", "pass")


def test_an_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        lc.check_move("planned", "teleport")


@pytest.mark.parametrize("state", lc.CORRECTABLE_STATES)
def test_a_stored_result_can_be_corrected(state):
    lc.check_correction(state)


@pytest.mark.parametrize("state", ["planned", "sampled", "refused", "testing"])
def test_a_sample_without_result_cannot_be_corrected(state):
    with pytest.raises(RuleViolation, match=state):
        lc.check_correction(state)


# Event times.

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_an_event_time_between_the_previous_event_and_now_is_accepted():
    lc.check_event_time("sampled_at", NOW - timedelta(days=1), NOW - timedelta(days=2), NOW)
    lc.check_event_time("sampled_at", NOW - timedelta(days=2), NOW - timedelta(days=2), NOW)
    lc.check_event_time("sampled_at", NOW, NOW - timedelta(days=2), NOW)


def test_an_event_time_in_the_future_is_invalid_on_its_field():
    with pytest.raises(InvalidInput) as caught:
        lc.check_event_time("received_at", NOW + timedelta(hours=1), NOW - timedelta(days=2), NOW)
    assert caught.value.status == 422
    assert caught.value.errors == {"received_at": ["must not be in the future"]}


def test_a_client_clock_slightly_ahead_is_not_the_future():
    lc.check_event_time("received_at", NOW + timedelta(seconds=30), NOW - timedelta(days=2), NOW)


def test_an_event_time_before_the_previous_event_is_invalid_on_its_field():
    previous = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as caught:
        lc.check_event_time("tested_at", previous - timedelta(seconds=1), previous, NOW)
    assert list(caught.value.errors) == ["tested_at"]
    assert "2026-11-01T08:00:00+00:00" in caught.value.errors["tested_at"][0]


def test_an_event_time_without_offset_is_invalid():
    with pytest.raises(InvalidInput) as caught:
        lc.check_event_time("notified_at", datetime(2026, 11, 1), NOW - timedelta(days=30), NOW)
    assert list(caught.value.errors) == ["notified_at"]


def test_an_offset_time_is_compared_as_the_instant_it_names():
    previous = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    beijing = datetime(2026, 11, 1, 16, 0, tzinfo=SHANGHAI)  # the same instant
    lc.check_event_time("filed_at", beijing, previous, NOW)
    with pytest.raises(InvalidInput):
        lc.check_event_time("filed_at", beijing - timedelta(minutes=1), previous, NOW)


# Deadlines.

def rules(tz=SHANGHAI, **lengths) -> lc.DeadlineRules:
    """The rules with the configured default lengths (``config.py``), in ``tz``."""
    defaults = {"lab_result_days": Config.LAB_RESULT_DAYS, "objection_days": Config.OBJECTION_DAYS,
                "rectification_days": Config.RECTIFICATION_DAYS, "recheck_days": Config.RECHECK_DAYS}
    return lc.DeadlineRules(**{**defaults, **lengths}, tz=tz)


RULES = rules()


def _at(day, hour=10):
    return datetime(2026, 10, day, hour, tzinfo=SHANGHAI)


def test_default_deadlines_are_the_legal_ones():
    defaults = rules()
    lengths = (defaults.lab_result_days, defaults.objection_days, defaults.rectification_days,
               defaults.recheck_days)
    assert lengths == (20, 15, 60, 75)


def test_lab_result_is_due_20_days_after_receipt_and_met_by_the_result():
    t = lc.Timeline(status="testing", received_at=_at(1))
    [d] = lc.deadlines(t, RULES)
    assert (d.name, d.due, d.met_at) == ("result", date(2026, 10, 21), None)
    assert not d.passed(date(2026, 10, 21))
    assert d.passed(date(2026, 10, 22))
    met = lc.Timeline(status="tested", received_at=_at(1), tested_at=_at(25))
    assert lc.overdue(met, RULES, date(2026, 12, 1)) == []


def test_deadlines_count_days_in_the_regulators_calendar():
    # 23:30 on 1 Oct in Beijing is still 1 Oct there, though 15:30 UTC the same day;
    # 00:30 on 2 Oct in Beijing is 1 Oct in UTC.
    early = datetime(2026, 10, 2, 0, 30, tzinfo=SHANGHAI)
    [d] = lc.deadlines(lc.Timeline(status="testing", received_at=early), RULES)
    assert d.due == date(2026, 10, 22)
    [d_utc] = lc.deadlines(lc.Timeline(status="testing", received_at=early), rules(tz=UTC))
    assert d_utc.due == date(2026, 10, 21)


def test_a_failing_notification_opens_a_15_day_objection_window():
    t = lc.Timeline(status="notified", verdict="fail", result_verdict="fail",
                    received_at=_at(1), tested_at=_at(5), notified_at=_at(6))
    names = {d.name: d for d in lc.deadlines(t, RULES)}
    assert names["objection"].due == date(2026, 10, 21)
    assert [d.name for d in lc.overdue(t, RULES, date(2026, 10, 22))] == ["objection"]


def test_a_passing_notification_sets_no_objection_window_and_no_rectification():
    t = lc.Timeline(status="final", verdict="pass", result_verdict="pass",
                    received_at=_at(1), tested_at=_at(5), notified_at=_at(6), final_at=_at(6))
    assert [d.name for d in lc.deadlines(t, RULES)] == ["result"]


def test_an_objection_closes_the_window_and_sets_the_retest_deadline():
    t = lc.Timeline(status="objection", verdict="fail", result_verdict="fail",
                    received_at=_at(1), tested_at=_at(5), notified_at=_at(6), objection_at=_at(10))
    found = {d.name: d for d in lc.deadlines(t, RULES)}
    assert found["objection"].met_at == _at(10)
    assert found["retest_result"].due == date(2026, 10, 30)
    assert [d.name for d in lc.overdue(t, RULES, date(2026, 10, 31))] == ["retest_result"]


def test_a_final_failure_sets_rectification_and_recheck_deadlines():
    t = lc.Timeline(status="final", verdict="fail", result_verdict="fail",
                    received_at=_at(1), tested_at=_at(5), notified_at=_at(6), final_at=_at(22))
    found = {d.name: d for d in lc.deadlines(t, RULES)}
    assert found["objection"].met_at == _at(22)
    assert found["rectification"].due == date(2026, 12, 21)
    assert found["recheck"].due == date(2027, 1, 5)
    assert lc.overdue(t, RULES, date(2026, 12, 21)) == []
    assert [d.name for d in lc.overdue(t, RULES, date(2026, 12, 22))] == ["rectification"]
    assert [d.name for d in lc.overdue(t, RULES, date(2027, 1, 6))] == ["rectification", "recheck"]


def test_an_ordered_rectification_uses_its_due_date_and_a_recheck_meets_both():
    t = lc.Timeline(status="rectifying", verdict="fail", result_verdict="fail", notified_at=_at(6),
                    final_at=_at(22), rectification_due=date(2026, 11, 30))
    found = {d.name: d for d in lc.deadlines(t, RULES)}
    assert found["rectification"].due == date(2026, 11, 30)
    done = lc.Timeline(status="rechecked", verdict="fail", result_verdict="fail",
                       notified_at=_at(6), final_at=_at(22),
                       rectification_due=date(2026, 11, 30), rechecked_at=_at(28))
    assert lc.overdue(done, RULES, date(2027, 6, 1)) == []


def test_a_retest_that_passes_leaves_no_rectification():
    t = lc.Timeline(status="final", verdict="pass", result_verdict="fail", notified_at=_at(6),
                    objection_at=_at(8), retested_at=_at(20), final_at=_at(20))
    assert [d.name for d in lc.deadlines(t, RULES)] == ["objection", "retest_result"]
    assert lc.overdue(t, RULES, date(2027, 6, 1)) == []


def test_a_planned_or_refused_sample_has_no_deadline():
    assert lc.deadlines(lc.Timeline(status="planned"), RULES) == []
    assert lc.deadlines(lc.Timeline(status="refused"), RULES) == []


def test_configured_lengths_replace_the_defaults():
    shorter = rules(lab_result_days=10)
    [d] = lc.deadlines(lc.Timeline(status="testing", received_at=_at(1)), shorter)
    assert d.due == date(2026, 10, 11)


def test_an_objection_on_the_last_day_of_the_window_is_accepted_and_the_day_after_refused():
    notified = _at(6)
    lc.check_objection_in_window(notified, datetime(2026, 10, 21, 23, 59, tzinfo=SHANGHAI), RULES)
    with pytest.raises(RuleViolation) as caught:
        lc.check_objection_in_window(notified, datetime(2026, 10, 22, 0, 1, tzinfo=SHANGHAI), RULES)
    assert caught.value.status == 409
    assert "2026-10-21" in caught.value.message


def test_finalize_waits_for_the_window_to_pass():
    with pytest.raises(RuleViolation, match="2026-10-21"):
        lc.check_window_passed(_at(6), date(2026, 10, 21), RULES)
    lc.check_window_passed(_at(6), date(2026, 10, 22), RULES)


def test_rectification_due_lies_within_60_days_of_the_final_verdict():
    final_at = _at(22)
    lc.check_rectification_due(date(2026, 10, 22), final_at, RULES)
    lc.check_rectification_due(date(2026, 12, 21), final_at, RULES)
    for bad in (date(2026, 10, 21), date(2026, 12, 22)):
        with pytest.raises(InvalidInput) as caught:
            lc.check_rectification_due(bad, final_at, RULES)
        assert list(caught.value.errors) == ["due_date"]


# Verdicts.

def _item(name, verdict, critical=False):
    return {"name": name, "requirement": "≤ 1", "measured": "0.5", "verdict": verdict,
            "critical": critical}


def test_all_passing_items_pass_the_sample():
    v = lc.derive_verdict([_item("铅", "pass"), _item("标签", "pass", critical=True)])
    assert v == lc.Verdict("pass", (), False)


def test_any_failed_item_fails_the_sample_and_is_named():
    v = lc.derive_verdict([_item("铅", "pass"), _item("标签", "fail"), _item("镉", "fail")])
    assert (v.verdict, v.failed_items, v.critical_failed) == ("fail", ("标签", "镉"), False)


def test_a_failed_critical_item_is_flagged():
    v = lc.derive_verdict([_item("铅", "fail", critical=True), _item("标签", "fail")])
    assert v.critical_failed


def test_a_passed_critical_item_is_not_a_critical_failure():
    v = lc.derive_verdict([_item("铅", "pass", critical=True), _item("标签", "fail")])
    assert v.verdict == "fail" and not v.critical_failed


def test_a_result_without_items_is_invalid():
    with pytest.raises(InvalidInput) as caught:
        lc.derive_verdict([])
    assert list(caught.value.errors) == ["items"]


def test_an_item_verdict_outside_pass_fail_is_invalid_on_that_item():
    with pytest.raises(InvalidInput) as caught:
        lc.derive_verdict([_item("铅", "pass"), _item("标签", "unclear")])
    assert list(caught.value.errors) == ["items.1.verdict"]


# Properties over random walks through the diagram.

WALK_FIELDS = {"receipt": "received_at", "result": "tested_at", "notification": "notified_at",
               "objection": "objection_at", "retest-result": "retested_at", "recheck": "rechecked_at"}


@st.composite
def walks(draw):
    """A legal walk from ``planned`` with increasing event times, as a Timeline."""
    state, verdict, result_verdict, facts = "planned", None, None, {}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(draw(st.integers(0, 8))):
        moves = lc.allowed_moves(state, verdict)
        if not moves:
            break
        action = draw(st.sampled_from(moves))
        at += timedelta(days=draw(st.integers(0, 40)), hours=draw(st.integers(0, 23)))
        state = lc.check_move(state, action, verdict)
        if action in ("result", "retest-result"):
            verdict = draw(st.sampled_from(lc.VERDICTS))
            result_verdict = result_verdict or verdict
        if action in WALK_FIELDS:
            facts[WALK_FIELDS[action]] = at
        if state == lc.FINAL and "final_at" not in facts:
            facts["final_at"] = at
    return lc.Timeline(status=state, verdict=verdict, result_verdict=result_verdict, **facts)


@given(walks(), st.integers(0, 400))
def test_an_overdue_deadline_stays_overdue_until_met(timeline, days):
    day = date(2026, 1, 1) + timedelta(days=days)
    today_overdue = {d.name for d in lc.overdue(timeline, RULES, day)}
    tomorrow_overdue = {d.name for d in lc.overdue(timeline, RULES, day + timedelta(days=1))}
    assert today_overdue <= tomorrow_overdue


@given(walks())
def test_a_met_deadline_is_never_overdue_and_an_open_one_belongs_to_the_state(timeline):
    open_by_state = {"result": {"testing"}, "objection": {"notified"}, "retest_result": {"objection"},
                     "rectification": {"final", "rectifying"}, "recheck": {"final", "rectifying"}}
    for d in lc.deadlines(timeline, RULES):
        if d.met_at is None:
            assert timeline.status in open_by_state[d.name], (d, timeline.status)
        else:
            assert not d.passed(date(2100, 1, 1))


# The visit: the plan's sampling window, the purchase of online samples.

def test_a_visit_inside_the_window_is_accepted_and_outside_refused_on_its_field():
    start, end = date(2026, 10, 1), date(2027, 2, 28)
    for inside in (start, date(2026, 12, 24), end):
        lc.check_in_window("sampled_at", inside, start, end)
    for outside in (start - timedelta(days=1), end + timedelta(days=1)):
        with pytest.raises(InvalidInput) as caught:
            lc.check_in_window("sampled_at", outside, start, end)
        assert caught.value.status == 422 and list(caught.value.errors) == ["sampled_at"]
        assert "2026-10-01" in caught.value.message and "2027-02-28" in caught.value.message


def test_an_open_ended_window_limits_one_side_only():
    lc.check_in_window("refused_at", date(2020, 1, 1), None, date(2026, 1, 1))
    lc.check_in_window("refused_at", date(2030, 1, 1), date(2026, 1, 1), None)
    lc.check_in_window("refused_at", date(2030, 1, 1), None, None)
    with pytest.raises(InvalidInput):
        lc.check_in_window("refused_at", date(2025, 12, 31), date(2026, 1, 1), None)


@pytest.mark.parametrize("stage", ["online", "cross_border"])
def test_an_online_or_cross_border_sample_needs_its_purchase(stage):
    with pytest.raises(InvalidInput) as caught:
        lc.check_purchase(stage, None, date(2026, 11, 3))
    assert list(caught.value.errors) == ["purchase"]
    lc.check_purchase(stage, {"received_on": date(2026, 11, 3)}, date(2026, 11, 3))
    with pytest.raises(InvalidInput) as late:
        lc.check_purchase(stage, {"received_on": date(2026, 11, 4)}, date(2026, 11, 3))
    assert list(late.value.errors) == ["purchase.received_on"]


@pytest.mark.parametrize("stage", ["production", "distribution"])
def test_a_sample_taken_on_site_needs_no_purchase(stage):
    lc.check_purchase(stage, None, date(2026, 11, 3))

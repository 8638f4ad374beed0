"""The pure follow-up rules: what a failure calls for and by when, and the 处理情况 labels."""

from datetime import date

from sampling import followup as fu

FINAL = date(2026, 9, 1)


def required(**facts):
    base = {"final_on": FINAL, "serious": False, "refused": False, "recheck_failed": False,
            "producer_elsewhere": False, "interview_days": 30, "referral_days": 10}
    return [(r.kind, r.basis, r.due) for r in fu.required_actions(**{**base, **facts})]


def test_what_each_failure_calls_for():
    assert required() == []
    assert required(serious=True) == [("interview", "serious_failure", date(2026, 10, 1))]
    assert required(refused=True) == [("interview", "refusal", date(2026, 10, 1))]
    assert required(serious=True, recheck_failed=True) == [("interview", "recheck_failed", date(2026, 10, 1))]
    assert required(producer_elsewhere=True) == [("referral", "producer_elsewhere", date(2026, 9, 11))]
    assert required(producer_elsewhere=True, serious=True) == [("referral", "producer_elsewhere", date(2026, 9, 11))]
    assert required(serious=True, interview_days=45) == [("interview", "serious_failure", date(2026, 10, 16))]


def test_overdue_only_when_open_and_past_its_day():
    assert not fu.is_overdue("open", FINAL, FINAL)
    assert fu.is_overdue("open", FINAL, date(2026, 9, 2))
    assert not fu.is_overdue("done", FINAL, date(2026, 9, 2))
    assert not fu.is_overdue("open", None, date(2030, 1, 1))


def labels(failed=True, actions=(), rectifying=False, report=False, recheck=None):
    return fu.summary_labels(failed=failed, actions=[fu.ActionFacts(*a) for a in actions],
                             rectifying=rectifying, report_submitted=report, recheck=recheck)


def test_the_summary_labels_follow_what_was_done():
    assert labels(failed=False) == []
    assert labels() == ["待处理"]
    assert labels(actions=[("interview", "open")]) == ["待处理"]
    assert labels(actions=[("interview", "done"), ("case", "open", "东市监立〔2026〕1号")]) == ["已约谈", "已立案"]
    assert labels(actions=[("recall", "done"), ("referral", "done"), ("stop_sale", "done")]) == [
        "已责令停止生产销售", "已召回", "已移送"]
    assert labels(rectifying=True) == ["整改中"]
    assert labels(rectifying=True, report=True) == ["已整改"]
    assert labels(actions=[("interview", "done")], report=True, recheck="pass") == ["已约谈", "已整改", "复查合格"]
    assert labels(recheck="fail") == ["复查不合格"]
    assert fu.summary_text(["已约谈", "已整改", "复查合格"]) == "已约谈、已整改、复查合格"
    assert fu.summary_text([]) is None


def test_every_kind_has_its_chinese_name():
    from sampling.enums import ACTION_KINDS, LABELS

    assert set(LABELS["action_kind"]) == set(ACTION_KINDS)

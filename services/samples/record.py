"""A sample as plain data: what the API answers, and what an Idempotency-Key replays.

Every value is plain JSON (dates and instants as ISO 8601 text), so the first answer to a
keyed request can be stored as it is and given again, byte for byte, to a repeat.
"""

import math
from datetime import date, datetime

from models.samples import RectificationReport, Result, Sample, SampleEvent
from sampling import lifecycle as lc
from services.samples.rules import deadlines_of, result_of


def iso(value: date | datetime | None) -> str | None:
    """ISO 8601 text of a date or an instant (with its offset), None kept."""
    return value.isoformat() if value is not None else None


def _code(row) -> str | None:
    return row.code if row is not None else None


def producer_record(sample: Sample) -> dict | None:
    """The named producer (标称生产者): a registered enterprise, or one registered elsewhere by
    name and address; None before the visit (or for a refusal)."""
    if sample.producer is not None:
        p = sample.producer
        return {"credit_code": p.credit_code, "name": p.name, "address": p.address, "registered": True}
    if sample.producer_name:
        return {"credit_code": sample.producer_credit_code, "name": sample.producer_name,
                "address": sample.producer_address, "registered": False}
    return None


def purchase_record(sample: Sample) -> dict | None:
    """The purchase (买样) of an online or cross-border sample; None for the others."""
    if sample.purchase_order_no is None:
        return None
    return {"platform": sample.purchase_platform, "order_no": sample.purchase_order_no,
            "price": sample.purchase_price_fen / 100, "received_on": iso(sample.purchase_received_on)}


def summary_record(sample: Sample) -> dict:
    """The fields a list of samples shows."""
    return {
        "sample_code": sample.code, "plan_id": sample.plan_id,
        "credit_code": sample.enterprise.credit_code, "enterprise_name": sample.enterprise.name,
        "category_code": sample.category.code, "period": sample.period, "level": sample.level,
        "kind": sample.kind, "source": sample.source, "status": sample.status, "verdict": sample.verdict,
        "critical_failed": sample.critical_failed, "stage": sample.stage, "producer": producer_record(sample),
        "product_name": sample.product_name, "batch_no": sample.batch_no,
        "lab": _code(sample.lab), "retest_lab": _code(sample.retest_lab),
        "inspectors": [i.code for i in sample.team],
        "drawn_at": iso(sample.drawn_at), "last_event_at": iso(sample.last_event_at),
        "final_at": iso(sample.final_at),
    }


def failed_item_names(result: Result | None) -> list[str]:
    """The names of a result's failed items, in report order."""
    return [i.name for i in result.items if i.verdict == lc.FAIL] if result is not None else []


def result_record(result: Result) -> dict:
    """One recorded result with its items."""
    return {
        "kind": result.kind, "report_no": result.report_no, "tested_at": iso(result.tested_at),
        "lab": _code(result.lab), "lab_name": result.lab_name, "verdict": result.verdict,
        "critical_failed": result.critical_failed, "failed_items": failed_item_names(result),
        "correction_reason": result.correction_reason, "recorded_by": result.recorded_by,
        "recorded_at": iso(result.created_at),
        "items": [{"name": i.name, "requirement": i.requirement, "measured": i.measured, "unit": i.unit,
                   "verdict": i.verdict, "critical": i.critical} for i in result.items],
    }


def report_record(report: RectificationReport) -> dict:
    """A rectification report as listed with the sample (the file itself is fetched apart)."""
    return {"id": report.id, "filename": report.filename, "content_type": report.content_type,
            "size": report.size, "sha256": report.sha256, "submitted_at": iso(report.submitted_at),
            "uploaded_by": report.uploaded_by}


def event_record(event: SampleEvent) -> dict:
    """One step of the sample's history."""
    return {
        "action": event.action, "from_status": event.from_status, "to_status": event.to_status,
        "occurred_at": iso(event.occurred_at), "recorded_at": iso(event.recorded_at),
        "actor": event.actor, "data": event.data,
    }


def quantity_value(text: str | None) -> int | float | str | None:
    """A quantity as a client reads it: a bare count is a number (6), one with its unit stays text (6件)."""
    if text is None:
        return None
    for number in (int, float):
        try:
            value = number(text)
        except ValueError:
            continue
        return value if math.isfinite(value) else text
    return text


def sample_record(sample: Sample, today: date) -> dict:
    """Everything about one sample: state, visit, results, deadlines as of ``today``, history."""
    standing = result_of(sample)
    return {
        **summary_record(sample),
        "allowed_moves": lc.allowed_moves(sample.status, sample.verdict),
        "brand": sample.brand, "model": sample.model, "production_date": iso(sample.production_date),
        "quantity": quantity_value(sample.quantity), "reserve_quantity": quantity_value(sample.reserve_quantity),
        "purchase": purchase_record(sample),
        "visit_inspectors": sample.visit_inspector_codes,
        "sampled_at": iso(sample.sampled_at), "refused_at": iso(sample.refused_at),
        "refusal_reason": sample.refusal_reason, "received_at": iso(sample.received_at),
        "tested_at": iso(sample.tested_at), "notified_at": iso(sample.notified_at),
        "objection_filed_at": iso(sample.objection_filed_at), "objection_reason": sample.objection_reason,
        "rectification_due": iso(sample.rectification_due), "rectification_notes": sample.rectification_notes,
        "rectification_at": iso(sample.rectification_at),
        "rectification_reports": [report_record(r) for r in sample.reports],
        "rechecked_at": iso(sample.rechecked_at),
        "recheck_verdict": sample.recheck_verdict, "recheck_report_no": sample.recheck_report_no,
        "failed_items": failed_item_names(standing),
        "result": result_record(standing) if standing is not None else None,
        "results": [result_record(r) for r in sample.results],
        "deadlines": [{**d, "due": iso(d["due"]), "met_at": iso(d["met_at"])} for d in deadlines_of(sample, today)],
        "overdue": sample.overdue,
        "history": [event_record(e) for e in sample.events],
    }

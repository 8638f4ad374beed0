"""The sample life cycle over the database, in parts:

- ``access``: who may see a sample and who may move it;
- ``moves``: the moves of the life-cycle table, one transaction each, and corrections;
- ``idempotency``: a repeated keyed request gets the first answer;
- ``retest``: the retest lab, ranked like the draw's labs;
- ``overdue``: deadlines passed, the report and the job's flags;
- ``rules`` and ``record``: the configured deadlines, and a sample as plain data.

Everything here takes who acts and when as arguments; the names below are the public face.
"""

from services.calendar import today
from services.samples.access import (
    CORRECTION_ROLES,
    MOVE_ROLES,
    READER_ROLES,
    REPORT_ROLES,
    get_sample,
    list_samples,
    read_sample,
    report_file,
)
from services.samples.moves import (
    KEYED_MOVES,
    correct_result,
    finalize_expired,
    move,
    submit_rectification_report,
    verdict_became_final,
)
from services.samples.overdue import flag_overdue, overdue_rows
from services.samples.record import summary_record
from services.samples.rules import deadline_rules, report_max_bytes

__all__ = [
    "CORRECTION_ROLES", "KEYED_MOVES", "MOVE_ROLES", "READER_ROLES", "REPORT_ROLES", "correct_result",
    "deadline_rules", "finalize_expired", "flag_overdue", "get_sample", "list_samples", "move", "overdue_rows",
    "read_sample", "report_file", "report_max_bytes", "submit_rectification_report", "summary_record", "today",
    "verdict_became_final",
]

"""The domain's vocabularies, each said once: models, schemas, rules and pages ask here.

A CHECK constraint in the database is built from these tuples; a change to one needs a
migration of the constraint as well.
"""

# Credit grades of GB/T 23791 (A trustworthy ... D seriously untrustworthy); B without a record.
GRADES = ("A", "B", "C", "D")
DEFAULT_GRADE = "B"

# Who holds a token.
ROLES = ("supervisor", "inspector", "lab")

# Registries.
CATEGORY_GROUPS = ("industrial", "consumer", "food", "agri", "building", "chemical", "other")
SCALES = ("large", "medium", "small", "micro")
ENTERPRISE_STATUSES = ("active", "closed", "suspended")

# Plans: the level of the check and its kind.
PLAN_LEVELS = ("national", "provincial", "municipal")
PLAN_KINDS = ("routine", "special", "risk")

# Where a sample is taken.
STAGES = ("production", "distribution", "online")

# A test item's, a result's and a sample's verdict.
VERDICTS = ("pass", "fail")

# Where a sample's record comes from, and what kind of result a result is.
SAMPLE_SOURCES = ("draw", "import")
RESULT_KINDS = ("initial", "retest", "correction")

"""The domain's vocabularies, each said once: models, schemas, rules and pages ask here.

A CHECK constraint in the database is built from these tuples; a change to one needs a
migration of the constraint as well.
"""

# Credit grades of GB/T 23791 (A trustworthy ... D seriously untrustworthy); B without a record.
GRADES = ("A", "B", "C", "D")
DEFAULT_GRADE = "B"

# Who holds a token.
ROLES = ("supervisor", "inspector", "lab", "enterprise", "partner")

# Registries.
CATEGORY_GROUPS = ("industrial", "consumer", "food", "agri", "building", "chemical", "other")
SCALES = ("large", "medium", "small", "micro")
ENTERPRISE_STATUSES = ("active", "closed", "suspended")
DEFAULT_SCALE, DEFAULT_STATUS = "small", "active"  # an enterprise registered without them
# What an enterprise is in the market (it may be several): 生产企业, 销售者, 网店, 跨境电商/进口商.
ENTERPRISE_KINDS = ("producer", "seller", "online_shop", "importer")
DEFAULT_ENTERPRISE_KINDS = ("producer",)
MONTHS = tuple(range(1, 13))

# Where a risk signal comes from: 12315/12345 complaints, product injury reports, outside failing results.
SIGNAL_SOURCES = ("complaint", "injury", "outside_check")

# Plans: the level of the check and its kind.
PLAN_LEVELS = ("national", "provincial", "municipal")
PLAN_KINDS = ("routine", "special", "risk")

# Where a sample is taken.
STAGES = ("production", "distribution", "online", "cross_border")
# The kind of enterprise a plan of each stage draws: producers, sellers, online shops, importers.
STAGE_KINDS = {"production": "producer", "distribution": "seller", "online": "online_shop", "cross_border": "importer"}
# The stages where the sample is bought (买样), so the purchase is recorded with it.
PURCHASED_STAGES = ("online", "cross_border")

# A test item's, a result's and a sample's verdict.
VERDICTS = ("pass", "fail")

# Where a sample's record comes from, and what kind of result a result is.
SAMPLE_SOURCES = ("draw", "import")
RESULT_KINDS = ("initial", "retest", "correction")

# How the public pages name each of these words (Chinese only on pages; names, not codes).
LABELS = {
    "level": {"national": "国家级", "provincial": "省级", "municipal": "市级"},
    "kind": {"routine": "日常监督抽查", "special": "专项监督抽查", "risk": "风险监测抽查"},
    "stage": {"production": "生产领域", "distribution": "流通领域", "online": "电子商务",
              "cross_border": "跨境电商"},
    "verdict": {"pass": "合格", "fail": "不合格", "refused": "拒绝抽样"},
    "grade": {"A": "A级（守信）", "B": "B级（基本守信）", "C": "C级（失信）", "D": "D级（严重失信）"},
    "list": {"red": "红榜", "black": "黑榜"},
    "severity": {"general": "一般失信", "serious": "严重失信"},
    "scale": {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"},
    "enterprise_status": {"active": "在营", "closed": "注销", "suspended": "停业"},
    "enterprise_kind": {"producer": "生产企业", "seller": "销售者", "online_shop": "网店", "importer": "进口商"},
    "group": {"industrial": "工业产品", "consumer": "日用消费品", "food": "食品相关产品", "agri": "农资产品",
              "building": "建材产品", "chemical": "化工产品", "other": "其他"},
    "risk_level": {1: "一般", 2: "较高", 3: "高"},
    "entry_state": {"active": "有效", "lapsed": "已到期", "removed": "已提前移出（信用修复）",
                    "withdrawn": "已撤回（结论更正）"},
    "status": {"planned": "待抽样", "sampled": "已抽样", "refused": "拒绝抽样", "testing": "检验中",
               "tested": "已出结果", "notified": "已告知", "objection": "异议复检中", "final": "结论已确定",
               "rectifying": "整改中", "rechecked": "已复查"},
    "move": {"sampling": "抽样", "refusal": "拒绝抽样", "receipt": "样品接收", "result": "检验结果",
             "notification": "结果告知", "objection": "异议", "finalize": "确定结论", "retest-result": "复检结果",
             "rectification": "责令整改", "recheck": "复查"},
    "task_kind": {"draw": "抽取", "enterprise_import": "企业导入"},
    "task_status": {"queued": "排队中", "running": "进行中", "succeeded": "已完成", "failed": "失败"},
    "task_stage": {"reading": "读取数据", "drawing": "抽取计算", "writing": "写入结果", "done": "已结束"},
    "action_kind": {"interview": "约谈", "stop_sale": "责令停止生产销售", "recall": "召回", "case": "立案查处",
                    "referral": "移送"},
}

# Follow-up after a final failure or refusal (后处理): the kinds of action, their states, and
# why the rules called for one (a discretionary action has no basis).
ACTION_KINDS = ("interview", "stop_sale", "recall", "case", "referral")
ACTION_STATUSES = ("open", "done")
ACTION_BASES = ("serious_failure", "recheck_failed", "refusal", "producer_elsewhere")

# Credit events partners read (联合奖惩).
EVENT_TYPES = ("grade_changed", "listed", "lapsed", "removed", "serious_failure", "follow_up")

# Red/black lists (红黑榜): which list, and how serious a black entry is.
LIST_NAMES = ("red", "black")
SEVERITIES = ("general", "serious")

# Background tasks (后台任务): a draw or an enterprise import too large for one request, what
# state each is in, and the stage it has reached (a short word; LABELS names it in Chinese).
TASK_KINDS = ("draw", "enterprise_import")
TASK_STATUSES = ("queued", "running", "succeeded", "failed")
TASK_ACTIVE_STATUSES = ("queued", "running")
TASK_STAGES = ("reading", "drawing", "writing", "done")

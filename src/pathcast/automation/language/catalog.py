"""Curated domain words: what the schema cannot say about itself.

The live schema gives entity and column names, enum values, stage, position, asset,
document and connector names; this module adds the words people actually use for them
in Chinese and English ("商机/机会/deal/opportunity", "折扣/discount"), their display
labels for read-backs, and the business events and metrics a rule may start from.
Everything here is plain data; ``vocabulary.py`` turns it into a ``Vocabulary``.
"""

from __future__ import annotations

# --- entities -------------------------------------------------------------------------------
# name -> (label_zh, label_en, surfaces). Surfaces are used by both languages' lexers, so a
# Chinese sentence may say "deal" and an English one may name a position "实施总监".

ENTITIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "opportunity": (
        "商机",
        "deal",
        ("商机", "机会", "销售机会", "商机单", "单子", "deal", "opportunity", "opp", "sales opportunity"),
    ),
    "account": (
        "客户",
        "account",
        ("客户", "公司", "企业", "客户公司", "account", "customer", "client", "company"),
    ),
    "contact": ("联系人", "contact", ("联系人", "客户联系人", "对接人", "contact", "prospect")),
    "quote": ("报价", "quote", ("报价", "报价单", "quote", "quotation")),
    "contract": ("合同", "contract", ("合同", "合约", "contract", "agreement")),
    "ticket": ("工单", "ticket", ("工单", "售后工单", "服务工单", "ticket", "support ticket", "case")),
    "activity": (
        "跟进活动",
        "activity",
        (
            "活动",
            "跟进",
            "跟进活动",
            "跟进记录",
            "联系",
            "回访",
            "activity",
            "follow-up",
            "follow up",
            "followup",
            "follows up",
            "followed up",
            "touchpoint",
            "处理",
            "回复",
            "响应",
            "handled",
            "responded to",
            "answered",
        ),
    ),
    "product": ("产品", "product", ("产品", "product")),
    "document": ("文档", "document", ("文档", "资料", "document", "doc")),
    "subscription": ("订阅", "subscription", ("订阅", "subscription")),
}

# Entities a tag can be put on (record_tags.entity).
TAGGABLE = ("contact", "account", "opportunity")

# --- fields ---------------------------------------------------------------------------------
# (entity, column) -> (label_zh, label_en, kind, surfaces, preferred). ``preferred`` marks the
# sense a shared word ("金额", "discount") takes when the sentence names no entity.
# ``stage`` is virtual: the opportunity's stage by key (the column is stage_id).

FIELDS: dict[tuple[str, str], tuple[str, str, str, tuple[str, ...], bool]] = {
    ("opportunity", "amount"): (
        "金额",
        "amount",
        "money",
        (
            "金额",
            "商机金额",
            "预计金额",
            "成交金额",
            "amount",
            "deal size",
            "deal amount",
            "deal value",
            "worth",
            "valued at",
        ),
        True,
    ),
    ("opportunity", "stage"): (
        "阶段",
        "stage",
        "stage",
        ("阶段", "销售阶段", "商机阶段", "stage", "sales stage", "pipeline stage"),
        True,
    ),
    ("opportunity", "expected_close_date"): (
        "预计成交日期",
        "close date",
        "date",
        ("预计成交日期", "预计成交日", "成交日期", "结单日期", "close date", "expected close date"),
        True,
    ),
    ("opportunity", "status"): ("状态", "status", "enum", ("状态", "status"), False),
    ("opportunity", "forecast_category"): (
        "预测类别",
        "forecast category",
        "enum",
        ("预测类别", "预测分类", "forecast category"),
        True,
    ),
    ("opportunity", "lead_source"): (
        "线索来源",
        "lead source",
        "text",
        ("线索来源", "商机来源", "来源", "lead source", "source"),
        True,
    ),
    ("opportunity", "owner_id"): ("负责人", "owner", "user", ("负责人", "owner"), True),
    ("opportunity", "name"): ("名称", "name", "text", ("商机名称", "名称", "name"), False),
    ("account", "tier"): (
        "客户等级",
        "tier",
        "enum",
        ("客户等级", "等级", "级别", "客户级别", "客户分级", "tier", "account tier", "customer tier"),
        True,
    ),
    ("account", "industry"): ("行业", "industry", "text", ("行业", "所属行业", "industry", "sector"), True),
    ("account", "region"): ("区域", "region", "text", ("区域", "地区", "大区", "region", "area"), True),
    ("account", "city"): ("城市", "city", "text", ("城市", "city"), True),
    ("account", "country"): ("国家", "country", "text", ("国家", "country"), True),
    ("account", "employees"): (
        "员工数",
        "employees",
        "number",
        ("员工数", "员工人数", "人数", "employees", "headcount", "employee count"),
        True,
    ),
    ("account", "annual_revenue"): (
        "年收入",
        "annual revenue",
        "money",
        ("年收入", "年营收", "营收", "年营业额", "annual revenue", "revenue"),
        True,
    ),
    ("account", "name"): ("客户名称", "name", "text", ("客户名称", "name"), False),
    ("contact", "title"): ("职位", "title", "text", ("职位", "职务", "title", "job title"), True),
    ("contact", "department"): ("部门", "department", "text", ("部门", "department"), True),
    ("quote", "discount_pct"): (
        "折扣",
        "discount",
        "percent",
        ("折扣", "折扣率", "折扣比例", "优惠", "让利", "discount", "discount rate", "discount percentage"),
        True,
    ),
    ("quote", "total"): (
        "报价金额",
        "quote total",
        "money",
        ("报价金额", "报价总额", "总额", "总价", "total", "quote total", "quote amount"),
        True,
    ),
    ("quote", "status"): ("报价状态", "quote status", "enum", ("状态", "status", "报价状态"), False),
    ("quote", "valid_until"): ("有效期", "valid until", "date", ("有效期", "valid until"), True),
    ("contract", "value"): (
        "合同金额",
        "contract value",
        "money",
        ("合同金额", "合同额", "contract value", "value"),
        True,
    ),
    ("contract", "status"): ("合同状态", "contract status", "enum", ("状态", "status", "合同状态"), False),
    ("contract", "end_date"): (
        "到期日期",
        "end date",
        "date",
        ("到期日", "到期日期", "结束日期", "end date", "expiry date"),
        True,
    ),
    ("contract", "renewal_date"): (
        "续约日期",
        "renewal date",
        "date",
        ("续约日期", "续费日期", "renewal date"),
        True,
    ),
    ("ticket", "severity"): (
        "严重程度",
        "severity",
        "enum",
        ("严重程度", "严重级别", "优先级", "severity", "priority"),
        True,
    ),
    ("ticket", "status"): ("工单状态", "ticket status", "enum", ("状态", "status", "工单状态"), False),
    ("activity", "kind"): ("活动类型", "activity type", "enum", ("活动类型", "类型", "type", "kind"), True),
}

# Columns never offered as rule fields: keys, provenance, free-form internals.
HIDDEN_COLUMNS = frozenset(
    {"id", "external_source", "external_id", "notes", "description", "body", "password_hash"}
)

# --- picklist values ------------------------------------------------------------------------
# (field path, value) -> (label_zh, label_en, extra surfaces). The value itself is a surface too.

VALUE_LABELS: dict[tuple[str, str], tuple[str, str, tuple[str, ...]]] = {
    ("account.tier", "strategic"): ("战略", "strategic", ("战略", "战略级", "战略型", "strategic")),
    ("account.tier", "key"): ("重点", "key", ("重点", "关键", "重要", "key", "key-account")),
    ("account.tier", "standard"): (
        "普通",
        "standard",
        ("普通", "标准", "一般", "常规", "standard", "regular"),
    ),
    ("opportunity.status", "open"): ("进行中", "open", ("进行中", "未关闭", "open")),
    ("opportunity.status", "won"): ("赢单", "won", ("won",)),
    ("opportunity.status", "lost"): ("输单", "lost", ("lost",)),
    ("opportunity.forecast_category", "pipeline"): ("管道", "pipeline", ("管道", "pipeline")),
    ("opportunity.forecast_category", "best_case"): (
        "最佳情况",
        "best case",
        ("最佳情况", "乐观", "best case"),
    ),
    ("opportunity.forecast_category", "commit"): ("承诺", "commit", ("承诺", "必成", "commit")),
    ("opportunity.forecast_category", "omitted"): ("排除", "omitted", ("排除", "不计入", "omitted")),
    ("opportunity.forecast_category", "closed"): ("已关闭", "closed", ("已关闭", "closed")),
    ("quote.status", "draft"): ("草稿", "draft", ("草稿", "draft")),
    ("quote.status", "sent"): ("已发送", "sent", ("已发送", "已发出", "sent")),
    ("quote.status", "accepted"): ("已接受", "accepted", ("已接受", "accepted")),
    ("quote.status", "rejected"): ("已拒绝", "rejected", ("已拒绝", "rejected")),
    ("quote.status", "expired"): ("已过期", "expired", ("已过期", "expired")),
    ("contract.status", "draft"): ("草稿", "draft", ("草稿", "draft")),
    ("contract.status", "active"): ("生效", "active", ("生效", "已生效", "有效", "执行中", "active")),
    ("contract.status", "expired"): ("已到期", "expired", ("已到期", "expired")),
    ("contract.status", "terminated"): ("已终止", "terminated", ("已终止", "终止", "terminated")),
    ("ticket.severity", "critical"): ("紧急", "critical", ("紧急", "严重", "critical", "urgent")),
    ("ticket.severity", "high"): ("高", "high", ("高", "high")),
    ("ticket.severity", "normal"): ("一般", "normal", ("一般", "普通", "normal", "medium")),
    ("ticket.severity", "low"): ("低", "low", ("低", "low")),
    ("ticket.status", "open"): ("待处理", "open", ("待处理", "open")),
    ("ticket.status", "pending"): ("挂起", "pending", ("挂起", "等待中", "pending")),
    ("ticket.status", "resolved"): ("已解决", "resolved", ("已解决", "resolved")),
    ("ticket.status", "closed"): ("已关闭", "closed", ("已关闭", "closed")),
    ("activity.kind", "call"): ("电话", "call", ("电话", "通话", "phone call")),
    ("activity.kind", "email"): ("邮件", "email", ("邮件",)),
    ("activity.kind", "meeting"): ("会议", "meeting", ("会议",)),
    ("activity.kind", "note"): ("备注", "note", ("备注",)),
    ("activity.kind", "task"): ("任务", "task", ("任务",)),
    ("activity.kind", "message"): ("消息", "message", ("消息", "message")),
}

# Industries (account.industry is free text): a canonical key and the words for it. The
# vocabulary links each key to the live industry values that contain one of its words.
INDUSTRIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "manufacturing": (
        "制造业",
        "manufacturing",
        ("制造业", "制造", "工业", "工厂", "智能制造", "manufacturing", "industrial", "manufacturer"),
    ),
    "medical": ("医疗", "medical", ("医疗", "医疗器械", "医院", "医药", "medical", "healthcare", "hospital")),
    "software": ("软件", "software", ("软件", "互联网", "saas", "software", "internet")),
    "finance": ("金融", "finance", ("金融", "银行", "保险", "finance", "financial", "banking", "insurance")),
    "retail": ("零售", "retail", ("零售", "消费品", "retail", "consumer goods")),
    "education": ("教育", "education", ("教育", "学校", "education")),
    "energy": ("能源", "energy", ("能源", "电力", "energy", "utilities")),
    "logistics": ("物流", "logistics", ("物流", "运输", "logistics", "transport")),
    "government": ("政府", "government", ("政府", "政务", "government", "public sector")),
    "consulting": ("咨询", "consulting", ("咨询", "consulting", "professional services")),
    "automotive": ("汽车", "automotive", ("汽车", "automotive")),
}


def canonical_industry(value: str | None) -> str | None:
    """The language's industry key for an industry written elsewhere, or the value itself.

    The radar grades with its own weight-table keys (``medical_devices``) and accounts hold
    free text (``医疗器械``); a rule says 医疗 (``medical``). A value is mapped to the first
    key one of whose words it contains, so all three meet on ``medical``.
    """
    if value is None:
        return None
    folded = value.strip().casefold()
    if folded in INDUSTRIES:
        return folded
    spaced = folded.replace("_", " ")
    for key, (_zh, _en, words) in INDUSTRIES.items():
        if any(word.casefold() in spaced for word in words):
            return key
    return folded


# --- stages -----------------------------------------------------------------------------------
# Extra words for stages of these keys, used only when such a stage exists.
STAGE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "lead": ("线索", "lead"),
    "qualified": ("已验证", "qualified", "qualification"),
    "discovery": ("需求调研", "调研", "discovery"),
    "solution": ("方案与测试", "poc阶段", "solution", "poc stage"),
    "proposal": ("方案", "提案", "报价阶段", "proposal"),
    "negotiation": ("谈判", "商务谈判", "negotiation"),
    "won": ("赢单", "成交", "closed won"),
    "lost": ("输单", "丢单", "closed lost"),
}

# "POC测试通过": a stage so named is used first, else the move out of the POC stage.
POC_PASSED_KEYS = ("poc_passed", "poc通过", "poc passed")
POC_STAGE_MARKERS = ("poc", "验证", "测试")

# --- people -----------------------------------------------------------------------------------
# Relations: someone related to the record a run is about. key -> (zh, en, surfaces).
RELATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "owner": (
        "负责人",
        "the owner",
        (
            "负责人",
            "销售负责人",
            "商机负责人",
            "销售",
            "销售代表",
            "业务员",
            "跟进人",
            "对应销售",
            "他的负责人",
            "其负责人",
            "它的负责人",
            "owner",
            "deal owner",
            "opportunity owner",
            "rep",
            "sales rep",
            "salesperson",
            "account executive",
            "its owner",
            "their owner",
        ),
    ),
    "account_owner": (
        "客户负责人",
        "the account owner",
        ("客户负责人", "客户经理", "大客户经理", "account owner", "account manager", "customer owner"),
    ),
    "account_csm": (
        "客户成功经理",
        "the account's CSM",
        ("客户成功经理", "客户成功", "csm", "customer success manager", "account csm"),
    ),
    "owner_manager": (
        "负责人的经理",
        "the owner's manager",
        (
            "负责人的经理",
            "负责人的上级",
            "销售的经理",
            "销售的上级",
            "直属经理",
            "直属上级",
            "上级",
            "上级领导",
            "owner's manager",
            "rep's manager",
            "line manager",
            "manager of the owner",
        ),
    ),
}

# Access roles (auth.models.Role) that rules may address. key -> (zh, en, surfaces).
ACCESS_ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "manager": (
        "经理",
        "managers",
        ("经理", "销售经理", "主管", "团队经理", "manager", "sales manager", "team manager"),
    ),
    "admin": ("管理员", "admins", ("管理员", "系统管理员", "admin", "administrator")),
    # Everyone with the sales-rep access role. "销售代表/rep" alone is the record's owner; a
    # quantified "所有销售代表/all reps/every rep" is this group (see lexer._quantified).
    "rep": ("销售代表", "sales reps", ("销售团队", "sales team")),
}

# Words for a sales rep: after a quantifier (所有/全部/每位/all/every/each) they name the
# access role ``rep``, not the record's owner. Compared singular, lower case, without spaces.
REP_WORDS = frozenset(
    {
        "销售", "销售代表", "业务员", "销售人员", "销售员", "rep", "salesrep", "salesperson",
        "salespeople", "seller", "accountexecutive", "ae",
    }
)  # fmt: skip

# Record + relation → relation ("客户的负责人" = account_owner, "负责人的经理" = owner_manager).
COMPOSED_RELATIONS: dict[tuple[str, str], str] = {
    ("account", "owner"): "account_owner",
    ("account", "account_owner"): "account_owner",
    ("account", "account_csm"): "account_csm",
    ("account", "csm"): "account_csm",
    ("opportunity", "owner"): "owner",
    ("contact", "owner"): "owner",
    ("quote", "owner"): "owner",
    ("contract", "owner"): "owner",
    ("ticket", "owner"): "owner",
    ("owner", "manager"): "owner_manager",
    ("owner", "owner_manager"): "owner_manager",
    ("account_owner", "manager"): "owner_manager",
}

# When a rule names no one for a pronoun, these are offered (relation keys), best first.
PRONOUN_SUGGESTIONS = ("owner", "account_owner", "owner_manager", "account_csm")

# --- events and metrics -------------------------------------------------------------------------
# event key -> (entity, verb, label_zh, label_en, derived). ``derived`` = (field, value): the
# event is not appended under this name; the engine recognises it as an update that set
# ``field`` to ``value`` (contract.signed = contract status → active).
EVENTS: dict[str, tuple[str, str, str, str, tuple[str, str] | None]] = {
    "opportunity.created": ("opportunity", "created", "商机创建", "a deal is created", None),
    "opportunity.won": ("opportunity", "won", "商机赢单", "a deal is won", None),
    "opportunity.lost": ("opportunity", "lost", "商机输单", "a deal is lost", None),
    "opportunity.stage_changed": (
        "opportunity",
        "stage_changed",
        "商机阶段变化",
        "a deal changes stage",
        None,
    ),
    "opportunity.amount_changed": (
        "opportunity",
        "amount_changed",
        "商机金额变化",
        "a deal's amount changes",
        None,
    ),
    "opportunity.close_date_changed": (
        "opportunity",
        "close_date_changed",
        "预计成交日期变化",
        "a deal's close date changes",
        None,
    ),
    "opportunity.updated": ("opportunity", "updated", "商机更新", "a deal is updated", None),
    "opportunity.deleted": ("opportunity", "deleted", "商机删除", "a deal is deleted", None),
    "account.created": ("account", "created", "客户创建", "an account is created", None),
    "account.updated": ("account", "updated", "客户更新", "an account is updated", None),
    "contact.created": ("contact", "created", "联系人创建", "a contact is created", None),
    "contact.updated": ("contact", "updated", "联系人更新", "a contact is updated", None),
    "quote.created": ("quote", "created", "报价创建", "a quote is created", None),
    "quote.updated": ("quote", "updated", "报价更新", "a quote is updated", None),
    "quote.sent": ("quote", "sent", "报价发出", "a quote is sent", ("status", "sent")),
    "quote.accepted": ("quote", "accepted", "报价被接受", "a quote is accepted", ("status", "accepted")),
    "quote.rejected": ("quote", "rejected", "报价被拒绝", "a quote is rejected", ("status", "rejected")),
    "quote.expired": ("quote", "expired", "报价过期", "a quote expires", ("status", "expired")),
    "contract.created": ("contract", "created", "合同创建", "a contract is created", None),
    "contract.updated": ("contract", "updated", "合同更新", "a contract is updated", None),
    "contract.signed": ("contract", "signed", "合同签署", "a contract is signed", ("status", "active")),
    "contract.expired": ("contract", "expired", "合同到期", "a contract expires", ("status", "expired")),
    "contract.terminated": (
        "contract",
        "terminated",
        "合同终止",
        "a contract is terminated",
        ("status", "terminated"),
    ),
    "ticket.created": ("ticket", "created", "工单创建", "a ticket is opened", None),
    "ticket.updated": ("ticket", "updated", "工单更新", "a ticket is updated", None),
    "ticket.resolved": ("ticket", "resolved", "工单解决", "a ticket is resolved", ("status", "resolved")),
    "ticket.closed": ("ticket", "closed", "工单关闭", "a ticket is closed", ("status", "closed")),
    "activity.created": ("activity", "created", "有新的跟进活动", "an activity is logged", None),
    "activity.updated": ("activity", "updated", "跟进活动更新", "an activity is updated", None),
    "document.version_added": (
        "document",
        "version_added",
        "文档有新版本",
        "a document gets a new version",
        None,
    ),
    "signals.contact_identified": ("contact", "identified", "联系人被识别", "a contact is identified", None),
    "signals.threshold_reached": (
        "contact",
        "threshold_reached",
        "联系人达到追踪门槛",
        "a contact reaches the tracking threshold",
        None,
    ),
    "signals.contact_opted_out": ("contact", "opted_out", "联系人退出追踪", "a contact opts out", None),
}

# For a verb said without an entity ("赢单后", "once signed"): the entity it is about.
DEFAULT_EVENT_ENTITY: dict[str, str] = {
    "won": "opportunity",
    "lost": "opportunity",
    "stage_changed": "opportunity",
    "signed": "contract",
    "sent": "quote",
    "accepted": "quote",
    "rejected": "quote",
    "resolved": "ticket",
    "threshold_reached": "contact",
    "identified": "contact",
    "opted_out": "contact",
}

# metric key -> (entity, label_zh, label_en, surfaces, scale). ``fraction`` metrics take
# percentages as fractions (30% → 0.3).
METRICS: dict[str, tuple[str, str, str, tuple[str, ...], str]] = {
    "win_probability": (
        "opportunity",
        "赢单概率",
        "win probability",
        ("赢率", "赢单率", "赢单概率", "成交概率", "胜率", "win probability", "probability to win"),
        "fraction",
    ),
    "forecast_risk": (
        "opportunity",
        "预测风险",
        "forecast risk",
        ("预测风险", "风险值", "风险分", "forecast risk", "risk score"),
        "fraction",
    ),
    "days_in_stage": (
        "opportunity",
        "阶段停留天数",
        "days in stage",
        ("阶段停留天数", "停留天数", "days in stage"),
        "number",
    ),
    "churn_risk": ("account", "流失风险", "churn risk", ("流失风险", "churn risk"), "fraction"),
    # recorded by forecast.service.revenue, appended as ``forecast.period_changed`` (entity "period")
    "p50": (
        "period",
        "预测收入中位数",
        "forecast P50 revenue",
        (
            "预测收入中位数",
            "预测收入",
            "预测P50",
            "收入预测",
            "forecast p50",
            "forecast revenue",
            "p50 revenue",
        ),
        "number",
    ),
    # scored by forecast.service.renewal, appended as ``forecast.renewal_risk`` on the account
    "renewal_risk": (
        "account",
        "续约风险",
        "renewal risk",
        ("续约风险", "续费风险", "续签风险", "renewal risk", "renewal-risk", "risk of not renewing"),
        "fraction",
    ),
    "inventory_turnover": (
        "account",
        "库存周转率",
        "inventory turnover",
        ("库存周转", "库存周转率", "周转率", "inventory turnover", "stock turnover"),
        "number",
    ),
    "hive_health": ("hive", "蜂巢健康度", "hive health", ("蜂巢健康度", "健康度", "hive health"), "number"),
}

# Milestones: states people name that the schema expresses as a stage move.
MILESTONES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "poc_passed": (
        "POC测试通过",
        "the POC passes",
        (
            "poc通过",
            "poc测试通过",
            "poc验证通过",
            "poc成功",
            "测试通过",
            "验证通过",
            "试用通过",
            "poc passed",
            "poc passes",
            "poc succeeds",
            "poc succeeded",
            "poc is successful",
            "passes the poc",
            "passed the poc",
            "successful poc",
        ),
    ),
}

# --- content ----------------------------------------------------------------------------------
# Reports the system can send (push_content "report:<key>").
REPORTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pipeline_summary": (
        "管道汇总",
        "pipeline summary",
        ("管道汇总", "商机汇总", "销售漏斗汇总", "pipeline summary", "pipeline report", "pipeline digest"),
    ),
    "forecast_summary": (
        "预测汇总",
        "forecast summary",
        ("预测汇总", "预测报告", "forecast summary", "forecast report"),
    ),
}

# Groups of words for the same kind of content: an asset or document whose name contains one
# member is also known by the others ("价格表" ↔ "pricing sheet").
CONTENT_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("价格表", "价目表", "报价表", "pricing sheet", "price sheet", "price list"),
    ("案例包", "案例集", "客户案例", "case pack", "case studies", "case study pack"),
    ("对比表", "比较表", "comparison sheet", "comparison chart"),
    ("白皮书", "white paper", "whitepaper"),
    ("产品手册", "宣传册", "brochure", "product brochure"),
)

# Words that mean the same in a connector's aliases ("预算已批复" ≈ "预算获批").
CONNECTOR_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("批复", "批准", "获批", "审批通过", "通过审批", "核准"),
    ("approved", "signed off", "cleared"),
)

# Plan kinds for generate_plan: key -> (zh, en, surfaces of the whole phrase).
PLAN_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "promotion": ("推广方案", "promotion plan", ("推广方案", "推广计划", "促销方案", "promotion plan")),
    "journey": ("客户旅程方案", "journey plan", ("客户旅程方案", "旅程方案", "journey plan")),
    "action": ("行动计划", "action plan", ("行动计划", "行动方案", "action plan", "plan", "计划")),
}

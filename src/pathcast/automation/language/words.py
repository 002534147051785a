"""The function words of each language: what makes a sentence a rule, not what it is about.

Each entry is ``kind -> value -> surfaces``. The kind is the grammar terminal the lexer
emits (``WHEN``, ``NOTIFY``…); the value refines it (``CMP`` → ``gt``). ``FILLER`` words
(politeness, articles, aspect particles: 请/自动/就/the/please/automatically) are dropped
after lexing, so they may appear anywhere; inside a multi-word name they are skipped
("预算已经批复" matches "预算批复"). Domain words (entities, fields, stages, people) come
from the vocabulary, not from here.
"""

from __future__ import annotations

Words = dict[str, dict[str, tuple[str, ...]]]

# fmt: off
ZH: Words = {
    "FILLER": {
        "": (
            "请", "自动", "自动地", "就", "立即", "立刻", "马上", "即刻", "即", "便", "则", "那么", "那",
            "的", "地", "得", "了", "已", "已经", "被", "会", "都", "也", "将", "要", "把", "系统",
            "帮我", "帮忙", "一下", "能", "可以", "所有", "全部", "相关", "该", "此", "这个", "那个",
            "这", "对应", "在", "处于", "有", "是", "任何", "仍", "仍然", "还", "依然", "先", "一个",
            "一次", "一份", "一场", "个", "位", "名", "份", "吧", "呢", "啊", "进行", "予以", "去",
            "来", "一", "其", "(", ")", "[", "]", "!", "?", "“", "”", "~", "之", "完成", "新", "新的", "它", "还是",
            "第一次", "首次", "的话", "全体", "每位", "每一位", "各位", "各个",
            # Adding someone to an account's collaboration always attaches its brief (last
            # quarter's ticket times, the renewal-risk factors): saying so changes nothing.
            "附上上季度工单处理时长", "附上季度工单处理时长", "附上工单处理时长", "附带上季度工单处理时长",
            "并附上上季度工单处理时长", "附上上季度的工单处理时长",
        ),
    },
    "JOIN": {
        "": (
            "且", "并且", "而且", "同时", "和", "与", "及", "以及", "并", "然后", "再", "接着", "随后",
            "、", ",", ";", ":", "。", ".", "→", "->", "=>", "并同时", "还要", "另外", "此外",
        ),
    },
    "OR": {"": ("或", "或者", "或是")},
    "WHEN": {
        "": (
            "当", "如果", "若", "假如", "假若", "倘若", "如", "一旦", "每当", "只要", "要是", "万一",
            "如若", "凡是", "每逢",
        ),
    },
    "POST": {"": ("后", "之后", "以后", "时", "的时候", "时候", "后的", "过后")},
    "NOT": {
        "": (
            "不", "没", "没有", "未", "无", "无人", "没人", "不是", "非", "并未", "尚未", "还没",
            "还没有", "仍未", "从未", "未能", "未曾",
        ),
    },
    "CMP": {
        "gt": ("超过", "大于", "多于", "高于", "超出", "大过", "高过", "多过", "超", ">"),
        "gte": ("至少", "不少于", "不低于", "不小于", "大于等于", "大于或等于", "最少", "起码", "≥", ">="),
        "lt": ("小于", "少于", "低于", "不足", "不到", "未满", "不满", "<"),
        "lte": ("至多", "最多", "不超过", "不多于", "不高于", "不大于", "小于等于", "小于或等于", "≤", "<="),
        "eq": ("等于", "恰好", "=", "=="),
        "ne": ("不等于", "≠", "!="),
    },
    "CMP_POST": {"gte": ("以上", "及以上", "或以上"), "lte": ("以下", "及以下", "或以下")},
    "WITHIN": {"": ("过去", "最近", "近")},
    "WITHIN_POST": {"": ("内", "之内", "以内", "里")},
    "TO": {"": ("给", "向", "至", "到", "进", "对")},
    "BY": {"": ("由", "经", "经过", "交", "交给", "交由", "让")},
    "AS": {"": ("为", "成", "作为")},
    "WITH": {"": ("附带", "带上", "包括", "参会人为", "参会人是", "参会人", "参会人员为", "参会人员", "与会人", "与会者", "参加人")},
    "FROM": {"": ("从", "自")},
    "USING": {"": ("按", "按照", "根据", "基于", "用", "使用", "以", "套用", "通过", "借助", "依据")},
    "OTHERWISE": {"": ("否则", "其他", "其余", "其它", "其他情况", "其余情况", "默认", "剩下的", "其他的")},
    "EACH": {"": ("每次", "每回", "每一次", "单次")},
    "DWELL": {"": ("停留", "停留时间", "停留时长", "阅读时长", "浏览时长", "时长", "每次停留")},
    "UNLESS": {"": ("除非",)},
    "WAIT": {"": ("等待", "等", "延后", "过")},
    "ISSET": {
        "is_set": ("已填写", "不为空", "非空", "有值", "已设置"),
        "is_not_set": ("为空", "空", "空白", "未填写", "缺失", "没填"),
    },
    "EVENT": {
        "won": ("赢单", "赢了", "成交", "签单", "拿下", "中标"),
        "lost": ("输单", "丢单", "输了", "丢了", "失单", "丢失"),
        "created": ("录入", "被创建", "出现", "被新建"),
        "deleted": ("删除", "被删除"),
        "signed": ("签署", "签订", "签约", "签了", "签字", "盖章", "生效"),
        "sent": ("发出", "寄出", "发送出去"),
        "accepted": ("接受", "被接受", "同意"),
        "rejected": ("拒绝", "被拒", "被拒绝", "驳回"),
        "expired": ("过期", "到期", "失效"),
        "resolved": ("解决", "处理完", "被解决"),
        "closed": ("关闭", "关单"),
        "terminated": ("终止", "解约"),
        "identified": ("被识别", "识别出", "识别"),
        "threshold_reached": ("达到追踪门槛", "达到门槛", "达到阈值", "达到追踪阈值"),
        "opted_out": ("退订", "取消追踪", "退出追踪"),
        "version_added": ("有新版本", "新版本", "更新版本"),
    },
    "CHANGE": {
        "": (
            "进入", "变为", "变成", "改为", "改成", "设为", "设置为", "设置成", "更新为", "修改为",
            "变更为", "置为", "推进到", "推进至", "移到", "移至", "到达", "变化", "变更", "改变",
            "更新", "修改", "调整为", "调整", "转为", "转入", "推进", "进到", "升级为", "降为",
        ),
    },
    "VIEW": {
        "view": ("查看", "浏览", "阅读", "打开", "看了", "看过", "访问", "点开", "看", "浏览了", "查看了"),
        "download": ("下载", "下载了"),
        "click": ("点击", "点击了"),
    },
    "MENTION": {"": ("提到", "提及", "说到", "谈到", "抱怨", "反馈", "投诉", "吐槽", "讨论", "表示", "说")},
    "POLARITY": {
        "negative": ("负面", "消极", "不满", "不满意", "愤怒", "差评", "负向"),
        "positive": ("正面", "积极", "满意", "好评", "正向"),
        "neutral": ("中性", "中立"),
    },
    "SENTIMENT": {"": ("情绪", "情感", "态度", "语气", "口碑")},
    "SIGNAL": {"": ("信号", "雷达信号", "舆情", "舆情信号", "外部信号")},
    "CHANNEL": {
        "in_app": ("站内信", "站内", "应用内", "系统内", "站内通知", "系统消息"),
        "email": ("邮件", "邮箱", "电子邮件"),
        "wecom": ("企业微信", "企微", "微信"),
        "dingtalk": ("钉钉",),
    },
    "NOTIFY": {
        "": (
            "通知", "提醒", "告知", "告诉", "知会", "通报", "发通知", "发送通知", "发消息", "发送消息",
            "发提醒", "抄送", "推送通知", "提示", "通告", "预警", "上报", "汇报给",
        ),
    },
    "CREATE": {
        "": (
            "创建", "建立", "建", "发起", "触发", "安排", "预约", "召开", "组织", "约", "开", "开启",
            "启动", "排", "预订", "订", "新开", "建一个", "生成", "新建", "新增",
        ),
    },
    "TASK_NOUN": {"": ("任务", "待办", "待办事项", "工作项")},
    "MEETING_NOUN": {
        "": (
            "会议", "启动会", "开会", "会面", "会谈", "评审会", "沟通会", "见面会", "电话会", "视频会",
            "复盘会", "交流会", "例会", "周会", "拜访",
        ),
    },
    # Until hives exist, an account's collaboration is its account team (actions/members.py).
    "HIVE_NOUN": {"": ("蜂巢", "任务蜂巢", "工作蜂巢", "项目蜂巢", "协作", "客户协作", "协作组", "协作空间", "客户团队")},
    "TEMPLATE_NOUN": {"": ("模板", "模版", "范本")},
    "PLAN_NOUN": {"": ()},
    "GENERATE": {"": ("制定", "出具", "起草", "出一份", "拟定", "输出")},
    "TAG": {
        "": (
            "标记为", "标记成", "标记", "标为", "标成", "打上", "打标", "打标签", "贴上", "贴", "打",
            "加标签", "标注为", "标注",
        ),
    },
    "TAG_NOUN": {"": ("标签",)},
    "PUSH": {
        "": (
            "发送", "推送", "发", "分享", "转发", "发给", "发送给", "推给", "推送给", "寄", "共享", "分享给",
            "转发给", "同步给",
        ),
    },
    "WEBHOOK": {"": ("调用", "回调", "调用接口", "webhook", "回调接口")},
    "REQUIRE": {
        "": (
            "需要", "需", "须", "必须", "要求", "须经", "需经", "需经过", "必须经过", "要经过", "应",
            "应当", "请求", "提交给", "提交",
        ),
    },
    "APPROVAL": {"": ("审批", "审核", "批准", "核准", "签批", "审批流程", "提交审批", "送审", "报批")},
    "CONFIRM": {"": ("确认", "核实", "复核", "确认一下")},
    "NOTE": {
        "": (
            "填写说明", "写明原因", "写明理由", "附说明", "附上说明", "附言", "说明理由", "填写理由",
            "书面说明", "说明", "理由", "原因", "备注说明",
        ),
    },
    "ADD": {"": ("加入", "拉入", "拉进", "拉进来", "拉进去", "加进来", "加进去", "拉", "邀请", "添加", "加上", "加", "纳入", "参加", "参与", "拉上", "出席")},
    "PRONOUN": {"": ("他", "她", "他们", "她们", "对方", "此人", "这个人", "ta", "这位")},
}

EN: Words = {
    "FILLER": {
        "": (
            "please", "kindly", "automatically", "auto", "immediately", "right away", "straight away",
            "instantly", "just", "also", "the", "a", "an", "any", "some", "is", "are", "was", "were",
            "be", "been", "being", "has", "have", "had", "gets", "get", "got", "will", "would",
            "should", "shall", "can", "could", "that", "which", "who", "there", "there's", "'s",
            "’s", "our", "we", "us", "i", "me", "my", "you", "your", "system", "for", "of", "on",
            "at", "in", "so", "do", "does", "did", "yet", "still", "already", "ones", "one", "all",
            "every", "currently", "new", "know", "it's", "someone", "somebody", "anyone", "anybody",
            "let's", "make", "sure", "(", ")", "[", "]", "!", "?", "\"", "'", "this", "these",
            "those", "about", "regarding", "around", "due", "asap", "as soon as possible", "it", "its",
            "written", "morning", "in the morning", "for the first time", "the first time", "first time",
            # the brief is always attached to an added member (see the zh entries)
            "with last quarter's ticket resolution times attached",
            "with last quarter's ticket resolution times", "with the ticket resolution times attached",
            "attaching last quarter's ticket resolution times",
        ),
    },
    "JOIN": {
        "": (
            "and", "then", "and then", "as well as", "plus", "after that", "afterwards", ",",
            ";", ":", ".", "→", "->", "=>", "and also", "while",
        ),
    },
    "OR": {"": ("or",)},
    "WHEN": {
        "": (
            "when", "if", "once", "whenever", "as soon as", "after", "each time", "every time",
            "any time", "anytime", "in case", "upon", "if and when", "right after", "soon after",
        ),
    },
    "POST": {"": ("later",)},
    "NOT": {
        "": (
            "not", "no", "none", "never", "nobody", "no one", "without", "isn't", "aren't", "wasn't",
            "hasn't", "haven't", "doesn't", "don't", "didn't", "not yet", "nothing", "fails to",
            "failed to",
        ),
    },
    "CMP": {
        "gt": (
            "more than", "over", "greater than", "above", "exceeds", "exceed", "exceeding", "exceeded",
            "higher than", "larger than", "bigger than", "rises above", "goes above", "goes over",
            "tops", ">",
        ),
        "gte": (
            "at least", "no less than", "not less than", "minimum of", "a minimum of", "≥", ">=",
            "no fewer than", "not fewer than",
        ),
        "lt": (
            "less than", "under", "below", "fewer than", "lower than", "smaller than", "drops below",
            "falls below", "falls under", "goes below", "dips below", "<",
        ),
        "lte": ("at most", "no more than", "not more than", "up to", "maximum of", "≤", "<="),
        "eq": ("equals", "equal to", "exactly", "=", "=="),
        "ne": ("not equal to", "does not equal", "doesn't equal", "≠", "!=", "<>"),
    },
    "CMP_POST": {
        "gte": ("or more", "or above", "and above", "or higher", "+"),
        "lte": ("or less", "or fewer", "or below", "and below", "or lower"),
    },
    "WITHIN": {
        "": (
            "within", "in the last", "in the past", "over the past", "over the last", "during the last",
            "inside", "in under",
        ),
    },
    "WITHIN_POST": {"": ()},
    "TO": {"": ("to", "into", "towards")},
    "BY": {"": ("by",)},
    "AS": {"": ("as",)},
    "WITH": {"": ("with", "along with", "including")},
    "FROM": {"": ("from",)},
    "USING": {"": ("using", "via", "through", "based on", "according to", "per")},
    "OTHERWISE": {
        "": (
            "otherwise", "others", "other ones", "everything else", "all other", "all others", "the rest",
            "else", "by default", "default", "any other", "other accounts", "everyone else",
        ),
    },
    "EACH": {"": ("each", "each time", "per view", "per visit", "apiece")},
    "DWELL": {"": ("spending", "spend", "spends", "dwell", "dwelling", "dwell time", "staying", "stays", "lasting")},
    "UNLESS": {"": ("unless", "except if")},
    "WAIT": {"": ("wait", "waiting", "wait for", "delay", "after waiting")},
    "ISSET": {
        "is_set": ("is set", "filled", "filled in", "present", "populated", "is not empty"),
        "is_not_set": ("empty", "blank", "missing", "not set", "is unset"),
    },
    "EVENT": {
        "won": ("won", "win", "wins", "closed won", "closes won", "closed-won", "close won", "is won"),
        "lost": ("lost", "lose", "loses", "closed lost", "closes lost", "closed-lost", "is lost"),
        "created": (
            "created", "is created", "added", "is added", "comes in", "opened", "submitted", "raised",
            "logged", "is opened",
        ),
        "deleted": ("deleted", "removed"),
        "signed": ("signed", "is signed", "executed", "countersigned", "sign"),
        "sent": ("sent", "is sent", "goes out", "issued", "sent out", "sent to the customer"),
        "accepted": ("accepted", "is accepted", "accepts"),
        "rejected": ("rejected", "declined", "is rejected", "rejects"),
        "expired": ("expired", "expires", "lapses", "lapsed"),
        "resolved": ("resolved", "is resolved", "fixed"),
        "closed": ("closed", "closes", "is closed"),
        "terminated": ("terminated", "cancelled", "canceled"),
        "identified": ("identified", "is identified"),
        "threshold_reached": (
            "reaches the threshold", "reaches the tracking threshold", "passes the threshold",
            "crosses the threshold", "reached the threshold",
        ),
        "opted_out": ("opts out", "opted out", "unsubscribes", "unsubscribed"),
        "version_added": ("gets a new version", "new version", "is revised"),
    },
    "CHANGE": {
        "": (
            "moves to", "moved to", "move to", "changes to", "changed to", "is set to", "set to",
            "becomes", "became", "enters", "entered", "reaches", "reached", "goes to", "is changed to",
            "moves into", "moved into", "advances to", "is moved to", "changes", "changed", "is updated",
            "updated", "is modified", "modified", "set", "change", "update", "move", "moves", "switch",
            "progresses to", "lands in", "enter",
        ),
    },
    "VIEW": {
        "view": (
            "views", "viewed", "view", "opens", "reads", "read", "visits", "visited", "visit",
            "looks at", "looked at", "checks out", "checked out", "views of", "visits of",
        ),
        "download": ("downloads", "downloaded", "download", "downloads of"),
        "click": ("clicks", "clicked", "click", "clicks on", "clicked on"),
    },
    "MENTION": {
        "": (
            "mentions", "mentioned", "mention", "talks about", "talked about", "complains about",
            "complained about", "complains of", "raises", "raised concerns about", "brings up",
            "says", "writes about", "reports",
        ),
    },
    "POLARITY": {
        "negative": ("negative", "unhappy", "angry", "upset", "dissatisfied", "frustrated"),
        "positive": ("positive", "happy", "satisfied", "pleased"),
        "neutral": ("neutral",),
    },
    "SENTIMENT": {"": ("sentiment", "tone", "mood", "feeling", "feelings")},
    "SIGNAL": {"": ("signal", "signals", "radar signal", "radar alert")},
    "CHANNEL": {
        "in_app": ("in-app", "in app", "in the app", "in-app message", "in-app notification"),
        "email": ("email", "e-mail", "mail", "by email", "an email"),
        "wecom": ("wecom", "wechat work", "wechat"),
        "dingtalk": ("dingtalk", "ding talk"),
    },
    "NOTIFY": {
        "": (
            "notify", "notifies", "alert", "alerts", "tell", "inform", "remind", "ping", "message",
            "let", "send a notification to", "send a message to", "send an alert to", "escalate to",
            "escalate", "notification to", "warn", "loop in", "give a heads-up to", "notify to",
            "send a heads-up to", "send a reminder to", "heads-up to", "give a heads up to",
        ),
    },
    "CREATE": {
        "": (
            "create", "creates", "open", "book", "books", "schedule", "schedules", "set up", "sets up",
            "arrange", "arranges", "organise", "organize", "hold", "trigger", "triggers", "start",
            "starts", "kick off", "launch", "spin up", "open up",
        ),
    },
    "TASK_NOUN": {"": ("task", "tasks", "to-do", "todo", "action item")},
    "MEETING_NOUN": {
        "": (
            "meeting", "meetings", "kick-off", "kickoff", "kick off meeting", "kick-off meeting",
            "kickoff meeting", "call", "sync", "review meeting", "workshop", "session",
        ),
    },
    "HIVE_NOUN": {
        "": (
            "hive", "task hive", "hives", "work hive", "project hive", "collaboration",
            "account team", "account's collaboration",
        ),
    },
    "TEMPLATE_NOUN": {"": ("template", "templates")},
    "PLAN_NOUN": {"": ()},
    "GENERATE": {"": ("generate", "generates", "draft", "drafts", "prepare", "prepares", "produce", "build")},
    "TAG": {
        "": (
            "tag", "tags", "tag as", "mark", "mark as", "marks", "label", "label as", "flag", "flag as", "tagged",
            "marked", "marked as", "is marked", "is marked as",
        ),
    },
    "TAG_NOUN": {"": ("label",)},
    "PUSH": {"": ("send", "sends", "share", "shares", "push", "pushes", "forward", "forwards", "deliver", "give")},
    "WEBHOOK": {"": ("webhook", "call the webhook", "post to", "hit the webhook")},
    "REQUIRE": {
        "": (
            "require", "requires", "required", "need", "needs", "must", "has to", "have to", "ask",
            "asks", "request", "requests", "route it", "send it", "submit it",
        ),
    },
    "APPROVAL": {"": ("approval", "approve", "approves", "sign off", "sign-off", "signs off", "approved")},
    "CONFIRM": {
        "": (
            "confirm", "confirms", "confirmation", "verify", "verifies", "verification", "review",
            "review and confirm", "double-check", "check and confirm", "sign off on",
        ),
    },
    "NOTE": {
        "": (
            "note", "a note", "written note", "a written note", "comment", "a comment", "reason",
            "a reason", "justification", "written justification", "explanation", "leave a note", "leave a comment",
            "leave a reason", "give a reason",
        ),
    },
    "ADD": {
        "": (
            "add", "adds", "invite", "invites", "bring in", "include", "pull in", "join", "joins", "loop",
            "attend",
        ),
    },
    "PRONOUN": {"": ("he", "him", "she", "her", "they", "them", "this person", "that person", "his", "their")},
}
# fmt: on

# Possessive pronouns that point at the record ("its owner"); before a relation they are not
# guesses. Only these are allowed to combine with a following relation.
POSSESSIVE_PRONOUNS = frozenset({"他的", "她的", "它的", "其", "his", "her", "its", "their"})

# Particles dropped from a Chinese name to make its condensed variant ("预算已批复" → "预算批复").
ZH_PARTICLES = ("已经", "已", "的", "了", "被", "都")

# Priority of a kind when one surface has several senses: the higher wins as the primary
# token type, the others stay available to the grammar's value slots.
KIND_PRIORITY: dict[str, int] = {
    "FILLER": 5,
    "JOIN": 95,
    "QUOTED": 100,
    "WHEN": 90,
    "POST": 88,
    "NOT": 87,
    "CMP": 86,
    "CMP_POST": 86,
    "MILESTONE": 85,
    "CONNECTOR": 84,
    "EVENT": 80,
    "ENTITY": 78,
    "RELATION": 77,
    "ROLE": 76,
    "METRIC": 75,
    "FIELD": 74,
    "ASSET": 72,
    "CONTENT": 71,
    "STAGE": 60,
    "VALUE": 50,
}


# Quantifiers before a group of people ("所有销售代表", "all managers", "every rep"); the
# lexer keeps them long enough to tell a group (a role) from the record's one person.
QUANTIFIERS = frozenset(
    {"所有", "全部", "全体", "每位", "每一位", "各位", "各个", "每个", "all", "every", "each", "all of"}
)


def kind_priority(kind: str) -> int:
    """Structural kinds not listed rank between domain names and plain values."""
    return KIND_PRIORITY.get(kind, 70)

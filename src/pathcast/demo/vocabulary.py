"""Words the demo company is made of: people, places, products and what sellers write.

The seller is 衡远科技 Hengyuan Technology, with three business lines: medical devices
(医疗器械), industrial automation (工业自动化) and SaaS. Every name here is invented;
patterns follow real Chinese and international naming so the demo reads true.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SELLER = "衡远科技 Hengyuan Technology"
DEMO_DOMAIN = "demo.pathcast.dev"
DEMO_PASSWORD = "pathcast-demo"

MEDICAL = "医疗器械 Medical devices"
AUTOMATION = "工业自动化 Industrial automation"
SAAS = "SaaS"
INDUSTRIES = (MEDICAL, AUTOMATION, SAAS)

# --- people -------------------------------------------------------------------------

SURNAMES: dict[str, str] = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
    "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun",
    "马": "ma", "朱": "zhu", "胡": "hu", "郭": "guo", "何": "he", "高": "gao",
    "林": "lin", "罗": "luo", "郑": "zheng", "梁": "liang", "谢": "xie", "宋": "song",
}
GIVEN_NAMES: dict[str, str] = {
    "伟": "wei", "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li",
    "强": "qiang", "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "艳": "yan",
    "杰": "jie", "涛": "tao", "明": "ming", "超": "chao", "霞": "xia", "平": "ping",
    "晓东": "xiaodong", "志强": "zhiqiang", "海燕": "haiyan", "建华": "jianhua",
    "子涵": "zihan", "浩然": "haoran", "雨桐": "yutong", "思远": "siyuan", "文博": "wenbo",
    "佳怡": "jiayi", "国栋": "guodong", "丽娟": "lijuan",
}
FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan", "Sophia", "Lucas", "Mia", "James",
    "Chloe", "Daniel", "Grace", "Henry", "Zoe", "Ryan", "Hannah", "Oscar", "Priya", "Kenji",
)
LAST_NAMES = (
    "Smith", "Tan", "Patel", "Lim", "Wong", "Garcia", "Brown", "Taylor", "Wilson",
    "Nguyen", "Kim", "Schmidt", "Murphy", "Rossi", "Sato", "Clarke",
)

# Fixed demo logins: (key, role, name, locale). Keys become e-mail local parts.
ADMIN = ("admin", "admin", "周海 Zhou Hai", "zh-CN")


@dataclass(frozen=True)
class TeamPlan:
    key: str
    name: str
    region: str
    manager: tuple[str, str]  # name, locale
    reps: tuple[tuple[str, str], ...]
    industries: tuple[str, ...]


TEAMS: tuple[TeamPlan, ...] = (
    TeamPlan(
        "east", "华东 East", "华东", ("陈立华", "zh-CN"),
        (("张晓东", "zh-CN"), ("李佳怡", "zh-CN"), ("王浩然", "zh-CN"), ("Grace Lim", "en")),
        (MEDICAL, AUTOMATION),
    ),
    TeamPlan(
        "north", "华北 North", "华北", ("王建国", "zh-CN"),
        (("赵志强", "zh-CN"), ("刘海燕", "zh-CN"), ("孙文博", "zh-CN"), ("周雨桐", "zh-CN")),
        (MEDICAL, AUTOMATION),
    ),
    TeamPlan(
        "saas", "Global SaaS", "Global", ("Olivia Tan", "en"),
        (("Ryan Murphy", "en"), ("Priya Patel", "en"), ("林思远", "zh-CN")),
        (SAAS,),
    ),
)

# key, name, locale, what they do
MEMBERS: tuple[tuple[str, str, str, str], ...] = (
    ("delivery", "郭国栋", "zh-CN", "交付 Delivery"),
    ("logistics", "何丽娟", "zh-CN", "物流 Logistics"),
    ("it", "Kenji Sato", "en", "IT 实施 IT implementation"),
    ("success", "Hannah Clarke", "en", "客户成功 Customer success"),
)
CUSTOMER_KEY = "customer"

# --- places -------------------------------------------------------------------------

EAST_CITIES: dict[str, str] = {
    "上海": "shanghai", "杭州": "hangzhou", "南京": "nanjing", "苏州": "suzhou",
    "宁波": "ningbo", "合肥": "hefei", "无锡": "wuxi", "温州": "wenzhou",
}
NORTH_CITIES: dict[str, str] = {
    "北京": "beijing", "天津": "tianjin", "石家庄": "shijiazhuang", "太原": "taiyuan",
    "济南": "jinan", "青岛": "qingdao", "唐山": "tangshan", "保定": "baoding",
}
SAAS_CN_CITIES: dict[str, str] = {"深圳": "shenzhen", "广州": "guangzhou", "上海": "shanghai", "北京": "beijing",
                                  "杭州": "hangzhou", "成都": "chengdu"}
# city, country, region
SAAS_WORLD_CITIES: tuple[tuple[str, str, str], ...] = (
    ("Singapore", "Singapore", "APAC"), ("Sydney", "Australia", "APAC"),
    ("Tokyo", "Japan", "APAC"), ("London", "United Kingdom", "EMEA"),
    ("Berlin", "Germany", "EMEA"), ("Amsterdam", "Netherlands", "EMEA"),
    ("San Francisco", "United States", "North America"), ("Toronto", "Canada", "North America"),
)

# --- account names ------------------------------------------------------------------

NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九")
HOSPITAL_WORDS: dict[str, str] = {
    "仁和": "renhe", "博爱": "boai", "济民": "jimin", "华康": "huakang", "同仁": "tongren",
    "协和": "xiehe", "仁济": "renji", "安贞": "anzhen", "瑞康": "ruikang", "普济": "puji",
}
FACTORY_WORDS: dict[str, str] = {
    "恒锐": "hengrui", "瑞丰": "ruifeng", "鼎盛": "dingsheng", "华力": "huali", "精工": "jinggong",
    "永信": "yongxin", "宏达": "hongda", "金泰": "jintai", "远航": "yuanhang", "中拓": "zhongtuo",
    "天成": "tiancheng", "启明": "qiming",
}
FACTORY_TRADES = (
    "精密机械", "汽车零部件", "电子科技", "新能源电池", "包装机械", "食品机械", "纺织装备", "锂电设备",
)
DISTRIBUTOR_WORDS: dict[str, str] = {
    "康诚": "kangcheng", "润和": "runhe", "信达": "xinda", "汇通": "huitong", "联拓": "liantuo",
}
SAAS_CN_WORDS: dict[str, str] = {
    "云栈": "yunzhan", "数擎": "shuqing", "星图": "xingtu", "极客邦": "jikebang", "蓝鲸": "lanjing",
    "有数": "youshu", "智链": "zhilian", "青木": "qingmu",
}
SAAS_EN_FIRST = ("Bright", "North", "Blue", "Silver", "Open", "Clear", "Swift", "True", "Red", "Green")
SAAS_EN_SECOND = ("line", "field", "harbor", "peak", "stone", "wave", "path", "leaf", "gate", "forge")
SAAS_EN_SUFFIX = ("Analytics", "Logistics", "Health", "Retail", "Labs", "Software", "Payments", "Robotics")

TITLES: dict[str, tuple[tuple[str, str], ...]] = {
    MEDICAL: (("科室主任", "介入科"), ("介入科主任", "介入科"), ("设备科科长", "设备科"),
              ("采购经理", "采购中心"), ("护士长", "ICU"), ("院长助理", "院办"), ("信息科主任", "信息科"),
              ("超声科主任", "超声科")),
    AUTOMATION: (("生产总监", "生产部"), ("设备部经理", "设备部"), ("采购经理", "采购部"),
                 ("总工程师", "技术部"), ("厂长", "工厂管理"), ("IT经理", "信息部")),
    SAAS: (("CTO", "Engineering"), ("VP Sales", "Sales"), ("Head of RevOps", "Revenue Operations"),
           ("Procurement Manager", "Procurement"), ("CIO", "IT"), ("销售运营总监", "销售运营")),
}
DISTRIBUTOR_TITLES = (("总经理", "管理层"), ("渠道经理", "渠道部"), ("采购经理", "采购部"))

# --- products -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProductPlan:
    code: str
    name: str
    family: str
    industry: str
    list_price: Decimal
    quantity: tuple[int, int]
    recurring: bool = False  # billed per year: becomes a subscription when won
    description: str = ""


def _p(code: str, name: str, family: str, industry: str, price: int, qty: tuple[int, int],
       recurring: bool = False, description: str = "") -> ProductPlan:
    return ProductPlan(code, name, family, industry, Decimal(price), qty, recurring, description)


PRODUCTS: tuple[ProductPlan, ...] = (
    _p("MD-DSA-CATH", "DSA介入导管套装 Interventional catheter kit", "DSA介入耗材", MEDICAL, 2800, (40, 300),
       description="造影导管、导引导管与鞘组套装，按箱计价"),
    _p("MD-DSA-GW", "DSA介入导丝 Guidewire", "DSA介入耗材", MEDICAL, 1200, (50, 400)),
    _p("MD-DSA-STENT", "外周血管支架 Peripheral stent", "DSA介入耗材", MEDICAL, 9800, (10, 80)),
    _p("MD-US-U5", "便携式彩超 U5 Portable ultrasound", "超声", MEDICAL, 380000, (1, 4)),
    _p("MD-US-U9", "台式彩超 U9 Cart ultrasound", "超声", MEDICAL, 1280000, (1, 2)),
    _p("MD-MON-M12", "多参数监护仪 M12 Patient monitor", "监护仪", MEDICAL, 68000, (4, 40)),
    _p("MD-MON-CMS", "中央监护系统 Central monitoring station", "监护仪", MEDICAL, 260000, (1, 2)),
    _p("MD-SVC-MAINT", "设备年度维保服务 Annual maintenance", "服务", MEDICAL, 45000, (1, 6), recurring=True),
    _p("IA-PLC-500", "PLC 控制器 PC-500 系列", "PLC", AUTOMATION, 18500, (4, 40)),
    _p("IA-PLC-IO", "PLC 扩展 IO 模块", "PLC", AUTOMATION, 2600, (10, 120)),
    _p("IA-SRV-1K", "伺服电机与驱动器 1kW Servo kit", "伺服", AUTOMATION, 8900, (10, 80)),
    _p("IA-SRV-3K", "伺服电机与驱动器 3kW Servo kit", "伺服", AUTOMATION, 15600, (6, 40)),
    _p("IA-HMI-10", "10 寸触摸屏 HMI", "PLC", AUTOMATION, 4800, (4, 30)),
    _p("IA-LINE-UPG", "产线升级改造 Line upgrade project", "产线升级", AUTOMATION, 450000, (1, 3),
       description="含方案设计、设备改造、联调与验收"),
    _p("IA-SCADA", "SCADA 监控软件授权 SCADA licence", "软件", AUTOMATION, 120000, (1, 3)),
    _p("IA-SVC-OM", "远程运维服务 Remote O&M (年)", "服务", AUTOMATION, 60000, (1, 3), recurring=True),
    _p("SA-SALES-SEAT", "衡远销售云 Sales Cloud (seat/year)", "订阅", SAAS, 1800, (20, 400), recurring=True),
    _p("SA-DATA-PLAT", "衡远数据平台 Data Platform (annual)", "订阅", SAAS, 150000, (1, 1), recurring=True),
    _p("SA-API-ADDON", "API 扩展包 API add-on (annual)", "订阅", SAAS, 20000, (1, 3), recurring=True),
    _p("SA-SUPPORT-PRM", "高级支持 Premium support (annual)", "服务", SAAS, 30000, (1, 1), recurring=True),
    _p("SA-IMPL", "实施服务 Implementation service", "服务", SAAS, 80000, (1, 2)),
)
USD_RATE = Decimal("7.20")

# --- what deals are about -------------------------------------------------------------

# industry -> theme -> the product codes such a deal draws its lines from
DEAL_THEMES: dict[str, dict[str, tuple[str, ...]]] = {
    MEDICAL: {
        "DSA介入耗材年度采购": ("MD-DSA-CATH", "MD-DSA-GW", "MD-DSA-STENT"),
        "超声设备更新": ("MD-US-U5", "MD-US-U9", "MD-SVC-MAINT"),
        "ICU 监护仪扩容": ("MD-MON-M12", "MD-MON-CMS"),
        "介入导管室新建": ("MD-DSA-CATH", "MD-DSA-STENT", "MD-MON-M12"),
        "监护系统集中招标": ("MD-MON-CMS", "MD-MON-M12", "MD-SVC-MAINT"),
        "耗材带量采购配套": ("MD-DSA-GW", "MD-DSA-CATH"),
    },
    AUTOMATION: {
        "产线升级二期": ("IA-LINE-UPG", "IA-PLC-500", "IA-SRV-3K"),
        "PLC 控制系统改造": ("IA-PLC-500", "IA-PLC-IO", "IA-HMI-10"),
        "伺服替换项目": ("IA-SRV-1K", "IA-SRV-3K"),
        "新工厂自动化": ("IA-PLC-500", "IA-SRV-1K", "IA-HMI-10", "IA-SCADA"),
        "SCADA 数字化车间": ("IA-SCADA", "IA-SVC-OM"),
        "远程运维服务": ("IA-SVC-OM",),
    },
    SAAS: {
        "Sales Cloud rollout": ("SA-SALES-SEAT", "SA-IMPL", "SA-SUPPORT-PRM"),
        "Data Platform POC": ("SA-DATA-PLAT", "SA-IMPL"),
        "销售云扩容": ("SA-SALES-SEAT",),
        "API integration": ("SA-API-ADDON", "SA-SALES-SEAT"),
        "数据中台建设": ("SA-DATA-PLAT", "SA-API-ADDON", "SA-IMPL"),
    },
}
CHANNEL_THEMES: dict[str, dict[str, tuple[str, ...]]] = {
    MEDICAL: {"渠道年度备货": ("MD-DSA-CATH", "MD-DSA-GW", "MD-MON-M12"),
              "分销网点铺货": ("MD-DSA-GW", "MD-DSA-CATH")},
    AUTOMATION: {"渠道年度备货": ("IA-PLC-500", "IA-SRV-1K", "IA-HMI-10"),
                 "分销网点铺货": ("IA-PLC-IO", "IA-SRV-1K")},
}
RENEWAL_THEME = "续约 Renewal"

LEAD_SOURCES: dict[str, tuple[str, ...]] = {
    MEDICAL: ("展会 CMEF", "招标公告", "经销商推荐", "老客户转介绍", "学术会议"),
    AUTOMATION: ("展会 工博会", "官网表单", "经销商推荐", "老客户转介绍", "招标公告"),
    SAAS: ("Website", "Webinar", "Outbound", "Partner", "老客户转介绍"),
}
LOSS_REASONS = ("价格高于竞品 Price", "竞品中标 Competitor won", "预算冻结 Budget frozen",
                "项目延期取消 Project cancelled", "集采政策变化 Policy change", "No decision")

# kind -> subjects, by industry; {stage} may appear.
ACTIVITY_SUBJECTS: dict[str, dict[str, tuple[str, ...]]] = {
    MEDICAL: {
        "call": ("电话跟进科室使用量", "与设备科确认招标时间", "回访主任试用反馈", "确认采购预算"),
        "email": ("发送 DSA 耗材对比表", "发送产品注册证与资质", "报价说明邮件", "发送临床文献"),
        "meeting": ("科室调研：介入导管室", "现场演示彩超", "院内论证会", "商务谈判会议"),
        "note": ("主任关注导丝通过性", "医院在省级集采评审中", "竞品正在做跟台"),
        "task": ("准备投标文件", "安排试用样机", "提交资质文件", "约主任术后沟通"),
    },
    AUTOMATION: {
        "call": ("电话确认产线节拍需求", "与采购确认付款条件", "跟进 POC 测试结果", "确认停产窗口"),
        "email": ("发送 PLC 通讯协议白皮书", "发送伺服选型表", "技术方案邮件", "发送改造排期"),
        "meeting": ("现场勘查产线", "POC 联调测试", "技术交流会", "商务谈判会议"),
        "note": ("客户现用老旧总线协议", "厂长担心停线风险", "竞品报价低 8%"),
        "task": ("出具改造方案", "安排工程师驻场", "整理 IO 点表", "提交技术协议"),
    },
    SAAS: {
        "call": ("Discovery call with RevOps", "Pricing follow-up call", "Security questionnaire review",
                 "电话确认席位数"),
        "email": ("Sent security whitepaper", "Sent proposal and order form", "Follow-up after demo",
                  "发送试用账号"),
        "meeting": ("Product demo for CTO", "POC kickoff", "Executive sponsor meeting", "续约沟通会议"),
        "note": ("Champion moving to new role", "Procurement requires SOC 2 report", "客户对 API 限额敏感"),
        "task": ("Prepare order form", "Set up sandbox tenant", "Send DPA to legal", "安排培训"),
    },
}
TICKET_SUBJECTS: dict[str, tuple[str, ...]] = {
    MEDICAL: ("监护仪报警误触发", "彩超探头图像噪点", "中央站数据不同步", "导管包装破损退换", "设备年检预约"),
    AUTOMATION: ("伺服驱动器过热报警 AL.020", "PLC 与 MES 通讯中断", "HMI 触摸失灵", "产线节拍未达标",
                 "远程运维网关离线"),
    SAAS: ("SSO login fails for some users", "Report export times out", "API rate limit errors",
           "数据同步延迟", "Seat assignment bug"),
}

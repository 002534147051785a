"""Words the demo company is made of: people, places and the names of things.

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
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
    "黄": "huang",
    "赵": "zhao",
    "吴": "wu",
    "周": "zhou",
    "徐": "xu",
    "孙": "sun",
    "马": "ma",
    "朱": "zhu",
    "胡": "hu",
    "郭": "guo",
    "何": "he",
    "高": "gao",
    "林": "lin",
    "罗": "luo",
    "郑": "zheng",
    "梁": "liang",
    "谢": "xie",
    "宋": "song",
}
GIVEN_NAMES: dict[str, str] = {
    "伟": "wei",
    "芳": "fang",
    "娜": "na",
    "敏": "min",
    "静": "jing",
    "丽": "li",
    "强": "qiang",
    "磊": "lei",
    "军": "jun",
    "洋": "yang",
    "勇": "yong",
    "艳": "yan",
    "杰": "jie",
    "涛": "tao",
    "明": "ming",
    "超": "chao",
    "霞": "xia",
    "平": "ping",
    "晓东": "xiaodong",
    "志强": "zhiqiang",
    "海燕": "haiyan",
    "建华": "jianhua",
    "子涵": "zihan",
    "浩然": "haoran",
    "雨桐": "yutong",
    "思远": "siyuan",
    "文博": "wenbo",
    "佳怡": "jiayi",
    "国栋": "guodong",
    "丽娟": "lijuan",
}
FIRST_NAMES = (
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Ethan",
    "Sophia",
    "Lucas",
    "Mia",
    "James",
    "Chloe",
    "Daniel",
    "Grace",
    "Henry",
    "Zoe",
    "Ryan",
    "Hannah",
    "Oscar",
    "Priya",
    "Kenji",
)
LAST_NAMES = (
    "Smith",
    "Tan",
    "Patel",
    "Lim",
    "Wong",
    "Garcia",
    "Brown",
    "Taylor",
    "Wilson",
    "Nguyen",
    "Kim",
    "Schmidt",
    "Murphy",
    "Rossi",
    "Sato",
    "Clarke",
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
        "east",
        "华东 East",
        "华东",
        ("陈立华", "zh-CN"),
        (("张晓东", "zh-CN"), ("李佳怡", "zh-CN"), ("王浩然", "zh-CN"), ("Grace Lim", "en")),
        (MEDICAL, AUTOMATION),
    ),
    TeamPlan(
        "north",
        "华北 North",
        "华北",
        ("王建国", "zh-CN"),
        (("赵志强", "zh-CN"), ("刘海燕", "zh-CN"), ("孙文博", "zh-CN"), ("周雨桐", "zh-CN")),
        (MEDICAL, AUTOMATION),
    ),
    TeamPlan(
        "saas",
        "Global SaaS",
        "Global",
        ("Olivia Tan", "en"),
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
    "上海": "shanghai",
    "杭州": "hangzhou",
    "南京": "nanjing",
    "苏州": "suzhou",
    "宁波": "ningbo",
    "合肥": "hefei",
    "无锡": "wuxi",
    "温州": "wenzhou",
}
NORTH_CITIES: dict[str, str] = {
    "北京": "beijing",
    "天津": "tianjin",
    "石家庄": "shijiazhuang",
    "太原": "taiyuan",
    "济南": "jinan",
    "青岛": "qingdao",
    "唐山": "tangshan",
    "保定": "baoding",
}
SAAS_CN_CITIES: dict[str, str] = {
    "深圳": "shenzhen",
    "广州": "guangzhou",
    "上海": "shanghai",
    "北京": "beijing",
    "杭州": "hangzhou",
    "成都": "chengdu",
}
# city, country, region
SAAS_WORLD_CITIES: tuple[tuple[str, str, str], ...] = (
    ("Singapore", "Singapore", "APAC"),
    ("Sydney", "Australia", "APAC"),
    ("Tokyo", "Japan", "APAC"),
    ("London", "United Kingdom", "EMEA"),
    ("Berlin", "Germany", "EMEA"),
    ("Amsterdam", "Netherlands", "EMEA"),
    ("San Francisco", "United States", "North America"),
    ("Toronto", "Canada", "North America"),
)

# --- account names ------------------------------------------------------------------

NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九")
HOSPITAL_WORDS: dict[str, str] = {
    "仁和": "renhe",
    "博爱": "boai",
    "济民": "jimin",
    "华康": "huakang",
    "同仁": "tongren",
    "协和": "xiehe",
    "仁济": "renji",
    "安贞": "anzhen",
    "瑞康": "ruikang",
    "普济": "puji",
}
FACTORY_WORDS: dict[str, str] = {
    "恒锐": "hengrui",
    "瑞丰": "ruifeng",
    "鼎盛": "dingsheng",
    "华力": "huali",
    "精工": "jinggong",
    "永信": "yongxin",
    "宏达": "hongda",
    "金泰": "jintai",
    "远航": "yuanhang",
    "中拓": "zhongtuo",
    "天成": "tiancheng",
    "启明": "qiming",
}
FACTORY_TRADES = (
    "精密机械",
    "汽车零部件",
    "电子科技",
    "新能源电池",
    "包装机械",
    "食品机械",
    "纺织装备",
    "锂电设备",
)
DISTRIBUTOR_WORDS: dict[str, str] = {
    "康诚": "kangcheng",
    "润和": "runhe",
    "信达": "xinda",
    "汇通": "huitong",
    "联拓": "liantuo",
}
SAAS_CN_WORDS: dict[str, str] = {
    "云栈": "yunzhan",
    "数擎": "shuqing",
    "星图": "xingtu",
    "极客邦": "jikebang",
    "蓝鲸": "lanjing",
    "有数": "youshu",
    "智链": "zhilian",
    "青木": "qingmu",
}
SAAS_EN_FIRST = ("Bright", "North", "Blue", "Silver", "Open", "Clear", "Swift", "True", "Red", "Green")
SAAS_EN_SECOND = ("line", "field", "harbor", "peak", "stone", "wave", "path", "leaf", "gate", "forge")
SAAS_EN_SUFFIX = ("Analytics", "Logistics", "Health", "Retail", "Labs", "Software", "Payments", "Robotics")

TITLES: dict[str, tuple[tuple[str, str], ...]] = {
    MEDICAL: (
        ("科室主任", "介入科"),
        ("介入科主任", "介入科"),
        ("设备科科长", "设备科"),
        ("采购经理", "采购中心"),
        ("护士长", "ICU"),
        ("院长助理", "院办"),
        ("信息科主任", "信息科"),
        ("超声科主任", "超声科"),
    ),
    AUTOMATION: (
        ("生产总监", "生产部"),
        ("设备部经理", "设备部"),
        ("采购经理", "采购部"),
        ("总工程师", "技术部"),
        ("厂长", "工厂管理"),
        ("IT经理", "信息部"),
    ),
    SAAS: (
        ("CTO", "Engineering"),
        ("VP Sales", "Sales"),
        ("Head of RevOps", "Revenue Operations"),
        ("Procurement Manager", "Procurement"),
        ("CIO", "IT"),
        ("销售运营总监", "销售运营"),
    ),
}
DISTRIBUTOR_TITLES = (("总经理", "管理层"), ("渠道经理", "渠道部"), ("采购经理", "采购部"))


@dataclass(frozen=True)
class ProductPlan:
    """A catalogue entry (see ``catalog.PRODUCTS``) and how much of it a deal buys."""

    code: str
    name: str
    family: str
    industry: str
    list_price: Decimal
    quantity: tuple[int, int]
    recurring: bool = False  # billed per year: becomes a subscription when won
    description: str = ""

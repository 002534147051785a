"""What the demo company sells: products, price lists, and what deals and tickets are about."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pathcast.crm.service import SPECS, create_record
from pathcast.demo.context import Demo, money
from pathcast.demo.vocabulary import AUTOMATION, MEDICAL, SAAS, ProductPlan

# --- products -----------------------------------------------------------------------


def _p(
    code: str,
    name: str,
    family: str,
    industry: str,
    price: int,
    qty: tuple[int, int],
    recurring: bool = False,
    description: str = "",
) -> ProductPlan:
    return ProductPlan(code, name, family, industry, Decimal(price), qty, recurring, description)


PRODUCTS: tuple[ProductPlan, ...] = (
    _p(
        "MD-DSA-CATH",
        "DSA介入导管套装 Interventional catheter kit",
        "DSA介入耗材",
        MEDICAL,
        2800,
        (40, 300),
        description="造影导管、导引导管与鞘组套装，按箱计价",
    ),
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
    _p(
        "IA-LINE-UPG",
        "产线升级改造 Line upgrade project",
        "产线升级",
        AUTOMATION,
        450000,
        (1, 3),
        description="含方案设计、设备改造、联调与验收",
    ),
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
    MEDICAL: {
        "渠道年度备货": ("MD-DSA-CATH", "MD-DSA-GW", "MD-MON-M12"),
        "分销网点铺货": ("MD-DSA-GW", "MD-DSA-CATH"),
    },
    AUTOMATION: {
        "渠道年度备货": ("IA-PLC-500", "IA-SRV-1K", "IA-HMI-10"),
        "分销网点铺货": ("IA-PLC-IO", "IA-SRV-1K"),
    },
}
RENEWAL_THEME = "续约 Renewal"

LEAD_SOURCES: dict[str, tuple[str, ...]] = {
    MEDICAL: ("展会 CMEF", "招标公告", "经销商推荐", "老客户转介绍", "学术会议"),
    AUTOMATION: ("展会 工博会", "官网表单", "经销商推荐", "老客户转介绍", "招标公告"),
    SAAS: ("Website", "Webinar", "Outbound", "Partner", "老客户转介绍"),
}
LOSS_REASONS = (
    "价格高于竞品 Price",
    "竞品中标 Competitor won",
    "预算冻结 Budget frozen",
    "项目延期取消 Project cancelled",
    "集采政策变化 Policy change",
    "No decision",
)

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
        "call": (
            "Discovery call with RevOps",
            "Pricing follow-up call",
            "Security questionnaire review",
            "电话确认席位数",
        ),
        "email": (
            "Sent security whitepaper",
            "Sent proposal and order form",
            "Follow-up after demo",
            "发送试用账号",
        ),
        "meeting": ("Product demo for CTO", "POC kickoff", "Executive sponsor meeting", "续约沟通会议"),
        "note": ("Champion moving to new role", "Procurement requires SOC 2 report", "客户对 API 限额敏感"),
        "task": ("Prepare order form", "Set up sandbox tenant", "Send DPA to legal", "安排培训"),
    },
}
TICKET_SUBJECTS: dict[str, tuple[str, ...]] = {
    MEDICAL: ("监护仪报警误触发", "彩超探头图像噪点", "中央站数据不同步", "导管包装破损退换", "设备年检预约"),
    AUTOMATION: (
        "伺服驱动器过热报警 AL.020",
        "PLC 与 MES 通讯中断",
        "HMI 触摸失灵",
        "产线节拍未达标",
        "远程运维网关离线",
    ),
    SAAS: (
        "SSO login fails for some users",
        "Report export times out",
        "API rate limit errors",
        "数据同步延迟",
        "Seat assignment bug",
    ),
}


# --- building the catalogue ---------------------------------------------------------

STANDARD_PRICE_LIST = "标准价目表 Standard price list (CNY)"
USD_PRICE_LIST = "Global price list (USD)"


# the catalogue predates the oldest account (accounts open up to 300 days before the start)
CATALOG_LEAD_DAYS = 400


def usd_price(list_price: Decimal) -> Decimal:
    """A CNY list price converted to whole US dollars."""
    return money(round(list_price / USD_RATE))


def create_catalog(demo: Demo) -> None:
    """Products, the default CNY price list, and a USD list for international SaaS."""
    at = demo.start - timedelta(days=CATALOG_LEAD_DAYS)
    for plan in PRODUCTS:
        product = create_record(
            demo.session,
            actor=demo.system,
            spec=SPECS["product"],
            occurred_at=at,
            data={
                "code": plan.code,
                "name": plan.name,
                "family": plan.family,
                "description": plan.description or None,
                "list_price": money(plan.list_price),
                "currency": "CNY",
                "external_source": "demo",
                "external_id": plan.code,
            },
        )
        demo.products[plan.code] = product
        demo.plans[plan.code] = plan
    valid_from = demo.start.date()
    standard = create_record(
        demo.session,
        actor=demo.system,
        spec=SPECS["price_list"],
        occurred_at=at,
        data={"name": STANDARD_PRICE_LIST, "currency": "CNY", "is_default": True, "valid_from": valid_from},
    )
    usd = create_record(
        demo.session,
        actor=demo.system,
        spec=SPECS["price_list"],
        occurred_at=at,
        data={"name": USD_PRICE_LIST, "currency": "USD", "is_default": False, "valid_from": valid_from},
    )
    for plan in PRODUCTS:
        product = demo.products[plan.code]
        create_record(
            demo.session,
            actor=demo.system,
            spec=SPECS["price_list_item"],
            occurred_at=at,
            data={
                "price_list_id": standard.id,
                "product_id": product.id,
                "unit_price": money(plan.list_price),
            },
        )
        if plan.industry == SAAS:
            create_record(
                demo.session,
                actor=demo.system,
                spec=SPECS["price_list_item"],
                occurred_at=at,
                data={
                    "price_list_id": usd.id,
                    "product_id": product.id,
                    "unit_price": usd_price(plan.list_price),
                },
            )

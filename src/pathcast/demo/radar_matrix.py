"""Demo competitor matrix: how the demo company's PLC, servo and ultrasound lines compare
with three well-known competitors on protocols, lead time, price, local service and
warranty.

Competitors are created through ``radar.service.settings`` when missing (with aliases so
Chinese and English mentions both link), rows through ``radar.service.matrix`` (one
``radar.matrix_row_set`` event each). The figures are the demo company's own sales
talk, illustrative only, not statements about any real vendor.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.radar.service import matrix, settings

__all__ = ["COMPETITORS", "ROWS", "seed_matrix"]

# name, aliases, their products
COMPETITORS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("西门子", ("Siemens", "SIEMENS"), ("S7-1200", "S7-1500", "SINAMICS V90")),
    ("汇川技术", ("Inovance", "汇川"), ("H5U", "AM600", "SV660")),
    ("迈瑞医疗", ("Mindray", "迈瑞"), ("Resona", "DC-80", "BeneVision")),
)

# competitor, product, criterion, ours, theirs, advantage, note
ROWS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    (
        "西门子",
        "PLC 控制器 PC-500 系列",
        "通讯协议",
        "Modbus TCP/RTU、Profinet IO、OPC UA 标配，无需授权",
        "Profinet 为主，OPC UA 需另购授权",
        "ours",
        "对标 S7-1500；强调开放协议与零授权费",
    ),
    (
        "西门子",
        "PLC 控制器 PC-500 系列",
        "交付周期",
        "标准品 2 周发货",
        "常规 6–10 周，紧俏型号更长",
        "ours",
        "缺货期间是切入良机",
    ),
    (
        "西门子",
        "PLC 控制器 PC-500 系列",
        "价格",
        "同配置约低 25%",
        "品牌溢价明显",
        "ours",
        "报价前先确认 IO 点数",
    ),
    (
        "西门子",
        "PLC 控制器 PC-500 系列",
        "本地服务",
        "省会城市 4 小时到场",
        "依赖代理商，响应 24–48 小时",
        "ours",
        "",
    ),
    ("西门子", "PLC 控制器 PC-500 系列", "质保", "3 年整机质保", "18 个月", "ours", ""),
    (
        "西门子",
        "伺服电机与驱动器 1kW Servo kit",
        "生态与口碑",
        "新进入者，案例约 200 家",
        "全球装机量最大，工程师熟悉 TIA Portal",
        "theirs",
        "用案例与试用机化解顾虑",
    ),
    (
        "汇川技术",
        "伺服电机与驱动器 1kW Servo kit",
        "价格",
        "与汇川基本持平",
        "国产价格优势明显",
        "even",
        "比价时强调总拥有成本",
    ),
    ("汇川技术", "伺服电机与驱动器 1kW Servo kit", "交付周期", "2 周", "1–2 周，现货充足", "even", ""),
    (
        "汇川技术",
        "伺服电机与驱动器 1kW Servo kit",
        "通讯协议",
        "EtherCAT、Profinet、Modbus",
        "EtherCAT、CANopen 为主",
        "ours",
        "多协议产线更适合我方",
    ),
    (
        "汇川技术",
        "PLC 控制器 PC-500 系列",
        "本地服务",
        "省会城市 4 小时到场",
        "华东华南密集，西部覆盖少",
        "ours",
        "西部项目优先推我方",
    ),
    ("汇川技术", "PLC 控制器 PC-500 系列", "质保", "3 年", "2 年", "ours", ""),
    (
        "迈瑞医疗",
        "便携式彩超 U5 Portable ultrasound",
        "价格",
        "同档位低约 15%",
        "价格坚挺，折扣空间小",
        "ours",
        "基层医院采购优先比价",
    ),
    (
        "迈瑞医疗",
        "便携式彩超 U5 Portable ultrasound",
        "本地服务",
        "地市级 8 小时到场",
        "全国直销服务网络，响应快",
        "theirs",
        "以驻场工程师承诺补位",
    ),
    ("迈瑞医疗", "台式彩超 U9 Cart ultrasound", "交付周期", "4 周", "2–3 周", "theirs", ""),
    (
        "迈瑞医疗",
        "台式彩超 U9 Cart ultrasound",
        "质保",
        "整机 3 年、探头 2 年",
        "整机 2 年",
        "ours",
        "招标参数中写入探头质保",
    ),
)


def seed_matrix(session: Session, actor: Actor) -> int:
    """Create the demo competitors if missing and set the demo rows; returns rows set."""
    existing = {c.name: c for c in settings.list_competitors(session)}
    ids: dict[str, int] = {}
    for name, aliases, products in COMPETITORS:
        found = existing.get(name)
        if found is None:
            found = settings.save_competitor(
                session, actor=actor, name=name, aliases=list(aliases), products=list(products)
            )
        ids[name] = found.id
    for competitor, product, criterion, ours, theirs, advantage, note in ROWS:
        matrix.set_row(
            session,
            actor,
            competitor_id=ids[competitor],
            product=product,
            criterion=criterion,
            ours=ours,
            theirs=theirs,
            advantage=advantage,
            note=note,
        )
    return len(ROWS)

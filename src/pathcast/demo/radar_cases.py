"""Demo case studies for the radar's case matching: published customer stories in zh and
en, in the weight table's industries and about the demo catalogue's products, added
through ``radar.service.cases`` (so each is a ``radar.case_study_added`` event)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.radar.service import cases

__all__ = ["CASE_STUDIES", "seed_case_studies"]

CASE_STUDIES: tuple[dict[str, Any], ...] = (
    {
        "title": "汽车零部件工厂 PLC 改造：通讯协议统一，停线时间减少 40%",
        "industry": "manufacturing",
        "products": ["PLC 控制器 PC-500 系列", "PLC 扩展 IO 模块", "10 寸触摸屏 HMI"],
        "amount": 860000,
        "text": (
            "问题：老旧产线的 PLC 来自三个品牌，Modbus 与 Profinet 设备通讯协议不兼容，"
            "换型时频繁停线，交付延迟。\n方案：分两期替换为 PC-500 系列，统一 OPC UA 网关，"
            "现场联调两周完成；停线时间减少 40%，备件种类减半。"
        ),
        "url": None,
    },
    {
        "title": "Electronics assembler: servo retrofit cut cycle time by 18%",
        "industry": "manufacturing",
        "products": ["伺服电机与驱动器 1kW Servo kit", "伺服电机与驱动器 3kW Servo kit"],
        "amount": 420000,
        "text": (
            "Problem: ageing servo drives caused positioning errors and unplanned downtime on "
            "the SMT line; spare parts had a 10-week lead time.\nSolution: staged retrofit to "
            "1kW and 3kW servo kits during weekend shutdowns, with remote tuning; cycle time "
            "fell 18% and downtime from drives stopped."
        ),
        "url": None,
    },
    {
        "title": "新工厂数字化车间：SCADA 与远程运维一体交付",
        "industry": "manufacturing",
        "products": [
            "SCADA 监控软件授权 SCADA licence",
            "远程运维服务 Remote O&M (年)",
            "产线升级改造 Line upgrade project",
        ],
        "amount": 1500000,
        "text": (
            "问题：新工厂投产节点紧，设备数据分散在各产线，质量追溯靠人工记录。\n"
            "方案：SCADA 数据采集覆盖 6 条产线，开通远程运维，异常 15 分钟内响应；"
            "按期投产，质量追溯从两天缩短到十分钟。"
        ),
        "url": None,
    },
    {
        "title": "三甲医院介入导管室：耗材带量采购配套与跟台服务",
        "industry": "medical_devices",
        "products": ["DSA介入导管套装 Interventional catheter kit", "DSA介入导丝 Guidewire"],
        "amount": 980000,
        "text": (
            "问题：集采后耗材价格下降，医院担心导丝通过性和供货稳定性，竞品正在做跟台。\n"
            "方案：提供临床跟台与术者培训，建立安全库存和 48 小时补货；"
            "年度采购量提升 30%，零断货。"
        ),
        "url": None,
    },
    {
        "title": "Regional hospital ICU expansion: monitors and central station in 6 weeks",
        "industry": "medical_devices",
        "products": ["多参数监护仪 M12 Patient monitor", "中央监护系统 Central monitoring station"],
        "amount": 1150000,
        "text": (
            "Problem: the ICU doubled its beds for the winter season and nurses could not watch "
            "every bed; the tender required delivery within two months.\nSolution: 16 M12 "
            "monitors networked to a central station, installation and training on site; "
            "alarm response time halved."
        ),
        "url": None,
    },
    {
        "title": "SaaS 销售团队上线销售云：三个月内 200 席位全面使用",
        "industry": "software",
        "products": ["衡远销售云 Sales Cloud (seat/year)", "实施服务 Implementation service"],
        "amount": 440000,
        "text": (
            "问题：销售数据散落在表格和邮件里，预测不准，老系统数据迁移风险高。\n"
            "方案：分批上线 200 席位，实施团队完成数据迁移和 API 集成；"
            "预测偏差从 35% 降到 12%，周报自动生成。"
        ),
        "url": None,
    },
)


def seed_case_studies(session: Session, actor: Actor) -> int:
    """Add the demo case studies through the service; returns how many were added.

    Titles already present (not archived) are skipped, so seeding twice adds nothing.
    """
    existing = {study.title for study in cases.list_case_studies(session, actor=actor)}
    added = 0
    for record in CASE_STUDIES:
        if record["title"] in existing:
            continue
        cases.add_case_study(session, actor=actor, data=record)
        added += 1
    return added

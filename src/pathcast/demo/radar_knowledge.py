"""Demo knowledge base: the Q&A pairs product marketing of an industrial-automation and
medical-devices supplier keeps for the radar's FAQ drafts.

Written through ``radar.service.knowledge`` (one ``radar.knowledge_added`` event each), in
Chinese or English as customers ask. Figures are the demo company's own policy, not any
real vendor's.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.radar.service import knowledge

__all__ = ["QA_PAIRS", "seed_knowledge"]

# (question, answer, source label)
QA_PAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "PLC网关支持哪些通讯协议？",
        "PLC Gateway 标配 Modbus TCP/RTU、Profinet IO（设备角色）和 OPC UA 服务器，"
        "可同时连接西门子 S7-1200/1500、三菱 Q/iQ-R 和欧姆龙 NJ 系列控制器，无需额外授权。",
        "FAQ · 协议兼容",
    ),
    (
        "Does the PLC Gateway support OPC UA and Profinet at the same time?",
        "Yes. The PLC Gateway runs an OPC UA server (Micro Embedded profile, Basic256Sha256 security) "
        "and a Profinet IO device interface concurrently; Modbus TCP can be enabled on the same port set.",
        "FAQ · Protocols",
    ),
    (
        "Modbus TCP 设备和旧的 Modbus RTU 设备能混用吗？",
        "可以。网关内置 RTU/TCP 协议转换，最多接入 32 个 RTU 从站，轮询周期可配置到 50 ms；"
        "超过 32 个站点建议分两个网关部署。",
        "FAQ · 协议兼容",
    ),
    (
        "标准交货期是多久？",
        "标准品（PLC Gateway、MES Pro 软件授权）下单后 2 周发货；定制机柜 6–8 周；"
        "DSA 耗材常备库存，华东、华南仓 48 小时内送达。旺季（11–12 月）请提前 4 周下单。",
        "FAQ · 交付",
    ),
    (
        "What is the delivery lead time for custom control cabinets?",
        "Custom control cabinets ship 6–8 weeks after the drawings are approved; "
        "standard gateways ship within 2 weeks. Expedited assembly (4 weeks) is available for a 10% surcharge.",
        "FAQ · Delivery",
    ),
    (
        "设备保修期多长？保修包括什么？",
        "硬件整机保修 24 个月（自验收之日起），含备件和工程师上门；软件授权含 12 个月升级与远程支持，"
        "之后可按年续订维保（授权费的 18%）。人为损坏与耗材不在保修范围内。",
        "FAQ · 保修",
    ),
    (
        "Is there an extended warranty option?",
        "Yes: the hardware warranty can be extended from 24 to 36 or 60 months at purchase, "
        "priced at 6% of the list price per extra year, with next-business-day parts replacement.",
        "FAQ · Warranty",
    ),
    (
        "价格和折扣政策是怎样的？",
        "报价以当年价目表为准；单笔订单满 50 万元可享 5% 折扣，年度框架协议最高 12%。"
        "超出上述范围的折扣需销售经理审批，所有报价有效期 30 天。",
        "FAQ · 价格政策",
    ),
    (
        "DSA 耗材（导管、导丝）能否单独采购？",
        "可以。DSA 介入耗材（造影导管、导丝、鞘管）可单独采购，按盒起订；"
        "与 DSA 设备同一医院签订年度供货协议的，可享受锁价 12 个月。所有耗材均有医疗器械注册证。",
        "FAQ · DSA 耗材",
    ),
    (
        "Are DSA consumables compatible with other vendors' angiography systems?",
        "Our catheters, guidewires and sheaths follow the standard 4F–6F sizes and luer connections, "
        "so they work with any DSA system; the contrast injector tubing is specific to our injector.",
        "FAQ · DSA consumables",
    ),
    (
        "安装调试需要多长时间？需要客户准备什么？",
        "网关和 MES Pro 现场安装调试一般 3–5 个工作日；DSA 设备安装约 2 周（含辐射防护验收配合）。"
        "客户需提前准备电源、网络（固定 IP）和设备间，我们提供安装前检查清单。",
        "FAQ · 安装",
    ),
    (
        "Do you provide on-site installation and training?",
        "Yes. Installation and commissioning are included for orders above ¥200,000; "
        "each installation includes two days of operator training on site and remote support afterwards.",
        "FAQ · Installation",
    ),
)


def seed_knowledge(session: Session, actor: Actor) -> int:
    """Add the demo Q&A pairs through the service; returns how many were added.

    Pairs whose question is already in the knowledge base are skipped, so seeding twice
    adds nothing.
    """
    existing = {entry.question for entry in knowledge.list_knowledge(session, actor, kind="qa")}
    added = 0
    for question, answer, source in QA_PAIRS:
        if question in existing:
            continue
        knowledge.add_qa(session, actor, question=question, answer=answer, source=source)
        added += 1
    return added

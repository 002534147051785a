"""The demo's radar: a recorded industry forum and bidding feed, graded and routed, and the
response toolbox filled (knowledge Q&A, competitor matrix, case studies).

The forum is a source like any other (kind ``rss``) but inactive: its posts were recorded
into the demo through the same ``record_poll`` a real poll uses, so nothing reaches out
to the internet from a demo. Texts name the demo's own accounts, so the inbox shows the
same delivery complaint graded higher for a manufacturer than for a software company, a
tip-sharing post that is not a complaint, a protocol question naming a competitor, and a
bidding notice.
"""

from __future__ import annotations

from datetime import timedelta

from pathcast.demo.context import AccountInfo, Demo
from pathcast.demo.radar_cases import seed_case_studies
from pathcast.demo.radar_knowledge import seed_knowledge
from pathcast.demo.radar_matrix import seed_matrix
from pathcast.demo.vocabulary import AUTOMATION, MEDICAL, SAAS
from pathcast.radar.service import routing, signals, sources
from pathcast.radar.sources import ItemDraft, ParseResult
from pathcast.radar.sources.fetch import Collected

FORUM_URL = "https://forum.demo.pathcast.dev/feed.xml"


def _first(demo: Demo, industry: str) -> AccountInfo | None:
    return next(
        (info for info in demo.accounts if info.industry == industry and not info.is_distributor),
        None,
    )


def _short(info: AccountInfo) -> str:
    # Posts name a company the way people write it: 「恒泰精密」, not its legal name.
    forms = signals.short_names(info.account.name)
    return forms[-1] if forms else info.account.name


def _posts(demo: Demo) -> list[ItemDraft]:
    maker = _first(demo, AUTOMATION)
    software = _first(demo, SAAS)
    hospital = _first(demo, MEDICAL)
    posts: list[tuple[str, str]] = []
    if maker is not None:
        name = _short(maker)
        posts += [
            ("交付延迟投诉", f"{name}：你们的控制柜交付延迟了两周，产线停了，我们非常不满意，请尽快给个说法"),
            (
                "分享个小技巧",
                f"小技巧分享：{name}的产线调试教程，按这个步骤十分钟就搞定了，非常好用，推荐大家试试",
            ),
            (
                "PLC通讯协议兼容性",
                f"{name}的工程师问：你们的网关支持哪些PLC通讯协议？和西门子S7-1500的Profinet兼容性怎么样？",
            ),
        ]
    if software is not None:
        name = _short(software)
        posts.append(
            ("同样的延迟", f"{name}：你们的控制柜交付延迟了两周，产线停了，我们非常不满意，请尽快给个说法")
        )
    if hospital is not None:
        name = _short(hospital)
        posts += [
            (
                "采购招标公告",
                f"{name} DSA介入耗材年度采购项目招标公告：预算 380 万元，欢迎符合资质的供应商投标",
            ),
            ("价格对比", f"{name}设备科：迈瑞的报价比你们低 15%，交付周期也更短，我们正在比较两家方案"),
        ]
    posts += [
        (
            "Gateway lead time",
            "Comparing your gateway with Siemens: their lead time is six weeks, yours is ten. "
            "Our order is two weeks late and support does not respond.",
        ),
        ("Great onboarding", "Tip for new users: the commissioning wizard saved us a day, works great."),
    ]
    published = demo.horizon - timedelta(days=len(posts))
    return [
        ItemDraft(
            external_id=f"demo-forum-{number}",
            title=title,
            text=text,
            url=f"https://forum.demo.pathcast.dev/t/{1000 + number}",
            author="forum member",
            published_at=published + timedelta(days=number, hours=9),
        )
        for number, (title, text) in enumerate(posts, start=1)
    ]


def create_radar(demo: Demo) -> None:
    """Toolbox content first (its competitors are what the analysis links), then the posts."""
    session = demo.session
    admin = demo.admin or demo.system
    seed_matrix(session, admin)
    seed_knowledge(session, admin)
    seed_case_studies(session, admin)
    forum = sources.create_source(
        session,
        actor=demo.system,
        name="工控论坛（演示录制）/ Industrial forum (recorded demo)",
        kind="rss",
        config={"url": FORUM_URL, "reach": 2},
        is_active=False,
    )
    sources.record_poll(
        session,
        source=forum,
        outcome=Collected(parsed=ParseResult(items=_posts(demo))),
        now=demo.horizon,
    )
    signals.analyse_pending(session, actor=demo.system, now=demo.horizon)
    routing.route_pending(session, actor=demo.system, now=demo.horizon)

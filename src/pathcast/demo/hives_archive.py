"""Demo messages for the hives' message archive: a handful of zh/en e-mails and WeCom
messages per demo hive, received through ``signals`` (so each is a real received message,
with its crm activity) and filed automatically by the archive's reaction; one is misfiled
and moved by the admin, which teaches the filer.

Deterministic: no randomness; every message is dated on working days before the demo's
horizon, and the move at the horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from pathcast.auth.models import User
from pathcast.crm.service import lookups as crm_lookups
from pathcast.demo.context import Demo
from pathcast.hives import models as hm
from pathcast.hives.service import archive
from pathcast.hives.service.hives import members_of
from pathcast.signals.connectors.base import MessageDraft
from pathcast.signals.service.messages import ingest_message

__all__ = ["seed_archive"]

HIVES_MAX = 3


def _working_day_before(moment: datetime, days: int) -> datetime:
    at = moment - timedelta(days=days)
    while at.weekday() >= 5:
        at -= timedelta(days=1)
    return at


def _customer(demo: Demo, account_id: int) -> str | None:
    """The e-mail of the account's first demo contact that has one."""
    for info in demo.accounts:
        if info.account.id == account_id:
            return next((contact.email for contact in info.contacts if contact.email), None)
    return None


def _receive(demo: Demo, key: str, at: datetime, **values: object) -> None:
    draft = MessageDraft(idempotency_key=f"demo-hive-archive-{key}", sent_at=at, **values)  # type: ignore[arg-type]
    ingest_message(demo.session, draft=draft, actor=demo.system, received_at=at)


def _messages_for(demo: Demo, hive: hm.Hive, number: int) -> None:
    session = demo.session
    account = crm_lookups.get_account(session, hive.account_id)
    account_name = account.name if account is not None else None
    customer = _customer(demo, hive.account_id)
    sender = customer or f"purchasing@customer-{hive.account_id}.example"
    staff = [session.get(User, member.user_id) for member in members_of(session, hive.id)]
    staff_emails = tuple(user.email for user in staff if user is not None)[:3]
    thread = f"<demo-hive-{hive.id}-schedule@customer.example>"
    base = _working_day_before(demo.horizon, 12 - number)
    job = hive.product_line or hive.name
    _receive(
        demo,
        f"{hive.id}-1",
        base,
        channel="email",
        subject=f"{job}：排产与到货时间确认",
        body="您好，请确认生产排期和设备到货时间，我们需要提前安排现场停机窗口。附件是现场平面图。",
        sender=sender,
        recipients=staff_emails,
        thread_key=thread,
        account_hint=account_name,
        extra={"attachments": ["现场平面图.pdf"]},
    )
    _receive(
        demo,
        f"{hive.id}-2",
        base + timedelta(hours=3),
        channel="email",
        subject=f"回复：{job}：排产与到货时间确认",
        body="收到，排产计划已更新，发货物流下周安排，安装调试预计两周。",
        sender=staff_emails[0] if staff_emails else "delivery@pathcast.example",
        recipients=(sender,),
        thread_key=thread,
        direction="outbound",
        is_reply=True,
        account_hint=account_name,
        extra={"attachments": ["排产计划.xlsx"]},
    )
    _receive(
        demo,
        f"{hive.id}-3",
        base + timedelta(days=1),
        channel="email",
        subject=f"Installation and commissioning plan — {job}",
        body="Hi team, attached is the site readiness checklist: network and power are ready, "
        "safety training is booked for Monday.",
        sender=sender,
        recipients=staff_emails,
        account_hint=account_name,
        extra={"attachments": ["site-readiness-checklist.docx"]},
    )
    if staff_emails:
        _receive(
            demo,
            f"{hive.id}-4",
            base + timedelta(days=1, hours=2),
            channel="wecom",
            subject="",
            body=f"【{job}】关键物料交期有风险，供应商说要延后三天，请生产计划评估对客户验收的影响。",
            sender=staff_emails[-1],
            recipients=staff_emails[:1],
            thread_key=f"wecom-hive-{hive.id}",
            account_hint=account_name,
        )


def seed_archive(demo: Demo, hive_ids: Sequence[int]) -> None:
    """A handful of zh/en messages per hive (at most three hives), filed automatically;
    with two hives or more, one message of the first is misfiled and moved to the second."""
    session = demo.session
    hives = [hive for hive in (session.get(hm.Hive, hive_id) for hive_id in hive_ids[:HIVES_MAX]) if hive]
    for number, hive in enumerate(hives):
        _messages_for(demo, hive, number)
    if len(hives) < 2:
        return
    first, second = hives[0], hives[1]
    account = crm_lookups.get_account(session, first.account_id)
    at = _working_day_before(demo.horizon, 2)
    _receive(
        demo,
        f"{first.id}-misfiled",
        at,
        channel="email",
        subject="备件清单与报价 spare parts list",
        body="附件是备件清单，请按这个清单报价，备件随第二批设备一起发货。",
        sender=_customer(demo, first.account_id) or f"purchasing@customer-{first.account_id}.example",
        account_hint=account.name if account is not None else None,
        extra={"attachments": ["备件清单.xlsx"]},
    )
    misfiled = session.scalars(
        select(hm.Message)
        .where(hm.Message.subject == "备件清单与报价 spare parts list")
        .order_by(hm.Message.id.desc())
    ).first()
    if misfiled is not None and misfiled.hive_id != second.id:
        archive.move_message(
            session, demo.admin or demo.system, message_id=misfiled.id, to_hive_id=second.id, now=demo.horizon
        )

"""Demo portal data: courses, the reps' progress and certificates, and data requests.

Four courses (three the customer may see, one internal), an enrollment for every demo
seller and the customer-success manager, and three data requests from the demo
customer: one done, one in progress and one **overdue** (received 40 days before
``today``, still open). The customer's account owner holds a valid, an expiring (within
60 days) and a non-expiring certificate, so ``/portal/team`` shows every state.

Everything goes through ``portal.service`` and is stamped before ``demo.horizon``;
nothing random is drawn, so the rest of the demo does not change. Call after
``create_customer_login`` (the loader's last steps).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pathcast.auth.permissions import Actor
from pathcast.auth.service import get_user_by_email
from pathcast.crm.service import lookups as crm_lookups
from pathcast.demo.context import Demo
from pathcast.demo.people import demo_email
from pathcast.demo.vocabulary import CUSTOMER_KEY
from pathcast.portal.service import requests, training

# (code, Chinese name, English name, months valid (None: never expires), customer-visible)
COURSES: tuple[tuple[str, str, str, int | None, bool], ...] = (
    ("DSA-CERT", "DSA 介入耗材产品认证", "DSA interventional consumables certification", 24, True),
    ("MDR-12", "医疗器械法规与合规", "Medical device regulation and compliance", 12, True),
    ("SAFETY", "产品安全与不良事件上报", "Product safety and adverse-event reporting", None, True),
    ("SALES-METHOD", "顾问式销售方法（内部）", "Consultative selling method (internal)", 12, False),
)
# the account owner's certificates: (course code, days before today certified, number)
OWNER_CERTIFICATES = (("DSA-CERT", 600, "DSA"), ("MDR-12", 330, "MDR"), ("SAFETY", 200, "SAF"))
# requests of the demo customer: (days before today received, kind, detail, status, resolution)
REQUESTS = (
    (
        95,
        "access",
        "请提供贵司保存的我院全部联系人及沟通记录。",
        "done",
        "已通过门户导出 ZIP 提供，含 manifest 校验值。",
    ),
    (12, "correction", "设备科联系人电话有误，请更正为 010-6915 0000。", "in_progress", ""),
    (40, "portability", "Please send a portable copy of our account for our new ERP.", "open", ""),
)


def _moment(day: date) -> datetime:
    """Mid-morning in Beijing on ``day`` (02:30 UTC)."""
    return datetime.combine(day, time(2, 30), UTC)


def _number(prefix: str, user_id: int, year: int) -> str:
    return f"PC-{prefix}-{year}-{user_id:04d}"


def seed_portal(demo: Demo) -> None:
    """Courses, enrollments and data requests of the demo company."""
    admin = demo.admin or demo.system
    session, today = demo.session, demo.today
    stamp = demo.horizon
    courses = {
        code: training.create_course(
            session,
            admin,
            code=code,
            name_zh=zh,
            name_en=en,
            valid_months=months,
            customer_visible=visible,
            occurred_at=demo.start,
        )
        for code, zh, en, months, visible in COURSES
    }
    customer = get_user_by_email(session, demo_email(CUSTOMER_KEY))
    account = (
        crm_lookups.get_account(session, customer.account_id) if customer and customer.account_id else None
    )
    owner_id = account.owner_id if account is not None else None
    people = [seller.actor.user_id for sellers in demo.sellers.values() for seller in sellers]
    if owner_id is not None and owner_id not in people:
        people.append(owner_id)
    success = demo.members.get("success")
    if success is not None and success.user_id is not None:
        people.append(success.user_id)
    for index, user_id in enumerate(uid for uid in people if uid is not None):
        if user_id == owner_id:
            for code, days, prefix in OWNER_CERTIFICATES:
                day = today - timedelta(days=days)
                training.save_enrollment(
                    session,
                    admin,
                    user_id=user_id,
                    course_id=courses[code].id,
                    certified_on=day,
                    certificate_no=_number(prefix, user_id, day.year),
                    occurred_at=stamp,
                )
            training.save_enrollment(
                session,
                admin,
                user_id=user_id,
                course_id=courses["SALES-METHOD"].id,
                progress=70,
                occurred_at=stamp,
            )
            continue
        # everyone else: a spread of certificates (valid, expiring, expired) and training
        dsa_day = today - timedelta(days=120 + 61 * index)
        training.save_enrollment(
            session,
            admin,
            user_id=user_id,
            course_id=courses["DSA-CERT"].id,
            certified_on=dsa_day,
            certificate_no=_number("DSA", user_id, dsa_day.year),
            occurred_at=stamp,
        )
        if index % 3 == 2:
            training.save_enrollment(
                session,
                admin,
                user_id=user_id,
                course_id=courses["MDR-12"].id,
                progress=(25 * index) % 90 + 10,
                occurred_at=stamp,
            )
        else:
            mdr_day = today - timedelta(days=200 + 97 * index)
            training.save_enrollment(
                session,
                admin,
                user_id=user_id,
                course_id=courses["MDR-12"].id,
                certified_on=mdr_day,
                certificate_no=_number("MDR", user_id, mdr_day.year),
                occurred_at=stamp,
            )
    if customer is None or customer.account_id is None:
        return
    asking = Actor.for_user(customer)
    for days, kind, detail, status, resolution in REQUESTS:
        received = _moment(today - timedelta(days=days))
        filed = requests.file_request(session, asking, kind=kind, detail=detail, received_at=received)
        if status != "open":
            requests.change_request(
                session, admin, filed.id, status="in_progress", occurred_at=received + timedelta(days=1)
            )
        if status in requests.CLOSED:
            requests.change_request(
                session,
                admin,
                filed.id,
                status=status,
                resolution=resolution,
                occurred_at=min(received + timedelta(days=20), stamp),
            )

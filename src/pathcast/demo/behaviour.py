"""Demo behaviour: a tracked website, the documents customers read on it, and four weeks
of visits by the buyers of a dozen accounts, ingested through the collect service at the
moments they happened. Contacts who met the sales team often enough are past the consent
threshold, so their pages show named behaviour; the others count only for their account.
"""

from __future__ import annotations

from datetime import timedelta

from pathcast.demo.context import Demo
from pathcast.demo.vocabulary import AUTOMATION, MEDICAL
from pathcast.signals.models import IdentityMethod
from pathcast.signals.schemas import CollectBatch
from pathcast.signals.service import collect, consent, identity, sites

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
# key, name, kind
ASSETS: dict[str, tuple[tuple[str, str, str], ...]] = {
    MEDICAL: (
        ("dsa-consumables-comparison", "DSA介入耗材对比表", "document"),
        ("ultrasound-brochure", "超声与监护产品手册 Ultrasound & monitoring brochure", "document"),
        ("/cases/cardiology", "心内科客户案例 Cardiology case studies", "page"),
    ),
    AUTOMATION: (
        ("plc-protocol-whitepaper", "PLC通讯协议兼容性白皮书", "document"),
        ("/solutions/line-upgrade", "产线升级方案 Line upgrade solution", "page"),
    ),
}
COMMON = (
    ("/pricing", "价格与方案 Pricing", "page"),
    ("security-whitepaper", "Security & Compliance Whitepaper 安全合规白皮书", "document"),
)
VISITED_ACCOUNTS = 14
VISIT_DAYS = 28


def create_behaviour(demo: Demo) -> None:
    """Create the site and replay the visits, each batch received at its own moment."""
    site = sites.create_site(
        demo.session,
        name="www (demo)",
        allowed_origins=DEMO_ORIGINS,
        actor=demo.system,
        key=f"demo-{demo.rng.randrange(16**12):012x}",
        occurred_at=demo.start,
    )
    info = collect.SiteInfo(site.id, site.key, tuple(site.allowed_origins), site.rate_limit_per_minute)
    customers = [account for account in demo.accounts if account.contacts and not account.is_distributor]
    # The buyers the team meets most are the ones who read most: visit those accounts first.
    meetings = {
        account.code: sorted(
            account.contacts,
            key=lambda contact: -consent.consent_state(demo.session, contact.id).deep_interactions,
        )
        for account in customers
    }
    customers.sort(
        key=lambda account: (
            -consent.consent_state(demo.session, meetings[account.code][0].id).deep_interactions
        )
    )
    for account in customers[:VISITED_ACCOUNTS]:
        library = ASSETS.get(account.industry, ()) + COMMON
        for number, contact in enumerate(meetings[account.code][:3]):
            if number and demo.rng.random() < 0.4:
                continue
            visitor = f"demo-{account.code}-{number}-{demo.rng.randrange(10**8):08d}".lower()
            first = True
            for day in sorted(demo.rng.sample(range(VISIT_DAYS), demo.rng.randint(2, 6)), reverse=True):
                moment = demo.at_work((demo.horizon - timedelta(days=day)).date())
                if moment > demo.horizon:
                    continue
                events = []
                for view in range(demo.rng.randint(1, 3)):
                    key, name, kind = demo.rng.choice(library[:2] if demo.rng.random() < 0.7 else library)
                    started = moment + timedelta(minutes=12 * view)
                    dwell = int(
                        demo.rng.choice((8, 25, 60, 95, 140, 240)) * 1000 * demo.rng.uniform(0.8, 1.2)
                    )
                    view_key = f"{visitor}-{day}-{view}"
                    ts = int(started.timestamp() * 1000)
                    asset = {"asset": key, "asset_name": name, "asset_kind": kind}
                    events.append({"type": "view", "ts": ts, "view": view_key, **asset})
                    events.append({"type": "dwell", "ts": ts + dwell, "view": view_key, "dwell_ms": dwell})
                received = moment + timedelta(minutes=40)
                batch = CollectBatch(site=site.key, visitor=visitor, events=events)
                collect.ingest_batch(demo.session, site=info, batch=batch, received_at=received)
                if first:
                    # The first visit came through a tracked link in a rep's e-mail.
                    visitor_id = collect.visitor_id(demo.session, site_id=site.id, key=visitor)
                    identity.link_visitor(
                        demo.session,
                        visitor_id=visitor_id,
                        contact_id=contact.id,
                        method=IdentityMethod.email_link,
                        by="demo",
                        at=received,
                    )
                    first = False

"""The demo's market: accounts in three industries (with distributors and their
outlets) and the people at those accounts."""

from __future__ import annotations

from datetime import datetime, timedelta

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record
from pathcast.demo.context import AccountInfo, Demo, Seller, money
from pathcast.demo.names import chinese_name, english_name, factory, hospital, saas_cn, saas_en, unique
from pathcast.demo.vocabulary import (
    AUTOMATION,
    DISTRIBUTOR_TITLES,
    DISTRIBUTOR_WORDS,
    EAST_CITIES,
    MEDICAL,
    NORTH_CITIES,
    SAAS,
    SAAS_CN_CITIES,
    SAAS_WORLD_CITIES,
    TITLES,
)

# --- accounts -------------------------------------------------------------------------

TIER_WEIGHTS = ((m.Tier.strategic, 15), (m.Tier.key, 30), (m.Tier.standard, 55))


def _tier(demo: Demo) -> m.Tier:
    return demo.rng.choices([tier for tier, _ in TIER_WEIGHTS], weights=[w for _, w in TIER_WEIGHTS])[0]


def _industry_mix(demo: Demo, customers: int) -> list[str]:
    first = [MEDICAL, AUTOMATION, SAAS][:customers]
    rest = demo.rng.choices([MEDICAL, AUTOMATION, SAAS], weights=[40, 35, 25], k=max(0, customers - 3))
    return first + rest


def create_accounts(demo: Demo, count: int) -> None:
    """``count`` accounts: distributors with two outlets each, then end customers."""
    distributors = count // 15 if count >= 15 else (1 if count >= 6 else 0)
    taken: set[str] = set()
    for index in range(distributors):
        industry = MEDICAL if index % 2 == 0 else AUTOMATION
        team = "east" if index % 2 == 0 else "north"
        parent = _distributor(demo, industry, team, taken)
        for _ in range(2):
            _outlet(demo, parent, taken)
    for position, industry in enumerate(_industry_mix(demo, count - 3 * distributors)):
        info = _customer(demo, industry, position, taken)
        info.showcase = position < 3


def _owner(demo: Demo, team: str) -> Seller:
    return demo.rng.choice(demo.sellers[team])


def _created_at(demo: Demo) -> datetime:
    return demo.at_work((demo.start + timedelta(days=demo.rng.uniform(-300, 520))).date())


def _create_account(
    demo: Demo,
    *,
    owner: Seller,
    name: str,
    slug: str,
    industry: str,
    tier: m.Tier,
    region: str,
    country: str,
    city: str,
    city_en: str,
    currency: str = "CNY",
    parent: AccountInfo | None = None,
    distributor: bool = False,
) -> AccountInfo:
    rng = demo.rng
    created = _created_at(demo) if parent is None else demo.after(parent.created_at, 20, 200)
    created = min(created, demo.horizon - timedelta(days=45))
    size = {m.Tier.strategic: (2000, 12000), m.Tier.key: (500, 3000), m.Tier.standard: (80, 800)}[tier]
    employees = rng.randrange(*size)
    revenue = money(employees * rng.randrange(300, 1500) * 1000)
    code = f"ACC-{len(demo.accounts) + 1:04d}"
    account = create_record(
        demo.session,
        actor=owner.actor,
        spec=SPECS["account"],
        occurred_at=created,
        data={
            "name": name,
            "website": f"https://www.{slug}.example.com",
            "industry": industry,
            "tier": tier.value,
            "region": region,
            "country": country,
            "city": city,
            "employees": employees,
            "annual_revenue": revenue,
            "year_established": rng.randrange(1952, 2020),
            "parent_id": parent.account.id if parent else None,
            "owner_id": owner.user.id,
            "external_source": "demo",
            "external_id": code,
            "notes": "渠道伙伴 Channel partner" if distributor else None,
        },
    )
    info = AccountInfo(
        account=account,
        industry=industry,
        owner=owner,
        code=code,
        created_at=created,
        city_en=city_en,
        currency=currency,
        is_distributor=distributor,
        is_outlet=parent is not None,
    )
    demo.accounts.append(info)
    _create_contacts(demo, info, slug, tier)
    return info


def _distributor(demo: Demo, industry: str, team: str, taken: set[str]) -> AccountInfo:
    region, cities = ("华东", EAST_CITIES) if team == "east" else ("华北", NORTH_CITIES)
    trade = "医疗器械" if industry == MEDICAL else "自动化设备"

    def make() -> tuple[str, str]:
        word = demo.rng.choice(list(DISTRIBUTOR_WORDS))
        prefix = region if demo.rng.random() < 0.6 else demo.rng.choice(list(cities))
        return f"{prefix}{word}{trade}有限公司", DISTRIBUTOR_WORDS[word]

    name, slug = unique(demo, taken, make)
    city = next((city for city in cities if name.startswith(city)), demo.rng.choice(list(cities)))
    return _create_account(
        demo,
        owner=_owner(demo, team),
        name=name,
        slug=slug,
        industry=industry,
        tier=m.Tier.key,
        region=region,
        country="中国",
        city=city,
        city_en=cities[city],
        distributor=True,
    )


def _outlet(demo: Demo, parent: AccountInfo, taken: set[str]) -> AccountInfo:
    cities = EAST_CITIES if parent.account.region == "华东" else NORTH_CITIES

    def make() -> tuple[str, str]:
        city = demo.rng.choice(list(cities))
        return f"{parent.account.name}（{city}分公司）", city

    name, city = unique(demo, taken, make)
    city = city if city in cities else demo.rng.choice(list(cities))
    parent_slug = (parent.account.website or "").removeprefix("https://www.").removesuffix(".example.com")
    return _create_account(
        demo,
        owner=parent.owner,
        name=name,
        slug=f"{parent_slug}-{cities[city]}",
        industry=parent.industry,
        tier=m.Tier.standard,
        region=parent.account.region or "",
        country="中国",
        city=city,
        city_en=cities[city],
        parent=parent,
        distributor=True,
    )


def _customer(demo: Demo, industry: str, position: int, taken: set[str]) -> AccountInfo:
    rng = demo.rng
    tier = _tier(demo)
    if industry == SAAS:
        owner = _owner(demo, "saas")
        if rng.random() < 0.4:
            city, country, region = rng.choice(SAAS_WORLD_CITIES)
            name, slug = unique(demo, taken, lambda: saas_en(demo))
            return _create_account(
                demo,
                owner=owner,
                name=name,
                slug=slug,
                industry=industry,
                tier=tier,
                region=region,
                country=country,
                city=city,
                city_en=city,
                currency="USD",
            )
        city = rng.choice(list(SAAS_CN_CITIES))
        name, slug = unique(demo, taken, lambda: saas_cn(demo, city, SAAS_CN_CITIES[city]))
        return _create_account(
            demo,
            owner=owner,
            name=name,
            slug=slug,
            industry=industry,
            tier=tier,
            region="中国",
            country="中国",
            city=city,
            city_en=SAAS_CN_CITIES[city],
        )
    team = ("east" if industry == MEDICAL else "north") if position < 2 else rng.choice(("east", "north"))
    region, cities = ("华东", EAST_CITIES) if team == "east" else ("华北", NORTH_CITIES)
    city = rng.choice(list(cities))
    builder = hospital if industry == MEDICAL else factory
    name, slug = unique(demo, taken, lambda: builder(demo, city, cities[city]))
    return _create_account(
        demo,
        owner=_owner(demo, team),
        name=name,
        slug=slug,
        industry=industry,
        tier=tier,
        region=region,
        country="中国",
        city=city,
        city_en=cities[city],
    )


def _create_contacts(demo: Demo, info: AccountInfo, slug: str, tier: m.Tier) -> None:
    rng = demo.rng
    if info.is_outlet:
        count = 1
    elif info.is_distributor:
        count = 2
    else:
        count = {m.Tier.strategic: 5, m.Tier.key: 4, m.Tier.standard: 3}[tier] - rng.randrange(2)
    titles = DISTRIBUTOR_TITLES if info.is_distributor else TITLES[info.industry]
    international = info.currency == "USD"
    domain = (info.account.website or "https://www.example.com").removeprefix("https://www.")
    for number in range(count):
        use_english = international or (info.industry == SAAS and rng.random() < 0.3)
        name, local = english_name(demo) if use_english else chinese_name(demo)
        title, department = titles[number % len(titles)] if number == 0 else rng.choice(titles)
        phone = (
            f"+{rng.randrange(1, 90)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
            if international
            else f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}"
        )
        # within days of the account, so every later deal, activity and ticket can name them
        at = demo.after(info.created_at, 0, 4)
        contact = create_record(
            demo.session,
            actor=info.owner.actor,
            spec=SPECS["contact"],
            occurred_at=at,
            data={
                "account_id": info.account.id,
                "name": name,
                "title": title,
                "department": department,
                "email": f"{local}@{domain}",
                "phone": phone,
                "owner_id": info.owner.user.id,
                "external_source": "demo",
                "external_id": f"{info.code}-C{number + 1}",
            },
        )
        info.contacts.append(contact)

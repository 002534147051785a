"""The demo's market: products and price lists, accounts (with distributors and their
outlets) and the people at those accounts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record
from pathcast.demo.context import AccountInfo, Demo, Seller, money
from pathcast.demo.vocabulary import (
    AUTOMATION,
    DISTRIBUTOR_TITLES,
    DISTRIBUTOR_WORDS,
    EAST_CITIES,
    FACTORY_TRADES,
    FACTORY_WORDS,
    FIRST_NAMES,
    GIVEN_NAMES,
    HOSPITAL_WORDS,
    LAST_NAMES,
    MEDICAL,
    NORTH_CITIES,
    NUMERALS,
    PRODUCTS,
    SAAS,
    SAAS_CN_CITIES,
    SAAS_CN_WORDS,
    SAAS_EN_FIRST,
    SAAS_EN_SECOND,
    SAAS_EN_SUFFIX,
    SAAS_WORLD_CITIES,
    SURNAMES,
    TITLES,
    USD_RATE,
)

STANDARD_PRICE_LIST = "标准价目表 Standard price list (CNY)"
USD_PRICE_LIST = "Global price list (USD)"


def usd_price(list_price: Decimal) -> Decimal:
    """A CNY list price converted to whole US dollars."""
    return money(round(list_price / USD_RATE))


def create_catalog(demo: Demo) -> None:
    """Products, the default CNY price list, and a USD list for international SaaS."""
    at = demo.start - timedelta(days=60)
    for plan in PRODUCTS:
        product = create_record(
            demo.session, actor=demo.system, spec=SPECS["product"], occurred_at=at,
            data={"code": plan.code, "name": plan.name, "family": plan.family,
                  "description": plan.description or None, "list_price": money(plan.list_price),
                  "currency": "CNY", "external_source": "demo", "external_id": plan.code},
        )
        demo.products[plan.code] = product
        demo.plans[plan.code] = plan
    valid_from = demo.start.date()
    standard = create_record(
        demo.session, actor=demo.system, spec=SPECS["price_list"], occurred_at=at,
        data={"name": STANDARD_PRICE_LIST, "currency": "CNY", "is_default": True, "valid_from": valid_from},
    )
    usd = create_record(
        demo.session, actor=demo.system, spec=SPECS["price_list"], occurred_at=at,
        data={"name": USD_PRICE_LIST, "currency": "USD", "is_default": False, "valid_from": valid_from},
    )
    for plan in PRODUCTS:
        product = demo.products[plan.code]
        create_record(
            demo.session, actor=demo.system, spec=SPECS["price_list_item"], occurred_at=at,
            data={"price_list_id": standard.id, "product_id": product.id, "unit_price": money(plan.list_price)},
        )
        if plan.industry == SAAS:
            create_record(
                demo.session, actor=demo.system, spec=SPECS["price_list_item"], occurred_at=at,
                data={"price_list_id": usd.id, "product_id": product.id,
                      "unit_price": usd_price(plan.list_price)},
            )


# --- names ----------------------------------------------------------------------------


def chinese_name(demo: Demo) -> tuple[str, str]:
    """A Chinese person's name and its pinyin, e.g. ("王晓东", "xiaodong.wang")."""
    surname = demo.rng.choice(list(SURNAMES))
    given = demo.rng.choice(list(GIVEN_NAMES))
    return surname + given, f"{GIVEN_NAMES[given]}.{SURNAMES[surname]}"


def english_name(demo: Demo) -> tuple[str, str]:
    first, last = demo.rng.choice(FIRST_NAMES), demo.rng.choice(LAST_NAMES)
    return f"{first} {last}", f"{first}.{last}".lower()


def _unique(demo: Demo, taken: set[str], make: object) -> tuple[str, str]:
    assert callable(make)
    for _ in range(50):
        name, slug = make()
        if name not in taken:
            taken.add(name)
            return name, slug
    name, slug = make()
    suffix = len(taken)
    taken.add(f"{name} {suffix}")
    return f"{name} {suffix}", f"{slug}{suffix}"


def _hospital(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
    rng = demo.rng
    pattern = rng.randrange(4)
    if pattern == 0:
        n = rng.randrange(1, 10)
        return f"{city}市第{NUMERALS[n - 1]}人民医院", f"{city_py}-h{n}"
    if pattern == 1:
        word = rng.choice(list(HOSPITAL_WORDS))
        return f"{city}{word}医院", f"{city_py}{HOSPITAL_WORDS[word]}"
    if pattern == 2:
        n = rng.randrange(1, 4)
        return f"{city}医科大学附属第{NUMERALS[n - 1]}医院", f"{city_py}-mu{n}"
    return f"{city}市妇幼保健院", f"{city_py}-fy"


def _factory(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
    word = demo.rng.choice(list(FACTORY_WORDS))
    trade = demo.rng.choice(FACTORY_TRADES)
    return f"{city}{word}{trade}有限公司", f"{city_py}-{FACTORY_WORDS[word]}"


def _saas_cn(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
    word = demo.rng.choice(list(SAAS_CN_WORDS))
    kind = demo.rng.choice(("科技", "信息技术", "网络科技"))
    return f"{city}{word}{kind}有限公司", SAAS_CN_WORDS[word]


def _saas_en(demo: Demo) -> tuple[str, str]:
    first, second = demo.rng.choice(SAAS_EN_FIRST), demo.rng.choice(SAAS_EN_SECOND)
    suffix = demo.rng.choice(SAAS_EN_SUFFIX)
    return f"{first}{second} {suffix}", f"{first}{second}".lower()


# --- accounts -------------------------------------------------------------------------

TIER_WEIGHTS = ((m.Tier.strategic, 15), (m.Tier.key, 30), (m.Tier.standard, 55))


def _tier(demo: Demo) -> m.Tier:
    tiers, weights = zip(*TIER_WEIGHTS, strict=True)
    return demo.rng.choices(tiers, weights=weights)[0]


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
        _customer(demo, industry, position, taken)


def _owner(demo: Demo, team: str) -> Seller:
    return demo.rng.choice(demo.sellers[team])


def _created_at(demo: Demo) -> object:
    return demo.at_work((demo.start + timedelta(days=demo.rng.uniform(-300, 520))).date())


def _create_account(
    demo: Demo, *, owner: Seller, name: str, slug: str, industry: str, tier: m.Tier, region: str,
    country: str, city: str, city_en: str, currency: str = "CNY", parent: AccountInfo | None = None,
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
        demo.session, actor=owner.actor, spec=SPECS["account"], occurred_at=created,
        data={
            "name": name, "website": f"https://www.{slug}.example.com", "industry": industry,
            "tier": tier.value, "region": region, "country": country, "city": city,
            "employees": employees, "annual_revenue": revenue,
            "year_established": rng.randrange(1952, 2020), "parent_id": parent.account.id if parent else None,
            "owner_id": owner.user.id, "external_source": "demo", "external_id": code,
            "notes": "渠道伙伴 Channel partner" if distributor else None,
        },
    )
    info = AccountInfo(
        account=account, industry=industry, owner=owner, code=code, created_at=created, city_en=city_en,
        currency=currency, is_distributor=distributor, is_outlet=parent is not None,
    )
    demo.accounts.append(info)
    _create_contacts(demo, info, slug, tier)
    return info


def _distributor(demo: Demo, industry: str, team: str, taken: set[str]) -> AccountInfo:
    region, cities = ("华东", EAST_CITIES) if team == "east" else ("华北", NORTH_CITIES)
    city = demo.rng.choice(list(cities))
    word = demo.rng.choice(list(DISTRIBUTOR_WORDS))
    trade = "医疗器械" if industry == MEDICAL else "自动化设备"
    name, slug = _unique(demo, taken, lambda: (f"{region}{word}{trade}有限公司", DISTRIBUTOR_WORDS[word]))
    return _create_account(
        demo, owner=_owner(demo, team), name=name, slug=slug, industry=industry, tier=m.Tier.key,
        region=region, country="中国", city=city, city_en=cities[city], distributor=True,
    )


def _outlet(demo: Demo, parent: AccountInfo, taken: set[str]) -> AccountInfo:
    cities = EAST_CITIES if parent.account.region == "华东" else NORTH_CITIES
    city = demo.rng.choice(list(cities))
    name, _ = _unique(demo, taken, lambda: (f"{parent.account.name}（{city}分公司）", cities[city]))
    return _create_account(
        demo, owner=parent.owner, name=name, slug=f"{cities[city]}.{parent.account.website or ''}"[:60],
        industry=parent.industry, tier=m.Tier.standard, region=parent.account.region or "", country="中国",
        city=city, city_en=cities[city], parent=parent, distributor=True,
    )


def _customer(demo: Demo, industry: str, position: int, taken: set[str]) -> AccountInfo:
    rng = demo.rng
    tier = _tier(demo)
    if industry == SAAS:
        owner = _owner(demo, "saas")
        if rng.random() < 0.4:
            city, country, region = rng.choice(SAAS_WORLD_CITIES)
            name, slug = _unique(demo, taken, lambda: _saas_en(demo))
            return _create_account(
                demo, owner=owner, name=name, slug=slug, industry=industry, tier=tier, region=region,
                country=country, city=city, city_en=city, currency="USD",
            )
        city = rng.choice(list(SAAS_CN_CITIES))
        name, slug = _unique(demo, taken, lambda: _saas_cn(demo, city, SAAS_CN_CITIES[city]))
        return _create_account(
            demo, owner=owner, name=name, slug=slug, industry=industry, tier=tier, region="中国",
            country="中国", city=city, city_en=SAAS_CN_CITIES[city],
        )
    team = ("east" if industry == MEDICAL else "north") if position < 2 else rng.choice(("east", "north"))
    region, cities = ("华东", EAST_CITIES) if team == "east" else ("华北", NORTH_CITIES)
    city = rng.choice(list(cities))
    builder = _hospital if industry == MEDICAL else _factory
    name, slug = _unique(demo, taken, lambda: builder(demo, city, cities[city]))
    return _create_account(
        demo, owner=_owner(demo, team), name=name, slug=slug, industry=industry, tier=tier, region=region,
        country="中国", city=city, city_en=cities[city],
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
            if international else f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}"
        )
        at = min(demo.after(info.created_at, 0, 90), demo.horizon - timedelta(days=30))
        contact = create_record(
            demo.session, actor=info.owner.actor, spec=SPECS["contact"], occurred_at=at,
            data={"account_id": info.account.id, "name": name, "title": title, "department": department,
                  "email": f"{local}@{domain}", "phone": phone, "owner_id": info.owner.user.id,
                  "external_source": "demo", "external_id": f"{info.code}-C{number + 1}"},
        )
        info.contacts.append(contact)

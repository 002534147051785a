"""Names of people and organisations, drawn from the demo vocabulary."""

from __future__ import annotations

from collections.abc import Callable

from pathcast.demo.context import Demo
from pathcast.demo.vocabulary import (
    FACTORY_TRADES,
    FACTORY_WORDS,
    FIRST_NAMES,
    GIVEN_NAMES,
    HOSPITAL_WORDS,
    LAST_NAMES,
    NUMERALS,
    SAAS_CN_WORDS,
    SAAS_EN_FIRST,
    SAAS_EN_SECOND,
    SAAS_EN_SUFFIX,
    SURNAMES,
)


def short_name(name: str) -> str:
    """A company name without its legal suffix."""
    return name.removesuffix("有限公司")


def chinese_name(demo: Demo) -> tuple[str, str]:
    """A Chinese person's name and its pinyin, e.g. ("王晓东", "xiaodong.wang")."""
    surname = demo.rng.choice(list(SURNAMES))
    given = demo.rng.choice(list(GIVEN_NAMES))
    return surname + given, f"{GIVEN_NAMES[given]}.{SURNAMES[surname]}"


def english_name(demo: Demo) -> tuple[str, str]:
    first, last = demo.rng.choice(FIRST_NAMES), demo.rng.choice(LAST_NAMES)
    return f"{first} {last}", f"{first}.{last}".lower()


def unique(demo: Demo, taken: set[str], make: Callable[[], tuple[str, str]]) -> tuple[str, str]:
    for _ in range(50):
        name, slug = make()
        if name not in taken:
            taken.add(name)
            return name, slug
    name, slug = make()
    suffix = len(taken)
    taken.add(f"{name} {suffix}")
    return f"{name} {suffix}", f"{slug}{suffix}"


def hospital(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
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


def factory(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
    word = demo.rng.choice(list(FACTORY_WORDS))
    trade = demo.rng.choice(FACTORY_TRADES)
    return f"{city}{word}{trade}有限公司", f"{city_py}-{FACTORY_WORDS[word]}"


def saas_cn(demo: Demo, city: str, city_py: str) -> tuple[str, str]:
    word = demo.rng.choice(list(SAAS_CN_WORDS))
    kind = demo.rng.choice(("科技", "信息技术", "网络科技"))
    return f"{city}{word}{kind}有限公司", SAAS_CN_WORDS[word]


def saas_en(demo: Demo) -> tuple[str, str]:
    first, second = demo.rng.choice(SAAS_EN_FIRST), demo.rng.choice(SAAS_EN_SECOND)
    suffix = demo.rng.choice(SAAS_EN_SUFFIX)
    return f"{first}{second} {suffix}", f"{first}{second}".lower()

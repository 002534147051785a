"""Numbers, durations, counts, times and schedules, recognised before words are segmented.

Regular expressions run over the normalised (NFKC, lower-case) sentence and claim spans in
priority order: quotes, e-mail addresses and URLs first (their content is never read as
words), then schedules, clock times, percentages, durations, money, counts and plain
numbers. Chinese numerals (三, 二十, 两, 一百万), English number words (three, forty-eight,
a/an before a unit) and digits are all accepted. Months and years are not durations the IR
knows (they vary in length): they come back as ``UNSUPPORTED_UNIT`` so the lexer can refuse
them with a suggestion in days.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# --- numerals ---------------------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}

_EN_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "a": 1, "an": 1, "a couple of": 2, "couple of": 2, "a dozen": 12, "dozen": 12,
}  # fmt: skip
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}


def cn_number(text: str) -> int | None:
    """A Chinese numeral as an integer (``二十`` → 20, ``一百万`` → 1000000); None if it is not one."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch not in _CN_BIG for ch in text):
        return None
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            section += digit or 0
            total += (section or 1) * _CN_BIG[ch]
            section, digit = 0, None
    return total + section + (digit or 0)


def en_number(text: str) -> int | None:
    """An English number word (``three``, ``forty-eight``, ``a``) as an integer."""
    words = text.strip().replace("-", " ")
    if words in _EN_SMALL:
        return _EN_SMALL[words]
    parts = words.split()
    if parts and parts[0] in _EN_TENS:
        rest = _EN_SMALL.get(" ".join(parts[1:]), 0) if len(parts) > 1 else 0
        return _EN_TENS[parts[0]] + rest
    return None


def any_number(text: str) -> float | None:
    """Digits (with thousands commas), a Chinese numeral or an English number word."""
    text = text.strip()
    cleaned = text.replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return float(cleaned)
    value = cn_number(text)
    if value is None:
        value = en_number(text)
    return None if value is None else float(value)


# --- patterns ---------------------------------------------------------------------------------

AR = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
CN = r"[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*"
ZH_NUM = rf"(?:{AR}|{CN})"
EN_WORD = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
    r"|sixteen|seventeen|eighteen|nineteen|a couple of|a dozen|an|a)"
)
_NOT_ASCII_BEFORE = r"(?<![a-z0-9.])"
_NOT_ASCII_AFTER = r"(?![a-z0-9])"

ZH_UNIT = {
    "秒钟": 1, "秒": 1, "分钟": 60, "个小时": 3600, "小时": 3600, "个钟头": 3600, "钟头": 3600,
    "个工作日": 86400, "工作日": 86400, "天": 86400, "日": 86400,
    "个星期": 604800, "星期": 604800, "个礼拜": 604800, "礼拜": 604800, "周": 604800,
}  # fmt: skip
EN_UNIT = {
    "seconds": 1, "second": 1, "secs": 1, "sec": 1, "s": 1, "minutes": 60, "minute": 60, "mins": 60,
    "min": 60, "hours": 3600, "hour": 3600, "hrs": 3600, "hr": 3600, "h": 3600,
    "business days": 86400, "business day": 86400, "working days": 86400, "working day": 86400,
    "days": 86400, "day": 86400, "d": 86400, "weeks": 604800, "week": 604800, "wks": 604800,
    "wk": 604800, "w": 604800, "fortnights": 1209600, "fortnight": 1209600,
}  # fmt: skip
_SINGLE_LETTER_UNITS = {"s", "h", "d", "w"}
EN_UNSUPPORTED = r"months?|mos?|years?|yrs?|quarters?"

_ZH_DAYS = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "日": 0,
    "天": 0,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "6": 6,
    "7": 0,
}
_EN_DAYS = {
    "monday": 1, "mon": 1, "tuesday": 2, "tues": 2, "tue": 2, "wednesday": 3, "wed": 3,
    "thursday": 4, "thurs": 4, "thur": 4, "thu": 4, "friday": 5, "fri": 5, "saturday": 6, "sat": 6,
    "sunday": 0, "sun": 0,
}  # fmt: skip
EN_DAY = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues|thurs|thur|mon|tue|wed|thu|fri|sat|sun"
)

_ZH_MULT = {"万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7, "亿": 1e8}
_EN_MULT = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}


@dataclass
class Special:
    """A span of the normalised text claimed by a pattern, with what it means."""

    kind: str
    start: int
    end: int
    value: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[re.Match[str], str], Special | None]


def _weekday_range(first: int, last: int | None) -> list[int]:
    if last is None:
        return [first]
    days, day = [first], first
    while day != last and len(days) < 7:
        day = (day + 1) % 7
        days.append(day)
    return days


def _sched(match: re.Match[str], **value: Any) -> Special:
    return Special("SCHED", match.start(), match.end(), dict(value))


# --- handlers ---------------------------------------------------------------------------------


def _quoted(match: re.Match[str], _text: str) -> Special:
    group = next(index for index in range(1, (match.lastindex or 0) + 1) if match.group(index) is not None)
    return Special("QUOTED", match.start(), match.end(), {"inner": (match.start(group), match.end(group))})


def _zh_weekly(match: re.Match[str], _text: str) -> Special:
    first = _ZH_DAYS[match.group("d1")]
    last = _ZH_DAYS[match.group("d2")] if match.group("d2") else None
    joiner = match.group("j") or ""
    days = [first, last] if last is not None and joiner in ("、", "和") else _weekday_range(first, last)
    return _sched(match, period="weekly", days=days)


def _zh_monthly(match: re.Match[str], _text: str) -> Special:
    day = any_number(match.group("dom")) if match.group("dom") else 1
    return _sched(match, period="monthly", day=int(day or 1), defaulted=match.group("dom") is None)


def _en_weekly(match: re.Match[str], _text: str) -> Special:
    first = _EN_DAYS[match.group("d1")]
    second = match.groupdict().get("d2")
    last = _EN_DAYS[second] if second else None
    return _sched(match, period="weekly", days=_weekday_range(first, last))


def _en_monthly(match: re.Match[str], _text: str) -> Special:
    dom = match.group("dom")
    return _sched(match, period="monthly", day=int(dom) if dom else 1, defaulted=dom is None)


def _zh_time(match: re.Match[str], _text: str) -> Special | None:
    hour = any_number(match.group("h"))
    if hour is None or hour > 24:
        return None
    minute = 0.0
    if match.group("half"):
        minute = 30
    elif match.group("quarter"):
        minute = 15 if match.group("quarter") == "一刻" else 45
    elif match.group("m"):
        minute = any_number(match.group("m")) or 0
    part = match.group("ampm") or ""
    if part in ("下午", "傍晚", "晚上", "晚") and hour < 12:
        hour += 12
    if part == "中午" and hour < 6:
        hour += 12
    return Special("TIME", match.start(), match.end(), {"hour": int(hour) % 24, "minute": int(minute)})


def _en_time(match: re.Match[str], _text: str) -> Special | None:
    groups = match.groupdict()
    if groups.get("word"):
        return Special(
            "TIME", match.start(), match.end(), {"hour": 12 if groups["word"] == "noon" else 0, "minute": 0}
        )
    raw_hour = groups.get("h") or groups.get("hw") or ""
    hour = any_number(raw_hour)
    if hour is None or hour > 24:
        return None
    minute = int(groups.get("m") or 0)
    ampm = (groups.get("ampm") or "").replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    if ampm == "am" and hour == 12:
        hour = 0
    return Special("TIME", match.start(), match.end(), {"hour": int(hour), "minute": minute})


def _percent(match: re.Match[str], _text: str) -> Special | None:
    number = any_number(match.group("num"))
    if number is None:
        return None
    return Special("NUMBER", match.start(), match.end(), {"number": number, "percent": True})


def _duration(units: dict[str, int], *, lang: str, unit: str | None = None) -> Handler:
    fixed_unit = unit

    def handle(match: re.Match[str], _text: str) -> Special | None:
        unit = fixed_unit or re.sub(r"\s+", " ", match.group("unit"))
        raw = match.groupdict().get("num")
        if raw is None:
            number = 0.5  # 半小时 / half an hour
        else:
            parsed = any_number(raw)
            if parsed is None:
                return None
            number = parsed
        if match.groupdict().get("half"):
            number += 0.5
        seconds = round(number * units[unit])
        if seconds <= 0:
            return None
        business = "工作日" in unit or "business" in unit or "working" in unit
        value = {"seconds": seconds, "unit": units[unit], "business_days": business, "lang": lang}
        return Special("DURATION", match.start(), match.end(), value)

    return handle


def _unsupported(match: re.Match[str], _text: str) -> Special:
    raw = match.groupdict().get("num") or match.groupdict().get("w")
    number = any_number(raw) if raw else 1
    return Special(
        "UNSUPPORTED_UNIT", match.start(), match.end(), {"unit": match.group("unit"), "number": number or 1}
    )


def _money(mults: dict[str, float]) -> Handler:
    def handle(match: re.Match[str], _text: str) -> Special | None:
        number = any_number(match.group("num"))
        if number is None:
            return None
        mult = match.groupdict().get("mult")
        return Special(
            "NUMBER",
            match.start(),
            match.end(),
            {"number": number * mults.get(mult or "", 1.0), "money": True},
        )

    return handle


def _count(match: re.Match[str], text: str) -> Special | None:
    groups = match.groupdict()
    if groups.get("fixed"):
        number: float | None = {"twice": 2, "thrice": 3}[groups["fixed"]]
    else:
        number = any_number(groups.get("num") or groups.get("w") or "")
    if number is None or number < 1:
        return None
    # "一次" alone is the article-like "once" ("预约一次启动会"); as a count it needs a comparison.
    if groups.get("num") == "一" and not re.search(
        r"(至少|超过|不少于|多于|大于|最少|起码)\s*$", text[: match.start()]
    ):
        return None
    return Special("COUNT", match.start(), match.end(), {"count": int(number)})


def _severity(match: re.Match[str], _text: str) -> Special:
    return Special("SEVERITY", match.start(), match.end(), {"severity": f"P{match.group(1)}"})


def _plain(match: re.Match[str], _text: str) -> Special | None:
    number = any_number(match.group(0))
    return None if number is None else Special("NUMBER", match.start(), match.end(), {"number": number})


def _simple(kind: str) -> Handler:
    def handle(match: re.Match[str], _text: str) -> Special:
        return Special(kind, match.start(), match.end(), {})

    return handle


def _fixed(kind: str, **value: Any) -> Handler:
    def handle(match: re.Match[str], _text: str) -> Special:
        return Special(kind, match.start(), match.end(), dict(value))

    return handle


def _alternation(keys: dict[str, Any]) -> str:
    return "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))


_QUOTES = (
    r"“([^”]*)”|「([^」]*)」|『([^』]*)』|《([^》]*)》|\"([^\"]*)\"|‘([^’]*)’"
    r"|(?<![a-z0-9])'([^']+)'(?![a-z0-9])"
)
_COMMON: list[tuple[str, Handler]] = [
    (_QUOTES, _quoted),
    (r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", _simple("EMAIL")),
    (r"https?://[^\s，。、“”\"'<>]+", _simple("URL")),
]

_ZH: list[tuple[str, Handler]] = [
    (
        r"(?:每个?|每逢)?\s*(?:周|星期|礼拜)(?P<d1>[一二三四五六日天1-7])"
        r"(?:\s*(?P<j>到|至|-|~|、|和)\s*(?:周|星期|礼拜)?(?P<d2>[一二三四五六日天1-7]))?",
        _zh_weekly,
    ),
    (r"(?:每个?|每逢)\s*工作日|工作日每天", _fixed("SCHED", period="weekly", days=[1, 2, 3, 4, 5])),
    (r"(?:每个?)?周末", _fixed("SCHED", period="weekly", days=[6, 0])),
    (r"每天|每日|天天", _fixed("SCHED", period="daily")),
    (rf"每个?月\s*的?\s*(?:(?P<dom>\d{{1,2}}|{CN})\s*(?:号|日))?", _zh_monthly),
    (r"每周|每星期|每个星期|每礼拜", _fixed("SCHED", period="weekly", days=[1], defaulted=True)),
    (
        rf"(?P<ampm>早上|早晨|上午|中午|下午|傍晚|晚上|凌晨|晚)?\s*(?P<h>\d{{1,2}}|{CN})\s*点钟?"
        rf"\s*(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<m>\d{{1,2}}|{CN})\s*分?)?",
        _zh_time,
    ),
    (r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])", _en_time),
    (rf"百分之(?P<num>{ZH_NUM})", _percent),
    (rf"(?P<num>{ZH_NUM})\s*(?:%|个百分点)", _percent),
    (rf"(?:(?P<num>{ZH_NUM})\s*个?\s*(?P<unit>个?月|年)(?=内|后|之内|以内|之后|以后|里))", _unsupported),
    (rf"(?:(?P<num>{ZH_NUM})\s*)?(?P<unit>个月)", _unsupported),
    (rf"(?P<num>{ZH_NUM})\s*分(?P<half>半)钟?", _duration({"分": 60}, lang="zh", unit="分")),
    (
        rf"(?:(?P<num>{ZH_NUM})\s*(?P<half>个半|半)?|半个?)\s*(?P<unit>{_alternation(ZH_UNIT)})",
        _duration(ZH_UNIT, lang="zh"),
    ),
    (rf"(?P<num>{ZH_NUM})\s*(?P<mult>十万|百万|千万|万|亿)(?:元|块钱|块|人民币)?", _money(_ZH_MULT)),
    (rf"(?P<num>{AR})\s*(?:元|块钱|块)", _money(_ZH_MULT)),
    (rf"(?P<num>{ZH_NUM})\s*(?:次|遍|回)", _count),
]

_EN: list[tuple[str, Handler]] = [
    (
        rf"\b(?:every|each|on)\s+(?P<d1>{EN_DAY})s?\b(?:\s*(?:to|through|thru|-|–)\s*(?P<d2>{EN_DAY})\b)?",
        _en_weekly,
    ),
    (r"\b(?P<d1>monday|tuesday|wednesday|thursday|friday|saturday|sunday)s\b", _en_weekly),
    (
        r"\b(?:(?:every|each|on)\s+(?:weekday|working day|business day)s?|weekdays)\b",
        _fixed("SCHED", period="weekly", days=[1, 2, 3, 4, 5]),
    ),
    (r"\b(?:every|each|on)\s+weekends?\b|\bweekends\b", _fixed("SCHED", period="weekly", days=[6, 0])),
    (r"\b(?:every|each)\s+(?:day|morning)\b|\bdaily\b", _fixed("SCHED", period="daily")),
    (r"\b(?:on\s+)?the\s+(?P<dom>\d{1,2})(?:st|nd|rd|th)?\s+of\s+(?:every|each)\s+month\b", _en_monthly),
    (
        r"\b(?:(?:every|each)\s+month|monthly)\b(?:\s+on\s+the\s+(?P<dom>\d{1,2})(?:st|nd|rd|th)?\b)?",
        _en_monthly,
    ),
    (r"\b(?:every|each)\s+week\b|\bweekly\b", _fixed("SCHED", period="weekly", days=[1], defaulted=True)),
    (r"(?:\bat\s+)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)", _en_time),
    (
        r"\bat\s+(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?:\s*o'?clock)?(?![\d%a-z])(?!\s*(?:%|percent|times|x\b))",
        _en_time,
    ),
    (
        r"\bat\s+(?P<hw>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s*o'?clock)?\b",
        _en_time,
    ),
    (r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])", _en_time),
    (r"\b(?:at\s+)?(?P<word>noon|midnight)\b", _en_time),
    (rf"{_NOT_ASCII_BEFORE}(?P<num>{AR})\s*(?:%|percent\b|per cent\b|pct\b)", _percent),
    (rf"\b(?P<num>{EN_WORD})\s+(?:percent|per cent)\b", _percent),
    (
        rf"{_NOT_ASCII_BEFORE}(?:(?P<num>{AR})|\b(?P<w>{EN_WORD}))\s*-?\s*(?P<unit>{EN_UNSUPPORTED})\b",
        _unsupported,
    ),
    (r"\bhalf\s+(?:an?\s+)?(?P<unit>hour|day)\b", _duration(EN_UNIT, lang="en")),
    (
        rf"{_NOT_ASCII_BEFORE}(?P<num>{AR})\s*-?\s*(?P<unit>{_alternation(EN_UNIT)}){_NOT_ASCII_AFTER}",
        _duration(EN_UNIT, lang="en"),
    ),
    (
        rf"\b(?P<num>{EN_WORD})[\s-]+(?P<unit>{_alternation({k: v for k, v in EN_UNIT.items() if k not in _SINGLE_LETTER_UNITS})})\b",
        _duration(EN_UNIT, lang="en"),
    ),
    (rf"[$¥]\s*(?P<num>{AR})\s*(?P<mult>k|m|mn|million|b|bn|billion|thousand)?\b", _money(_EN_MULT)),
    (rf"{_NOT_ASCII_BEFORE}(?P<num>{AR})\s*(?P<mult>k|m|mn|million|bn|billion|thousand)\b", _money(_EN_MULT)),
    (rf"{_NOT_ASCII_BEFORE}(?P<num>{AR})\s*(?:rmb|cny|yuan|usd|dollars)\b", _money(_EN_MULT)),
    (rf"(?:{_NOT_ASCII_BEFORE}(?P<num>{AR})|\b(?P<w>{EN_WORD}))\s+or\s+more\s+times?\b", _count),
    (rf"{_NOT_ASCII_BEFORE}(?P<num>{AR})\s*(?:times?|x)\b", _count),
    (rf"\b(?P<num>{EN_WORD})\s+times?\b", _count),
    (r"\b(?P<fixed>twice|thrice)\b", _count),
    (
        rf"{_NOT_ASCII_BEFORE}(?P<num>{AR}|{EN_WORD})\s+(?=(?:views?|visits?|downloads?|clicks?|opens?)\b)",
        _count,
    ),
]

_TAIL: list[tuple[str, Handler]] = [
    (r"(?<![a-z0-9])p([1-4])(?![a-z0-9])", _severity),
    (rf"{_NOT_ASCII_BEFORE}(?:{AR}){_NOT_ASCII_AFTER}", _plain),
]

_COMPILED: dict[str, list[tuple[re.Pattern[str], Handler]]] = {
    lang: [(re.compile(pattern), handler) for pattern, handler in _COMMON + table + _TAIL]
    for lang, table in (("zh", _ZH + _EN), ("en", _EN + _ZH))
}


def find_specials(text: str, lang: str) -> list[Special]:
    """Non-overlapping specials in ``text`` (already normalised), earlier patterns first.

    Both languages' patterns run (a Chinese sentence may say "48h", an English one "3天"),
    the sentence's own language first."""
    claimed: list[Special] = []
    taken = bytearray(len(text) + 1)
    for pattern, handler in _COMPILED[lang]:
        for match in pattern.finditer(text):
            start, end = match.span()
            if start == end or any(taken[start:end]):
                continue
            special = handler(match, text)
            if special is None:
                continue
            claimed.append(special)
            taken[start:end] = b"\x01" * (end - start)
    claimed.sort(key=lambda special: special.start)
    return claimed

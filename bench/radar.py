"""Radar benchmark: texts analysed per second (Chinese, English) and BM25 retrieval latency.

**Analysis throughput**: ``pathcast.radar.analysis.analyse`` (tokens, entities, topics,
polarity, intent, weight, grade) on synthetic but realistic posts and messages — a
customer, a product, a topic (交付延迟, 价格, 兼容性…), a complaint, tip, question or
purchase intent — with an entity catalogue of accounts and competitors, as the service
will call it. One thread; jieba's dictionary load and the first call are warm-up, not
timed. Reported as texts per wall second and per CPU second.

**Retrieval**: a :class:`pathcast.radar.toolbox.BM25Index` over ``--passages`` (default
100,000) synthetic knowledge-base passages: half Chinese, half English; Q&A pairs,
document paragraphs and past replies; a Zipf-distributed long tail of product models
and part numbers so the vocabulary grows as a real one does. Timed: the index build
(tokenising every passage included) and ``search(query, top=10)`` for ``--queries``
questions written from the same vocabulary, p50 / p99 / max. Goal: p99 well under 50 ms.

    .venv/bin/python bench/radar.py                       # defaults
    .venv/bin/python bench/radar.py --passages 20000 --texts 500
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import time

import numpy as np

from pathcast.radar.analysis import EntityCatalogue, analyse
from pathcast.radar.toolbox import BM25Index, Passage

Row = tuple[str, str, str]
LATENCY_GOAL_MS = 50.0

ACCOUNTS_ZH = ["恒泰精密", "联影医疗", "华信咨询", "东方电气", "三一重工", "迈瑞医疗", "宁德时代", "海尔智家"]
ACCOUNTS_EN = ["Hengtai Precision", "Apex Manufacturing", "Northwind Consulting", "Bluewater Health"]
COMPETITORS = [("siemens", "西门子", "Siemens"), ("abb", "ABB", "ABB"), ("rockwell", "罗克韦尔", "Rockwell")]
PRODUCTS = ["DSA-3000", "MES Pro", "PLC Gateway", "CT-500", "SCADA Suite", "Edge Box X2"]
TOPICS_ZH = [
    "交付延迟",
    "价格",
    "兼容性",
    "售后服务",
    "安装调试",
    "培训",
    "通讯协议",
    "稳定性",
    "备件",
    "验收",
]
TOPICS_EN = ["delivery delay", "price", "compatibility", "after-sales service", "installation", "training"]
ZH_TEMPLATES = [
    "{account}的设备科反馈{product}{topic}问题很严重，产线已经停了两天，非常不满意，希望尽快给个说法。",
    "分享一个{product}的使用技巧：在配置页面打开高级模式，{topic}相关的参数可以一键导入，效率提高很多。",
    "请问{product}支持{topic}方面的要求吗？我们{account}正在评估，下个月要做技术选型。",
    "{account}计划今年采购一批{product}，预算已经批下来了，想了解{topic}和报价，能否安排演示？",
    "对比了{competitor}和你们的{product}，{competitor}的{topic}更好一些，但你们的价格有优势。",
    "{product}上周升级以后{topic}好多了，客服响应也很快，点赞！",
]
EN_TEMPLATES = [
    "{account} reports a serious {topic} problem with the {product}; the line has been down for two days and they are very unhappy.",
    "Tip for {product} users: turn on advanced mode in settings and the {topic} parameters import in one click. Saves a lot of time.",
    "Does the {product} meet our {topic} requirements? {account} is evaluating vendors and decides next month.",
    "{account} plans to buy several {product} units this year, budget approved; please send a quote and a demo about {topic}.",
    "We compared {competitor} with your {product}: {competitor} is better on {topic} but your price is lower.",
    "After last week's upgrade the {product} {topic} is much better and support answered fast. Great job!",
]
KB_ZH = [
    "{product}的{topic}说明：{model}型号需要配合{part}使用，现场调试一般需要两周，详见安装手册第{n}章。",
    "关于{topic}：{product}在{account}项目中已验证，{model}固件版本{n}.{m}以上支持，{part}需单独订购。",
    "您好，{product}的{topic}问题我们已经收到，工程师会携带{part}在{n}个工作日内到场，{model}将免费升级。",
    "问：{product}是否支持{topic}？答：支持，{model}及以上型号默认开启，旧型号需更换{part}。",
]
KB_EN = [
    "{product} {topic} notes: model {model} requires part {part}; on-site commissioning takes about two weeks, see chapter {n}.",
    "About {topic}: the {product} was validated at {account}; firmware {n}.{m} or later on {model} supports it, {part} is sold separately.",
    "Hello, we received your {product} {topic} report; an engineer will bring {part} within {n} working days and upgrade {model} free of charge.",
    "Q: Does the {product} support {topic}? A: Yes, on {model} and later by default; older units need part {part}.",
]


def catalogue() -> EntityCatalogue:
    """Accounts (with industries and tiers) and competitors, as the service builds them."""
    cat = EntityCatalogue()
    industries = ["制造业", "医疗器械", "咨询", "能源", "工程机械", "医疗器械", "新能源", "家电"]
    for i, (name, industry) in enumerate(zip(ACCOUNTS_ZH, industries, strict=True)):
        cat.add("account", i, name, industry=industry, tier="key" if i % 2 else "standard")
    for i, name in enumerate(ACCOUNTS_EN, len(ACCOUNTS_ZH)):
        cat.add("account", i, name, industry="manufacturing", tier="strategic")
    for key, zh, en in COMPETITORS:
        cat.add("competitor", key, zh, [en])
    for i, name in enumerate(PRODUCTS):
        cat.add("product", 100 + i, name)
    return cat


def synthetic_texts(lang: str, count: int, *, seed: int = 11) -> list[str]:
    """``count`` posts or messages in ``lang`` ("zh" or "en") from realistic templates."""
    rng = random.Random(seed)
    zh = lang == "zh"
    templates, accounts, topics = (
        (ZH_TEMPLATES, ACCOUNTS_ZH, TOPICS_ZH) if zh else (EN_TEMPLATES, ACCOUNTS_EN, TOPICS_EN)
    )
    return [
        rng.choice(templates).format(
            account=rng.choice(accounts),
            product=rng.choice(PRODUCTS),
            topic=rng.choice(topics),
            competitor=rng.choice(COMPETITORS)[1 if zh else 2],
        )
        for _ in range(count)
    ]


def _long_tail(rng: np.random.Generator, count: int, prefix: str, size: int) -> list[str]:
    """``count`` codes drawn from ``size`` with a Zipf law (a few common, most rare)."""
    ranks = np.minimum(rng.zipf(1.3, count), size)
    return [f"{prefix}{r:05d}" for r in ranks]


def synthetic_passages(count: int, *, seed: int = 7) -> list[Passage]:
    """``count`` knowledge-base passages: half Chinese, half English; a quarter Q&A pairs,
    half documents, a quarter past replies; model and part codes from a Zipf long tail."""
    rng = random.Random(seed)
    codes = np.random.default_rng(seed)
    models = _long_tail(codes, count, "XG", 20_000)
    parts = _long_tail(codes, count, "P", 50_000)
    passages: list[Passage] = []
    for i in range(count):
        zh = i % 2 == 0
        template_at = rng.randrange(4)
        text = (KB_ZH if zh else KB_EN)[template_at].format(
            product=rng.choice(PRODUCTS),
            topic=rng.choice(TOPICS_ZH if zh else TOPICS_EN),
            account=rng.choice(ACCOUNTS_ZH if zh else ACCOUNTS_EN),
            model=models[i].lower(),
            part=parts[i].lower(),
            n=rng.randint(1, 12),
            m=rng.randint(0, 9),
        )
        kind = ("document", "document", "reply", "qa")[template_at]
        source = {"document": f"手册 {i // 50}", "reply": f"reply #{i}", "qa": "FAQ"}[kind]
        if kind == "qa":
            question, _, answer = text.partition("答：" if zh else "A: ")
            passages.append(Passage(f"kb-{i}", question, source, "qa", answer))
        else:
            passages.append(Passage(f"kb-{i}", text, source, kind))
    return passages


def synthetic_queries(count: int, *, seed: int = 5) -> list[str]:
    """Questions a rep or a signal would ask: a product, a topic, sometimes a model code."""
    rng = random.Random(seed)
    codes = np.random.default_rng(seed)
    models = _long_tail(codes, count, "XG", 20_000)
    queries: list[str] = []
    for i in range(count):
        product, model = rng.choice(PRODUCTS), models[i].lower() if rng.random() < 0.5 else ""
        if i % 2 == 0:
            queries.append(f"{product}{rng.choice(TOPICS_ZH)}怎么处理？{model}")
        else:
            queries.append(f"how do I fix {rng.choice(TOPICS_EN)} on the {product} {model}?")
    return queries


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_analyse(lang: str, count: int) -> Row:
    """Texts per second through ``analyse`` for ``count`` synthetic texts in ``lang``."""
    texts = synthetic_texts(lang, count)
    cat = catalogue()
    analyse(texts[0], catalogue=cat)  # warm-up: jieba dictionary, lexicons, registrations
    cpu, start = _cpu(), time.perf_counter()
    for text in texts:
        analyse(text, catalogue=cat)
    elapsed, cpu_used = time.perf_counter() - start, _cpu() - cpu
    chars = sum(len(t) for t in texts) / len(texts)
    name = "Chinese" if lang == "zh" else "English"
    return (
        "in memory",
        f"radar analyse, {name} ({count:,} synthetic posts, {chars:.0f} chars on average, 1 thread)",
        f"{count / elapsed:,.0f} texts/s ({count / cpu_used:,.0f} per CPU-second)",
    )


def bench_retrieval(passages: int, queries: int, *, top: int = 10) -> list[Row]:
    """BM25 index build time and search latency p50/p99/max over ``passages`` passages."""
    corpus = synthetic_passages(passages)
    asked = synthetic_queries(queries)
    cpu, start = _cpu(), time.perf_counter()
    index = BM25Index.build(corpus)
    build, build_cpu = time.perf_counter() - start, _cpu() - cpu
    for query in asked[:20]:  # warm-up: caches, first sparse slice
        index.search(query, top=top)
    latencies: list[float] = []
    found = 0
    for query in asked:
        begin = time.perf_counter()
        hits = index.search(query, top=top)
        latencies.append((time.perf_counter() - begin) * 1000)
        found += bool(hits)
    p50, p99 = np.percentile(latencies, [50, 99])
    verdict = f" (goal < {LATENCY_GOAL_MS:.0f} ms: {'met' if p99 < LATENCY_GOAL_MS else 'NOT met'})"
    return [
        (
            "in memory",
            f"radar BM25 index build, {passages:,} synthetic passages (zh + en; jieba tokens)",
            f"{build:.1f} s, {build_cpu:.1f} CPU-s; {len(index.vocabulary):,} terms, "
            f"{index.postings:,} postings, {index.nbytes / 1e6:.0f} MB matrix; "
            f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
            "(jieba and the passages included)",
        ),
        (
            "in memory",
            f"radar BM25 search top {top} over {passages:,} passages ({queries:,} queries, 1 thread)",
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms{verdict}, max {max(latencies):.2f} ms; "
            f"{found / len(asked):.0%} of queries found passages",
        ),
    ]


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(
        f"--{prefix}texts", type=int, default=2000, help="texts analysed per language (default 2000)"
    )
    parser.add_argument(
        f"--{prefix}passages",
        type=int,
        default=100_000,
        help="knowledge-base passages to index (default 100000)",
    )
    parser.add_argument(f"--{prefix}queries", type=int, default=1000, help="searches timed (default 1000)")


def run_all(texts: int, passages: int, queries: int) -> list[Row]:
    """Every radar row: analysis throughput (zh, en), index build, search latency."""
    return [bench_analyse("zh", texts), bench_analyse("en", texts), *bench_retrieval(passages, queries)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    rows = run_all(args.texts, args.passages, args.queries)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n| engine | measure | result |\n"
        "|---|---|---|\n" + "".join(f"| {e} | {m} | {r} |\n" for e, m, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

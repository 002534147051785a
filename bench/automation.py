"""Automation engine benchmark: matching throughput, and latency from commit to action start.

**Matching** (pure, in memory, one thread): 1,000 enabled rules of mixed kinds (field
changes with and without from/to, stage moves by name, business events literal and
derived, metric crossings, radar signals, plus behaviour and schedule rules that the
event stream must not cost anything) over a replayed stream of CRM-like events. Each
event goes through ``RuleIndex.match`` and, for the rules it triggers, their conditions
against record states kept up to date from the stream itself: events in memory in,
fires out. The figure is events per second of wall time and of CPU time (one core).

**Latency** (SQLite and PostgreSQL, the in-process worker as the server runs it): a rule
fires on ``bench.ping``; each sample commits one event and waits until the action
adapter is entered; the time from the commit returning to the adapter's first line is
the latency, p50 and p99 over the samples.

    .venv/bin/python bench/automation.py                 # both measures
    .venv/bin/python bench/automation.py --rules 1000 --events 200000 --samples 200
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pathcast.automation import actions
from pathcast.automation.actions.base import Outcome
from pathcast.automation.engine.matcher import (
    CompiledRule,
    Fact,
    RuleIndex,
    StageCatalog,
    StageInfo,
    resolver_from_states,
)
from pathcast.automation.ir import RuleIR

# Fields per entity: a small domain of values for the categorical ones (rules say "to won",
# "to strategic"), None for free values (amounts, dates, text: rules put a condition on them).
FIELDS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "opportunity": {
        "amount": None,
        "expected_close_date": None,
        "forecast_category": ("pipeline", "best_case", "commit", "omitted"),
        "lead_source": ("web", "referral", "event", "partner", "tender"),
        "currency": ("CNY", "USD", "EUR"),
        "description": None,
        "contact_id": None,
        "owner_id": None,
        "priority": ("low", "normal", "high"),
        "competitor": ("none", "philips", "siemens", "ge", "mindray"),
    },
    "account": {
        "tier": ("strategic", "key", "standard"),
        "industry": ("medical", "manufacturing", "saas", "education", "logistics"),
        "region": ("华东", "华北", "华南", "西南", "西北"),
        "city": None,
        "employees": None,
        "annual_revenue": None,
        "owner_id": None,
        "notes": None,
        "website": None,
        "parent_id": None,
    },
    "contact": {
        "title": None,
        "department": ("心内科", "放射科", "采购部", "信息科", "设备科"),
        "email": None,
        "phone": None,
        "owner_id": None,
        "notes": None,
        "role": ("decision_maker", "influencer", "user", "gatekeeper"),
        "account_id": None,
    },
    "quote": {
        "discount_pct": None,
        "status": ("draft", "sent", "accepted", "rejected", "expired"),
        "valid_until": None,
        "total": None,
        "notes": None,
        "currency": ("CNY", "USD"),
    },
    "contract": {
        "status": ("draft", "active", "expired", "terminated"),
        "value": None,
        "end_date": None,
        "renewal_date": None,
        "owner_id": None,
    },
    "ticket": {
        "status": ("open", "pending", "resolved", "closed"),
        "severity": ("critical", "high", "normal", "low"),
        "owner_id": None,
        "resolved_at": None,
        "subject": None,
    },
    "activity": {"done_at": None, "due_at": None, "subject": None, "owner_id": None, "body": None},
    "subscription": {"is_active": ("true", "false"), "renewal_date": None, "annual_value": None},
}
ALL_FIELDS = [
    (entity, field, domain) for entity, fields in FIELDS.items() for field, domain in fields.items()
]
FIELD_WEIGHTS = [4 if domain is not None else 1 for _, _, domain in ALL_FIELDS]
BUSINESS_EVENTS = (
    "opportunity.won",
    "opportunity.lost",
    "opportunity.created",
    "quote.created",
    "quote.sent",
    "quote.accepted",
    "quote.rejected",
    "contract.signed",
    "contract.expired",
    "contract.terminated",
    "contract.created",
    "ticket.created",
    "ticket.resolved",
    "ticket.closed",
    "activity.created",
    "contact.created",
    "account.created",
    "document.created",
    "document.version_added",
    "subscription.created",
    "signals.threshold_reached",
    "signals.contact_identified",
    "signals.contact_opted_out",
    "position.assigned",
    "user.created",
)
TIERS = ("strategic", "key", "standard")
INDUSTRIES = ("medical", "manufacturing", "saas", "education", "logistics")
STAGES = [
    StageInfo(1, "lead", "Lead", "线索", "open"),
    StageInfo(2, "qualified", "Qualified", "已验证", "open"),
    StageInfo(3, "discovery", "Discovery", "需求调研", "open"),
    StageInfo(4, "solution", "Solution / POC", "方案与测试", "open"),
    StageInfo(5, "proposal", "Proposal", "报价", "open"),
    StageInfo(6, "negotiation", "Negotiation", "商务谈判", "open"),
    StageInfo(7, "won", "Won", "赢单", "won"),
    StageInfo(8, "lost", "Lost", "丢单", "lost"),
]
STAGE_WORDS = ["报价", "Negotiation", "won", "赢单", "lost", "方案与测试", "discovery", "已验证"]
ACTION = [{"type": "create_task", "assignee": {"kind": "relation", "value": "owner"}, "title": "跟进"}]


# --- the workload ------------------------------------------------------------------------------


def _condition(rng: random.Random, entity: str) -> dict[str, Any]:
    """A local condition on the record or its account, as managers write them."""
    roll = rng.random()
    if roll < 0.4:
        return {"field": "account.tier", "op": "in", "value": list(rng.sample(TIERS, rng.randint(1, 2)))}
    if roll < 0.6:
        return {"field": "account.industry", "op": "eq", "value": rng.choice(INDUSTRIES)}
    if roll < 0.8 and entity == "opportunity":
        return {"field": "opportunity.amount", "op": "gt", "value": rng.choice((50_000, 100_000, 500_000))}
    return {
        "field": "account.region",
        "op": "eq",
        "value": rng.choice(FIELDS["account"]["region"] or ("华东",)),
    }


def make_rules(count: int, rng: random.Random) -> list[CompiledRule]:
    """``count`` rules: 35% field changes (on a categorical field, most name the value it
    changes to), 25% business events, 10% stage moves by stage name, 8% metric crossings,
    7% radar signals, 5% behaviour windows, 5% schedules, 5% field changes of any value;
    about half carry one or two local conditions (tier, industry, region, amount)."""
    rules: list[CompiledRule] = []
    for rule_id in range(1, count + 1):
        share = rng.random()
        trigger: dict[str, Any]
        entity = "opportunity"
        if share < 0.40:
            # Managers mostly write "when the status / tier / stage becomes …": categorical
            # fields are four times as likely to carry a rule as free ones (notes, amounts).
            entity, field, domain = rng.choices(ALL_FIELDS, weights=FIELD_WEIGHTS)[0]
            trigger = {"type": "record_changed", "entity": entity, "field": field}
            if domain is not None and share < 0.35:
                trigger["to"] = rng.choice(domain)
                if rng.random() < 0.2:
                    trigger["from"] = rng.choice(domain)
        elif share < 0.65:
            trigger = {"type": "record_event", "event": rng.choice(BUSINESS_EVENTS)}
            entity = trigger["event"].partition(".")[0]
        elif share < 0.75:
            trigger = {
                "type": "record_changed",
                "entity": "opportunity",
                "field": "stage",
                "to": rng.choice(STAGE_WORDS),
            }
            if rng.random() < 0.3:
                trigger["from"] = rng.choice(["lead", "需求调研", "proposal", "方案与测试"])
        elif share < 0.83:
            trigger = {
                "type": "metric",
                "entity": rng.choice(("opportunity", "account", "product")),
                "metric": rng.choice(("risk", "win_probability", "inventory_turnover", "health", "churn")),
                "op": rng.choice(("gt", "gte", "lt", "lte")),
                "value": round(rng.uniform(0.1, 0.9), 2),
            }
        elif share < 0.90:
            trigger = {
                "type": "signal",
                "keyword": rng.choice(("交付延迟", "价格", "竞品", "投诉", "续约")),
                "polarity": rng.choice(("negative", "positive", None)),
                "severity": rng.choice(("P1", "P2", "P3", None)),
            }
        elif share < 0.95:
            trigger = {
                "type": "behaviour",
                "count_at_least": rng.randint(2, 5),
                "within": "P7D",
                "asset": {"key": f"asset-{rng.randint(1, 40)}"},
            }
        else:
            trigger = {"type": "schedule", "cron": f"{rng.randint(0, 59)} {rng.randint(7, 19)} * * 1-5"}
        conditions: list[dict[str, Any]] = []
        if trigger["type"] in ("record_changed", "record_event", "metric") and rng.random() < 0.5:
            conditions.append(_condition(rng, entity))
            if rng.random() < 0.3:
                conditions.append(_condition(rng, entity))
        ir = RuleIR.model_validate({"trigger": trigger, "conditions": conditions, "actions": ACTION})
        rules.append(CompiledRule(rule_id=rule_id, version=1, name=f"rule {rule_id}", ir=ir))
    return rules


def make_events(count: int, rng: random.Random, *, records: int = 2000) -> list[Fact]:
    """A replayable stream: creations first, then a CRM-like mix (35% edits of one to three
    fields, 15% stage moves, 20% activities logged, 10% other creations and status moves,
    8% metrics, 4% radar signals, 8% other facts); payloads as the services write them."""
    at = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    events: list[Fact] = []
    state: dict[tuple[str, int], dict[str, Any]] = {}
    accounts = max(10, records // 10)
    next_id = 1

    def emit(type_: str, entity: str, entity_id: int, payload: dict[str, Any]) -> None:
        nonlocal next_id
        events.append(Fact(next_id, type_, entity, str(entity_id), payload, at))
        next_id += 1

    def value(domain: tuple[str, ...] | None) -> Any:
        if domain is not None:
            return rng.choice(domain)
        return f"{rng.randint(1, 10**6)}.00" if rng.random() < 0.5 else rng.randint(1, 10**6)

    for account_id in range(1, accounts + 1):
        after = {
            "id": account_id,
            "tier": rng.choice(TIERS),
            "industry": rng.choice(INDUSTRIES),
            "region": "华东",
        }
        state[("account", account_id)] = after
        emit("account.created", "account", account_id, {"after": dict(after)})
    entities = [name for name in FIELDS if name != "account"]
    for number in range(1, records + 1):
        entity = entities[number % len(entities)]
        after = {"id": number, "account_id": rng.randint(1, accounts), "status": "draft", "stage_id": 1}
        state[(entity, number)] = after
        emit(f"{entity}.created", entity, number, {"after": dict(after)})
    while len(events) < count:
        roll = rng.random()
        if roll < 0.35:
            entity = rng.choice(ALL_FIELDS)[0]  # entities with more fields are edited more
            record = rng.randint(1, accounts if entity == "account" else records)
            fields = rng.sample(list(FIELDS[entity]), rng.randint(1, 3))
            current = state.setdefault((entity, record), {"id": record, "account_id": 1})
            before = {name: current.get(name) for name in fields}
            after = {name: value(FIELDS[entity][name]) for name in fields}
            current.update(after)
            emit(f"{entity}.updated", entity, record, {"before": before, "after": after})
        elif roll < 0.50:
            record = rng.randint(1, records)
            current = state.setdefault(
                ("opportunity", record), {"id": record, "account_id": 1, "stage_id": 1}
            )
            source = current.get("stage_id", 1)
            target = min(8, source + 1) if rng.random() < 0.8 else rng.randint(1, 8)
            kind = {7: "opportunity.won", 8: "opportunity.lost"}.get(target, "opportunity.stage_changed")
            before = {"stage_id": source, "status": "open"}
            after = {"stage_id": target, "status": STAGES[target - 1].status_class}
            current.update(after)
            emit(
                kind,
                "opportunity",
                record,
                {"before": before, "after": after, "to_stage": STAGES[target - 1].key},
            )
        elif roll < 0.70:
            emit(
                "activity.created",
                "activity",
                records + len(events),
                {
                    "after": {
                        "kind": rng.choice(("call", "meeting", "email")),
                        "account_id": rng.randint(1, accounts),
                    }
                },
            )
        elif roll < 0.80:
            entity = rng.choice(("quote", "contract", "ticket", "contact", "document"))
            record = rng.randint(1, records)
            domain = (FIELDS.get(entity) or {}).get("status")
            if domain and rng.random() < 0.6:
                emit(
                    f"{entity}.updated",
                    entity,
                    record,
                    {"before": {"status": "draft"}, "after": {"status": rng.choice(domain)}},
                )
            else:
                emit(
                    f"{entity}.created",
                    entity,
                    record,
                    {"after": {"id": record, "account_id": rng.randint(1, accounts)}},
                )
        elif roll < 0.88:
            entity = rng.choice(("opportunity", "account"))
            record = rng.randint(1, accounts)
            emit(
                "metric.changed",
                entity,
                record,
                {
                    "metric": rng.choice(("risk", "health", "churn")),
                    "value": round(rng.random(), 2),
                    "previous": round(rng.random(), 2),
                },
            )
        elif roll < 0.92:
            emit(
                "radar.signal",
                "account",
                rng.randint(1, accounts),
                {
                    "text": rng.choice(("客户抱怨交付延迟", "竞品报价更低", "续约意向强", "一般咨询")),
                    "polarity": rng.choice(("negative", "positive", "neutral")),
                    "severity": rng.choice(("P1", "P2", "P3", "P4")),
                    "industry": rng.choice(INDUSTRIES),
                },
            )
        else:
            kind = rng.choice(BUSINESS_EVENTS[17:])
            emit(kind, kind.partition(".")[0], rng.randint(1, 100), {"after": {"n": rng.randint(1, 9)}})
    return events[:count]


@dataclass
class MatchResult:
    rules: int
    kinds: dict[str, int]
    events: int
    fires: int
    candidates: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.events / self.cpu_seconds


def replay(index: RuleIndex, events: list[Fact]) -> tuple[int, int]:
    """Match every event and check the conditions of what it triggers; (fires, candidates).
    Record states are folded from the stream as it goes, for the conditions to read."""
    states: dict[tuple[str, str], dict[str, Any]] = {}
    fires = candidates = 0
    empty: dict[str, Any] = {}
    for event in events:
        key = (event.entity, event.entity_id)
        after = event.payload.get("after")
        if after is not None:
            state = states.get(key)
            if state is None:
                states[key] = dict(after)
            else:
                state.update(after)
        matched = index.match(event)
        if not matched:
            continue
        candidates += len(matched)
        resolve = None
        for candidate in matched:
            if candidate.rule.local_conditions:
                if resolve is None:
                    subject = states.get(key, empty)
                    account = (
                        subject
                        if event.entity == "account"
                        else states.get(("account", str(subject.get("account_id"))))
                    )
                    resolve = resolver_from_states({event.entity: subject, "account": account}, event.entity)
                if not index.holds(candidate.rule, resolve):
                    continue
            fires += 1
    return fires, candidates


def bench_matching(*, rules: int = 1000, events: int = 200_000, seed: int = 7) -> MatchResult:
    rng = random.Random(seed)
    compiled = make_rules(rules, rng)
    stream = make_events(events, rng)
    index = RuleIndex(compiled, StageCatalog(STAGES))
    kinds: dict[str, int] = {}
    for rule in compiled:
        kinds[rule.ir.trigger.type] = kinds.get(rule.ir.trigger.type, 0) + 1
    replay(index, stream[: min(5000, len(stream))])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    fires, candidates = replay(index, stream)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return MatchResult(rules, kinds, len(stream), fires, candidates, wall, cpu)


# --- latency ----------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass
class LatencyResult:
    engine: str
    samples: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.5)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)


def bench_latency(engine: str, url: str, *, samples: int = 200, poll_seconds: float = 1.0) -> LatencyResult:
    """Commit → action start through the in-process worker thread, one sample at a time."""
    from pathcast.auth.permissions import Actor
    from pathcast.automation import service
    from pathcast.automation.engine.worker import EngineThread
    from pathcast.db import unit_of_work
    from pathcast.events import append_event

    admin = Actor.system("bench")
    with unit_of_work(url) as session:
        rule = service.create_rule(
            session,
            name="bench latency",
            text="bench",
            lang="en",
            ir=RuleIR.model_validate(
                {
                    "trigger": {"type": "record_event", "event": "bench.ping"},
                    "actions": [{"type": "tag", "target": "account", "tag": "x"}],
                }
            ),
            readback_zh="bench",
            readback_en="bench",
            actor=admin,
        )
        service.enable_rule(session, rule_id=rule.id, actor=admin)
    started: dict[str, float] = {}
    arrived = threading.Event()
    original = actions.execute

    def timed_execute(action: Any, ctx: Any) -> Outcome:
        # The action's first line: when the engine hands the action over.
        started["at"] = time.perf_counter()
        arrived.set()
        return Outcome("skipped", {"bench": True})

    actions.execute = timed_execute  # type: ignore[assignment]
    thread = EngineThread(poll_seconds, url=url)
    thread.start()
    latencies: list[float] = []
    try:
        for number in range(samples + 5):
            arrived.clear()
            with unit_of_work(url) as session:
                append_event(
                    session,
                    type="bench.ping",
                    entity="account",
                    entity_id=1,
                    actor="bench",
                    payload={"n": number},
                )
            committed = time.perf_counter()
            if not arrived.wait(30):
                raise RuntimeError(f"{engine}: the action for ping {number} never started")
            if number >= 5:  # the first few warm caches and connections
                latencies.append(started["at"] - committed)
    finally:
        thread.stop()
        actions.execute = original  # type: ignore[assignment]
    return LatencyResult(engine, latencies)


# --- rows ---------------------------------------------------------------------------------------


def matching_rows(result: MatchResult) -> list[tuple[str, str, str]]:
    kinds = ", ".join(
        f"{count} {kind}" for kind, count in sorted(result.kinds.items(), key=lambda kv: -kv[1])
    )
    return [
        (
            "in memory",
            f"automation matching: {result.rules:,} enabled rules ({kinds}), {result.events:,} events replayed, 1 thread",
            f"{result.rate:,.0f} events/s ({result.cpu_rate:,.0f} per CPU-second); "
            f"{result.candidates / result.events:.2f} triggered rules per event, {result.fires:,} fires after conditions",
        )
    ]


def latency_rows(result: LatencyResult) -> list[tuple[str, str, str]]:
    return [
        (
            result.engine,
            f"automation latency, commit → action start, in-process worker ({len(result.samples)} events one by one)",
            f"p50 {result.p50 * 1000:,.1f} ms, p99 {result.p99 * 1000:,.1f} ms, max {max(result.samples) * 1000:,.1f} ms",
        )
    ]


def bench_engines(
    engines: list[tuple[str, Callable[[], AbstractContextManager[str]]]], *, samples: int
) -> list[LatencyResult]:
    results = []
    for engine, database in engines:
        with database() as url:
            results.append(bench_latency(engine, url, samples=samples))
    return results


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}rules", type=int, default=1000, help="enabled rules (default 1,000)")
    parser.add_argument(
        f"--{prefix}events", type=int, default=200_000, help="events replayed (default 200,000)"
    )
    parser.add_argument(f"--{prefix}samples", type=int, default=200, help="latency samples per engine")


def table(rows: list[tuple[str, str, str]]) -> str:
    return "| engine | measure | result |\n|---|---|---|\n" + "".join(
        f"| {e} | {m} | {r} |\n" for e, m, r in rows
    )


def run_all(rules: int, events: int, samples: int, engines: list[Any]) -> list[tuple[str, str, str]]:
    rows = matching_rows(bench_matching(rules=rules, events=events))
    for result in bench_engines(engines, samples=samples):
        rows += latency_rows(result)
    return rows


def main() -> int:
    from run import postgres_database, sqlite_database  # bench/ is on sys.path when run as a script

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    engines: list[Any] = [("SQLite", sqlite_database), ("PostgreSQL", postgres_database)]
    rows = run_all(args.rules, args.events, args.samples, engines)
    sys.stdout.write(f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n" + table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""As-of snapshots and point-in-time deal features: nothing known after the cutoff leaks in.

The leakage check builds the features at a cutoff, adds facts dated after it, rebuilds at
the same cutoff and compares every value. A deliberately leaky feature function at the
bottom of the module proves that the same check catches leakage when there is some.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.forecast.features import COLUMNS, FeatureMatrix, deal_features
from pathcast.forecast.snapshot import DealSnapshot, open_pipeline_as_of, pipeline_as_of
from pathcast.signals import models as sm
from tests import factories as f

SYSTEM = f.SYSTEM


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def stage(session: Session, key: str) -> m.Stage:
    pipeline = f.pipeline(session)
    return next(s for s in crm.stages_of(session, pipeline.id) if s.key == key)


def stage_keys(session: Session) -> dict[str, str]:
    """The default pipeline's first open stage, a later open stage, the won and lost stages."""
    stages = crm.stages_of(session, f.pipeline(session).id)
    opened = [s.key for s in stages if s.status_class == "open"]
    won = next(s.key for s in stages if s.status_class == "won")
    lost = next(s.key for s in stages if s.status_class == "lost")
    return {"first": opened[0], "second": opened[1], "won": won, "lost": lost}


def product(session: Session, code: str) -> m.Product:
    record: m.Product = crm.create_record(
        session, actor=SYSTEM, spec=crm.SPECS["product"], data={"code": code, "name": code}
    )
    return record


def deal(
    session: Session,
    *,
    opened: str,
    account: m.Account,
    owner_id: int,
    product_obj: m.Product,
    amount: int = 100000,
    close_date: date | None = None,
) -> m.Opportunity:
    f.pipeline(session)
    record = crm.create_opportunity(
        session,
        actor=SYSTEM,
        data={
            "name": f"deal {opened}",
            "account_id": account.id,
            "owner_id": owner_id,
            "amount": amount,
            "expected_close_date": close_date,
        },
        occurred_at=at(opened),
    )
    crm.create_record(
        session,
        actor=SYSTEM,
        spec=crm.SPECS["opportunity_line"],
        data={"opportunity_id": record.id, "product_id": product_obj.id, "unit_price": amount},
        occurred_at=at(opened),
    )
    return record


def move(session: Session, record: m.Opportunity, key: str, day: str) -> None:
    crm.change_stage(
        session, actor=SYSTEM, opportunity=record, to_stage_id=stage(session, key).id, occurred_at=at(day)
    )


def reprice(session: Session, record: m.Opportunity, amount: int, day: str) -> None:
    crm.update_opportunity(
        session, actor=SYSTEM, opportunity=record, changes={"amount": amount}, occurred_at=at(day)
    )


def by_id(snapshots: list[DealSnapshot]) -> dict[int, DealSnapshot]:
    return {snap.opportunity_id: snap for snap in snapshots}


# --- snapshots ------------------------------------------------------------------------


def test_snapshot_replays_stage_amount_and_outcome(session: Session) -> None:
    keys = stage_keys(session)
    rep = f.user(session, "rep@example.com", team_obj=f.team(session), password=None)
    account = f.account(session)
    scanner = product(session, "CT-64")
    record = deal(
        session, opened="2024-01-01", account=account, owner_id=rep.id, product_obj=scanner, amount=100000
    )
    move(session, record, keys["second"], "2024-02-01")
    reprice(session, record, 150000, "2024-03-01")
    move(session, record, keys["won"], "2024-04-01")
    session.commit()

    assert pipeline_as_of(session, at("2023-12-01")) == []

    mid = by_id(pipeline_as_of(session, at("2024-02-15")))[record.id]
    assert (mid.stage_key, mid.stage_status, mid.amount) == (keys["second"], "open", 100000.0)
    assert mid.stage_changes_so_far == 1 and mid.entered_stage_at == at("2024-02-01")
    assert mid.created_at == at("2024-01-01") and mid.closed_at is None
    assert (mid.account_id, mid.owner_id, mid.team_id) == (account.id, rep.id, rep.team_id)
    assert mid.product_codes == ("CT-64",)

    later = by_id(pipeline_as_of(session, at("2024-03-15")))[record.id]
    assert (later.stage_status, later.amount) == ("open", 150000.0)

    after = by_id(pipeline_as_of(session, at("2024-05-01")))[record.id]
    assert (after.stage_key, after.stage_status, after.amount) == (keys["won"], "won", 150000.0)
    assert after.closed_at == at("2024-04-01") and after.stage_changes_so_far == 2
    assert open_pipeline_as_of(session, at("2024-05-01")) == []

    # Recorded clock: all of this was typed in today, so in 2024 the system knew nothing.
    assert pipeline_as_of(session, at("2024-05-01"), clock="recorded") == []
    known_now = pipeline_as_of(session, datetime.now(UTC), clock="recorded")
    assert [snap.stage_status for snap in known_now] == ["won"]


def test_snapshot_refuses_a_naive_cutoff(session: Session) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pipeline_as_of(session, datetime(2024, 1, 1))  # a naive cutoff


# --- leakage --------------------------------------------------------------------------

CUTOFF = at("2024-06-01")
FeatureBuilder = Callable[[Session, datetime], FeatureMatrix]


def honest_features(session: Session, cutoff: datetime) -> FeatureMatrix:
    return deal_features(session, open_pipeline_as_of(session, cutoff), cutoff)


def leakage_diff(before: FeatureMatrix, after: FeatureMatrix) -> list[str]:
    """Every (deal, feature) whose value differs between two builds at the same cutoff."""
    if before.opportunity_ids != after.opportunity_ids or before.columns != after.columns:
        return [f"rows or columns differ: {before.opportunity_ids} vs {after.opportunity_ids}"]
    diffs = []
    for row, deal_id in enumerate(before.opportunity_ids):
        for col, name in enumerate(before.columns):
            old, new = before.values[row, col], after.values[row, col]
            if not (old == new or (math.isnan(old) and math.isnan(new))):
                diffs.append(f"deal {deal_id} {name}: {old} -> {new}")
    return diffs


def build_history(session: Session) -> dict[str, Any]:
    """An account with two past wins and a loss, an open deal with activities and web views."""
    keys = stage_keys(session)
    rep = f.user(session, "rep@example.com", team_obj=f.team(session), password=None)
    account = f.account(session)
    scanner = product(session, "CT-64")
    for opened, closed, outcome, amount in (
        ("2023-01-01", "2023-06-01", "won", 80000),
        ("2023-02-01", "2023-09-01", "lost", 50000),
        ("2023-03-01", "2023-10-01", "won", 120000),
    ):
        past = deal(
            session, opened=opened, account=account, owner_id=rep.id, product_obj=scanner, amount=amount
        )
        move(session, past, keys[outcome], closed)
    open_deal = deal(
        session,
        opened="2024-01-01",
        account=account,
        owner_id=rep.id,
        product_obj=scanner,
        amount=150000,
        close_date=date(2024, 7, 15),
    )
    move(session, open_deal, keys["second"], "2024-02-01")
    for day in ("2024-03-15", "2024-05-20"):
        f.activity(session, opportunity_id=open_deal.id, account_id=account.id, occurred_at=at(day))
    # Web behaviour: a visitor linked to the account's contact, one view before the cutoff.
    contact = f.contact(session, account_id=account.id)
    site = sm.Site(key="site-key", name="site")
    session.add(site)
    session.flush()
    visitor = sm.Visitor(
        site_id=site.id, key="v1", first_seen_at=at("2024-01-01"), last_seen_at=at("2024-01-01")
    )
    session.add(visitor)
    session.flush()
    session.add(
        sm.IdentityLink(
            visitor_id=visitor.id,
            contact_id=contact.id,
            method=sm.IdentityMethod.manual.value,
            linked_at=at("2024-01-01"),
            linked_by="test",
        )
    )
    add_view(session, site.id, visitor.id, "view-1", "2024-05-25")
    session.commit()
    return {
        "keys": keys,
        "rep": rep,
        "account": account,
        "product": scanner,
        "deal": open_deal,
        "site": site,
        "visitor": visitor,
    }


def add_view(session: Session, site_id: int, visitor_id: int, key: str, day: str) -> None:
    session.add(
        sm.Hit(
            site_id=site_id,
            visitor_id=visitor_id,
            kind=sm.HitKind.view.value,
            view_key=key,
            asset_id=1,
            occurred_at=at(day),
            received_at=at(day),
            dwell_ms=0,
        )
    )
    session.flush()


def add_facts_after_cutoff(session: Session, world: dict[str, Any]) -> None:
    """Everything here is dated after CUTOFF; none of it may change a feature at CUTOFF."""
    keys, record = world["keys"], world["deal"]
    f.activity(session, opportunity_id=record.id, occurred_at=at("2024-06-10"))
    f.activity(session, opportunity_id=record.id)  # no date: created now, long after the cutoff
    reprice(session, record, 400000, "2024-06-05")
    crm.update_opportunity(
        session,
        actor=SYSTEM,
        opportunity=record,
        changes={"expected_close_date": date(2024, 9, 1)},
        occurred_at=at("2024-06-06"),
    )
    move(session, record, keys["won"], "2024-07-01")
    newer = deal(
        session,
        opened="2024-06-02",
        account=world["account"],
        owner_id=world["rep"].id,
        product_obj=world["product"],
        amount=999999,
    )
    move(session, newer, keys["won"], "2024-06-20")
    add_view(session, world["site"].id, world["visitor"].id, "view-2", "2024-06-15")
    session.commit()


def test_no_feature_uses_facts_dated_after_the_cutoff(session: Session) -> None:
    world = build_history(session)
    before = honest_features(session, CUTOFF)

    # The features are not trivially empty: each source contributes something.
    row = before.row(world["deal"].id)
    assert before.opportunity_ids == (world["deal"].id,)
    assert row["account_win_rate"] == pytest.approx((2 + 1) / (3 + 2))
    assert row["owner_win_rate"] == row["team_win_rate"] == row["product_win_rate"] == row["account_win_rate"]
    assert row["amount_vs_account_won_mean"] == pytest.approx(150000 / 100000)
    assert row["activities_90d"] == 2 and row["activities_30d"] == 1
    assert row["days_since_last_activity"] == pytest.approx(12)
    assert row["days_in_stage"] == pytest.approx((CUTOFF - at("2024-02-01")).days)
    assert row["stage_changes"] == 1
    assert row["days_to_expected_close"] == 44
    assert row["signal_views_30d"] == 1

    add_facts_after_cutoff(session, world)
    after = honest_features(session, CUTOFF)
    assert leakage_diff(before, after) == []
    # ...while the present does see them.
    assert by_id(pipeline_as_of(session, at("2024-07-02")))[world["deal"].id].stage_status == "won"


# --- break it on purpose ------------------------------------------------------------------
# A feature function that leaks: it takes the account win rate from the deals' *current*
# status (every deal closed by now, not by the cutoff). The same check must catch it,
# which proves the leakage test above can fail.


def leaky_features(session: Session, cutoff: datetime) -> FeatureMatrix:
    honest = honest_features(session, cutoff)
    rows = session.execute(
        select(m.Opportunity.account_id, m.Opportunity.status).where(m.Opportunity.status != "open")
    ).all()
    won = sum(1 for _, status in rows if status == "won")
    values = honest.values.copy()
    values[:, COLUMNS.index("account_win_rate")] = (won + 1) / (len(rows) + 2)
    return FeatureMatrix(columns=honest.columns, values=values, opportunity_ids=honest.opportunity_ids)


def test_the_leakage_check_catches_a_leaky_feature(session: Session) -> None:
    world = build_history(session)
    before = leaky_features(session, CUTOFF)
    add_facts_after_cutoff(session, world)
    diffs = leakage_diff(before, leaky_features(session, CUTOFF))
    assert diffs and all("account_win_rate" in line for line in diffs)


# --- Maven CRM ------------------------------------------------------------------------


@pytest.mark.dataset
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_maven_pipeline_as_of_mid_2017(db_url: str, datasets: Path, tmp_path: Path) -> None:
    from pathcast.crm.importers import run_import
    from pathcast.db import session_factory

    # The whole file (8,800 deals): about 25 s on SQLite.
    report = run_import(
        db_url, format="maven", paths=[datasets / "maven_crm"], rejects_path=tmp_path / "rejects.csv"
    )
    assert report.total.rejected == 0
    cutoff = at("2017-06-30")
    with session_factory(db_url)() as session:
        started = time.monotonic()
        history = pipeline_as_of(session, cutoff)
        open_deals = [snap for snap in history if snap.is_open]
        matrix = deal_features(session, open_deals, cutoff, history=history)
        elapsed = time.monotonic() - started
        final = {
            deal_id: status
            for deal_id, status in session.execute(select(m.Opportunity.id, m.Opportunity.status))
        }

    assert open_deals and elapsed < 30
    # Open then, decided later: the snapshot does not know the outcome.
    assert sum(final[snap.opportunity_id] in ("won", "lost") for snap in open_deals) > 0.5 * len(open_deals)
    assert all(snap.closed_at is None or snap.closed_at <= cutoff for snap in history)
    always = [
        "stage_probability",
        "days_in_stage",
        "days_since_created",
        "log_amount",
        "owner_win_rate",
        "product_win_rate",
        "activities_90d",
    ]
    for name in always:
        assert np.isfinite(matrix.column(name)).all(), name

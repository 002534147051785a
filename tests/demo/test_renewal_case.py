"""The renewal case on the demo, end to end: scoring renewal risk fires the demo's rule
「当客户续约风险高于0.7时，客户成功经理加入该客户的协作，并附上上季度工单处理时长」, and the
CSM joins the account's team with last quarter's ticket resolution times in their inbox.

The demo ends today (not a fixed date): the engine never fires rules on back-dated history,
and the score is taken now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.automation.models import Notification, Rule, Run
from pathcast.db import unit_of_work
from pathcast.demo.loader import load_demo
from pathcast.demo.people import demo_email
from pathcast.forecast.models import Insight
from pathcast.forecast.service import renewal
from tests.automation.engine_support import FakeClock, run_engine

ACCOUNTS = 8  # as tests/demo/test_demo.py: three accounts no CSM serves yet


def test_high_renewal_risk_brings_the_csm_in_with_last_quarters_ticket_times(
    session: Session, db_url: str
) -> None:
    with unit_of_work(db_url) as loading:
        load_demo(loading, accounts=ACCOUNTS, seed=7)
    rule = session.scalars(select(Rule).where(Rule.name == "续约风险：客户成功经理加入")).one()
    assert rule.is_enabled
    scores = renewal.score_renewals(session, actor=Actor.system("test"))
    case = max(scores, key=lambda score: score.risk)
    assert case.risk > 0.7, case.factors
    account_id = case.account_id
    csm = session.scalars(select(User).where(User.email == demo_email("success"))).one()
    assert csm.id not in {user.id for user in positions.account_team(session, account_id)}
    session.commit()

    run_engine(session, db_url, FakeClock())

    (run,) = session.scalars(select(Run).where(Run.rule_id == rule.id)).all()
    assert run.status == "done" and run.subject_entity == "account" and run.subject_id == str(account_id)
    assert csm.id in {user.id for user in positions.account_team(session, account_id, "csm")}
    (notice,) = session.scalars(select(Notification).where(Notification.user_id == csm.id)).all()
    summary = renewal.ticket_resolution_summary(session, account_id, quarter_of=case.scored_at.date())
    assert summary["count"] >= 7 and summary["median_resolution_hours"] > 200
    for expected in (
        summary["quarter"],
        f"{summary['median_resolution_hours']:g}",
        summary["slowest"][0]["subject"],
    ):
        assert expected in notice.body, (expected, notice.body)
    assert notice.link == f"/accounts/{account_id}"
    assert (
        session.scalars(select(Insight).where(Insight.account_id == account_id)).one().kind == "renewal_risk"
    )
    # the other demo subscriptions are scored too, and only the case crosses the threshold
    assert [score.account_id for score in scores if score.risk > 0.7] == [account_id]

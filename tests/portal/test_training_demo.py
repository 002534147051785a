"""The demo's portal data: courses, certificates in every state, an overdue request."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from pathcast.auth.permissions import Actor
from pathcast.auth.service import get_user_by_email
from pathcast.db import unit_of_work
from pathcast.demo import loader
from pathcast.demo.people import demo_email
from pathcast.demo.vocabulary import CUSTOMER_KEY
from pathcast.portal.models import Course, Enrollment
from pathcast.portal.service import requests, team

TODAY = date(2025, 6, 30)


def test_the_demo_seeds_courses_certificates_and_an_overdue_request(db_url: str) -> None:
    # the demo loader calls seed_portal after the hives
    with unit_of_work(db_url) as session:
        loader.load_demo(session, accounts=3, seed=11, today=TODAY)
    with unit_of_work(db_url, write=False) as session:
        assert len(session.scalars(select(Course)).all()) == 4
        assert session.scalars(select(Enrollment)).first() is not None
        customer = get_user_by_email(session, demo_email(CUSTOMER_KEY))
        assert customer is not None
        asking = Actor.for_user(customer)
        view = team.account_team_view(session, asking, today=TODAY)
        owner = next(member for member in view.members if "owner" in member.roles)
        assert {c.status for c in owner.certificates} == {"valid", "expiring"}
        assert all(c.code != "SALES-METHOD" for c in owner.certificates + owner.training)
        filed = requests.list_requests(session, asking, today=TODAY)
        assert sorted(r.status for r in filed) == ["done", "in_progress", "open"]
        overdue = requests.list_requests(session, asking, overdue=True, today=TODAY)
        assert [r.kind for r in overdue] == ["portability"]
        assert all(r.received_at.date() < TODAY for r in filed)

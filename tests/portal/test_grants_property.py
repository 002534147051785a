"""Property: whatever a grantee asks for, a narrowed grant is always a subset of the grant
it came from (fields, dates, expiry, purpose); anything wider is refused, naming it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.errors import InvalidInput
from pathcast.portal.service import grants
from tests import factories as f

CHOICES = grants.grant_choices()
PARENT_FIELDS = {"activities": CHOICES["activities"][:5], "tickets": CHOICES["tickets"][:3]}
START, END = date(2025, 1, 1), date(2025, 6, 30)
# a wider universe than the parent holds: other fields, other datasets, unknown names
UNIVERSE = [(dataset, name) for dataset, names in CHOICES.items() for name in names] + [
    ("activities", "body")
]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    picked = draw(st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=8, unique=True))
    fields: dict[str, list[str]] = {}
    for dataset, name in picked:
        fields.setdefault(dataset, []).append(name)
    start = START + timedelta(days=draw(st.integers(-40, 200)))
    end = start + timedelta(days=draw(st.integers(0, 200)))
    return {
        "grantee": "sub",
        "fields": fields,
        "period_start": start,
        "period_end": end,
        "expires_hours": draw(st.integers(1, 24 * 60)),
        "purpose": draw(st.sampled_from(["audit", "migration"])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_a_narrowed_grant_is_always_a_subset(session: Session, request: dict[str, Any]) -> None:
    if not hasattr(session, "_grant_world"):
        account = f.account(session, name="Hengtai")
        buyer = f.user(session, "buyer@hengtai.example", role=Role.customer_contact, account_id=account.id)
        session._grant_world = (account.id, f.actor(buyer))  # type: ignore[attr-defined]
    account_id, customer = session._grant_world  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    parent, token = grants.create_grant(
        session, customer, account_id=account_id, grantee="auditor", purpose="audit", fields=PARENT_FIELDS,
        period_start=START, period_end=END, expires_at=now + timedelta(days=30),
    )  # fmt: skip
    expires_at = now + timedelta(hours=request["expires_hours"])
    try:
        child, _ = grants.narrow_grant(
            session, token, grantee=request["grantee"], fields=request["fields"], purpose=request["purpose"],
            period_start=request["period_start"], period_end=request["period_end"], expires_at=expires_at,
        )  # fmt: skip
    except InvalidInput as refused:
        named = {error.field for error in refused.errors}
        wider = {
            f"fields.{dataset}.{name}" if dataset in PARENT_FIELDS else f"fields.{dataset}"
            for dataset, names in request["fields"].items()
            for name in names
            if name not in PARENT_FIELDS.get(dataset, [])
        }
        assert wider <= named  # every widening field is named
        assert wider or named & {"period_start", "period_end", "expires_at", "purpose"}
        return
    for dataset, names in child.fields.items():
        assert set(names) <= set(parent.fields[dataset])
    assert parent.period_start <= child.period_start <= child.period_end <= parent.period_end
    assert child.expires_at <= parent.expires_at and child.purpose == parent.purpose

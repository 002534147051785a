"""Action adapters through ``actions.execute``: dispatch, dry-run, receipts, and the record actions
(tasks, tags, field changes, content, meetings without mail) writing through the CRM services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.automation import actions, ir
from pathcast.automation.actions.base import Subject
from pathcast.automation.actions.meetings import OFFICE, meeting_slot
from pathcast.automation.models import ActionReceipt, Notification
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.crm.service import tags as crm_tags
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from tests import factories as f
from tests.automation.actions_support import NOW, SYSTEM, make_ctx, run_rows

ACTION = TypeAdapter(ir.Action)


def action(**data: Any) -> Any:
    return ACTION.validate_python(data)


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


@pytest.fixture
def deal(session: Session) -> dict[str, Any]:
    """A rep's deal on an account with a contact, as a subject."""
    east = f.team(session, "East")
    manager = f.user(session, "em@example.com", role=Role.manager, team_obj=east, password=None)
    rep = f.user(session, "rep@example.com", team_obj=east, password=None)
    account = f.account(session, owner_id=rep.id, region="华东")
    contact = f.contact(session, account_id=account.id, owner_id=rep.id)
    opportunity = f.opportunity(
        session, SYSTEM, account_id=account.id, contact_id=contact.id, owner_id=rep.id
    )
    subject = Subject(
        "opportunity",
        opportunity.id,
        account_id=account.id,
        contact_id=contact.id,
        opportunity_id=opportunity.id,
    )
    return {
        "rep": rep,
        "manager": manager,
        "account": account,
        "contact": contact,
        "opportunity": opportunity,
        "subject": subject,
    }


# --- dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "word"),
    [
        ({"type": "generate_plan", "kind": "promotion"}, "plans"),
    ],
)
def test_actions_of_missing_packages_say_not_available_in_both_languages(
    session: Session, data: dict[str, Any], word: str
) -> None:
    for dry_run in (False, True):
        outcome = actions.execute(action(**data), make_ctx(session, Subject(None, None), dry_run=dry_run))
        assert outcome.status == "not_available"
        assert word in outcome.detail["reason"] and "尚未上线" in outcome.detail["reason_zh"]
    assert count(session, ActionReceipt) == 0


def test_flow_steps_are_refused_and_every_other_action_type_has_a_handler(session: Session) -> None:
    confirm = action(type="require_confirmation", by={"kind": "role", "value": "sales_vp"})
    outcome = actions.execute(confirm, make_ctx(session, Subject(None, None)))
    assert outcome.status == "failed" and not outcome.retryable
    every = {option.__name__ for option in ir.Action.__origin__.__args__}  # type: ignore[attr-defined]
    assert len(actions.HANDLERS) + len(actions.ENGINE_HANDLED) == len(every)


def test_a_recorded_receipt_is_replayed_without_acting_again(session: Session, deal: dict[str, Any]) -> None:
    run, step = run_rows(session)
    task = action(
        type="create_task", assignee={"kind": "relation", "value": "owner"}, title="回访", due_in="P2D"
    )
    ctx = make_ctx(session, deal["subject"], run=run, step=step)
    first = actions.execute(task, ctx)
    again = actions.execute(task, ctx)
    assert first.status == again.status == "done"
    assert again.detail["replayed"] is True and again.detail["activity_id"] == first.detail["activity_id"]
    assert count(session, m.Activity, m.Activity.kind == "task") == 1
    receipt = session.get(ActionReceipt, ctx.idempotency_key)
    assert receipt is not None and receipt.step_id == step.id and receipt.kind == "create_task"
    # another step (another key) is another task
    actions.execute(task, make_ctx(session, deal["subject"], key="rule-1/run-2/step-0"))
    assert count(session, m.Activity, m.Activity.kind == "task") == 2


# --- create_task -----------------------------------------------------------------------------------


def test_create_task_writes_a_task_activity_through_the_service(
    session: Session, deal: dict[str, Any]
) -> None:
    task = action(
        type="create_task",
        assignee={"kind": "role", "value": "manager"},
        title="48小时内跟进",
        due_in="PT48H",
    )
    outcome = actions.execute(task, make_ctx(session, deal["subject"]))
    assert outcome.status == "done", outcome.detail
    created = session.get(m.Activity, outcome.detail["activity_id"])
    assert created is not None
    assert (created.kind, created.subject, created.owner_id) == ("task", "48小时内跟进", deal["manager"].id)
    assert created.due_at == NOW + timedelta(hours=48)
    assert (created.account_id, created.contact_id, created.opportunity_id) == (
        deal["account"].id,
        deal["contact"].id,
        deal["opportunity"].id,
    )
    (event,) = [e for e in events(session, "activity.created") if e.entity_id == str(created.id)]
    assert event.actor == SYSTEM.label


def test_create_task_with_nobody_to_assign_is_skipped_with_a_reason(
    session: Session, deal: dict[str, Any]
) -> None:
    task = action(type="create_task", assignee={"kind": "role", "value": "实施总监"}, title="x")
    outcome = actions.execute(task, make_ctx(session, deal["subject"]))
    assert outcome.status == "skipped" and outcome.detail["reason"] == "no recipient"
    assert count(session, m.Activity) == 0 and count(session, ActionReceipt) == 0


def test_dry_run_describes_and_touches_nothing(session: Session, deal: dict[str, Any]) -> None:
    before_events = count(session, Event)
    steps = [
        action(type="create_task", assignee={"kind": "relation", "value": "owner"}, title="x", due_in="P1D"),
        action(type="tag", target="contact", tag="高意向"),
        action(type="set_field", entity="opportunity", field="amount", value=99),
        action(
            type="notify", recipients=[{"kind": "relation", "value": "owner"}], channels=["in_app", "email"]
        ),
        action(type="create_meeting", title="交付启动会", attendees=[{"kind": "relation", "value": "owner"}]),
        action(type="webhook", url="http://127.0.0.1:9/never"),
    ]
    for step in steps:
        outcome = actions.execute(step, make_ctx(session, deal["subject"], dry_run=True))
        assert outcome.status == "done" and outcome.detail["dry_run"] is True, (step.type, outcome.detail)
    assert count(session, Event) == before_events
    assert count(session, m.Activity) == count(session, Notification) == count(session, ActionReceipt) == 0
    assert crm_tags.tags_of(session, "contact", deal["contact"].id) == []


# --- tag -------------------------------------------------------------------------------------------


def test_tag_applies_once_through_the_tag_service_with_its_event(
    session: Session, deal: dict[str, Any]
) -> None:
    step = action(type="tag", target="contact", tag=" high  intent ")
    first = actions.execute(step, make_ctx(session, deal["subject"], key="k-1"))
    second = actions.execute(step, make_ctx(session, deal["subject"], key="k-2"))
    assert first.detail["applied"] is True and second.detail["applied"] is False
    assert crm_tags.tags_of(session, "contact", deal["contact"].id) == ["high intent"]
    (applied,) = events(session, "contact.tag_applied")
    assert applied.entity_id == str(deal["contact"].id) and applied.payload == {"tag": "high intent"}
    assert crm_tags.remove_tag(
        session, entity="contact", record_id=deal["contact"].id, tag="high intent", actor=SYSTEM
    )
    assert not crm_tags.remove_tag(
        session, entity="contact", record_id=deal["contact"].id, tag="high intent", actor=SYSTEM
    )
    assert [e.payload for e in events(session, "contact.tag_removed")] == [{"tag": "high intent"}]


def test_tag_targets_the_subjects_account_or_is_skipped(session: Session, deal: dict[str, Any]) -> None:
    on_account = actions.execute(
        action(type="tag", target="account", tag="战略"), make_ctx(session, deal["subject"])
    )
    assert on_account.detail["id"] == deal["account"].id
    assert events(session, "account.tag_applied")[0].payload == {"tag": "战略"}
    lonely = f.account(session, name="无联系人客户")
    skipped = actions.execute(
        action(type="tag", target="contact", tag="x"),
        make_ctx(session, Subject("account", lonely.id), key="k-9"),
    )
    assert skipped.status == "skipped" and "contact" in skipped.detail["reason"]


def test_the_tag_service_refuses_what_it_should(session: Session, deal: dict[str, Any]) -> None:
    contact_id = deal["contact"].id
    with pytest.raises(InvalidInput):
        crm_tags.apply_tag(session, entity="quote", record_id=1, tag="x", actor=SYSTEM)
    with pytest.raises(InvalidInput):
        crm_tags.apply_tag(session, entity="contact", record_id=contact_id, tag="  ", actor=SYSTEM)
    with pytest.raises(NotFound):
        crm_tags.apply_tag(session, entity="contact", record_id=999_999, tag="x", actor=SYSTEM)
    member = f.user(session, "member@example.com", role=Role.member, password=None)
    with pytest.raises(PermissionDenied):
        crm_tags.apply_tag(session, entity="contact", record_id=contact_id, tag="x", actor=f.actor(member))
    # the owner may tag their own contact
    assert crm_tags.apply_tag(
        session, entity="contact", record_id=contact_id, tag="x", actor=f.actor(deal["rep"])
    )


# --- set_field -------------------------------------------------------------------------------------


def test_set_field_goes_through_the_owning_service_and_its_events(
    session: Session, deal: dict[str, Any]
) -> None:
    ctx = make_ctx(session, deal["subject"], key="k-amount")
    outcome = actions.execute(
        action(type="set_field", entity="opportunity", field="opportunity.amount", value="150000"), ctx
    )
    assert outcome.status == "done" and outcome.detail["changed"] is True
    assert deal["opportunity"].amount == Decimal("150000")
    (changed,) = events(session, "opportunity.amount_changed")
    assert changed.actor == SYSTEM.label
    won = actions.execute(
        action(type="set_field", entity="opportunity", field="stage", value="赢单"),
        make_ctx(session, deal["subject"], key="k-stage"),
    )
    assert won.status == "done", won.detail
    assert deal["opportunity"].status == "won" and len(events(session, "opportunity.won")) == 1
    tier = actions.execute(
        action(type="set_field", entity="account", field="tier", value="strategic"),
        make_ctx(session, deal["subject"], key="k-tier"),
    )
    assert tier.detail["before"] == "standard" and tier.detail["after"] == "strategic"
    (updated,) = [e for e in events(session, "account.updated") if "tier" in e.payload["after"]]
    assert updated.payload == {"before": {"tier": "standard"}, "after": {"tier": "strategic"}}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"entity": "spaceship", "field": "speed", "value": 1}, "spaceship"),
        ({"entity": "opportunity", "field": "warp_factor", "value": 1}, "opportunity.warp_factor"),
        ({"entity": "opportunity", "field": "status", "value": "won"}, "opportunity.status"),
        ({"entity": "account", "field": "tier", "value": "platinum"}, "account.tier"),
    ],
)
def test_set_field_refuses_unknown_entities_fields_and_values_without_retrying(
    session: Session, deal: dict[str, Any], data: dict[str, Any], named: str
) -> None:
    before = count(session, Event)
    outcome = actions.execute(action(type="set_field", **data), make_ctx(session, deal["subject"]))
    assert outcome.status == "failed" and outcome.retryable is False
    assert named in outcome.detail["reason"]
    assert count(session, Event) == before and count(session, ActionReceipt) == 0


def test_set_field_under_a_rule_owners_rights(session: Session, deal: dict[str, Any]) -> None:
    outsider = f.user(session, "out@example.com", team_obj=f.team(session, "West"), password=None)
    outcome = actions.execute(
        action(type="set_field", entity="opportunity", field="amount", value=1),
        make_ctx(session, deal["subject"], actor=f.actor(outsider)),
    )
    assert outcome.status == "failed" and outcome.detail["code"] == "not_found"


# --- push_content ----------------------------------------------------------------------------------


def test_push_content_sends_the_document_link_to_the_recipient(
    session: Session, deal: dict[str, Any]
) -> None:
    library = crm.create_record(
        session, actor=SYSTEM, spec=crm.SPECS["document"], data={"name": "DSA 病例包 Case pack"}
    )
    run, step = run_rows(session)
    push = action(
        type="push_content", content="dsa 病例包 case pack", to={"kind": "relation", "value": "owner"}
    )
    outcome = actions.execute(push, make_ctx(session, deal["subject"], run=run, step=step))
    assert outcome.status == "done", outcome.detail
    assert outcome.detail["found"]["document_id"] == library.id
    assert outcome.detail["sent"] == {"in_app": ["rep@example.com"]}
    assert outcome.detail["skipped_channels"] == {"email": "no SMTP connector configured"}
    (note,) = session.scalars(select(Notification))
    assert (
        note.user_id == deal["rep"].id and note.link == f"/documents/{library.id}" and note.run_id == run.id
    )
    assert "DSA 病例包 Case pack" in note.title
    wordy = actions.execute(
        action(
            type="push_content", content="the DSA 病例包 Case pack", to={"kind": "relation", "value": "owner"}
        ),
        make_ctx(session, deal["subject"], key="k-wordy", dry_run=True),
    )
    assert wordy.detail["found"]["document_id"] == library.id
    missing = actions.execute(
        action(type="push_content", content="不存在的资料", to={"kind": "relation", "value": "owner"}),
        make_ctx(session, deal["subject"], key="k-2"),
    )
    assert missing.status == "failed" and not missing.retryable and "不存在的资料" in missing.detail["reason"]


# --- notify, in-app only -----------------------------------------------------------------------------


def test_notify_in_app_once_per_person_in_their_language(session: Session, deal: dict[str, Any]) -> None:
    deal["manager"].locale = "en"
    notify = action(
        type="notify",
        recipients=[{"kind": "relation", "value": "owner"}, {"kind": "role", "value": "manager"}],
        channels=["in_app", "wecom"],
    )
    ctx = make_ctx(session, deal["subject"])
    outcome = actions.execute(notify, ctx)
    assert outcome.status == "done"
    assert outcome.detail["skipped_channels"] == {"wecom": "no wecom_robot connector configured"}
    notes = {note.user_id: note for note in session.scalars(select(Notification))}
    assert notes[deal["rep"].id].title.startswith("【Pathcast】") and notes[
        deal["manager"].id
    ].title.startswith("[Pathcast]")
    assert notes[deal["rep"].id].link == f"/opportunities/{deal['opportunity'].id}"
    assert actions.execute(notify, ctx).detail["replayed"] is True
    assert count(session, Notification) == 2
    nobody = action(type="notify", recipients=[{"kind": "role", "value": "物流"}])
    assert actions.execute(nobody, make_ctx(session, deal["subject"], key="k-3")).status == "skipped"


# --- create_meeting without mail ---------------------------------------------------------------------


def test_the_meeting_slot_is_the_next_working_day_at_ten_in_shanghai() -> None:
    friday_evening = datetime(2025, 7, 4, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
    slot, earlier = meeting_slot(friday_evening)
    assert slot.astimezone(OFFICE).isoformat() == "2025-07-07T10:00:00+08:00" and not earlier
    assert meeting_slot(friday_evening, timedelta(days=7)) == (slot, False)
    # within 24 hours of a Friday evening: Monday is too late, so the next hour instead
    soon, earlier = meeting_slot(friday_evening, timedelta(hours=24))
    assert earlier and friday_evening < soon <= friday_evening + timedelta(hours=24)
    tuesday_morning = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)
    assert meeting_slot(tuesday_morning)[0] == datetime(2025, 7, 2, 2, 0, tzinfo=UTC)


def test_create_meeting_books_one_activity_and_notifies_in_app_without_smtp(
    session: Session, deal: dict[str, Any]
) -> None:
    meeting = action(
        type="create_meeting",
        title="交付启动会",
        attendees=[{"kind": "relation", "value": "owner"}, {"kind": "role", "value": "manager"}],
        within="P7D",
        duration_minutes=90,
    )
    ctx = make_ctx(session, deal["subject"])
    outcome = actions.execute(meeting, ctx)
    assert outcome.status == "done", outcome.detail
    assert outcome.detail["invitations"] == "in_app_only" and "SMTP" in outcome.detail["invitations_reason"]
    booked = session.get(m.Activity, outcome.detail["activity_id"])
    assert booked is not None and booked.kind == "meeting" and booked.subject == "交付启动会"
    assert booked.owner_id == deal["rep"].id and booked.duration_minutes == 90
    assert booked.occurred_at == datetime(2025, 7, 2, 2, 0, tzinfo=UTC)
    assert booked.opportunity_id == deal["opportunity"].id
    assert count(session, Notification) == 2
    actions.execute(meeting, ctx)
    assert count(session, m.Activity, m.Activity.kind == "meeting") == 1 and count(session, Notification) == 2

"""The guardrail: AI insights are suggestions, and people stay in charge of decisions.

Every insight a model produces (a deal's risk flag, a suggested next step, a renewal risk)
is stored here as an ``Insight`` — a suggestion, never a decision. An admin can require a
rep's *written* verification before any insight enters a decision flow: a forecast
submission here, an approval in automation's inbox (which asks ``unverified_insights``).
Verifying or dismissing is an event, so who vouched for what, and why, is on the record.

This module is the only writer of ``Insight``, ``Submission`` and ``ForecastSetting``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team, User
from pathcast.auth.permissions import Actor, Operation, may
from pathcast.crm import models as crm_models
from pathcast.crm.service import readable_query, spec_for
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import EventDraft, append_event, react_to
from pathcast.forecast.models import ForecastSetting, Insight, InsightKind, PeriodKind, Submission

VERIFICATION_KEY = "require_verification"
MIN_NOTE_LENGTH = 10
# the risk band (from scoring's ``forecast.deal_risk_changed``) that raises a risk flag
HIGH_RISK = "high"


# --- reading ------------------------------------------------------------------------------------


def _require(actor: Actor, operation: Operation) -> None:
    if not may(actor, "forecast", operation):
        raise PermissionDenied(
            "forbidden_model" if operation == "read" else "forbidden_operation",
            entity="forecast",
            operation=operation,
        )


def _readable_clause(actor: Actor) -> ColumnElement[bool]:
    """Insights on deals and accounts the actor may read (crm's scoping, not a copy of it)."""
    deals = readable_query(actor, spec_for("opportunity")).with_only_columns(crm_models.Opportunity.id)
    accounts = readable_query(actor, spec_for("account")).with_only_columns(crm_models.Account.id)
    return or_(
        Insight.opportunity_id.in_(deals.scalar_subquery()),
        and_(Insight.opportunity_id.is_(None), Insight.account_id.in_(accounts.scalar_subquery())),
    )


def readable_insights(actor: Actor) -> Select[Any]:
    """The statement every read of insights starts from."""
    _require(actor, "read")
    return select(Insight).where(_readable_clause(actor))


def list_insights(
    session: Session,
    *,
    actor: Actor,
    opportunity_id: int | None = None,
    account_id: int | None = None,
    include_closed: bool = True,
    limit: int = 200,
) -> list[Insight]:
    """The actor's readable insights, newest first, optionally of one deal or account."""
    query = readable_insights(actor)
    if opportunity_id is not None:
        query = query.where(Insight.opportunity_id == opportunity_id)
    if account_id is not None:
        query = query.where(Insight.account_id == account_id)
    if not include_closed:
        query = query.where(Insight.verified_at.is_(None), Insight.dismissed_at.is_(None))
    return list(session.scalars(query.order_by(Insight.created_at.desc(), Insight.id.desc()).limit(limit)))


def get_insight(session: Session, *, actor: Actor, insight_id: int) -> Insight:
    """One insight the actor may read; a hidden one looks exactly like a missing one."""
    insight = session.scalars(readable_insights(actor).where(Insight.id == insight_id)).first()
    if insight is None:
        raise NotFound(entity="insight", id=insight_id)
    return insight


def insight_status(insight: Insight) -> str:
    """``open`` (awaiting a person), ``verified`` or ``dismissed``."""
    if insight.dismissed_at is not None:
        return "dismissed"
    if insight.verified_at is not None:
        return "verified"
    return "open"


def unverified_insights(
    session: Session, *, opportunity_id: int | None = None, account_id: int | None = None
) -> list[Insight]:
    """Open (neither verified nor dismissed) insights on a deal or an account, oldest first.

    System read for decision flows (automation's approvals): no caller scoping, the flow
    itself decides who sees the refusal. With neither id given there is nothing to check."""
    targets = []
    if opportunity_id is not None:
        targets.append(Insight.opportunity_id == opportunity_id)
    if account_id is not None:
        targets.append(Insight.account_id == account_id)
    if not targets:
        return []
    return list(
        session.scalars(
            select(Insight)
            .where(or_(*targets), Insight.verified_at.is_(None), Insight.dismissed_at.is_(None))
            .order_by(Insight.created_at, Insight.id)
        )
    )


# --- settings -----------------------------------------------------------------------------------


def verification_required(session: Session) -> bool:
    """Whether AI insights need a rep's written verification before a decision uses them."""
    setting = session.get(ForecastSetting, VERIFICATION_KEY)
    return bool(setting.value) if setting is not None else False


def set_verification_required(
    session: Session, *, actor: Actor, required: bool, at: datetime | None = None
) -> ForecastSetting:
    """Admin only: switch the verification requirement; appends ``forecast.setting_changed``."""
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    moment = at or utcnow()
    setting = session.get(ForecastSetting, VERIFICATION_KEY)
    before = bool(setting.value) if setting is not None else False
    created = setting is None
    if setting is None:
        setting = ForecastSetting(
            key=VERIFICATION_KEY, value=required, updated_at=moment, updated_by=actor.label
        )
        session.add(setting)
    else:
        setting.value, setting.updated_at, setting.updated_by = required, moment, actor.label
    session.flush()
    if created or before != required:
        append_event(
            session,
            type="forecast.setting_changed",
            entity="forecast_setting",
            entity_id=VERIFICATION_KEY,
            actor=actor.label,
            occurred_at=moment,
            payload={"key": VERIFICATION_KEY, "before": {"value": before}, "after": {"value": required}},
        )
    return setting


# --- insights -----------------------------------------------------------------------------------


def record_insight(
    session: Session,
    *,
    kind: str,
    text_en: str,
    text_zh: str,
    source: str,
    opportunity_id: int | None = None,
    account_id: int | None = None,
    at: datetime | None = None,
    actor_label: str = "forecast",
) -> Insight:
    """Store an AI-generated suggestion; appends ``forecast.insight_suggested``.

    Called by models and reactions (system work), so it takes no acting person; the event
    names the source ("win model v3", "renewal risk") as the actor."""
    if kind not in {member.value for member in InsightKind}:
        raise InvalidInput.single("kind", "unknown_insight_kind", value=kind)
    if opportunity_id is None and account_id is None:
        raise InvalidInput.single("opportunity_id", "insight_needs_subject")
    if opportunity_id is not None and account_id is None:
        deal = session.get(crm_models.Opportunity, opportunity_id)
        account_id = deal.account_id if deal is not None else None
    insight = Insight(
        kind=kind,
        opportunity_id=opportunity_id,
        account_id=account_id,
        text_en=text_en.strip(),
        text_zh=text_zh.strip(),
        source=source[:80],
        created_at=at or utcnow(),
    )
    session.add(insight)
    session.flush()
    append_event(
        session,
        type="forecast.insight_suggested",
        entity="forecast_insight",
        entity_id=insight.id,
        actor=actor_label,
        occurred_at=insight.created_at,
        payload={
            "kind": kind,
            "suggestion": True,
            "opportunity_id": opportunity_id,
            "account_id": account_id,
            "source": insight.source,
            "text_en": insight.text_en,
            "text_zh": insight.text_zh,
        },
    )
    return insight


def _team_of(session: Session, user_id: int | None) -> int | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.team_id if user is not None else None


def _manages(session: Session, actor: Actor, owner_id: int | None) -> bool:
    """The actor is a manager of the owner's team (its named manager or a manager in it)."""
    if actor.role is not Role.manager or actor.user_id is None:
        return False
    team_id = _team_of(session, owner_id)
    if team_id is None:
        return False
    if actor.team_id == team_id:
        return True
    team = session.get(Team, team_id)
    return team is not None and team.manager_id == actor.user_id


def may_vouch(session: Session, actor: Actor, insight: Insight) -> bool:
    """Only the rep who owns the deal (or the account) or their manager speaks for it."""
    owner_id: int | None = None
    if insight.opportunity_id is not None:
        deal = session.get(crm_models.Opportunity, insight.opportunity_id)
        owner_id = deal.owner_id if deal is not None else None
    elif insight.account_id is not None:
        account = session.get(crm_models.Account, insight.account_id)
        owner_id = account.owner_id if account is not None else None
        if owner_id is None:
            # An unowned (shared) account: any manager who can read it may speak for it.
            return actor.role is Role.manager
    if owner_id is not None and actor.user_id == owner_id:
        return True
    return _manages(session, actor, owner_id)


def _open_insight_for(session: Session, actor: Actor, insight_id: int) -> Insight:
    _require(actor, "update")
    insight = get_insight(session, actor=actor, insight_id=insight_id)
    if not may_vouch(session, actor, insight):
        raise PermissionDenied("not_insight_owner", id=insight_id)
    if insight_status(insight) != "open":
        raise Conflict("insight_closed", id=insight_id, status=insight_status(insight))
    return insight


def verify_insight(
    session: Session, *, actor: Actor, insight_id: int, note: str, at: datetime | None = None
) -> Insight:
    """A person vouches for a suggestion in writing; appends ``forecast.insight_verified``."""
    text = (note or "").strip()
    if len(text) < MIN_NOTE_LENGTH:
        raise InvalidInput.single("note", "verification_note_too_short", min=MIN_NOTE_LENGTH)
    insight = _open_insight_for(session, actor, insight_id)
    insight.verified_by_id = actor.user_id
    insight.verified_at = at or utcnow()
    insight.verification_note = text
    session.flush()
    append_event(
        session,
        type="forecast.insight_verified",
        entity="forecast_insight",
        entity_id=insight.id,
        actor=actor.label,
        occurred_at=insight.verified_at,
        payload={
            "kind": insight.kind,
            "opportunity_id": insight.opportunity_id,
            "account_id": insight.account_id,
            "verified_by": actor.user_id,
            "note": text,
        },
    )
    return insight


def dismiss_insight(
    session: Session, *, actor: Actor, insight_id: int, note: str | None = None, at: datetime | None = None
) -> Insight:
    """A person sets a suggestion aside; appends ``forecast.insight_dismissed``."""
    insight = _open_insight_for(session, actor, insight_id)
    insight.dismissed_at = at or utcnow()
    session.flush()
    text = note.strip() if note and note.strip() else None
    append_event(
        session,
        type="forecast.insight_dismissed",
        entity="forecast_insight",
        entity_id=insight.id,
        actor=actor.label,
        occurred_at=insight.dismissed_at,
        payload={
            "kind": insight.kind,
            "opportunity_id": insight.opportunity_id,
            "account_id": insight.account_id,
            "dismissed_by": actor.user_id,
            "note": text,
        },
    )
    return insight


def describe_insights(insights: list[Insight]) -> list[dict[str, Any]]:
    """Short descriptions of insights, for refusals that list what to verify first."""
    return [
        {
            "id": insight.id,
            "kind": insight.kind,
            "opportunity_id": insight.opportunity_id,
            "account_id": insight.account_id,
            "text_en": insight.text_en,
            "text_zh": insight.text_zh,
        }
        for insight in insights
    ]


def refuse_unverified(insights: list[Insight], *, code: str = "insights_unverified") -> None:
    """Raise the Conflict that lists the suggestions a decision must wait for."""
    if insights:
        ids = ", ".join(f"#{insight.id}" for insight in insights)
        raise Conflict(code, ids=ids, count=len(insights), insights=describe_insights(insights))


# --- forecast submissions -----------------------------------------------------------------------


def _period_ok(kind: str, start: date) -> bool:
    if start.day != 1:
        return False
    return kind == PeriodKind.month.value or start.month in (1, 4, 7, 10)


def _deal_owner_ids(session: Session, actor: Actor) -> list[int]:
    """Whose deals a submission speaks for: the rep's own, a manager's team's."""
    if actor.user_id is None:
        return []
    if actor.role is Role.manager and actor.team_id is not None:
        return list(session.scalars(select(User.id).where(User.team_id == actor.team_id)))
    return [actor.user_id]


def open_deal_insights(session: Session, *, actor: Actor) -> list[Insight]:
    """Open insights on the open deals a submission by ``actor`` would speak for."""
    owners = _deal_owner_ids(session, actor)
    if not owners:
        return []
    deals = select(crm_models.Opportunity.id).where(
        crm_models.Opportunity.owner_id.in_(owners),
        crm_models.Opportunity.status == crm_models.StageClass.open.value,
    )
    return list(
        session.scalars(
            select(Insight)
            .where(
                Insight.opportunity_id.in_(deals.scalar_subquery()),
                Insight.verified_at.is_(None),
                Insight.dismissed_at.is_(None),
            )
            .order_by(Insight.created_at, Insight.id)
        )
    )


def submit_forecast(
    session: Session,
    *,
    actor: Actor,
    period_kind: str,
    period_start: date,
    commit_amount: float,
    best_case_amount: float,
    note: str | None = None,
    at: datetime | None = None,
) -> Submission:
    """A rep's (or manager's) call for a period; appends ``forecast.submitted``.

    When the admin requires verification, open AI suggestions on the deals the call speaks
    for must be verified or dismissed first: the refusal lists them."""
    _require(actor, "create")
    if actor.user_id is None:
        raise PermissionDenied("forbidden")
    errors: list[FieldError] = []
    if period_kind not in {member.value for member in PeriodKind}:
        errors.append(FieldError("period_kind", "unknown_period_kind", {"value": period_kind}))
    elif not _period_ok(period_kind, period_start):
        errors.append(FieldError("period_start", "not_period_start", {"kind": period_kind}))
    if commit_amount < 0:
        errors.append(FieldError("commit_amount", "negative_amount"))
    if best_case_amount < 0:
        errors.append(FieldError("best_case_amount", "negative_amount"))
    if 0 <= best_case_amount < commit_amount:
        errors.append(FieldError("best_case_amount", "best_case_below_commit"))
    if errors:
        raise InvalidInput(errors)
    if verification_required(session):
        refuse_unverified(open_deal_insights(session, actor=actor))
    submission = Submission(
        user_id=actor.user_id,
        period_kind=period_kind,
        period_start=period_start,
        commit_amount=float(commit_amount),
        best_case_amount=float(best_case_amount),
        note=note.strip() if note and note.strip() else None,
        submitted_at=at or utcnow(),
    )
    session.add(submission)
    session.flush()
    append_event(
        session,
        type="forecast.submitted",
        entity="forecast_submission",
        entity_id=submission.id,
        actor=actor.label,
        occurred_at=submission.submitted_at,
        payload={
            "user_id": actor.user_id,
            "period_kind": period_kind,
            "period_start": period_start,
            "commit_amount": submission.commit_amount,
            "best_case_amount": submission.best_case_amount,
            "note": submission.note,
        },
    )
    return submission


def list_submissions(
    session: Session, *, actor: Actor, period_kind: str | None = None, limit: int = 200
) -> list[Submission]:
    """Submissions the actor may see: their own; a manager's team's; an admin's all."""
    _require(actor, "read")
    query = select(Submission)
    if not actor.is_admin:
        query = query.where(Submission.user_id.in_(_deal_owner_ids(session, actor) or [-1]))
    if period_kind is not None:
        query = query.where(Submission.period_kind == period_kind)
    return list(
        session.scalars(query.order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(limit))
    )


# --- reaction: a deal entering the high-risk band becomes a risk flag ----------------------------


def _driver_lines(drivers: Any, lang: str) -> list[str]:
    lines = []
    for driver in drivers if isinstance(drivers, list) else []:
        if isinstance(driver, dict) and driver.get(lang):
            lines.append(str(driver[lang]))
    return lines[:3]


def _percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "?"


@react_to("forecast.deal_risk_changed")
def flag_high_risk(session: Session, draft: EventDraft) -> None:
    """Scoring moved a deal into the high-risk band: record a risk flag (a suggestion)."""
    payload = draft.payload or {}
    if str(payload.get("risk") or "").lower() != HIGH_RISK:
        return
    if str(payload.get("previous_risk") or "").lower() == HIGH_RISK:
        return  # already in the band: flagged when it entered
    try:
        opportunity_id = int(payload.get("opportunity_id") or draft.entity_id)
    except (TypeError, ValueError):
        return
    if session.get(crm_models.Opportunity, opportunity_id) is None:
        return
    value, previous = _percent(payload.get("value")), _percent(payload.get("previous"))
    en_drivers, zh_drivers = (
        _driver_lines(payload.get("drivers"), "en"),
        _driver_lines(payload.get("drivers"), "zh"),
    )
    text_en = f"High risk: win probability {value} (was {previous})."
    text_zh = f"高风险：赢单概率 {value}（此前 {previous}）。"
    if en_drivers:
        text_en += " Main drivers: " + "; ".join(en_drivers) + "."
    if zh_drivers:
        text_zh += "主要因素：" + "；".join(zh_drivers) + "。"
    version = payload.get("model_version")
    record_insight(
        session,
        kind=InsightKind.risk_flag.value,
        text_en=text_en,
        text_zh=text_zh,
        source=f"win model v{version}" if version is not None else "win model",
        opportunity_id=opportunity_id,
        at=draft.occurred_at,
    )

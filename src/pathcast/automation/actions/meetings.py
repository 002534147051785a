"""``create_meeting``: book a meeting on the record and invite the attendees.

The meeting is a ``meeting`` Activity written through the CRM service (so it is an
event like any other), at the next working day's 10:00 Beijing time, or earlier when
the rule says "within 24 hours". Each attendee then gets an RFC 5545 invitation
(``METHOD:REQUEST``) by e-mail in their own language when an SMTP connector is
configured, and an in-app notification in any case.

Idempotency: the Activity is a part with its own receipt (``#activity``), so a retry
after a failed e-mail reuses the booked meeting and its time instead of booking a
second one; the invite's UID is derived from the idempotency key, so a calendar that
receives it twice updates one event.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pathcast.auth.models import User
from pathcast.automation import ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.automation.actions.notify import (
    Delivery,
    Letter,
    deliver_personal,
    find_connector,
    find_receipt,
    sender_address,
    write_receipt,
)
from pathcast.automation.models import Connector, ConnectorKind
from pathcast.crm import service as crm
from pathcast.errors import PathcastError

OFFICE = ZoneInfo("Asia/Shanghai")
MEETING_HOUR = 10
WORKDAY_START, WORKDAY_END = 9, 18

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "summary": "{title}（{label}）",
        "subject": "【会议邀请】{summary}",
        "when": "时间：{day} {start}–{end}（北京时间）",
        "record": "记录：{label}",
        "booked": "由规则「{rule}」安排。",
        "earlier": "为满足规则的时限，会议安排在 10:00 之前的最早时段。",
    },
    "en": {
        "summary": "{title} ({label})",
        "subject": "[Invitation] {summary}",
        "when": "When: {day} {start}–{end} (Beijing time, UTC+8)",
        "record": "Record: {label}",
        "booked": 'Booked by the rule "{rule}".',
        "earlier": "Booked at the earliest slot, not 10:00, to stay within the rule's time limit.",
    },
}


def meeting_slot(now: datetime, within: timedelta | None = None) -> tuple[datetime, bool]:
    """When to meet: the next working day (Mon-Fri) at 10:00 Asia/Shanghai, in UTC.

    When that is later than ``now + within``, the next whole hour of today's working
    hours (or the deadline itself) instead; the flag says the usual slot was given up.
    Public holidays are not known here: a rule booking over 国庆 books on a working day
    of the calendar, which the attendees can move.
    """
    local = now.astimezone(OFFICE)
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slot = datetime.combine(day, time(MEETING_HOUR), OFFICE)
    if within is None or slot <= now + within:
        return slot.astimezone(UTC), False
    deadline = now + within
    soon = (local + timedelta(minutes=30 + 59)).replace(minute=0, second=0, microsecond=0)
    if soon.hour < WORKDAY_START:
        soon = soon.replace(hour=WORKDAY_START)
    return min(soon.astimezone(UTC), deadline.astimezone(UTC)), True


# --- iCalendar ---------------------------------------------------------------------------------


def ics_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 3.1)."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _cn(name: str) -> str:
    # A parameter value with : ; , must be quoted; a DQUOTE cannot appear at all.
    return '"' + name.replace('"', "'") + '"'


def invite_uid(key: str) -> str:
    """The event's UID: the same booking always has the same UID."""
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@pathcast"


def ics_invite(
    *,
    uid: str,
    stamp: datetime,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    organizer: tuple[str, str],
    attendees: list[tuple[str, str]],
) -> str:
    """A VCALENDAR with one VEVENT, ``METHOD:REQUEST``: an invitation calendars can accept."""
    organizer_name, organizer_email = organizer
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Pathcast//Automation//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "SEQUENCE:0",
        f"DTSTAMP:{ics_time(stamp)}",
        f"DTSTART:{ics_time(start)}",
        f"DTEND:{ics_time(end)}",
        f"SUMMARY:{ics_text(summary)}",
        f"DESCRIPTION:{ics_text(description)}",
        "STATUS:CONFIRMED",
        f"ORGANIZER;CN={_cn(organizer_name)}:mailto:{organizer_email}",
    ]
    for name, email in attendees:
        lines.append(
            f"ATTENDEE;CN={_cn(name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{email}"
        )
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(ics_fold(line) for line in lines) + "\r\n"


# --- the action --------------------------------------------------------------------------------


def _lang_texts(lang: str) -> dict[str, str]:
    return TEXTS["en" if lang == "en" else "zh-CN"]


def _composer(
    ctx: ActionContext,
    action: ir.CreateMeetingAction,
    *,
    label: str,
    link: str | None,
    start: datetime,
    end: datetime,
    earlier: bool,
    attendees: list[User],
    smtp: Connector | None,
) -> Any:
    local_start, local_end = start.astimezone(OFFICE), end.astimezone(OFFICE)

    def compose(user: User, lang: str) -> Letter:
        words = _lang_texts(lang)
        summary = words["summary"].format(title=action.title, label=label)
        lines = [
            summary,
            words["when"].format(
                day=local_start.strftime("%Y-%m-%d"),
                start=local_start.strftime("%H:%M"),
                end=local_end.strftime("%H:%M"),
            ),
            words["record"].format(label=label),
            words["booked"].format(rule=ctx.rule_name),
        ]
        if earlier:
            lines.append(words["earlier"])
        if link:
            lines.append(link)
        calendar = None
        if smtp is not None:
            calendar = ics_invite(
                uid=invite_uid(ctx.idempotency_key),
                stamp=ctx.now,
                start=start,
                end=end,
                summary=summary,
                description="\n".join(lines[1:]),
                organizer=(str((smtp.config or {}).get("from_name", "Pathcast")), sender_address(smtp)),
                attendees=[(person.name, person.email) for person in attendees],
            )
        return Letter(words["subject"].format(summary=summary), "\n".join(lines), link, calendar)

    return compose


def create_meeting(action: ir.CreateMeetingAction, ctx: ActionContext) -> Outcome:
    """Book the meeting Activity once, then invite each attendee (ICS by e-mail when possible)."""
    session = ctx.session
    attendees = recipients.resolve_all(session, action.attendees, ctx.subject)
    detail: dict[str, Any] = {
        "title": action.title,
        "attendees": [recipients.describe(recipient) for recipient in action.attendees],
        "users": [user.email for user in attendees],
    }
    if not attendees:
        return Outcome("skipped", {**detail, "reason": "no recipient", "reason_zh": "没有匹配的参会人"})
    scope = recipients.load_scope(session, ctx.subject)
    label = recipients.subject_label(session, ctx.subject, scope)
    link = recipients.subject_link(ctx.subject, scope)
    within = ir.parse_duration(action.within) if action.within else None
    booked = find_receipt(session, ctx.idempotency_key, "activity")
    if booked is not None:
        start = datetime.fromisoformat(booked.detail["starts_at"])
        earlier = bool(booked.detail.get("earlier"))
    else:
        start, earlier = meeting_slot(ctx.now, within)
    end = start + timedelta(minutes=action.duration_minutes)
    detail |= {
        "owner": attendees[0].email,
        "starts_at": start.isoformat(),
        "starts_at_local": start.astimezone(OFFICE).isoformat(),
        "ends_at": end.isoformat(),
    }
    if earlier:
        detail["earlier_than_usual"] = True
    smtp = find_connector(session, ConnectorKind.smtp.value)
    detail["invitations"] = "email_ics_and_in_app" if smtp is not None else "in_app_only"
    if smtp is None:
        detail["invitations_reason"] = "no SMTP connector configured: invitations sent in-app only"
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True})
    if booked is not None:
        detail["activity_id"] = booked.detail["activity_id"]
    else:
        try:
            activity = crm.create_record(
                session,
                actor=ctx.actor,
                spec=crm.SPECS["activity"],
                data={
                    "kind": "meeting",
                    "subject": action.title[:300],
                    "body": f"{ctx.rule_name} · {label}",
                    "account_id": scope.account_id,
                    "contact_id": scope.contact_id,
                    "opportunity_id": scope.opportunity_id,
                    "owner_id": attendees[0].id,
                    "occurred_at": start,
                    "duration_minutes": action.duration_minutes,
                },
            )
        except PathcastError as error:
            return Outcome(
                "failed",
                {**detail, "reason": f"could not book the meeting: {error.code}", "params": error.params},
            )
        detail["activity_id"] = activity.id
        write_receipt(
            ctx,
            "create_meeting",
            {"activity_id": activity.id, "starts_at": start.isoformat(), "earlier": earlier},
            "activity",
        )
    compose = _composer(
        ctx,
        action,
        label=label,
        link=link,
        start=start,
        end=end,
        earlier=earlier,
        attendees=attendees,
        smtp=smtp,
    )
    delivery = Delivery()
    deliver_personal(ctx, attendees, compose, ["in_app", "email"], delivery, kind="create_meeting")
    outcome = delivery.outcome(detail)
    if outcome.status == "skipped":
        # the meeting itself is booked: that is the action's effect, whatever the invitations did
        outcome.status = "done"
    return outcome

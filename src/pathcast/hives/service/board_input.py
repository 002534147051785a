"""Checking the board's input: every problem becomes a FieldError naming its field, so a
form or an API call learns about all of them at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pathcast.errors import FieldError
from pathcast.hives import models as m
from pathcast.hives.service.access import is_member

NAME_MAX = 300
DURATION_MAX = 3650
# A plan more than ten years from the hive's start is a typo, not a plan.
SPAN_MAX = timedelta(days=3650)


def invalid(errors: list[FieldError], name: str, message: str) -> None:
    errors.append(FieldError(name, "invalid", {"message": message}))


def name_of(value: Any, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError("name", "missing"))
        return ""
    clean = " ".join(value.split())
    if len(clean) > NAME_MAX:
        invalid(errors, "name", f"at most {NAME_MAX} characters")
    return clean


def day(value: Any, name: str, errors: list[FieldError], hive: m.Hive) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            errors.append(FieldError(name, "date_invalid", {"value": value}))
            return None
    if not isinstance(value, date):
        errors.append(FieldError(name, "date_invalid", {"value": str(value)}))
        return None
    if abs(value - hive.start_date) > SPAN_MAX:
        invalid(errors, name, "within ten years of the hive's start")
        return None
    return value


def duration(value: Any, errors: list[FieldError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= DURATION_MAX:
        invalid(errors, "duration_days", f"a whole number of days from 0 to {DURATION_MAX}")
        return 0
    return value


def function_of(value: Any, errors: list[FieldError]) -> str | None:
    if value is None or value == "":
        return None
    if value not in m.FUNCTIONS:
        invalid(errors, "function", f"one of {', '.join(m.FUNCTIONS)}")
        return None
    return str(value)


def owner_of(session: Session, hive: m.Hive, value: Any, errors: list[FieldError]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not is_member(session, hive.id, value):
        invalid(errors, "owner_id", "a member of this hive")
        return None
    return value


def hive_task(
    session: Session, hive: m.Hive, value: Any, name: str, errors: list[FieldError]
) -> m.Task | None:
    """A task of this hive named by id (a task of another hive is refused, never linked)."""
    task = session.get(m.Task, value) if isinstance(value, int) and not isinstance(value, bool) else None
    if task is None or task.hive_id != hive.id:
        invalid(errors, name, f"task {value} is not on this hive's board")
        return None
    return task

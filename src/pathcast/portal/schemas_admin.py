"""API shapes of courses, certificates and data requests (the portal's admin slice).

Every field of a ``*Read`` schema carries its export class, like crm's: the customer
views (``TeamMemberRead``, ``PortalRequestRead``) are built from the
``customer_visible`` fields only (``pathcast.schemas.fields_of_class``), and a test
checks that they hold exactly those.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from pathcast.schemas import CUSTOMER, INTERNAL, RETAINED, ProjectBase

NAME_MAX = 200
TEXT_MAX = 4000
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"

RequestKind = Literal["access", "portability", "correction", "deletion"]
RequestStatus = Literal["open", "in_progress", "done", "refused"]
CertificateStatus = Literal["valid", "expiring", "expired", "in_progress"]


# --- courses and enrollments --------------------------------------------------------------


class CourseCreate(ProjectBase):
    """A new course; ``valid_months`` empty: its certificates do not expire."""

    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=NAME_MAX)
    name_en: str = Field(min_length=1, max_length=NAME_MAX)
    valid_months: int | None = Field(default=None, ge=1, le=240)
    customer_visible: bool = True


class CourseUpdate(ProjectBase):
    """Changes to a course; fields left out stay as they are. ``archived`` retires it."""

    code: str | None = Field(default=None, pattern=CODE_PATTERN)
    name_zh: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    name_en: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    valid_months: int | None = Field(default=None, ge=1, le=240)
    customer_visible: bool | None = None
    archived: bool | None = None


class CourseRead(ProjectBase):
    """A stored course."""

    id: int = INTERNAL
    code: str = CUSTOMER
    name_zh: str = CUSTOMER
    name_en: str = CUSTOMER
    valid_months: int | None = CUSTOMER
    customer_visible: bool = INTERNAL
    archived: bool = INTERNAL


class EnrollmentSave(ProjectBase):
    """A person's progress in a course and, once passed, the certificate."""

    user_id: int = Field(ge=1, le=MAX_ID)
    course_id: int = Field(ge=1, le=MAX_ID)
    progress: int = Field(default=0, ge=0, le=100)
    certified_on: date | None = None
    certificate_no: str | None = Field(default=None, max_length=80)


class EnrollmentRead(ProjectBase):
    """A stored enrollment; ``expires_on`` is derived from the course's ``valid_months``."""

    id: int = INTERNAL
    user_id: int = INTERNAL
    course_id: int = INTERNAL
    progress: int = CUSTOMER
    certified_on: date | None = CUSTOMER
    expires_on: date | None = CUSTOMER
    certificate_no: str | None = CUSTOMER
    updated_at: datetime = RETAINED


class CertificateRead(ProjectBase):
    """One course of a rep as the customer sees it: the course's and the enrollment's
    customer-visible fields, and the certificate's status on the day asked."""

    code: str
    name_zh: str
    name_en: str
    valid_months: int | None
    progress: int
    certified_on: date | None
    expires_on: date | None
    certificate_no: str | None
    status: CertificateStatus
    days_left: int | None


class TeamMemberRead(ProjectBase):
    """A person who serves the account: their name, their roles on it (``owner``, or the
    position names of the account team) and their customer-visible courses."""

    name: str
    roles: list[str]
    certificates: list[CertificateRead]
    training: list[CertificateRead]


# --- data requests --------------------------------------------------------------------------


class RequestCreate(ProjectBase):
    """A data request the customer files."""

    kind: RequestKind
    detail: str = Field(default="", max_length=TEXT_MAX)


class RequestChange(ProjectBase):
    """A status change by an admin; ``done`` and ``refused`` need a resolution."""

    status: RequestStatus
    resolution: str = Field(default="", max_length=TEXT_MAX)


class DataRequestRead(ProjectBase):
    """A stored data request; ``overdue``: past its due date and not closed."""

    id: int = CUSTOMER
    account_id: int = CUSTOMER
    kind: str = CUSTOMER
    status: str = CUSTOMER
    detail: str = CUSTOMER
    received_at: datetime = CUSTOMER
    due_on: date = CUSTOMER
    closed_at: datetime | None = CUSTOMER
    resolution: str = CUSTOMER
    overdue: bool = CUSTOMER
    requested_by: int | None = RETAINED
    handled_by: int | None = INTERNAL


class PortalRequestRead(ProjectBase):
    """A data request as its customer sees it: the ``customer_visible`` fields of
    ``DataRequestRead`` (a test keeps the two in step)."""

    id: int
    account_id: int
    kind: str
    status: str
    detail: str
    received_at: datetime
    due_on: date
    closed_at: datetime | None
    resolution: str
    overdue: bool

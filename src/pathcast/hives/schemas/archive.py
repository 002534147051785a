"""Hive I/O shapes, archive: the message archive (filing, moving, search)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from pathcast.schemas import INTERNAL, RETAINED, ProjectBase


class FilingReasonRead(ProjectBase):
    """Why a message was filed where it is: one kind of evidence and its weight."""

    kind: Annotated[str, INTERNAL]
    weight: Annotated[float, INTERNAL]
    en: Annotated[str, INTERNAL]
    zh: Annotated[str, INTERNAL]


class HiveMessageRead(ProjectBase):
    """A message filed into a hive, with why it was filed there."""

    id: Annotated[int, RETAINED]
    hive_id: Annotated[int, RETAINED]
    activity_id: Annotated[int | None, RETAINED]
    channel: Annotated[str, INTERNAL]
    thread: Annotated[str | None, INTERNAL]
    subject: Annotated[str, INTERNAL]
    sender: Annotated[str, INTERNAL]
    participants: Annotated[list[str], INTERNAL]
    body: Annotated[str, INTERNAL]
    attachments: Annotated[list[dict[str, Any]], INTERNAL]
    sent_at: Annotated[datetime, INTERNAL]
    reasons: Annotated[list[FilingReasonRead], INTERNAL]
    score: Annotated[float, INTERNAL]
    filed_by: Annotated[str, INTERNAL]
    filed_at: Annotated[datetime, RETAINED]


class MessageHitRead(ProjectBase):
    """A search hit: the message and a snippet around the first matched word."""

    message: Annotated[HiveMessageRead, INTERNAL]
    hive_name: Annotated[str, INTERNAL]
    snippet: Annotated[str, INTERNAL]


class FilingCandidateRead(ProjectBase):
    """A hive the filer weighed, and its score."""

    hive_id: Annotated[int, INTERNAL]
    score: Annotated[float, INTERNAL]


class FilingResultRead(ProjectBase):
    """What the filer did with a message: filed (where, with which score and reasons) or not
    (``outcome`` says why: below the threshold, no open hive, nothing to file)."""

    filed: Annotated[bool, INTERNAL]
    outcome: Annotated[str, INTERNAL]
    message_id: Annotated[int | None, RETAINED] = None
    hive_id: Annotated[int | None, INTERNAL] = None
    score: Annotated[float, INTERNAL] = 0.0
    threshold: Annotated[float, INTERNAL] = 0.0
    reasons: Annotated[list[FilingReasonRead], INTERNAL] = Field(default_factory=list)
    candidates: Annotated[list[FilingCandidateRead], INTERNAL] = Field(default_factory=list)


class MessageMove(ProjectBase):
    """``POST /hives/messages/{id}/move``: the hive the message belongs in."""

    to_hive_id: int = Field(gt=0)


class MessageFile(ProjectBase):
    """``POST /hives/messages/file`` (admins): file an existing crm message activity."""

    activity_id: int = Field(gt=0)

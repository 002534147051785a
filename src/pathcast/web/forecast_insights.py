"""Pages: AI suggestions on a deal (risk flags, next steps) and their verification."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""Forecast API under ``/api/v1/forecast``: one router per concern, composed here."""

from fastapi import APIRouter

from pathcast.forecast.api import annotations, guardrail, renewal, revenue, scoring

router = APIRouter(prefix="/forecast")
for part in (scoring, annotations, revenue, renewal, guardrail):
    router.include_router(part.router)

__all__ = ["router"]

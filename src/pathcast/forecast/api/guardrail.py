"""Forecast API: guardrail (see pathcast.forecast.service.guardrail)."""

from fastapi import APIRouter

router = APIRouter(tags=["forecast"])

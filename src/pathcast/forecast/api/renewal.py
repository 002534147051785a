"""Forecast API: renewal (see pathcast.forecast.service.renewal)."""

from fastapi import APIRouter

router = APIRouter(tags=["forecast"])

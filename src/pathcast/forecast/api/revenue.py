"""Forecast API: revenue (see pathcast.forecast.service.revenue)."""

from fastapi import APIRouter

router = APIRouter(tags=["forecast"])

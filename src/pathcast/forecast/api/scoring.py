"""Forecast API: scoring (see pathcast.forecast.service.scoring)."""

from fastapi import APIRouter

router = APIRouter(tags=["forecast"])

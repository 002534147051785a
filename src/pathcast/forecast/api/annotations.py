"""Forecast API: annotations (see pathcast.forecast.service.annotations)."""

from fastapi import APIRouter

router = APIRouter(tags=["forecast"])

"""Forecasts: what history says about the future (lead scoring now; the pipeline forecast follows)."""

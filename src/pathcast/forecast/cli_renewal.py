"""``pathcast forecast …`` commands registered on forecast_app (imported by cli)."""

from __future__ import annotations

"""Reps' annotations on demo deals (filled in by the forecast work)."""

from __future__ import annotations

from pathcast.demo.context import DealResult, Demo


def deal_annotations(demo: Demo, result: DealResult) -> None:
    """Write the context notes a rep would have left on this deal while it was open."""
    return None

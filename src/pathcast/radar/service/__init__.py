"""Radar services: the only code that writes radar tables.

Split by use case: ``sources`` (configuration, polling, de-duplication and health).
"""

from pathcast.radar.service import sources

__all__ = ["sources"]

"""Pathcast (推演): sales management that deduces the path, not only the number."""

__version__ = "0.1.0"

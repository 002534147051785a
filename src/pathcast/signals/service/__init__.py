"""Signals services: the only code that writes signals tables.

Split by use case: ``collect`` (the tracking hot path), ``identity`` (visitor →
contact), ``consent`` (the threshold), ``features`` (rolling figures), ``messages``
(connectors' inbound messages) and ``sites`` (configuration).
"""

from pathcast.signals.service import collect, consent, features, identity, messages, sites

__all__ = ["collect", "consent", "features", "identity", "messages", "sites"]

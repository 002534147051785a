"""Behaviour signals: first-party tracking, identity, the consent threshold, message
connectors and rolling behaviour features. See docs/signals.md."""

"""Who may use the intent language and read rule history.

Compiling reveals the vocabulary (stage names, assets, positions); a dry-run replays
the whole event log. Both are for the people who write rules and the sellers who read
them, never for delivery members or customers' own contacts.
"""

from __future__ import annotations

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.errors import PermissionDenied


def require_rule_right(actor: Actor, operation: Operation) -> None:
    """Refuse unless the actor's role grants ``operation`` on rules."""
    if not may(actor, "rule", operation):
        if operation == "read":
            raise PermissionDenied("forbidden_model", entity="rule")
        raise PermissionDenied("forbidden_operation", entity="rule", operation=operation)

"""Automation services: rules (versioned, scoped, enabled by event) and the human inbox.

The engine that runs rules lives in ``pathcast.automation.engine``.
"""

from pathcast.automation.service.inbox import decide, get_item, open_items
from pathcast.automation.service.rules import (
    RuleSummary,
    create_rule,
    current_ir,
    disable_rule,
    enable_rule,
    get_rule,
    get_run,
    get_version,
    list_rules,
    list_runs,
    readable_rules,
    rule_versions,
    update_rule,
)

__all__ = [
    "RuleSummary",
    "create_rule",
    "current_ir",
    "decide",
    "disable_rule",
    "enable_rule",
    "get_item",
    "get_rule",
    "get_run",
    "get_version",
    "list_rules",
    "list_runs",
    "open_items",
    "readable_rules",
    "rule_versions",
    "update_rule",
]

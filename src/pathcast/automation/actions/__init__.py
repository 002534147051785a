"""Action adapters: one side effect per rule action, run by the engine inside the run's transaction.

``execute`` is the only entry point the engine uses::

    outcome = actions.execute(action_ir, ctx)

It keeps the two rules every adapter shares:

* **dry-run** (``ctx.dry_run``): the handler resolves whom and what it would address and
  returns that description; nothing is written or sent, no receipt is read or kept;
* **idempotency**: if an ``ActionReceipt`` exists for ``ctx.idempotency_key`` the recorded
  outcome is returned and nothing happens again. A ``done`` outcome writes the receipt in
  the run's transaction: with the effect itself when it is local (a task, a tag, a field),
  right after the remote call when it is not (handlers that send to several people keep
  a receipt per part, so a retry resends only what failed).

``require_approval`` and ``require_confirmation`` are flow, not side effects: the engine
handles them and they are refused here. ``add_member`` adds people to the account's team
and to the account's active hive (see ``members`` and ``hives``); ``create_hive`` opens a
task hive from a template (``hives``); ``generate_plan`` compiles today and answers
``not_available`` until its package exists.
"""

from __future__ import annotations

from typing import Any

from pathcast.automation import ir

# Submodules by name (not their functions), so ``actions.notify`` stays the module.
from pathcast.automation.actions import hives, meetings, members, notify, records, webhook
from pathcast.automation.actions.base import ActionContext, Handler, Outcome, Subject
from pathcast.automation.actions.notify import find_receipt, write_receipt

ENGINE_HANDLED = frozenset({"require_approval", "require_confirmation"})

NOT_AVAILABLE_REASONS: dict[str, tuple[str, str]] = {
    "generate_plan": (
        "plans (playbooks) are not available yet: no plan was generated",
        "方案生成（playbooks）尚未上线：未生成方案",
    ),
}


def _not_available(action: Any, ctx: ActionContext) -> Outcome:
    """The action names a package that does not exist yet: say so, plainly, in both languages."""
    reason, reason_zh = NOT_AVAILABLE_REASONS[action.type]
    detail: dict[str, Any] = {"action": action.type, "reason": reason, "reason_zh": reason_zh}
    if ctx.dry_run:
        detail["dry_run"] = True
    return Outcome("not_available", detail)


HANDLERS: dict[str, Handler] = {
    "notify": notify.notify,
    "create_task": records.create_task,
    "create_meeting": meetings.create_meeting,
    "tag": records.tag,
    "set_field": records.set_field,
    "push_content": records.push_content,
    "webhook": webhook.webhook,
    "add_member": members.add_member,
    "create_hive": hives.create_hive_action,
    "generate_plan": _not_available,
}


def execute(action: ir.Action, ctx: ActionContext) -> Outcome:
    """Perform one action once (or, in a dry-run, describe it); see the module docstring."""
    kind = action.type
    if kind in ENGINE_HANDLED:
        # a programming error in the caller, reported as a failure rather than a crash of the worker
        return Outcome("failed", {"action": kind, "reason": f"{kind} is a flow step the engine handles"})
    handler = HANDLERS.get(kind)
    if handler is None:
        return Outcome("failed", {"action": kind, "reason": f"no adapter for action {kind!r}"})
    if ctx.dry_run:
        return handler(action, ctx)
    receipt = find_receipt(ctx.session, ctx.idempotency_key)
    if receipt is not None:
        recorded = receipt.detail or {}
        return Outcome(recorded.get("status", "done"), {**recorded.get("detail", {}), "replayed": True})
    outcome = handler(action, ctx)
    if outcome.status == "done":
        write_receipt(ctx, kind, {"status": outcome.status, "detail": outcome.detail})
    return outcome


__all__ = ["HANDLERS", "ActionContext", "Outcome", "Subject", "execute"]

"""Form helpers shared by the hive board panels (board, risks): the typed values and the
message beside each field, whole numbers typed in a form, the answer after a write, and the
members offered as owners or addressees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.errors import FieldError
from pathcast.hives.service.hives import members_of
from pathcast.web.forms import is_htmx, message
from pathcast.web.lookups import user_names
from pathcast.web.rendering import PageContext


@dataclass
class PanelForm:
    """A panel's form as typed and the message beside each field ("" for the form)."""

    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, form_name: str, field_name: str) -> str:
        """The message for ``field_name`` when this is the form that was refused."""
        return self.errors.get(field_name, "") if self.name == form_name else ""

    def value(self, form_name: str, field_name: str) -> str:
        """What was typed in ``field_name`` when this is the form that was refused."""
        return self.values.get(field_name, "") if self.name == form_name else ""


def field_messages(page: PageContext, errors: list[FieldError], fields: tuple[str, ...]) -> dict[str, str]:
    """The sentence beside each field, in the viewer's language ("" for the others)."""
    found: dict[str, str] = {}
    for error in errors:
        name = error.field if error.field in fields else ""
        if error.code == "task_cycle":
            text = page.t("hives_board.errors.cycle", tasks=error.params.get("tasks", ""))
        elif error.code == "missing":
            text = page.t("errors.field.missing")
        elif page.fmt.has(f"hives_board.errors.{error.field}") and error.code != "date_invalid":
            text = page.t(f"hives_board.errors.{error.field}")
        else:
            text = message(error, page.locale)
        found.setdefault(name, text)
    return found


def whole(text: str, name: str, errors: list[FieldError], *, required: bool = False) -> int | None:
    """A whole number typed in a form (blank is None), or a FieldError naming ``name``."""
    clean = text.strip()
    if not clean:
        if required:
            errors.append(FieldError(name, "missing"))
        return None
    if clean.isascii() and clean.isdigit() and len(clean) < 10:
        return int(clean)
    errors.append(FieldError(name, "integer_invalid", {"value": clean}))
    return None


def panel_done(page: PageContext, hive_id: int, anchor: str, again: Callable[[], Response]) -> Response:
    """After an accepted write: the panel again for htmx, else back to the hive page (303)."""
    if not is_htmx(page.request):
        return RedirectResponse(f"/hives/{hive_id}#{anchor}", status_code=303)
    return again()


def member_choices(session: Session, hive_id: int) -> list[tuple[int, str, str]]:
    """``(user id, name, function)`` of a hive's members, for owner and addressee selects."""
    members = members_of(session, hive_id)
    names = user_names(session, [member.user_id for member in members])
    return [(mb.user_id, names.get(mb.user_id, f"#{mb.user_id}"), mb.function) for mb in members]

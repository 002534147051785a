"""The project base schema, export classes and reusable field types.

Every field of every ``*Read`` schema says who may take it away: ``customer_visible``
(the customer sees and exports it), ``internal`` (never leaves the company) or
``system_retained`` (kept for integrity or law; listed in exports, never exported as
content). The portal, exports and grants read this, not hand-written lists.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.fields import FieldInfo

from pathcast.db import StrEnum


class ExportClass(StrEnum):
    customer_visible = "customer_visible"
    internal = "internal"
    system_retained = "system_retained"


EXPORT_CLASS_KEY = "x-export-class"


def exported(export_class: ExportClass) -> Any:
    """A field marker carrying the export class (also shown in the OpenAPI schema)."""
    return Field(json_schema_extra={EXPORT_CLASS_KEY: export_class.value})


CUSTOMER = exported(ExportClass.customer_visible)
INTERNAL = exported(ExportClass.internal)
RETAINED = exported(ExportClass.system_retained)


class ProjectBase(BaseModel):
    """Base of every schema: reads ORM objects, forbids unknown input fields."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)


def export_class_of(field: FieldInfo) -> ExportClass | None:
    """The export class declared on a schema field, if any."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and EXPORT_CLASS_KEY in extra:
        return ExportClass(str(extra[EXPORT_CLASS_KEY]))
    return None


def export_classes(schema: type[BaseModel]) -> dict[str, ExportClass | None]:
    """Each field of ``schema`` with its export class (None where one is missing)."""
    return {name: export_class_of(info) for name, info in schema.model_fields.items()}


def fields_of_class(schema: type[BaseModel], *classes: ExportClass) -> list[str]:
    """The names of ``schema``'s fields whose export class is one of ``classes``."""
    return [name for name, cls in export_classes(schema).items() if cls in classes]


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ShortStr = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[Decimal, Field(max_digits=16, decimal_places=2, ge=0)]
Probability = Annotated[int, Field(ge=0, le=100)]

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the cursor for the next page (None at the end)."""

    items: list[ItemT]
    next_cursor: str | None = None
    total: int

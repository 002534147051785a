"""Every field a Read schema exposes says who may take it away (its export class)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pathcast.auth import schemas as auth_schemas
from pathcast.crm import schemas as crm_schemas
from pathcast.crm.service import SPECS
from pathcast.schemas import ExportClass, export_classes, fields_of_class

READ_SCHEMAS = sorted(
    {spec.read_schema for spec in SPECS.values()}
    | {
        crm_schemas.StageChangeRead,
        crm_schemas.FieldChangeRead,
        crm_schemas.DocumentVersionRead,
        auth_schemas.UserRead,
        auth_schemas.TeamRead,
    },
    key=lambda schema: schema.__name__,
)


@pytest.mark.parametrize("schema", READ_SCHEMAS, ids=lambda schema: schema.__name__)
def test_every_read_field_has_an_export_class(schema: type[BaseModel]) -> None:
    missing = [name for name, cls in export_classes(schema).items() if cls is None]
    assert not missing, f"{schema.__name__} fields without export class: {missing}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_model_column_is_covered_by_its_read_schema(name: str) -> None:
    spec = SPECS[name]
    schema = spec.read_schema
    columns = {column.key for column in spec.model.__table__.columns}
    assert columns <= set(schema.model_fields), columns - set(schema.model_fields)


def test_internal_notes_are_internal() -> None:
    assert "notes" in fields_of_class(crm_schemas.AccountRead, ExportClass.internal)
    assert "description" in fields_of_class(crm_schemas.OpportunityRead, ExportClass.internal)
    assert "external_id" in fields_of_class(crm_schemas.AccountRead, ExportClass.system_retained)

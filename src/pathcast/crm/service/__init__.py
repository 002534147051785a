"""CRM services: the only code that writes CRM tables, each write with its Event.

Split by use case; import the functions from here.
"""

from pathcast.crm.service.opportunities import (
    change_stage,
    create_opportunity,
    field_history,
    stage_history,
    update_opportunity,
)
from pathcast.crm.service.pipelines import default_pipeline, ensure_default_pipeline, stages_of
from pathcast.crm.service.quotes import (
    add_quote_line,
    create_quote,
    delete_quote_line,
    update_quote,
    update_quote_line,
)
from pathcast.crm.service.records import (
    create_record,
    delete_record,
    get_readable,
    get_writable,
    list_records,
    readable_query,
    snapshot,
    update_record,
)
from pathcast.crm.service.registry import SPECS, EntitySpec, spec_for

__all__ = [
    "SPECS",
    "EntitySpec",
    "add_quote_line",
    "change_stage",
    "create_opportunity",
    "create_quote",
    "create_record",
    "default_pipeline",
    "delete_quote_line",
    "delete_record",
    "ensure_default_pipeline",
    "field_history",
    "get_readable",
    "get_writable",
    "list_records",
    "readable_query",
    "snapshot",
    "spec_for",
    "stage_history",
    "stages_of",
    "update_opportunity",
    "update_quote",
    "update_quote_line",
    "update_record",
]

"""What the generic record service needs to know about each CRM entity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pathcast.crm import models as m
from pathcast.crm import schemas as s
from pathcast.errors import NotFound
from pathcast.schemas import ProjectBase


@dataclass(frozen=True)
class EntitySpec:
    """One CRM entity: its table, schemas, and which columns list queries may use."""

    name: str
    plural: str
    model: type[Any]
    read_schema: type[ProjectBase]
    create_schema: type[ProjectBase]
    update_schema: type[ProjectBase]
    searchable: tuple[str, ...] = ()
    filterable: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ("id", "created_at", "updated_at")
    default_sort: str = "id"
    # foreign keys to check for existence and visibility: column -> entity name
    references: dict[str, str] = field(default_factory=dict)

    @property
    def has_owner(self) -> bool:
        return hasattr(self.model, "owner_id")


_COMMON_SORT = ("id", "created_at", "updated_at")

SPECS: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in [
        EntitySpec(
            "pipeline",
            "pipelines",
            m.Pipeline,
            s.PipelineRead,
            s.PipelineCreate,
            s.PipelineUpdate,
            searchable=("name",),
            filterable=("name", "is_default"),
            sortable=(*_COMMON_SORT, "name"),
        ),
        EntitySpec(
            "stage",
            "stages",
            m.Stage,
            s.StageRead,
            s.StageCreate,
            s.StageUpdate,
            searchable=("name", "name_zh", "key"),
            filterable=("pipeline_id", "key", "status_class"),
            sortable=(*_COMMON_SORT, "position", "probability"),
            default_sort="position",
            references={"pipeline_id": "pipeline"},
        ),
        EntitySpec(
            "account",
            "accounts",
            m.Account,
            s.AccountRead,
            s.AccountCreate,
            s.AccountUpdate,
            searchable=("name", "industry", "city", "region"),
            filterable=(
                "name",
                "industry",
                "tier",
                "region",
                "country",
                "city",
                "parent_id",
                "owner_id",
                "external_source",
                "external_id",
                "employees",
                "annual_revenue",
            ),
            sortable=(*_COMMON_SORT, "name", "industry", "tier", "employees", "annual_revenue"),
            references={"parent_id": "account", "owner_id": "user"},
        ),
        EntitySpec(
            "contact",
            "contacts",
            m.Contact,
            s.ContactRead,
            s.ContactCreate,
            s.ContactUpdate,
            searchable=("name", "email", "title", "department", "phone"),
            filterable=("account_id", "owner_id", "email", "title", "external_source", "external_id"),
            sortable=(*_COMMON_SORT, "name", "email"),
            references={"account_id": "account", "owner_id": "user"},
        ),
        EntitySpec(
            "product",
            "products",
            m.Product,
            s.ProductRead,
            s.ProductCreate,
            s.ProductUpdate,
            searchable=("name", "code", "family"),
            filterable=("code", "family", "is_active", "currency", "list_price", "external_id"),
            sortable=(*_COMMON_SORT, "name", "code", "list_price"),
        ),
        EntitySpec(
            "price_list",
            "price_lists",
            m.PriceList,
            s.PriceListRead,
            s.PriceListCreate,
            s.PriceListUpdate,
            searchable=("name",),
            filterable=("currency", "is_default"),
            sortable=(*_COMMON_SORT, "name"),
        ),
        EntitySpec(
            "price_list_item",
            "price_list_items",
            m.PriceListItem,
            s.PriceListItemRead,
            s.PriceListItemCreate,
            s.PriceListItemUpdate,
            filterable=("price_list_id", "product_id"),
            references={"price_list_id": "price_list", "product_id": "product"},
        ),
        EntitySpec(
            "opportunity",
            "opportunities",
            m.Opportunity,
            s.OpportunityRead,
            s.OpportunityCreate,
            s.OpportunityUpdate,
            searchable=("name", "lead_source"),
            filterable=(
                "account_id",
                "contact_id",
                "pipeline_id",
                "stage_id",
                "status",
                "forecast_category",
                "owner_id",
                "amount",
                "currency",
                "expected_close_date",
                "closed_at",
                "opened_at",
                "lead_source",
                "external_source",
                "external_id",
            ),
            sortable=(
                *_COMMON_SORT,
                "name",
                "amount",
                "expected_close_date",
                "closed_at",
                "opened_at",
                "stage_changed_at",
            ),
            references={
                "account_id": "account",
                "contact_id": "contact",
                "owner_id": "user",
                "stage_id": "stage",
                "pipeline_id": "pipeline",
            },
        ),
        EntitySpec(
            "opportunity_line",
            "opportunity_lines",
            m.OpportunityLine,
            s.OpportunityLineRead,
            s.OpportunityLineCreate,
            s.OpportunityLineUpdate,
            filterable=("opportunity_id", "product_id"),
            references={"opportunity_id": "opportunity", "product_id": "product"},
        ),
        EntitySpec(
            "quote",
            "quotes",
            m.Quote,
            s.QuoteRead,
            s.QuoteCreate,
            s.QuoteUpdate,
            searchable=("number",),
            filterable=("opportunity_id", "status", "owner_id", "valid_until"),
            sortable=(*_COMMON_SORT, "number", "total", "valid_until"),
            references={"opportunity_id": "opportunity", "owner_id": "user"},
        ),
        EntitySpec(
            "quote_line",
            "quote_lines",
            m.QuoteLine,
            s.QuoteLineRead,
            s.QuoteLineCreate,
            s.QuoteLineUpdate,
            filterable=("quote_id", "product_id"),
            references={"quote_id": "quote", "product_id": "product"},
        ),
        EntitySpec(
            "activity",
            "activities",
            m.Activity,
            s.ActivityRead,
            s.ActivityCreate,
            s.ActivityUpdate,
            searchable=("subject", "body"),
            filterable=(
                "kind",
                "account_id",
                "contact_id",
                "opportunity_id",
                "owner_id",
                "due_at",
                "done_at",
                "occurred_at",
            ),
            sortable=(*_COMMON_SORT, "due_at", "done_at", "occurred_at"),
            references={
                "account_id": "account",
                "contact_id": "contact",
                "opportunity_id": "opportunity",
                "owner_id": "user",
            },
        ),
        EntitySpec(
            "contract",
            "contracts",
            m.Contract,
            s.ContractRead,
            s.ContractCreate,
            s.ContractUpdate,
            searchable=("number",),
            filterable=(
                "account_id",
                "opportunity_id",
                "status",
                "owner_id",
                "start_date",
                "end_date",
                "renewal_date",
                "value",
            ),
            sortable=(*_COMMON_SORT, "start_date", "end_date", "renewal_date", "value"),
            references={"account_id": "account", "opportunity_id": "opportunity", "owner_id": "user"},
        ),
        EntitySpec(
            "subscription",
            "subscriptions",
            m.Subscription,
            s.SubscriptionRead,
            s.SubscriptionCreate,
            s.SubscriptionUpdate,
            filterable=("contract_id", "product_id", "is_active", "renewal_date", "start_date", "end_date"),
            sortable=(*_COMMON_SORT, "start_date", "renewal_date", "annual_value"),
            references={"contract_id": "contract", "product_id": "product"},
        ),
        EntitySpec(
            "ticket",
            "tickets",
            m.Ticket,
            s.TicketRead,
            s.TicketCreate,
            s.TicketUpdate,
            searchable=("subject", "description"),
            filterable=(
                "account_id",
                "contact_id",
                "severity",
                "status",
                "owner_id",
                "opened_at",
                "resolved_at",
            ),
            sortable=(*_COMMON_SORT, "opened_at", "resolved_at", "severity"),
            references={"account_id": "account", "contact_id": "contact", "owner_id": "user"},
        ),
        EntitySpec(
            "document",
            "documents",
            m.Document,
            s.DocumentRead,
            s.DocumentCreate,
            s.DocumentUpdate,
            searchable=("name", "kind"),
            filterable=("account_id", "opportunity_id", "kind", "audience", "owner_id"),
            sortable=(*_COMMON_SORT, "name"),
            references={"account_id": "account", "opportunity_id": "opportunity", "owner_id": "user"},
        ),
    ]
}


def spec_for(name: str) -> EntitySpec:
    """The spec of an entity by its event name (``account``) or plural (``accounts``)."""
    if name in SPECS:
        return SPECS[name]
    for spec in SPECS.values():
        if spec.plural == name:
            return spec
    raise NotFound("unknown_entity", entity=name)

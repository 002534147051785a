"""Built-in mappings for Salesforce and HubSpot CSV exports, and detecting which one a
file is from its header.

Salesforce: the API-name layouts of Data Loader and the weekly Data Export service
(``Account.csv``, ``Contact.csv``, ``Opportunity.csv``). 15-character ids are stored in
their 18-character form, so files that mix the two still link. ``Probability`` is not
imported (the stage carries it); ``Type`` has no field in Pathcast.

HubSpot: the CRM's "Export" of companies, contacts and deals, with their English
column labels. Only the first of several "Associated Company IDs" is linked. Every
deal lands in Pathcast's default pipeline whatever its HubSpot "Pipeline" column says.

Stage names map to the default pipeline's stages by the synonyms in
``convert.STAGE_SYNONYMS`` (Closed Won -> won, appointmentscheduled -> qualified, ...);
an unknown stage rejects the row.
"""

from __future__ import annotations

from pathcast.crm.importers.base import CsvTable, ImportInputError
from pathcast.crm.importers.mapping import ColumnMapping

US_DATES = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p")


def _layout(
    label: str, entity: str, source: str, external_id: tuple[str, ...], columns: dict[str, tuple[str, ...]]
) -> ColumnMapping:
    return ColumnMapping(
        entity=entity,
        source=source,
        external_id=external_id,
        columns=columns,
        date_formats=US_DATES,
        label=label,
        strict=False,
    )


SALESFORCE = {
    "account": _layout(
        "Salesforce Account",
        "account",
        "salesforce",
        ("Id",),
        {
            "name": ("Name",),
            "industry": ("Industry",),
            "city": ("BillingCity", "ShippingCity"),
            "region": ("BillingState", "ShippingState"),
            "country": ("BillingCountry", "ShippingCountry"),
            "website": ("Website",),
            "employees": ("NumberOfEmployees",),
            "annual_revenue": ("AnnualRevenue",),
            "parent": ("ParentId",),
            "owner": ("OwnerId",),
            "notes": ("Description",),
        },
    ),
    "contact": _layout(
        "Salesforce Contact",
        "contact",
        "salesforce",
        ("Id",),
        {
            "first_name": ("FirstName",),
            "last_name": ("LastName",),
            "email": ("Email",),
            "phone": ("Phone", "MobilePhone"),
            "title": ("Title",),
            "department": ("Department",),
            "account": ("AccountId",),
            "owner": ("OwnerId",),
            "notes": ("Description",),
        },
    ),
    "opportunity": _layout(
        "Salesforce Opportunity",
        "opportunity",
        "salesforce",
        ("Id",),
        {
            "name": ("Name",),
            "account": ("AccountId",),
            "contact": ("ContactId",),
            "stage": ("StageName",),
            "amount": ("Amount",),
            "expected_close_date": ("CloseDate",),
            "forecast_category": ("ForecastCategoryName", "ForecastCategory"),
            "currency": ("CurrencyIsoCode",),
            "created_at": ("CreatedDate",),
            "lead_source": ("LeadSource",),
            "owner": ("OwnerId",),
            "description": ("Description",),
        },
    ),
}

HUBSPOT = {
    "account": _layout(
        "HubSpot companies",
        "account",
        "hubspot",
        ("Record ID", "Company ID"),
        {
            "name": ("Company name", "Name"),
            "industry": ("Industry",),
            "city": ("City",),
            "region": ("State/Region",),
            "country": ("Country/Region", "Country"),
            "employees": ("Number of Employees",),
            "annual_revenue": ("Annual Revenue",),
            "owner": ("Company owner",),
            "website": ("Website URL", "Company Domain Name"),
            "notes": ("Description",),
        },
    ),
    "contact": _layout(
        "HubSpot contacts",
        "contact",
        "hubspot",
        ("Record ID", "Contact ID"),
        {
            "first_name": ("First Name",),
            "last_name": ("Last Name",),
            "email": ("Email",),
            "phone": ("Phone Number", "Mobile Phone Number"),
            "title": ("Job Title",),
            "account": ("Associated Company IDs", "Associated Company ID"),
            "account_name": ("Company Name", "Associated Company"),
            "owner": ("Contact owner",),
        },
    ),
    "opportunity": _layout(
        "HubSpot deals",
        "opportunity",
        "hubspot",
        ("Record ID", "Deal ID"),
        {
            "name": ("Deal Name",),
            "stage": ("Deal Stage",),
            "amount": ("Amount",),
            "expected_close_date": ("Close Date",),
            "created_at": ("Create Date",),
            "owner": ("Deal owner",),
            "account": ("Associated Company IDs", "Associated Company ID"),
            "account_name": ("Associated Company",),
            "currency": ("Currency", "Deal currency code"),
            "description": ("Deal Description",),
        },
    ),
}


def detect_layout(format: str, table: CsvTable) -> ColumnMapping:
    """The built-in mapping whose export ``table`` is, told apart by its header."""
    has = table.has
    if format == "salesforce":
        if has("Id") and has("StageName"):
            return SALESFORCE["opportunity"]
        if has("Id") and has("LastName"):
            return SALESFORCE["contact"]
        if has("Id") and has("Name"):
            return SALESFORCE["account"]
        expected = "Id with Name (Account), LastName (Contact) or StageName (Opportunity)"
    elif format == "hubspot":
        record_id = has("Record ID") or has("Deal ID") or has("Contact ID") or has("Company ID")
        if record_id and has("Deal Name"):
            return HUBSPOT["opportunity"]
        if record_id and (has("Last Name") or has("First Name")):
            return HUBSPOT["contact"]
        if record_id and (has("Company name") or has("Name")):
            return HUBSPOT["account"]
        expected = "Record ID with Company name (companies), First/Last Name (contacts) or Deal Name (deals)"
    else:
        raise ImportInputError(f"unknown layout {format!r}")
    shown = ", ".join(table.header[:8]) + (", ..." if len(table.header) > 8 else "")
    raise ImportInputError(
        f"{table.name}: not a recognisable {format} export; expected columns {expected}; found: {shown}"
    )

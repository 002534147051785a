"""Re-import a Pathcast ZIP export into this instance (``pathcast import pathcast-export``).

The file is checked against its ``manifest.json`` first: an altered, missing or extra
file refuses the whole import (naming it), since a partial copy of someone's data is worse
than none. Then every record is created through crm's services (the only writers, each
write with its event), parents before children, old ids mapped to the new ones.

What crosses instances and what does not:

* references inside the export (the contact of an activity, the document of a version,
  the contract of a subscription, the quote of a line) are mapped to the new records;
* references to records an export never holds (owners, i.e. users of the old instance;
  a parent account; products) cannot be mapped and are cleared;
* quotes hang off deals, and deals are never exported (internal pipeline): each old deal
  id referenced by a quote or an activity gets one placeholder deal in the default
  pipeline, so the quotes can exist and stay grouped as they were;
* an export carries version *metadata*, not file content: each version is recreated with
  a placeholder text of the recorded size that says so (filename, type, note and date
  kept). The content must be carried over separately.

Idempotent: the account (and contacts, placeholder deals) carry ``external_source =
"pathcast-export"`` and ``external_id = <old id>``; every other record is matched by its
exported content within the account, so importing the same file twice creates nothing
the second time. A row that cannot be imported is reported (dataset, row, reason) and
the rest kept (each row in its own savepoint).
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import schemas as crm_schemas
from pathcast.crm import service as crm
from pathcast.crm.service import documents as crm_documents
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event, buffered_events, events_savepoint
from pathcast.portal.export_format import MANIFEST, VerifyReport, project, verify_manifest
from pathcast.portal.service.exports import SOURCES, export_datasets

EXTERNAL_SOURCE = "pathcast-export"
#: Datasets in the order they are created (parents first).
ORDER = ("contacts", "activities", "tickets", "documents", "document_versions", "contracts",
         "subscriptions", "quotes", "quote_lines")  # fmt: skip
#: Reference fields that point inside the export, and to which dataset.
REFS: dict[str, dict[str, str]] = {
    "accounts": {},
    "contacts": {"account_id": "accounts"},
    "activities": {"account_id": "accounts", "contact_id": "contacts", "opportunity_id": "deals"},
    "tickets": {"account_id": "accounts", "contact_id": "contacts"},
    "documents": {"account_id": "accounts"},
    "document_versions": {"document_id": "documents"},
    "contracts": {"account_id": "accounts"},
    "subscriptions": {"contract_id": "contracts"},
    "quotes": {"opportunity_id": "deals"},
    "quote_lines": {"quote_id": "quotes"},
}
#: References to records no export holds (users, other accounts, products): cleared.
UNMAPPABLE = frozenset({"owner_id", "parent_id", "product_id"})
#: Values the services compute themselves (a version count, a quote's total).
DERIVED: dict[str, frozenset[str]] = {
    "documents": frozenset({"current_version"}),
    "quotes": frozenset({"total"}),
}
SCHEMAS: dict[str, type[BaseModel]] = {
    "accounts": crm_schemas.AccountRead,
    **{source.name: source.schema for source in SOURCES},
}


class ImportRefused(Exception):
    """The file is not an intact Pathcast ZIP export; nothing was written."""

    def __init__(self, message: str, report: VerifyReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class Reimport:
    """What an import did: per dataset created / already present, and the rejected rows."""

    export_id: str
    source_account_id: int
    account_id: int | None = None
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    existing: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "source_account_id": self.source_account_id,
            "account_id": self.account_id,
            "created": dict(self.created),
            "existing": dict(self.existing),
            "rejected": self.rejected,
            "notes": self.notes,
        }


@cache
def _adapter(dataset: str, name: str) -> TypeAdapter[Any]:
    annotation = SCHEMAS[dataset].model_fields[name].annotation
    return TypeAdapter(annotation if annotation is not None else Any)


def _key(dataset: str, row: dict[str, Any]) -> str:
    """What identifies a record within the account: its exported content without ids,
    unmappable references or computed values (references already in new ids)."""
    skip = {"id"} | UNMAPPABLE | DERIVED.get(dataset, frozenset())
    return json.dumps({k: v for k, v in row.items() if k not in skip}, sort_keys=True, default=str)


def read_export(path: str | Path | IO[bytes]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Verify the ZIP against its manifest, then read its manifest and datasets."""
    report = verify_manifest(path)
    if report.error:
        raise ImportRefused(f"not a readable Pathcast export: {report.error}", report)
    if not report.ok:
        names = [*report.altered, *report.missing, *report.unexpected]
        raise ImportRefused("the export does not match its manifest: " + ", ".join(names), report)
    if not isinstance(path, str | Path):
        path.seek(0)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        data: dict[str, list[dict[str, Any]]] = {}
        for entry in manifest["files"]:
            name = str(entry["name"]).removesuffix(".json")
            if name in SCHEMAS:
                data[name] = json.loads(archive.read(entry["name"]))
    if len(data.get("accounts", [])) != 1:
        raise ImportRefused("the export holds no account (accounts.json must have one row)")
    return manifest, data


class _Importer:
    def __init__(self, session: Session, actor: Actor, result: Reimport) -> None:
        self.session = session
        self.actor = actor
        self.result = result
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)
        self.present: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.cleared: dict[str, int] = defaultdict(int)

    # --- values ---------------------------------------------------------------------

    def values(self, dataset: str, row: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The row's typed values for the service (ids mapped) and its match key."""
        mapped: dict[str, Any] = {}
        for name, raw in row.items():
            if name == "id" or name not in SCHEMAS[dataset].model_fields:
                continue
            target = REFS[dataset].get(name)
            if target is not None and raw is not None:
                if int(raw) not in self.ids[target]:
                    raise InvalidInput.single(name, "unknown_reference", entity=target, id=raw)
                mapped[name] = self.ids[target][int(raw)]
            elif name in UNMAPPABLE:
                if raw is not None:
                    self.cleared[f"{dataset}.{name}"] += 1
                mapped[name] = None
            else:
                mapped[name] = raw
        key = _key(dataset, mapped)
        typed = {}
        for name, raw in mapped.items():
            try:
                typed[name] = _adapter(dataset, name).validate_python(raw)
            except ValidationError as error:
                raise InvalidInput.single(name, "invalid", detail=error.errors()[0]["msg"]) from None
        return typed, key

    def index_existing(self, account_id: int) -> None:
        """What the account already holds, by match key (a second import matches it)."""
        datasets, _ = export_datasets(self.session, self.actor, account_id)
        for dataset in datasets:
            for record in dataset.records:
                row = project(dataset.schema, record)
                self.present[dataset.name][_key(dataset.name, row)].append(row["id"])

    # --- writing --------------------------------------------------------------------

    def account(self, row: dict[str, Any]) -> int:
        old_id = int(row["id"])
        spec = crm.SPECS["account"]
        found = self.session.scalar(
            crm.readable_query(self.actor, spec).where(
                m.Account.external_source == EXTERNAL_SOURCE, m.Account.external_id == str(old_id)
            )
        )
        if found is not None:
            self.result.existing["accounts"] += 1
            new_id = int(found.id)
            self.index_existing(new_id)
        else:
            values, _ = self.values("accounts", row)
            values.update(external_source=EXTERNAL_SOURCE, external_id=str(old_id))
            new_id = int(crm.create_record(self.session, actor=self.actor, spec=spec, data=values).id)
            self.result.created["accounts"] += 1
        self.ids["accounts"][old_id] = new_id
        return new_id

    def deals(self, data: dict[str, list[dict[str, Any]]], account_id: int, name: str) -> None:
        """One placeholder deal per old deal id that a quote or an activity points to."""
        wanted = sorted(
            {int(r["opportunity_id"]) for ds in ("activities", "quotes") for r in data.get(ds, [])
             if r.get("opportunity_id") is not None}
        )  # fmt: skip
        if not wanted:
            return
        crm.ensure_default_pipeline(self.session, actor=self.actor)
        spec = crm.SPECS["opportunity"]
        for old_id in wanted:
            found = self.session.scalar(
                crm.readable_query(self.actor, spec).where(
                    m.Opportunity.external_source == EXTERNAL_SOURCE,
                    m.Opportunity.external_id == str(old_id),
                )
            )
            if found is None:
                found = crm.create_opportunity(
                    self.session,
                    actor=self.actor,
                    data={
                        "name": f"{name} · imported deal {old_id}",
                        "account_id": account_id,
                        "external_source": EXTERNAL_SOURCE,
                        "external_id": str(old_id),
                    },
                )
                self.result.created["deals"] += 1
            self.ids["deals"][old_id] = int(found.id)

    def row(self, dataset: str, row: dict[str, Any], account_name: str) -> None:
        values, key = self.values(dataset, row)
        matches = self.present[dataset].get(key)
        if matches:
            self.ids[dataset][int(row["id"])] = matches.pop(0)
            self.result.existing[dataset] += 1
            return
        new_id = CREATORS[dataset](self, values, row, account_name)
        self.ids[dataset][int(row["id"])] = new_id
        self.result.created[dataset] += 1

    def create(self, entity: str, values: dict[str, Any]) -> int:
        return int(crm.create_record(self.session, actor=self.actor, spec=crm.SPECS[entity], data=values).id)


def _record(entity: str) -> Callable[[_Importer, dict[str, Any], dict[str, Any], str], int]:
    def create(importer: _Importer, values: dict[str, Any], _row: dict[str, Any], _name: str) -> int:
        return importer.create(entity, values)

    return create


def _contact(importer: _Importer, values: dict[str, Any], row: dict[str, Any], _name: str) -> int:
    values.update(external_source=EXTERNAL_SOURCE, external_id=str(row["id"]))
    return importer.create("contact", values)


def _document(importer: _Importer, values: dict[str, Any], _row: dict[str, Any], _name: str) -> int:
    values.pop("current_version", None)  # the versions imported next set it
    return importer.create("document", values)


def placeholder_content(values: dict[str, Any], export_id: str) -> bytes:
    """The stand-in for a version's file, which no export carries: a note of the recorded size."""
    text = (
        f"Pathcast export {export_id}: the content of {values['filename']} (version {values['version']}, "
        f"{values['content_type']}, {values['size_bytes']} bytes) is not part of an account export. "
        "Upload the original file as a new version.\n"
    ).encode()
    size = max(int(values["size_bytes"]), 1)
    return text[:size].ljust(size, b" ")


def _version(importer: _Importer, values: dict[str, Any], _row: dict[str, Any], _name: str) -> int:
    document = crm.get_writable(
        importer.session, importer.actor, crm.SPECS["document"], values["document_id"]
    )
    if document.current_version + 1 != values["version"]:
        raise Conflict("version_out_of_order", entity="document", id=document.id)
    version = crm_documents.add_document_version(
        importer.session,
        actor=importer.actor,
        document=document,
        filename=values["filename"],
        content=placeholder_content(values, importer.result.export_id),
        content_type=values["content_type"],
        note=values.get("note"),
        occurred_at=values.get("created_at"),
    )
    return int(version.id)


def _quote(importer: _Importer, values: dict[str, Any], _row: dict[str, Any], _name: str) -> int:
    values.pop("total", None)  # recomputed from the lines
    return int(crm.create_quote(importer.session, actor=importer.actor, data=values).id)


def _quote_line(importer: _Importer, values: dict[str, Any], _row: dict[str, Any], _name: str) -> int:
    return int(crm.add_quote_line(importer.session, actor=importer.actor, data=values).id)


CREATORS: dict[str, Callable[[_Importer, dict[str, Any], dict[str, Any], str], int]] = {
    "contacts": _contact,
    "activities": _record("activity"),
    "tickets": _record("ticket"),
    "documents": _document,
    "document_versions": _version,
    "contracts": _record("contract"),
    "subscriptions": _record("subscription"),
    "quotes": _quote,
    "quote_lines": _quote_line,
}


def _reason(error: Exception) -> str:
    if isinstance(error, InvalidInput):
        return "; ".join(f"{e.field}: {e.code}" for e in error.errors)
    if isinstance(error, IntegrityError):
        return f"conflict with a record already here: {error.orig}"
    return f"{type(error).__name__}: {error}"


def import_export(session: Session, actor: Actor, path: str | Path | IO[bytes]) -> Reimport:
    """Import a verified ZIP export in the caller's transaction (the caller commits).

    Raises ``ImportRefused`` (nothing written) for a file that fails verification or an
    unusable account row, and crm's ``PermissionDenied`` if the actor may not create
    accounts.
    """
    manifest, data = read_export(path)
    source = data["accounts"][0]
    result = Reimport(export_id=str(manifest.get("export_id")), source_account_id=int(source["id"]))
    importer = _Importer(session, actor, result)
    with buffered_events(session):
        try:
            account_id = importer.account(source)
        except InvalidInput as error:
            raise ImportRefused(f"the account row cannot be imported: {_reason(error)}") from None
        result.account_id = account_id
        importer.deals(data, account_id, str(source.get("name")))
        for dataset in ORDER:
            for number, row in enumerate(data.get(dataset, []), start=1):
                try:
                    with events_savepoint(session):
                        importer.row(dataset, row, str(source.get("name")))
                except (
                    InvalidInput,
                    NotFound,
                    Conflict,
                    PermissionDenied,
                    IntegrityError,
                    KeyError,
                    ValueError,
                ) as error:
                    result.rejected.append(
                        {"dataset": dataset, "row": number, "id": row.get("id"), "reason": _reason(error)}
                    )
        result.notes = [
            f"{name}: {count} cleared (no such record here)" for name, count in importer.cleared.items()
        ]
        append_event(
            session,
            type="account.imported",
            entity="account",
            entity_id=account_id,
            actor=actor.label,
            payload={
                "export_id": result.export_id,
                "source_account_id": result.source_account_id,
                "created": dict(result.created),
                "existing": dict(result.existing),
                "rejected": len(result.rejected),
            },
        )
    return result

"""CRM importers: CSV exports of other systems into accounts, contacts and deals.

Formats: ``generic`` (any CSV with a column mapping file, see ``mapping``),
``salesforce`` and ``hubspot`` (their export layouts, see ``layouts``), and ``maven``
(the Maven CRM sample dataset, see ``maven``). Every write goes through the CRM and
auth services, so each change has its Event; see ``writer`` for chunking, savepoints
and how re-imports stay free of duplicates and of needless events.

``run_import`` is the one entry point (the CLI and the benchmarks call it)::

    report = run_import("sqlite:///data/pathcast.db", format="maven", paths=["../shared/datasets/maven_crm"])
    print(report.as_dict())
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.config import get_settings
from pathcast.crm.importers.base import (
    EntityCounts,
    ImportInputError,
    ImportReport,
    Progress,
    Reject,
    check_encoding,
    default_rejects_path,
    read_table,
    write_rejects,
)
from pathcast.crm.importers.generic import import_bound
from pathcast.crm.importers.layouts import detect_layout
from pathcast.crm.importers.mapping import BoundMapping, choose_mapping, load_mapping_file
from pathcast.crm.importers.maven import MavenImport, classify, maven_files
from pathcast.crm.importers.writer import Importer
from pathcast.db import session_factory, write_intent
from pathcast.events import buffered_events

FORMATS = ("generic", "salesforce", "hubspot", "maven")

__all__ = [
    "FORMATS",
    "EntityCounts",
    "ImportInputError",
    "ImportReport",
    "Progress",
    "Reject",
    "run_import",
]


def run_import(
    target: Session | str | None = None,
    *,
    format: str,
    paths: Sequence[str | Path],
    mapping_path: str | Path | None = None,
    dry_run: bool = False,
    encoding: str | None = None,
    rejects_path: str | Path | None = None,
    progress: Progress | None = None,
    chunk_size: int = 500,
) -> ImportReport:
    """Import CSV files and return what happened.

    ``target`` is a database URL, an open Session, or None for the configured database.
    A Session is committed after each chunk of ``chunk_size`` rows (a dry run rolls it
    back instead); with a URL the importer opens and closes its own. Every input is read
    and checked before anything is written: unusable input raises ImportInputError.
    Rejected rows are written to ``rejects_path`` (default ``<first input>.rejects.csv``).
    """
    started = time.perf_counter()
    if format not in FORMATS:
        raise ImportInputError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    if not paths:
        raise ImportInputError("no input files given")
    inputs = [Path(path) for path in paths]
    for path in inputs:
        if not path.exists():
            raise ImportInputError(f"file not found: {path}")
        if path.is_dir() and format != "maven":
            raise ImportInputError(
                f"{path} is a folder; give the CSV files (folders only for --format maven)"
            )
    if encoding is not None and encoding.lower() != "auto":
        check_encoding(encoding)
    else:
        encoding = None
    if format == "generic" and mapping_path is None:
        raise ImportInputError("--format generic needs --mapping FILE (JSON or TOML)")
    mappings = load_mapping_file(Path(mapping_path)) if mapping_path is not None else None

    files = maven_files(inputs) if format == "maven" else inputs
    tables = [read_table(path, encoding) for path in files]
    report = ImportReport(format=format, dry_run=dry_run)
    for table in tables:
        report.encodings[table.name] = table.encoding
        if table.note:
            report.notes.append(table.note)
        report.rows_read += len(table.rows) + len({r.row_number for r in table.rejects})

    bound: list[BoundMapping] = []
    maven_tables = None
    if format == "maven":
        maven_tables = classify(tables)
    else:
        for table in tables:
            mapping = choose_mapping(mappings, table) if mappings else detect_layout(format, table)
            bound.append(mapping.bind(table))

    actor = Actor.system(f"import:{format}")
    with write_intent():
        session = target if isinstance(target, Session) else session_factory(target)()
        try:
            importer = Importer(
                session, actor=actor, report=report, dry_run=dry_run, chunk_size=chunk_size, progress=progress
            )
            # Events are written in one batch per chunk commit, not four statements each.
            with buffered_events(session):
                if maven_tables is not None:
                    MavenImport(importer, maven_tables).run()
                else:
                    import_bound(importer, bound)
                importer.finish()
        except BaseException:
            session.rollback()
            raise
        finally:
            if not isinstance(target, Session):
                session.close()

    path = Path(rejects_path) if rejects_path else default_rejects_path(inputs[0], get_settings().data_dir)
    # a clean run still empties the rejects file of an earlier run, so it cannot mislead
    if report.rejects or rejects_path is not None or path.exists():
        write_rejects(path, report.rejects)
        report.rejects_path = path
    report.elapsed_seconds = time.perf_counter() - started
    return report

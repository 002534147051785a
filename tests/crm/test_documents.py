"""Document versions: content stored once by SHA-256, a version row and an event per upload,
and the usual refusals (other team, read-only role, bad input)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.config import get_settings
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, get_writable
from pathcast.crm.service.documents import (
    add_document_version,
    content_path,
    document_versions,
    read_content,
)
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event, state_as_of, verify_chain
from tests import factories as f

PDF = b"%PDF-1.4\n% a tiny proposal\n%%EOF\n"
CSV = "项目,衡远,竞品A\n导丝通过性,优,良\n".encode()


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    """Two teams; an account and a proposal document owned by the east rep."""
    people = f.two_teams(session)
    east_rep = f.actor(people["east_rep"])
    account = f.account(session, east_rep, name="北京仁和医院", owner_id=people["east_rep"].id)
    document = create_record(
        session,
        actor=east_rep,
        spec=SPECS["document"],
        data={"name": "方案建议书 Proposal", "kind": "proposal", "account_id": account.id},
    )
    session.commit()
    return {**people, "account": account, "document": document}


def _store() -> Path:
    return get_settings().data_dir / "documents"


def test_a_version_is_stored_by_sha256_and_bumps_the_current_version(
    session: Session,
    world: dict[str, Any],
) -> None:
    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    first = add_document_version(
        session,
        actor=rep,
        document=document,
        filename="proposal-r1.pdf",
        content=PDF,
        content_type="application/pdf",
        note="first issue",
    )
    second = add_document_version(
        session,
        actor=rep,
        document=document,
        filename="proposal-r2.pdf",
        content=PDF + b"% rev 2\n",
        content_type="application/pdf",
    )
    session.commit()

    assert (first.version, second.version) == (1, 2)
    assert document.current_version == 2
    assert first.sha256 == hashlib.sha256(PDF).hexdigest()
    assert first.size_bytes == len(PDF) and first.created_by_id == world["east_rep"].id
    assert content_path(first.sha256) == _store() / first.sha256
    assert (_store() / first.sha256).read_bytes() == PDF
    assert read_content(second) == PDF + b"% rev 2\n"
    assert [v.version for v in document_versions(session, document.id)] == [1, 2]

    events = session.scalars(
        select(Event).where(Event.type == "document.version_added").order_by(Event.id)
    ).all()
    assert [e.payload["after"]["current_version"] for e in events] == [1, 2]
    assert events[0].payload["version"]["sha256"] == first.sha256
    assert events[0].actor == f"user:{world['east_rep'].id}"
    assert verify_chain(session).ok


def test_historical_versions_carry_their_time_for_as_of_reads(
    session: Session, world: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    then = datetime(2024, 3, 1, 2, 30, tzinfo=UTC)
    version = add_document_version(
        session,
        actor=rep,
        document=document,
        filename="sheet.csv",
        content=CSV,
        content_type="text/csv",
        occurred_at=then,
    )
    session.commit()
    assert version.created_at == then
    state = state_as_of(session, "document", document.id, then)
    assert state is not None and state["current_version"] == 1


def test_identical_content_is_stored_once(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    other = create_record(
        session,
        actor=rep,
        spec=SPECS["document"],
        data={"name": "DSA介入耗材对比表", "kind": "comparison", "account_id": world["account"].id},
    )
    a = add_document_version(
        session, actor=rep, document=document, filename="a.csv", content=CSV, content_type="text/csv"
    )
    b = add_document_version(
        session, actor=rep, document=other, filename="b.csv", content=CSV, content_type="text/csv"
    )
    session.commit()
    assert a.sha256 == b.sha256
    assert [path.name for path in _store().iterdir()] == [a.sha256]


def test_a_rep_of_another_team_cannot_reach_the_document(session: Session, world: dict[str, Any]) -> None:
    west_rep = f.actor(world["west_rep"])
    with pytest.raises(NotFound):
        get_writable(session, west_rep, SPECS["document"], world["document"].id)


def test_a_teammate_who_does_not_own_it_may_read_but_not_version_it(
    session: Session,
    world: dict[str, Any],
) -> None:
    teammate = f.actor(world["east_rep2"])
    with pytest.raises(PermissionDenied):
        get_writable(session, teammate, SPECS["document"], world["document"].id)
    manager = f.actor(world["east_manager"])
    document = get_writable(session, manager, SPECS["document"], world["document"].id)
    version = add_document_version(
        session,
        actor=manager,
        document=document,
        filename="x.pdf",
        content=PDF,
        content_type="application/pdf",
    )
    assert version.version == 1


def test_a_read_only_role_is_refused_by_the_service_itself(session: Session, world: dict[str, Any]) -> None:
    member = f.actor(world["member"])
    document = session.get(m.Document, world["document"].id)
    assert document is not None
    with pytest.raises(PermissionDenied):
        add_document_version(
            session,
            actor=member,
            document=document,
            filename="x.pdf",
            content=PDF,
            content_type="application/pdf",
        )
    assert document.current_version == 0


def test_bad_input_names_every_field_and_stores_nothing(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    with pytest.raises(InvalidInput) as error:
        add_document_version(
            session,
            actor=rep,
            document=document,
            filename="  ",
            content=b"",
            content_type="",
            note="n" * 501,
        )
    assert [e.field for e in error.value.errors] == ["filename", "content_type", "content", "note"]
    assert document.current_version == 0
    assert not _store().exists() or not any(_store().iterdir())


def test_a_client_path_is_reduced_to_its_file_name(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    unix = add_document_version(
        session,
        actor=rep,
        document=document,
        filename="../../etc/passwd",
        content=CSV,
        content_type="text/plain",
    )
    windows = add_document_version(
        session,
        actor=rep,
        document=document,
        filename="C:\\Users\\me\\报价.pdf",
        content=PDF,
        content_type="application/pdf",
    )
    assert (unix.filename, windows.filename) == ("passwd", "报价.pdf")


def test_corrupted_content_is_reported_not_served(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    document = get_writable(session, rep, SPECS["document"], world["document"].id)
    version = add_document_version(
        session, actor=rep, document=document, filename="a.pdf", content=PDF, content_type="application/pdf"
    )
    (_store() / version.sha256).write_bytes(b"tampered")
    with pytest.raises(NotFound) as error:
        read_content(version)
    assert error.value.code == "document_content_corrupt"
    (_store() / version.sha256).unlink()
    with pytest.raises(NotFound):
        read_content(version)

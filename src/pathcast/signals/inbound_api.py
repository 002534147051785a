"""Connector callbacks: where WeCom, DingTalk and any signed JSON webhook deliver messages.

All public: each request proves itself with its vendor's signature, checked against the
connector's secret before anything is read or stored. A bad signature is 401 and leaves
no trace; a redelivery of a stored message is 200 and stores nothing new.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import unit_of_work, utcnow
from pathcast.errors import InvalidInput, Unauthenticated
from pathcast.signals.connectors import dingtalk, webhook, wecom
from pathcast.signals.connectors.base import (
    ConnectorError,
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
)
from pathcast.signals.schemas import IngestResult
from pathcast.signals.service import messages, sites

router = APIRouter(tags=["public"])

MAX_MESSAGE_BYTES = 2_000_000


def _as_problem(error: ConnectorError) -> Exception:
    if isinstance(error, SignatureInvalid):
        return Unauthenticated("bad_signature")
    if isinstance(error, ReplayRejected):
        return Unauthenticated("replayed")
    if isinstance(error, PayloadInvalid):
        return InvalidInput.single(error.field or "body", "invalid", message=str(error))
    return InvalidInput.single("body", "invalid", message=str(error))


def _receive(
    connector_id: int, kind: str, handle: Callable[[Session, Any], MessageDraft | None]
) -> IngestResult | None:
    """Load the connector, let ``handle`` verify and parse, then store the message once."""
    with unit_of_work() as session:
        connector = sites.get_connector(session, connector_id, kind=kind)
        try:
            draft = handle(session, connector)
        except ConnectorError as error:
            raise _as_problem(error) from None
        if draft is None:
            return None
        actor = Actor.system(f"connector:{connector.name}")
        return messages.ingest_message(session, draft=draft, actor=actor, connector_id=connector.id)


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidInput.single("body", "file_too_large", max_mb=MAX_MESSAGE_BYTES // 1_000_000)
    return body


# --- generic JSON webhook -------------------------------------------------------------------


@router.post(
    "/signals/webhooks/{connector_id}",
    response_model=IngestResult,
    summary="Receive one signed JSON message (public; HMAC-SHA256, see docs/signals.md)",
)
async def receive_webhook(connector_id: int, request: Request) -> Any:
    body = await _body(request)
    headers = dict(request.headers)

    def handle(session: Session, connector: Any) -> MessageDraft:
        nonce = webhook.verify(str(connector.config["secret"]), headers, body, now=utcnow())
        messages.claim_nonce(session, connector_id=connector.id, nonce=nonce)
        return webhook.parse(body, headers)

    return await run_in_threadpool(_receive, connector_id, "webhook", handle)


# --- WeCom (企业微信) ----------------------------------------------------------------------


def _wecom_crypto(connector: Any) -> wecom.WeComCrypto:
    config = connector.config
    return wecom.WeComCrypto(str(config["token"]), str(config["encoding_aes_key"]), str(config["corp_id"]))


Signature = Annotated[str, Query(min_length=1, max_length=200)]


@router.get(
    "/signals/wecom/{connector_id}",
    summary="WeCom callback URL verification (public; signed)",
    response_class=Response,
)
def verify_wecom_url(
    connector_id: int, msg_signature: Signature, timestamp: Signature, nonce: Signature, echostr: Signature
) -> Response:
    with unit_of_work(write=False) as session:
        connector = sites.get_connector(session, connector_id, kind="wecom")
        try:
            plaintext = _wecom_crypto(connector).verify_url(msg_signature, timestamp, nonce, echostr)
        except ConnectorError as error:
            raise _as_problem(error) from None
    return Response(plaintext, media_type="text/plain")


@router.post(
    "/signals/wecom/{connector_id}",
    summary="WeCom encrypted message callback (public; signed and AES-encrypted)",
    response_class=Response,
)
async def receive_wecom(
    connector_id: int, request: Request, msg_signature: Signature, timestamp: Signature, nonce: Signature
) -> Response:
    body = await _body(request)

    def handle(session: Session, connector: Any) -> MessageDraft | None:
        inner = _wecom_crypto(connector).decrypt_message(msg_signature, timestamp, nonce, body)
        return wecom.parse_message(inner)

    await run_in_threadpool(_receive, connector_id, "wecom", handle)
    # WeCom retries unless it gets an empty body or "success" within five seconds.
    return Response("success", media_type="text/plain")


# --- DingTalk (钉钉) ------------------------------------------------------------------------


@router.post(
    "/signals/dingtalk/{connector_id}",
    summary="DingTalk robot outgoing message (public; signed)",
)
async def receive_dingtalk(connector_id: int, request: Request) -> Any:
    body = await _body(request)
    headers = dict(request.headers)

    def handle(session: Session, connector: Any) -> MessageDraft | None:
        dingtalk.verify_signature(str(connector.config["app_secret"]), headers, now=utcnow())
        return dingtalk.parse_message(body)

    await run_in_threadpool(_receive, connector_id, "dingtalk", handle)
    # The robot posts a reply it finds in the answer back into the chat; we post nothing.
    return {}

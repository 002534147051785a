"""企业微信 (WeCom) callback: URL verification, message decryption, text-message parsing.

Implements WeCom's published callback encryption scheme (the one its ``WXBizMsgCrypt``
sample code implements), with the ``cryptography`` package:

- ``AESKey = base64decode(EncodingAESKey + "=")``: 32 bytes, AES-256-CBC, ``IV = AESKey[:16]``;
- plaintext = 16 random bytes + ``msg_len`` (4 bytes, network order) + msg + receiveid,
  PKCS#7-padded to a multiple of **32** bytes (not AES's 16);
- ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypt])))`` in hex.

``receiveid`` is the CorpID for a company's own app (a suite id for third-party apps):
a payload encrypted for another receiver is refused as if its signature were wrong.

Flow at the route: ``GET ?msg_signature&timestamp&nonce&echostr`` → :meth:`WeComCrypto.verify_url`,
answer its plaintext as ``text/plain``. ``POST`` (same query, XML body) →
:meth:`WeComCrypto.decrypt_message` → :func:`parse_message`, answer ``success`` (or an
empty 200) quickly: WeCom retries a callback that is not answered within 5 seconds,
which is harmless because ``MsgId`` is the idempotency key.

Only text messages are stored. Images, voice, video, files, locations, links and every
event (``subscribe``, ``enter_agent``, ``change_external_contact``, 微信客服's
``kf_msg_or_event`` whose messages must be pulled through the API...) parse to ``None``:
they carry no text to read, or nothing that a person wrote.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from datetime import datetime
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pathcast.signals.connectors.base import (
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
    bounded_key,
    from_epoch,
    to_utc,
)

# WeCom pads to 32 bytes (the key length), not to the AES block size: a decoder that
# assumes 16 would strip wrong bytes from real payloads.
_PAD_BLOCK = 32
_RANDOM_LEN = 16
_LEN_FIELD = 4

# Bodies are small XML documents; anything much larger is not a WeCom callback.
MAX_XML_BYTES = 1 << 20


def parse_xml(document: str | bytes) -> ElementTree.Element:
    """Parse a vendor XML document, refusing DTDs and entities (no XXE, no entity bombs).

    Vendor payloads never carry a DOCTYPE, so refusing any is cheaper and safer than
    trying to neutralise one.
    """
    raw = document.encode("utf-8") if isinstance(document, str) else document
    if len(raw) > MAX_XML_BYTES:
        raise PayloadInvalid("XML body is too large", field="body")
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise PayloadInvalid("XML with a DOCTYPE or entities is refused", field="body")
    try:
        return ElementTree.fromstring(raw)
    except ElementTree.ParseError as error:
        raise PayloadInvalid(f"body is not well-formed XML: {error}", field="body")


def _text(root: ElementTree.Element, tag: str) -> str | None:
    node = root.find(tag)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


class WeComCrypto:
    """One WeCom app's callback credentials: Token, EncodingAESKey and the receive id (CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64")
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.receive_id = receive_id
        self._key = key
        self._iv = key[:16]

    # signatures --------------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """``msg_signature`` for these values: sha1 over the sorted concatenation, hex."""
        joined = "".join(sorted([self.token, timestamp, nonce, encrypt]))
        return hashlib.sha1(joined.encode("utf-8")).hexdigest()

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.signature(timestamp, nonce, encrypt)
        given = (msg_signature or "").strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise SignatureInvalid("msg_signature does not match")

    # ciphertext ---------------------------------------------------------------------

    def _decrypt(self, encrypt: str) -> str:
        try:
            ciphertext = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalid("ciphertext is not base64")
        if not ciphertext or len(ciphertext) % 16:
            raise SignatureInvalid("ciphertext length is not a multiple of the AES block")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad = padded[-1]
        # A wrong key or a tampered ciphertext almost always breaks the padding, the length
        # field or the receive id; all three are reported as one "does not decrypt".
        if not 1 <= pad <= _PAD_BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise SignatureInvalid("ciphertext does not decrypt (bad padding)")
        content = padded[:-pad]
        if len(content) < _RANDOM_LEN + _LEN_FIELD:
            raise SignatureInvalid("ciphertext does not decrypt (too short)")
        (length,) = struct.unpack(">I", content[_RANDOM_LEN : _RANDOM_LEN + _LEN_FIELD])
        start = _RANDOM_LEN + _LEN_FIELD
        if start + length > len(content):
            raise SignatureInvalid("ciphertext does not decrypt (bad length)")
        message, receive_id = content[start : start + length], content[start + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode("utf-8")):
            raise SignatureInvalid("message was encrypted for another receive id (CorpID)")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureInvalid("decrypted message is not UTF-8")

    def encrypt(
        self, plaintext: str, *, nonce: str, timestamp: str, random16: bytes | None = None
    ) -> tuple[str, str]:
        """Encrypt ``plaintext`` for this receive id: returns ``(encrypt_b64, msg_signature)``.

        ``random16`` makes the output deterministic (tests); leave it out otherwise.
        """
        prefix = os.urandom(_RANDOM_LEN) if random16 is None else random16
        if len(prefix) != _RANDOM_LEN:
            raise ValueError("random16 must be 16 bytes")
        message = plaintext.encode("utf-8")
        # msg_len counts bytes, not characters: Chinese text is 3 bytes a character.
        content = prefix + struct.pack(">I", len(message)) + message + self.receive_id.encode("utf-8")
        pad = _PAD_BLOCK - len(content) % _PAD_BLOCK
        content += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        encrypted = base64.b64encode(encryptor.update(content) + encryptor.finalize()).decode("ascii")
        return encrypted, self.signature(timestamp, nonce, encrypted)

    def reply_xml(self, plaintext: str, *, nonce: str, timestamp: str) -> str:
        """A passive reply as WeCom expects it: the encrypted envelope around ``plaintext`` XML."""
        encrypted, signature = self.encrypt(plaintext, nonce=nonce, timestamp=timestamp)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    # the two callback requests ------------------------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL-verification GET: check the signature, decrypt ``echostr``, return its plaintext.

        Pass the URL-decoded ``echostr``. A ``+`` that a form-style decoder turned into a
        space is put back (base64 has no spaces).
        """
        echostr = echostr.replace(" ", "+")
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_message(
        self,
        msg_signature: str,
        timestamp: str,
        nonce: str,
        body: bytes,
        *,
        now: datetime | None = None,
        tolerance_seconds: int = 3600,
    ) -> str:
        """The message POST: check the signature over the body's ``Encrypt``, return the inner XML.

        With ``now`` given, a ``timestamp`` further than ``tolerance_seconds`` from it is
        refused (ReplayRejected); WeCom itself does not require this check.
        """
        root = parse_xml(body)
        encrypt = _text(root, "Encrypt")
        if encrypt is None:
            raise PayloadInvalid("the XML body has no Encrypt element", field="Encrypt")
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        if now is not None:
            try:
                sent = int(timestamp)
            except ValueError:
                raise SignatureInvalid("timestamp is not a number")
            if abs(to_utc(now).timestamp() - sent) > tolerance_seconds:
                raise ReplayRejected("timestamp is outside the tolerance window")
        return self._decrypt(encrypt)


def parse_message(inner_xml: str) -> MessageDraft | None:
    """A draft for a decrypted text message; ``None`` for every other MsgType and for events.

    ``FromUserName`` (the member's UserID) is the sender, ``MsgId`` the idempotency key,
    ``CreateTime`` the sent time; the conversation is the member's chat with the app.
    """
    root = parse_xml(inner_xml)
    msg_type = (_text(root, "MsgType") or "").lower()
    if msg_type != "text":
        return None
    sender = _text(root, "FromUserName")
    if sender is None:
        raise PayloadInvalid("FromUserName is missing", field="FromUserName")
    msg_id = _text(root, "MsgId")
    if msg_id is None:
        raise PayloadInvalid("MsgId is missing", field="MsgId")
    created = _text(root, "CreateTime")
    if created is None or not created.isdigit():
        raise PayloadInvalid("CreateTime must be unix seconds", field="CreateTime")
    content_node = root.find("Content")
    content = content_node.text if content_node is not None else None
    if content is None or not content.strip():
        raise PayloadInvalid("Content is missing or empty", field="Content")

    extra: dict[str, str] = {"msg_type": msg_type}
    for tag, key in (("ToUserName", "corp_id"), ("AgentID", "agent_id")):
        value = _text(root, tag)
        if value is not None:
            extra[key] = value
    return MessageDraft(
        channel="wecom",
        idempotency_key=bounded_key(msg_id),
        sent_at=from_epoch(int(created), field="CreateTime"),
        body=content,
        sender=sender,
        thread_key=f"wecom:{sender}",
        direction="inbound",
        extra=extra,
    )

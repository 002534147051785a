"""E-mail: parse .eml files and mbox archives, and poll an IMAP mailbox.

Parsing follows what Chinese mail really looks like, not only what the RFCs say:

- Headers are decoded from their raw form (RFC 2047 encoded words, also ones split over
  folded lines). ``GB2312`` and ``GBK`` labels are decoded as GB18030, their superset:
  Foxmail and Outlook label GBK text "GB2312", and a strict GB2312 decoder turns
  characters such as 镕 or 喆 into garbage. The stdlib's default policy does exactly that,
  which is why this module decodes headers itself.
- The body is the text/plain alternative when there is one, otherwise the HTML one
  reduced to text. Bodies in a wrong or unknown charset fall back to UTF-8, then
  GB18030, then replacement characters: an import never stops on one odd message.
- ``sent_at`` is the ``Date`` header in UTC. Without a usable Date the caller's
  ``received_at`` is used (IMAP INTERNALDATE, the mbox "From " line), then the newest
  ``Received:`` header's date; with none of these the message is refused with
  PayloadInvalid naming ``Date``. "Now" is never used: re-importing the same file must
  give the same time, and an old message must not land on today's timeline.
- ``idempotency_key`` is the Message-ID without its angle brackets, or
  ``sha256:<hex>`` of the raw bytes when there is none.
- ``thread_key`` is the thread's root: the first References id, else In-Reply-To, else
  the message's own id. ``is_reply`` is set by either header or a ``Re:``/``回复:``/``答复:``
  subject.

IMAP polling (:class:`ImapPoller`) opens the mailbox read-only, fetches with
``BODY.PEEK[]`` (nothing is marked as read) and resumes from a cursor
``"{uid_validity}:{last_uid}"``. When the server's UIDVALIDITY changes the UIDs mean
something else, so the poll restarts from the first message; idempotency keys make the
re-read messages no-ops.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import imaplib
import mailbox
import re
import ssl
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pathcast.signals.connectors.base import (
    ConnectorError,
    MessageDraft,
    PayloadInvalid,
    SourceUnavailable,
    bounded_key,
    content_key,
    subject_is_reply,
    to_utc,
)

# Labels that are decoded with a superset codec (see the module docstring).
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
}
_MSG_ID_RE = re.compile(r"<([^<>\s]+)>")


# --- decoding helpers ------------------------------------------------------------------


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    name = _CHARSET_SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode text whose declared charset may be wrong or unknown, never raising."""
    tried: list[str] = []
    for candidate in (_codec(charset), "utf-8", "gb18030"):
        if candidate is None or candidate in tried:
            continue
        tried.append(candidate)
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode(_codec(charset) or "utf-8", errors="replace")


def decode_header_value(raw: str | None) -> str:
    """An RFC 2047 header value as text (GBK-tolerant, see the module docstring)."""
    if not raw:
        return ""
    # Folded lines: the line break between two encoded words is not content.
    unfolded = _unescape(re.sub(r"\r?\n[ \t]+", " ", raw))
    try:
        parts = decode_header(unfolded)
    except Exception:
        # decode_header raises on some malformed encoded words; the raw text is still useful.
        return unfolded.strip()
    pieces: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            pieces.append(chunk)
        elif charset is None:
            # decode_header hands back the text between encoded words in this codec.
            pieces.append(chunk.decode("raw-unicode-escape", errors="replace"))
        else:
            pieces.append(decode_bytes(chunk, charset))
    return "".join(pieces).strip()


def _unescape(value: str) -> str:
    """Raw 8-bit header bytes (UTF-8 per RFC 6532, or GBK from old clients) as text.

    The bytes parser keeps them as surrogate escapes; turn them back into bytes and decode.
    """
    if not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def _raw_header(message: Message, name: str) -> str | None:
    """A header as it appears in the source (first occurrence), before any policy decoding."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _addresses(message: Message, *names: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs from the named headers, de-duplicated."""
    raw_values = [str(value) for key, value in message.raw_items() if key.lower() in names]
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    # Split on the raw text, then decode each name: a decoded name may contain commas.
    for display, address in getaddresses([_unescape(re.sub(r"\r?\n[ \t]+", " ", v)) for v in raw_values]):
        address = address.strip().lower()
        if not address or "@" not in address or address in seen:
            continue
        seen.add(address)
        found.append((decode_header_value(display), address))
    return found


def _message_ids(raw: str | None) -> list[str]:
    if not raw:
        return []
    ids = _MSG_ID_RE.findall(raw)
    if not ids and raw.strip():
        # Some clients omit the angle brackets.
        ids = raw.split()
    return [bounded_key(value) for value in ids]


def _parse_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return to_utc(moment) if moment is not None else None


class _HtmlText(HTMLParser):
    """HTML to readable text: block elements become line breaks, scripts and styles vanish."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
        | {"table", "ul", "ol", "hr", "section", "article"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._parts.append(data)

    def text(self) -> str:
        joined = "".join(self._parts).replace("\xa0", " ")
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in joined.split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset())


def _body(message: EmailMessage) -> tuple[str, str | None]:
    """(text, "plain" | "html" | None) of the message's main body."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", None
    text = _part_text(part)
    if part.get_content_subtype() == "html":
        return html_to_text(text), "html"
    return text.replace("\r\n", "\n").strip(), "plain"


def _attachment_names(message: EmailMessage) -> list[str]:
    names: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            names.append(decode_header_value(str(filename)) if "=?" in filename else str(filename))
    return names


# --- .eml ------------------------------------------------------------------------------


def parse_eml(
    raw: bytes,
    *,
    mailbox_owner_addresses: Collection[str] = (),
    received_at: datetime | None = None,
) -> MessageDraft:
    """A draft from one RFC 5322 message (the bytes of an .eml file or an IMAP fetch).

    ``mailbox_owner_addresses``: our own addresses; a message from one is ``outbound``.
    ``received_at``: the date to use when the message has no usable ``Date`` header.
    """
    if not raw.strip():
        raise PayloadInvalid("the message is empty", field="message")
    try:
        return _parse(raw, mailbox_owner_addresses, received_at)
    except ConnectorError:
        raise
    except Exception as error:
        # The stdlib parser is lenient but header objects and decoders can still raise on
        # hostile input; one bad message must become an error item, not stop an import.
        raise PayloadInvalid(f"the message could not be parsed: {error}", field="message") from error


def _parse(raw: bytes, owners: Collection[str], received_at: datetime | None) -> MessageDraft:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise PayloadInvalid("not an e-mail message", field="message")
    if not message.keys():
        raise PayloadInvalid("the message has no headers", field="message")

    own_ids = _message_ids(_raw_header(message, "Message-ID"))
    own_id = own_ids[0] if own_ids else None
    in_reply_to = _message_ids(_raw_header(message, "In-Reply-To"))
    references = _message_ids(_raw_header(message, "References"))

    sent_at = _parse_date(_raw_header(message, "Date"))
    if sent_at is None and received_at is not None:
        sent_at = to_utc(received_at)
    if sent_at is None:
        received = _raw_header(message, "Received")
        if received and ";" in received:
            sent_at = _parse_date(received.rsplit(";", 1)[1])
    if sent_at is None:
        raise PayloadInvalid("the Date header is missing or unreadable", field="Date")

    subject = decode_header_value(_raw_header(message, "Subject")) or None
    senders = _addresses(message, "from")
    sender_name, sender = senders[0] if senders else (None, None)
    recipients = tuple(address for _, address in _addresses(message, "to", "cc"))
    owner_set = {address.strip().lower() for address in owners}
    body, body_format = _body(message)

    # The thread's root: the oldest id the message knows of in its conversation.
    thread_root = references or in_reply_to or own_ids
    extra: dict[str, Any] = {}
    if body_format:
        extra["body_format"] = body_format
    attachments = _attachment_names(message)
    if attachments:
        extra["attachments"] = attachments
    if in_reply_to:
        extra["in_reply_to"] = in_reply_to[0]
    if references:
        extra["references"] = references[-20:]

    return MessageDraft(
        channel="email",
        idempotency_key=own_id or content_key(raw),
        sent_at=sent_at,
        body=body,
        sender=sender,
        sender_name=sender_name or None,
        recipients=recipients,
        subject=subject,
        thread_key=thread_root[0] if thread_root else None,
        is_reply=bool(in_reply_to or references) or subject_is_reply(subject),
        direction="outbound" if sender is not None and sender in owner_set else "inbound",
        extra=extra,
    )


def iter_eml_files(
    paths: Iterable[str | Path], *, mailbox_owner_addresses: Collection[str] = ()
) -> Iterator[tuple[int, MessageDraft | ConnectorError]]:
    """Parse .eml files in order: ``(1-based position, draft or the error for that file)``."""
    for number, path in enumerate(paths, start=1):
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            yield number, PayloadInvalid(f"{path}: cannot be read: {error.strerror}", field="file")
            continue
        try:
            yield number, parse_eml(raw, mailbox_owner_addresses=mailbox_owner_addresses)
        except ConnectorError as error:
            yield number, error


def _envelope_date(from_line: str) -> datetime | None:
    """The date of an mbox "From sender Thu Nov  3 14:05:00 2026" line, taken as UTC."""
    parts = from_line.split(None, 2)
    return _parse_date(parts[2]) if len(parts) == 3 and parts[0] == "From" else None


def iter_mbox(
    path: str | Path, *, mailbox_owner_addresses: Collection[str] = ()
) -> Iterator[tuple[int, MessageDraft | ConnectorError]]:
    """Parse an mbox archive: ``(1-based message number, draft or the error for that message)``."""
    if not Path(path).is_file():
        raise FileNotFoundError(str(path))
    box = mailbox.mbox(str(path), create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            try:
                # One read: the "From " envelope line, then the message itself.
                envelope_line, _, raw = box.get_bytes(key, from_=True).partition(b"\n")
                envelope = _envelope_date(envelope_line.decode("ascii", "replace"))
                yield (
                    number,
                    parse_eml(raw, mailbox_owner_addresses=mailbox_owner_addresses, received_at=envelope),
                )
            except ConnectorError as error:
                yield number, error
    finally:
        box.close()


# --- IMAP ------------------------------------------------------------------------------


def format_cursor(uid_validity: int, last_uid: int) -> str:
    """The resume point a caller stores: ``"{uid_validity}:{last_uid}"``."""
    return f"{uid_validity}:{last_uid}"


def parse_cursor(cursor: str | None) -> tuple[int | None, int | None]:
    """``(uid_validity, last_uid)`` from a stored cursor; ``(None, None)`` when there is none yet."""
    if not cursor or not cursor.strip():
        return None, None
    validity, sep, last = cursor.strip().partition(":")
    if not sep or not validity.isdigit() or not last.isdigit():
        raise ValueError(f"not an IMAP cursor: {cursor!r}")
    return int(validity), int(last)


def imap_utf7(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 5.1.3), e.g. 已发送 → ``&XfJT0ZAB-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=")
            out.append("&" + encoded.decode("ascii").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _quote(value: str) -> str:
    # imaplib sends arguments verbatim; a name with a space or quote must be quoted.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UID_RE = re.compile(rb"\bUID (\d+)")
_INTERNALDATE_RE = re.compile(rb'INTERNALDATE "([^"]+)"')


@dataclass(frozen=True)
class ImapBatch:
    """One poll's result. Store ``format_cursor(uid_validity, last_uid)`` after saving ``items``."""

    uid_validity: int
    last_uid: int
    # (UID, draft or the error for that message), in UID order.
    items: list[tuple[int, MessageDraft | ConnectorError]] = field(default_factory=list)
    # UIDVALIDITY changed since the cursor: this batch restarted from the first message.
    reset: bool = False
    # More new messages than ``limit``: poll again right away.
    has_more: bool = False


class ImapPoller:
    """Fetch new messages from one IMAP mailbox without changing it (read-only, no \\Seen flags)."""

    # UIDs fetched per FETCH command: bounds the memory of one round-trip.
    FETCH_CHUNK = 50

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        mailbox: str = "INBOX",
        use_ssl: bool = False,
        starttls: bool = False,
        timeout: float = 30,
        mailbox_owner_addresses: Collection[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if use_ssl and starttls:
            raise ValueError("use_ssl and starttls are exclusive")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.mailbox = mailbox
        self.use_ssl = use_ssl
        self.starttls = starttls
        self.timeout = timeout
        # Our own address(es) mark outbound mail; the login name usually is one.
        owners = set(mailbox_owner_addresses)
        if "@" in username:
            owners.add(username)
        self.owner_addresses = frozenset(address.lower() for address in owners)
        self._ssl_context = ssl_context

    def __repr__(self) -> str:  # never show the password
        return f"ImapPoller({self.username}@{self.host}:{self.port}/{self.mailbox})"

    def _connect(self) -> imaplib.IMAP4:
        context = self._ssl_context or ssl.create_default_context()
        connection: imaplib.IMAP4
        if self.use_ssl:
            connection = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=self.timeout)
        else:
            connection = imaplib.IMAP4(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                connection.starttls(ssl_context=context)
        try:
            connection.login(self.username, self._password)
        except BaseException:
            connection.shutdown()
            raise
        return connection

    def fetch_new(self, after_uid: int | None, uid_validity: int | None, *, limit: int = 500) -> ImapBatch:
        """Messages with a UID above ``after_uid`` (all when None), at most ``limit`` of them.

        Raises SourceUnavailable when the server cannot be reached, refuses the login or
        has no such mailbox; a message that does not parse is an error item instead.
        """
        try:
            connection = self._connect()
        except (OSError, imaplib.IMAP4.error) as error:
            raise SourceUnavailable(f"IMAP {self.host}:{self.port}: {error}") from error
        try:
            return self._fetch(connection, after_uid, uid_validity, limit)
        except (OSError, imaplib.IMAP4.error) as error:
            raise SourceUnavailable(f"IMAP {self.host}:{self.port}: {error}") from error
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                connection.logout()

    def _fetch(
        self, connection: imaplib.IMAP4, after_uid: int | None, uid_validity: int | None, limit: int
    ) -> ImapBatch:
        # EXAMINE (read-only SELECT): even a server that ignores PEEK cannot set \Seen.
        status, data = connection.select(_quote(imap_utf7(self.mailbox)), readonly=True)
        if status != "OK":
            raise SourceUnavailable(f"mailbox {self.mailbox!r} cannot be opened: {data!r}")
        server_validity = self._uid_validity(connection)

        reset = uid_validity is not None and uid_validity != server_validity
        start = 0 if reset or after_uid is None else after_uid
        status, data = connection.uid("SEARCH", f"UID {start + 1}:*")
        if status != "OK":
            raise SourceUnavailable(f"UID SEARCH failed: {data!r}")
        # "n:*" also matches the highest UID when n is above it, hence the filter.
        uids = sorted(int(uid) for uid in (data[0] or b"").split() if int(uid) > start)
        selected, has_more = uids[:limit], len(uids) > limit

        items: list[tuple[int, MessageDraft | ConnectorError]] = []
        for offset in range(0, len(selected), self.FETCH_CHUNK):
            chunk = selected[offset : offset + self.FETCH_CHUNK]
            items.extend(self._fetch_chunk(connection, chunk))
        items.sort(key=lambda item: item[0])
        last_uid = max([start, *selected])
        return ImapBatch(server_validity, last_uid, items, reset=reset, has_more=has_more)

    @staticmethod
    def _uid_validity(connection: imaplib.IMAP4) -> int:
        _, data = connection.response("UIDVALIDITY")
        if data and data[0]:
            return int(data[0])
        raise SourceUnavailable("the server did not report UIDVALIDITY")

    def _fetch_chunk(
        self, connection: imaplib.IMAP4, uids: list[int]
    ) -> list[tuple[int, MessageDraft | ConnectorError]]:
        wanted = set(uids)
        status, data = connection.uid(
            "FETCH", ",".join(str(uid) for uid in uids), "(UID INTERNALDATE BODY.PEEK[])"
        )
        if status != "OK":
            raise SourceUnavailable(f"UID FETCH failed: {data!r}")
        results: list[tuple[int, MessageDraft | ConnectorError]] = []
        for index, entry in enumerate(data):
            if not isinstance(entry, tuple):
                continue
            envelope, raw = entry[0], entry[1]
            # Servers may put UID after the literal: look in the trailing part too.
            trailer = data[index + 1] if index + 1 < len(data) else b""
            trailer = trailer if isinstance(trailer, bytes) else b""
            uid_match = _UID_RE.search(envelope) or _UID_RE.search(trailer)
            if uid_match is None or int(uid_match.group(1)) not in wanted:
                continue
            uid = int(uid_match.group(1))
            date_match = _INTERNALDATE_RE.search(envelope) or _INTERNALDATE_RE.search(trailer)
            received = _internal_date(date_match.group(1)) if date_match else None
            try:
                draft = parse_eml(raw, mailbox_owner_addresses=self.owner_addresses, received_at=received)
                results.append((uid, draft))
            except ConnectorError as error:
                results.append((uid, error))
        return results


def _internal_date(value: bytes) -> datetime | None:
    """IMAP INTERNALDATE ``" 3-Nov-2026 14:05:00 +0800"`` as UTC."""
    try:
        return to_utc(datetime.strptime(value.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z"))
    except (UnicodeDecodeError, ValueError):
        return None

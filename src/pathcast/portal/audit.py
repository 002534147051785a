"""The verifiable audit file: its format and its offline verifier (no database needed).

A customer's events are scattered through Pathcast's single global hash chain, and some
of their payloads hold internal fields. The file therefore carries three things:

* the **skeleton**: ``[seq, hash, prev_hash]`` of *every* event from the customer's first
  event to the chain head at export time, hashes only, so the chain's links can be
  checked without seeing anyone else's content;
* the customer's **events in full** (those whose payload is all customer-visible); the
  verifier recomputes each hash with ``pathcast.events.canonical_bytes``, the very code
  the server hashes with, and compares it with the skeleton at that seq;
* the customer's **retained** events (seq, type, entity, entity_id, reason), never their
  payload: only their hash is in the skeleton.

The last event, the chain head, is the export's own ``portal.audit_exported`` event. Its
payload (hash-covered like any event) binds the rest of the file: export id, account,
the first seq and its prev_hash, and a SHA-256 of the listing (full seqs and retained
entries). The file is written in one canonical serialisation (``dump``), and the
verifier re-serialises what it parsed and demands the same bytes, so a changed byte
anywhere is caught even where it would not change a value (``1.0`` vs ``1e0``).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pathcast.events import canonical_bytes, format_timestamp

FORMAT = "pathcast-audit"
VERSION = 1
EXPORT_EVENT = "portal.audit_exported"
# The gzip header ``compress`` writes: magic, deflate, no flags, mtime 0, "max
# compression", OS unknown (255). Demanding it exactly means no header byte can change
# unnoticed (the gzip CRC covers only the content).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
HEADER_KEYS = ("format", "version", "export_id", "account", "created_at", "chain_head",
               "skeleton", "events", "retained")  # fmt: skip
EVENT_KEYS = ("seq", "type", "entity", "entity_id", "entity_version", "actor", "occurred_at",
              "recorded_at", "payload", "prev_hash")  # fmt: skip
RETAINED_KEYS = ("seq", "type", "entity", "entity_id", "reason")
HEX64 = re.compile(r"[0-9a-f]{64}")
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


class Unreadable(ValueError):
    """The bytes are not an audit file of a format this verifier knows."""


def dump(document: dict[str, Any]) -> bytes:
    """The one serialisation of an audit file: compact UTF-8 JSON, keys in given order."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def listing_digest(full_seqs: list[int], retained: list[dict[str, Any]]) -> str:
    """SHA-256 of what the file lists besides the head event; the head's payload holds it."""
    return hashlib.sha256(dump({"events": full_seqs, "retained": retained})).hexdigest()


def event_hash(event: dict[str, Any]) -> str:
    """Recompute an exported event's hash exactly as the server computed it."""
    return hashlib.sha256(
        canonical_bytes(
            seq=event["seq"],
            type=event["type"],
            entity=event["entity"],
            entity_id=event["entity_id"],
            entity_version=event["entity_version"],
            actor=event["actor"],
            occurred_at=_timestamp(event["occurred_at"]),
            recorded_at=_timestamp(event["recorded_at"]),
            payload=event["payload"],
            prev_hash=event["prev_hash"],
        )
    ).hexdigest()


def _timestamp(text: str) -> datetime:
    return datetime.strptime(text, TIMESTAMP).replace(tzinfo=UTC)


# --- reading ------------------------------------------------------------------------


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Unreadable("duplicate key in a JSON object")
    return dict(pairs)


def _constant(name: str) -> Any:
    raise Unreadable(f"{name} is not JSON")


def compress(content: bytes) -> bytes:
    """Gzip ``content`` with a fixed header (``GZIP_HEADER``), the same on every Python."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflater.compress(content) + deflater.flush()
    trailer = struct.pack("<II", zlib.crc32(content), len(content) & 0xFFFFFFFF)
    return GZIP_HEADER + body + trailer


def decompress(raw: bytes) -> bytes:
    """The JSON bytes of a plain or gzipped audit file (gzip only as Pathcast writes it)."""
    if not raw.startswith(b"\x1f\x8b"):
        return raw
    if raw[: len(GZIP_HEADER)] != GZIP_HEADER:
        raise Unreadable("gzip header is not the one Pathcast writes (gunzip the file and verify the JSON)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        content = inflater.decompress(raw)
    except zlib.error as error:
        raise Unreadable(f"gzip data is damaged: {error}") from None
    if not inflater.eof or inflater.unused_data:
        raise Unreadable("gzip data is truncated or has bytes after its end")
    return content


def load(raw: bytes) -> dict[str, Any]:
    """Parse an audit file strictly; ``Unreadable`` names what is wrong with its structure."""
    content = decompress(raw)
    try:
        text = content.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_constant)
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise Unreadable(f"not JSON: {error}") from None
    _check_structure(document)
    return document


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Unreadable(message)


def _check_structure(document: Any) -> None:
    _require(isinstance(document, dict) and tuple(document) == HEADER_KEYS, "not a Pathcast audit file")
    _require(document["format"] == FORMAT, "not a Pathcast audit file")
    _require(
        document["version"] == VERSION and _is_int(document["version"]), "unsupported audit format version"
    )
    _require(isinstance(document["export_id"], str), "export_id must be a string")
    _require(_is_int(document["account"]), "account must be a whole number")
    _require(isinstance(document["created_at"], str), "created_at must be a string")
    head = document["chain_head"]
    _require(isinstance(head, dict) and tuple(head) == ("seq", "hash"), "chain_head must be {seq, hash}")
    _require(_is_int(head["seq"]) and _is_hash(head["hash"]), "chain_head must be {seq, hash}")
    skeleton = document["skeleton"]
    _require(isinstance(skeleton, list) and len(skeleton) > 0, "skeleton must be a non-empty list")
    for entry in skeleton:
        _require(
            isinstance(entry, list) and len(entry) == 3 and _is_int(entry[0])
            and _is_hash(entry[1]) and _is_hash(entry[2]),
            "each skeleton entry must be [seq, hash, prev_hash]",
        )  # fmt: skip
    _require(isinstance(document["events"], list) and len(document["events"]) > 0, "events must be a list")
    for event in document["events"]:
        _require(
            isinstance(event, dict) and tuple(event) == EVENT_KEYS, "an event has missing or extra fields"
        )
        _require(
            _is_int(event["seq"]) and _is_int(event["entity_version"]), "event seq and version are numbers"
        )
        for key in ("type", "entity", "entity_id", "actor", "occurred_at", "recorded_at"):
            _require(isinstance(event[key], str), f"event {key} must be a string")
        _require(isinstance(event["payload"], dict), "event payload must be an object")
        _require(_is_hash(event["prev_hash"]), "event prev_hash must be 64 hex digits")
    _require(isinstance(document["retained"], list), "retained must be a list")
    for entry in document["retained"]:
        _require(
            isinstance(entry, dict) and tuple(entry) == RETAINED_KEYS, "a retained entry has wrong fields"
        )
        _require(_is_int(entry["seq"]), "retained seq must be a number")
        for key in ("type", "entity", "entity_id", "reason"):
            _require(isinstance(entry[key], str), f"retained {key} must be a string")


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


# --- verifying ----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at the seq where it shows (None: the file as a whole)."""

    seq: int | None
    code: str  # content_altered, missing_event, broken_link, wrong_head, listing_altered, ...
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "code": self.code, "detail": self.detail}


@dataclass
class Report:
    """What ``verify`` found. ``checked`` counts skeleton links, ``events`` full events
    whose hash was recomputed and matched."""

    ok: bool
    checked: int = 0
    events: int = 0
    retained: int = 0
    problems: list[Problem] = field(default_factory=list)
    unreadable: str | None = None
    export_id: str | None = None
    account: int | None = None
    chain_head: dict[str, Any] | None = None

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [problem.seq for problem in self.problems if problem.seq is not None]
        return min(seqs) if seqs else None

    @property
    def exit_code(self) -> int:
        """0 intact, 1 problems found, 2 not a readable audit file."""
        return 2 if self.unreadable else (0 if self.ok else 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "events": self.events,
            "retained": self.retained,
            "first_bad_seq": self.first_bad_seq,
            "problems": [problem.as_dict() for problem in self.problems],
            "unreadable": self.unreadable,
            "export_id": self.export_id,
            "account": self.account,
            "chain_head": self.chain_head,
        }


def verify(data: bytes | dict[str, Any]) -> Report:
    """Check an audit file (its bytes, or an already parsed document) without a database."""
    raw = data if isinstance(data, bytes) else None
    try:
        document = load(data) if isinstance(data, bytes) else data
        if not isinstance(data, bytes):
            _check_structure(document)
    except Unreadable as error:
        return Report(ok=False, unreadable=str(error))
    report = Report(
        ok=False,
        export_id=document["export_id"],
        account=document["account"],
        chain_head=document["chain_head"],
        retained=len(document["retained"]),
    )
    problems = report.problems
    skeleton = _check_skeleton(document, report)
    head_event = _check_events(document, skeleton, report)
    _check_retained(document, skeleton, problems)
    _check_binding(document, skeleton, head_event, problems)
    if raw is not None and dump(document) != decompress(raw):
        problems.append(Problem(None, "not_canonical", "the file's bytes differ from its canonical form"))
    problems.sort(key=lambda problem: (problem.seq is None, problem.seq or 0))
    report.ok = not problems
    return report


def _check_skeleton(document: dict[str, Any], report: Report) -> dict[int, tuple[str, str]]:
    """Links: seqs consecutive, each prev_hash the hash before it, the end at the head."""
    skeleton: dict[int, tuple[str, str]] = {}
    previous: list[Any] | None = None
    for entry in document["skeleton"]:
        seq, digest, prev_hash = entry
        if previous is not None:
            if seq != previous[0] + 1:
                report.problems.append(
                    Problem(previous[0] + 1, "missing_event", f"skeleton jumps from {previous[0]} to {seq}")
                )
            elif prev_hash != previous[1]:
                report.problems.append(
                    Problem(seq, "broken_link", "prev_hash is not the previous event's hash")
                )
            else:
                report.checked += 1
        if seq in skeleton:
            report.problems.append(Problem(seq, "duplicate_event", "seq appears twice in the skeleton"))
        skeleton[seq] = (digest, prev_hash)
        previous = entry
    last = document["skeleton"][-1]
    head = document["chain_head"]
    if last[0] != head["seq"] or last[1] != head["hash"]:
        report.problems.append(
            Problem(head["seq"], "wrong_head", "the skeleton does not end at the chain head")
        )
    return skeleton


def _check_events(
    document: dict[str, Any], skeleton: dict[int, tuple[str, str]], report: Report
) -> dict[str, Any] | None:
    """Each full event's recomputed hash equals the skeleton's; returns the last event."""
    last_seq = 0
    for event in document["events"]:
        seq = event["seq"]
        if seq <= last_seq:
            report.problems.append(Problem(seq, "out_of_order", "events must be listed by ascending seq"))
        last_seq = max(last_seq, seq)
        if seq not in skeleton:
            report.problems.append(Problem(seq, "missing_event", "a listed event is not in the skeleton"))
            continue
        try:
            canonical_time = all(
                format_timestamp(_timestamp(event[key])) == event[key]
                for key in ("occurred_at", "recorded_at")
            )
            digest = event_hash(event) if canonical_time else None
        except (ValueError, TypeError):
            digest = None
        if digest != skeleton[seq][0]:
            report.problems.append(
                Problem(seq, "content_altered", "the event's content does not match its hash")
            )
        else:
            report.events += 1
    return document["events"][-1]


def _check_retained(
    document: dict[str, Any], skeleton: dict[int, tuple[str, str]], problems: list[Problem]
) -> None:
    full = {event["seq"] for event in document["events"]}
    last_seq = 0
    for entry in document["retained"]:
        seq = entry["seq"]
        if seq <= last_seq:
            problems.append(Problem(seq, "out_of_order", "retained entries must be listed by ascending seq"))
        last_seq = max(last_seq, seq)
        if seq not in skeleton:
            problems.append(Problem(seq, "missing_event", "a retained event is not in the skeleton"))
        if seq in full:
            problems.append(Problem(seq, "listed_twice", "an event is both in full and retained"))


def _check_binding(
    document: dict[str, Any],
    skeleton: dict[int, tuple[str, str]],
    head_event: dict[str, Any] | None,
    problems: list[Problem],
) -> None:
    """The head event is this export's own event and its payload vouches for the rest."""
    head_seq = document["chain_head"]["seq"]
    if head_event is None or head_event["seq"] != head_seq or head_event["type"] != EXPORT_EVENT:
        problems.append(
            Problem(head_seq, "wrong_head", f"the last event must be the export's {EXPORT_EVENT}")
        )
        return
    payload = head_event["payload"]
    first = document["skeleton"][0]
    first_seq = payload.get("first_seq")
    expected = {
        "export_id": document["export_id"],
        "account_id": document["account"],
        "format_version": document["version"],
        "listing_sha256": listing_digest([e["seq"] for e in document["events"][:-1]], document["retained"]),
    }
    mismatched = [key for key, value in expected.items() if payload.get(key) != value]
    if head_event["entity"] != "account" or head_event["entity_id"] != str(document["account"]):
        mismatched.append("entity")
    if head_event["recorded_at"] != document["created_at"]:
        mismatched.append("created_at")
    if first_seq is None:
        # The export's own event is the account's first: the skeleton is just the head.
        if first[0] != head_seq:
            mismatched.append("first_seq")
    elif first[0] != first_seq or first[2] != payload.get("first_prev_hash"):
        mismatched.append("first_seq")
    if mismatched:
        problems.append(
            Problem(
                head_seq,
                "listing_altered",
                "the file disagrees with its export event: " + ", ".join(mismatched),
            )
        )

"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), with the standard library.

Pure: no database, no clock of its own (callers pass the time), so the RFC's appendix B
vectors test it exactly. Authenticator apps use SHA-1, 6 digits and 30-second steps;
those are the defaults.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# One step either side: a phone clock a little off, or a code typed as it rolled over.
WINDOW = 1
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_secret() -> str:
    """A random 160-bit secret in base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def secret_bytes(secret_b32: str) -> bytes:
    """The key bytes of a base32 secret (case, spaces and missing padding tolerated)."""
    cleaned = secret_b32.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """RFC 4226: HMAC over the 8-byte big-endian counter, dynamically truncated."""
    digest = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[algorithm]).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def time_step(unix_time: float, *, step: int = STEP_SECONDS) -> int:
    """The RFC 6238 counter T = floor((time - T0) / X) with T0 = 0."""
    return int(unix_time // step)


def totp(
    key: bytes, unix_time: float, *, digits: int = DIGITS, algorithm: str = "SHA1", step: int = STEP_SECONDS
) -> str:
    """The code for ``unix_time``."""
    return hotp(key, time_step(unix_time, step=step), digits=digits, algorithm=algorithm)


def matching_step(key: bytes, code: str, unix_time: float, *, after: int | None = None) -> int | None:
    """The time-step (within ``WINDOW``) whose code is ``code``, or None.

    Steps at or before ``after`` (the last one accepted) never match, so a code seen once
    cannot be replayed, not even within its own 30 seconds.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = time_step(unix_time)
    for candidate in range(now - WINDOW, now + WINDOW + 1):
        if candidate < 0 or (after is not None and candidate <= after):
            continue
        # constant-time: the comparison does not tell how many digits were right
        if hmac.compare_digest(hotp(key, candidate), code):
            return candidate
    return None


def provisioning_uri(secret_b32: str, *, account: str, issuer: str = "Pathcast") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (usually from a QR code)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS})  # fmt: skip
    return f"otpauth://totp/{label}?{query}"

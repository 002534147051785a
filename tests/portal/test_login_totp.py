"""TOTP against RFC 6238 appendix B, and the replay and window rules (pure, no database)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathcast.portal import totp

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 appendix B: time, then the 8-digit codes for SHA1, SHA256, SHA512
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc6238_appendix_b(when: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        assert totp.totp(SEEDS[algorithm], when, digits=8, algorithm=algorithm) == expected


def test_rfc4226_appendix_d_hotp() -> None:
    expected = [
        "755224",
        "287082",
        "359152",
        "969429",
        "338314",
        "254676",
        "287922",
        "162583",
        "399871",
        "520489",
    ]
    assert [totp.hotp(SEEDS["SHA1"], counter) for counter in range(10)] == expected


def test_six_digit_code_matches_its_step_once() -> None:
    key = SEEDS["SHA1"]
    now = 1234567890
    code = totp.totp(key, now)
    step = totp.matching_step(key, code, now)
    assert step == totp.time_step(now)
    # the same code after it was accepted: refused (replay), even within its 30 seconds
    assert totp.matching_step(key, code, now + 5, after=step) is None
    # the next step's code is still accepted after it
    later = totp.totp(key, now + 30)
    assert totp.matching_step(key, later, now + 30, after=step) == step + 1


def test_window_is_one_step_either_side() -> None:
    key = SEEDS["SHA1"]
    now = 1_700_000_000
    assert totp.matching_step(key, totp.totp(key, now - 30), now) is not None
    assert totp.matching_step(key, totp.totp(key, now + 30), now) is not None
    assert totp.matching_step(key, totp.totp(key, now - 90), now) is None
    assert totp.matching_step(key, "12345", now) is None
    assert totp.matching_step(key, "abcdef", now) is None


def test_secret_and_provisioning_uri() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and base64.b32decode(secret) and len(totp.secret_bytes(secret)) == 20
    assert totp.secret_bytes(secret.lower()) == totp.secret_bytes(secret)
    uri = totp.provisioning_uri(secret, account="buyer@hospital.example")
    assert uri.startswith("otpauth://totp/Pathcast:buyer@hospital.example?")
    assert f"secret={secret}" in uri and "issuer=Pathcast" in uri and "period=30" in uri


@given(st.binary(min_size=10, max_size=64), st.integers(min_value=0, max_value=2**40))
def test_codes_are_six_digits(key: bytes, when: int) -> None:
    code = totp.totp(key, when)
    assert len(code) == 6 and code.isdigit()
    assert totp.matching_step(key, code, when) is not None

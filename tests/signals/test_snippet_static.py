"""The tracking snippet as a file: present, small, self-contained, valid JavaScript.

Its behaviour in a browser is tested in tests/e2e/test_tracking_snippet.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SNIPPET = Path(__file__).resolve().parents[2] / "src" / "pathcast" / "signals" / "static" / "t.js"
MAX_BYTES = 5_000


def test_the_snippet_exists_and_is_under_5_kb() -> None:
    assert SNIPPET.is_file()
    size = len(SNIPPET.read_bytes())
    assert size < MAX_BYTES, f"t.js is {size} bytes; the contract is under {MAX_BYTES}"


def test_the_snippet_names_no_external_host() -> None:
    """No third-party code or endpoint: it only ever talks to the origin it came from."""
    source = SNIPPET.read_text(encoding="utf-8")
    assert re.findall(r"https?://", source) == []
    assert re.findall(r"(?<![\w.])//[\w-]+\.[\w.-]+", source) == []  # protocol-relative //host
    assert "import(" not in source and "importScripts" not in source
    assert 'createElement("script")' not in source and "createElement('script')" not in source


def test_the_snippet_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; it is needed to check t.js (apt-get install -y nodejs)")
    result = subprocess.run([node, "--check", str(SNIPPET)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

"""Browser tests: a real uvicorn server on a free port, driven by Debian's Chromium.

The server runs in a subprocess against a migrated SQLite file in a temp directory,
seeded through the services. Chromium must be installed (``apt-get install -y
chromium``); the tests fail, not skip, when it is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from pathcast.auth.models import Role
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work, utcnow
from pathcast.migrate import upgrade
from tests import factories as f

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DEAL = "协和医院 DSA 介入项目"
E2E_PASSWORD = f.PASSWORD


@dataclass
class LiveServer:
    url: str
    deal_id: int


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(database_url: str) -> int:
    """A team with a rep (Chinese UI) and a manager; the rep's deal has a history.
    A rep of another team may not see that deal."""
    with unit_of_work(database_url) as session:
        team = f.team(session, "East")
        rep = f.user(session, "rep@example.com", team_obj=team)
        f.user(session, "boss@example.com", role=Role.manager, team_obj=team)
        f.user(session, "west.rep@example.com", team_obj=f.team(session, "West"))
        account = f.account(session, name="北京协和医院")
        deal = f.opportunity(
            session,
            f.actor(rep),
            name=E2E_DEAL,
            account_id=account.id,
            expected_close_date=date.today() + timedelta(days=20),
        )
        crm.update_opportunity(
            session, actor=f.actor(rep), opportunity=deal, changes={"amount": Decimal(150000)}
        )
        crm.create_record(
            session,
            actor=f.actor(rep),
            spec=crm.SPECS["activity"],
            data={
                "kind": "task",
                "subject": "回访王主任",
                "opportunity_id": deal.id,
                "due_at": utcnow() - timedelta(days=1),
            },
        )
        deal_id = deal.id
    get_engine(database_url).dispose()
    return deal_id


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer on {url} within {timeout:.0f} s")


@contextmanager
def serve_pathcast(directory: Path, database_url: str) -> Iterator[str]:
    """Run uvicorn on a free port against ``database_url``; yield its URL, stop it after."""
    port = _free_port()
    env = {
        **os.environ,
        "PATHCAST_DATABASE_URL": database_url,
        "PATHCAST_DATA_DIR": str(directory / "data"),
        "PATHCAST_SECRET_KEY": "e2e-secret-key-not-for-production",
        # The forecast refresh (training, scoring) runs only where a test asks for it.
        "PATHCAST_FORECAST_REFRESH_SECONDS": "0",
        "PATHCAST_RADAR_POLL_SECONDS": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "pathcast.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Pathcast served by uvicorn on a free port, with seeded data."""
    directory = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    deal_id = _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        yield LiveServer(url=url, deal_id=deal_id)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (never a Playwright-downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. Install it with `apt-get install -y chromium` "
            "(as root), or run `make setup`; never `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()

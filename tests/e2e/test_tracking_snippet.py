"""The tracking snippet /t.js in a real browser, on a customer site of another origin.

* the wire format (docs/signals.md §1-2) against a recording stand-in for Pathcast:
  identify by tracked link, view, visible-only dwell, clicks, downloads, form identify,
  batching, the fetch fallback and the opt-out; no server needed;
* the acceptance scenario against the real server: a contact identified through a
  tracked link reads the DSA comparison three times for over 90 s and once in a hidden
  tab; nothing individual is shown before the consent threshold, and after it the
  7-day features count 3 qualifying views, not 4.

Time: Playwright's clock (``page.clock.install()``) lets 90 s pass instantly; it keeps
flowing naturally in between, so dwell assertions allow a second of slack.

Hidden tabs: headless Chromium reports every page as visible, and no DevTools command
changes that (tried: a minimized window via ``Browser.setWindowBounds``, a background
target via ``Target.createTarget``, ``Page.setWebLifecycleState`` frozen/active, another
tab brought to front). So a hidden tab is emulated the way the browser would present
it to the page: ``document.visibilityState`` / ``document.hidden`` are overridden on the
document and a ``visibilitychange`` event is dispatched.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from pathcast.auth import service as auth_service
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work
from pathcast.migrate import upgrade
from pathcast.signals.service import sites
from tests import factories as f
from tests.e2e.conftest import REPO_ROOT, serve_pathcast

pytestmark = pytest.mark.e2e

SNIPPET = REPO_ROOT / "src" / "pathcast" / "signals" / "static" / "t.js"
SITE = REPO_ROOT / "tests" / "fixtures" / "signals" / "site"
DSA_KEY = "dsa-consumables-comparison"
DSA_NAME = "DSA介入耗材对比表"

# Make the page hidden / visible again, as switching tabs would (see the module docstring).
HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW = """() => {
  delete document.visibilityState;
  delete document.hidden;
  document.dispatchEvent(new Event("visibilitychange"));
}"""
# A page opened in a background tab: hidden before any script runs.
HIDDEN_FROM_THE_START = """
Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
"""


# --- the customer's site, on its own origin ---------------------------------------------


def render_site(directory: Path, pathcast_url: str, site_key: str) -> Path:
    """The fixture pages with the snippet tag pointing at ``pathcast_url``."""
    directory.mkdir(parents=True, exist_ok=True)
    for page in SITE.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        html = html.replace("{{PATHCAST}}", pathcast_url).replace("{{SITE_KEY}}", site_key)
        (directory / page.name).write_text(html, encoding="utf-8")
    return directory


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_site(directory: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``directory`` on a free port of 127.0.0.1, named ``host`` in the URL."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{server.server_address[1]}"
        finally:
            server.shutdown()


# --- a recording stand-in for Pathcast ------------------------------------------------------


@dataclass
class Request:
    content_type: str
    origin: str | None
    cookie: str | None
    body: dict[str, Any]


@dataclass
class Recorder:
    """Serves /t.js and records every POST /api/v1/collect.

    A real server rather than ``page.route``: Playwright neither routes nor reports the
    beacon a page sends while it unloads (``pagehide``), and reports beacon bodies as None.
    """

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The events received, in the order they happened: beacons travel on parallel
        connections, so requests may arrive out of order."""
        with self.lock:
            found = [event for request in self.requests for event in request.body["events"]]
        found.sort(key=lambda event: event["ts"])  # stable: a request's own order is kept
        return [event for event in found if type_ is None or event["type"] == type_]

    def wait_for(self, page: Page, check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            page.wait_for_timeout(50)
        raise AssertionError(f"no {what} within {timeout:.0f} s; received: {self.events()}")


@contextmanager
def recording_pathcast() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = SNIPPET.read_bytes()
            self.send_response(200 if self.path == "/t.js" else 404)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            request = Request(
                content_type=self.headers.get("Content-Type", ""),
                origin=self.headers.get("Origin"),
                cookie=self.headers.get("Cookie"),
                body=json.loads(raw),
            )
            with recorder.lock:
                recorder.requests.append(request)
            answer = json.dumps({"accepted": len(request.body["events"]), "rejected": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", request.origin or "*")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    # "localhost", not 127.0.0.1: another host than the site, so no cookie of the site leaks.
    with ThreadingHTTPServer(("localhost", 0), Handler) as server:
        recorder.url = f"http://localhost:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield recorder
        finally:
            server.shutdown()


@dataclass
class Console:
    """Console errors and uncaught exceptions of the pages (the snippet must throw none)."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[Recorder, str]]:
    """A recording Pathcast and the customer's site pointing at it: (recorder, site URL)."""
    with (
        recording_pathcast() as recorder,
        serve_site(render_site(tmp_path / "site", recorder.url, "wire-test-site")) as site,
    ):
        yield recorder, site


def _without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


# --- the wire format, no server needed ------------------------------------------------------


def test_view_dwell_clicks_downloads_and_identify_on_the_wire(
    browser: Browser, stand_in: tuple[Recorder, str]
) -> None:
    pathcast, site = stand_in
    context = browser.new_context(locale="zh-CN")
    console = Console()
    try:
        page = context.new_page()
        console.watch(page)
        page.clock.install()
        page.goto(f"{site}/dsa.html?utm_source=mail&pc_t=tok-123#specs")
        clean_url = f"{site}/dsa.html?utm_source=mail#specs"

        # on load: identify by the tracked link's token, then the view; the token leaves the URL
        pathcast.wait_for(page, lambda: pathcast.events("view"), "view")
        first = pathcast.requests[0]
        assert first.content_type.startswith("text/plain")  # a beacon: no CORS preflight
        assert first.origin == site
        assert first.cookie is None
        assert set(first.body) == {"site", "visitor", "sent_at", "events"}
        assert first.body["site"] == "wire-test-site"
        visitor = first.body["visitor"]
        assert re.fullmatch(r"[0-9a-f]{22}", visitor)
        assert isinstance(first.body["sent_at"], int)
        identify, view = first.body["events"]
        assert _without(identify, "ts") == {"type": "identify", "token": "tok-123"}
        view_id = view["view"]
        assert _without(view, "ts") == {
            "type": "view",
            "view": view_id,
            "asset": DSA_KEY,
            "asset_name": DSA_NAME,
            "asset_kind": "document",
            "url": clean_url,
        }
        assert isinstance(view["ts"], int) and view["ts"] <= first.body["sent_at"]
        assert page.url == clean_url
        assert page.evaluate("window.pathcast.visitor") == visitor
        (cookie,) = [c for c in context.cookies(site) if c["name"] == "_pc_vid"]
        assert cookie["value"] == visitor and cookie["path"] == "/" and cookie["sameSite"] == "Lax"
        assert 364 * 86400 < cookie["expires"] - time.time() <= 366 * 86400
        assert page.evaluate("localStorage.getItem('_pc_vid')") == visitor

        def dwell() -> int:
            values = [e["dwell_ms"] for e in pathcast.events("dwell") if e["view"] == view_id]
            assert values == sorted(values), f"dwell is cumulative: {values}"
            return values[-1] if values else 0

        # visible 30 s: heartbeats every 15 s
        page.clock.run_for(30_000)
        pathcast.wait_for(page, lambda: dwell() >= 30_000, "dwell of 30 s")
        # hidden 60 s: the hide sends the dwell at once, the hidden minute adds nothing
        page.evaluate(HIDE)
        page.clock.run_for(60_000)
        page.wait_for_timeout(300)
        assert 30_000 <= dwell() <= 31_000
        heartbeats_when_hidden = len(pathcast.events("dwell"))
        # visible again 10 s, into the same view; hiding sends the total
        page.evaluate(SHOW)
        page.clock.run_for(10_000)
        page.evaluate(HIDE)
        pathcast.wait_for(page, lambda: dwell() >= 40_000, "dwell of 40 s")
        assert 40_000 <= dwell() <= 41_000, "visible 30 s + 10 s; the hidden 60 s do not count"
        assert len(pathcast.events("dwell")) == heartbeats_when_hidden + 1
        assert len(pathcast.events("view")) == 1
        page.evaluate(SHOW)

        # clicks and downloads (the page keeps its links from navigating, as an SPA would)
        page.evaluate(
            "document.addEventListener('click', (e) => e.target.closest('a') && e.preventDefault())"
        )
        with pathcast.lock:
            pathcast.requests.clear()
        for selector in ("h1", "#pdf", "#sheet", "#flagged", "#marked", "#contact", "#quote"):
            page.click(selector)
        for selector in ("#plain-label", "#bare", "#tile", "#long"):
            page.click(selector)
        page.click("#send")  # the e-mail field is empty: no identify
        page.fill("#email", "wang.zhuren@example.com")
        page.click("#send")
        page.evaluate("window.pathcast.flush()")
        pathcast.wait_for(page, lambda: pathcast.events("identify"), "form identify")
        assert [_without(e, "ts") for e in pathcast.events() if e["type"] != "dwell"] == [
            {
                "type": "download",
                "asset": "/files/dsa-comparison.pdf",
                "asset_name": "下载 PDF 版",
                "url": f"{site}/files/dsa-comparison.pdf?v=3#page=2",
            },
            {
                "type": "download",
                "asset": "dsa-price-list",
                "asset_name": "DSA 价格清单",
                "url": f"{site}/files/price-list.xlsx",
            },
            {"type": "download", "asset": "/brochure", "asset_name": "宣传册", "url": f"{site}/brochure"},
            {"type": "download", "asset": "/get", "asset_name": "安装手册", "url": f"{site}/get?id=7"},
            {"type": "click", "target": "联系 我们", "url": clean_url},
            {"type": "click", "target": "request-quote", "url": clean_url},
            {"type": "click", "target": "查看参数", "url": clean_url},
            {"type": "click", "target": f"{site}/specs/", "url": clean_url},
            {"type": "click", "target": "spec-tile", "url": clean_url},
            {"type": "click", "target": "耗材" * 50, "url": clean_url},
            {"type": "click", "target": "订阅", "url": clean_url},
            {"type": "click", "target": "订阅", "url": clean_url},
            {"type": "identify", "email": "wang.zhuren@example.com"},
        ]

        # leaving the page (pagehide) sends the view's dwell; the next page keeps the visitor
        # and is named by its path and title
        before_leaving = dwell()
        page.goto(f"{site}/index.html")
        pathcast.wait_for(page, lambda: dwell() > before_leaving, "dwell on pagehide")
        pathcast.wait_for(page, lambda: len(pathcast.events("view")) == 1, "the second view")
        (second,) = pathcast.events("view")
        assert _without(second, "ts", "view") == {
            "type": "view",
            "asset": "/index.html",
            "asset_name": "示例医疗 首页",
            "asset_kind": "page",
            "url": f"{site}/index.html",
        }
        assert second["view"] != view_id
        assert {request.body["visitor"] for request in pathcast.requests} == {visitor}
    finally:
        context.close()
    assert console.errors == []


def test_a_page_hidden_from_the_start_counts_no_dwell(
    browser: Browser, stand_in: tuple[Recorder, str]
) -> None:
    pathcast, site = stand_in
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(HIDDEN_FROM_THE_START)
        page.clock.install()
        page.goto(f"{site}/dsa.html")
        pathcast.wait_for(page, lambda: pathcast.events("view"), "view")
        page.clock.run_for(95_000)
        page.evaluate("window.pathcast.flush()")
        page.wait_for_timeout(300)
        assert pathcast.events("dwell") == []
        # brought to the front, it counts from then on
        page.evaluate(SHOW)
        page.clock.run_for(20_000)
        page.evaluate(HIDE)
        pathcast.wait_for(
            page, lambda: any(e["dwell_ms"] >= 20_000 for e in pathcast.events("dwell")), "dwell"
        )
        assert 20_000 <= pathcast.events("dwell")[-1]["dwell_ms"] <= 21_000
    finally:
        context.close()


@pytest.mark.parametrize(
    "beacon",
    [
        "Object.defineProperty(Navigator.prototype, 'sendBeacon', {value: undefined});",
        "Object.defineProperty(Navigator.prototype, 'sendBeacon', {value: () => false});",
    ],
    ids=["no-sendBeacon", "sendBeacon-refuses"],
)
def test_fetch_fallback_and_batches_of_twenty(
    browser: Browser, stand_in: tuple[Recorder, str], beacon: str
) -> None:
    pathcast, site = stand_in
    context = browser.new_context()
    console = Console()
    try:
        page = context.new_page()
        console.watch(page)
        page.add_init_script(beacon)
        page.clock.install()
        page.goto(f"{site}/dsa.html")
        pathcast.wait_for(page, lambda: pathcast.events("view"), "view")
        assert pathcast.requests[0].content_type.startswith("text/plain")
        assert pathcast.requests[0].origin == site
        # 25 custom events: 20 go at once, the other 5 with the next 5-second flush
        page.evaluate("for (let i = 0; i < 25; i++) window.pathcast.track('click', {target: 'custom-' + i})")
        pathcast.wait_for(page, lambda: len(pathcast.requests) == 2, "a batch of 20")
        assert len(pathcast.requests[1].body["events"]) == 20
        page.clock.run_for(5_000)
        pathcast.wait_for(page, lambda: len(pathcast.requests) == 3, "the last 5")
        assert [e["target"] for e in pathcast.events("click")] == [f"custom-{i}" for i in range(25)]
    finally:
        context.close()
    assert console.errors == []


@pytest.mark.parametrize("how", ["global", "cookie"])
def test_opt_out_sends_nothing_and_sets_no_cookie(
    browser: Browser, stand_in: tuple[Recorder, str], how: str
) -> None:
    pathcast, site = stand_in
    context = browser.new_context()
    console = Console()
    try:
        if how == "cookie":
            context.add_cookies([{"name": "_pc_optout", "value": "1", "url": site}])
        page = context.new_page()
        console.watch(page)
        if how == "global":
            page.add_init_script("window.pathcastOptOut = true;")
        page.clock.install()
        page.goto(f"{site}/dsa.html?pc_t=tok-456")
        page.wait_for_function("window.pathcast !== undefined")
        page.click("#quote")
        page.clock.run_for(30_000)
        page.evaluate("window.pathcast.flush(); window.pathcast.track('click', {target: 'x'})")
        page.goto(f"{site}/index.html")
        page.wait_for_timeout(500)
        assert pathcast.requests == []
        assert page.evaluate("window.pathcast.visitor") is None
        assert [c["name"] for c in context.cookies(site) if c["name"] == "_pc_vid"] == []
    finally:
        context.close()
    assert console.errors == []


# --- the acceptance scenario, against the real server ----------------------------------------

REP = "rep.signals@example.com"
MIN_DWELL = 90


@dataclass
class Reader:
    """A contact (and their account) who reads the site."""

    account_id: int
    contact_id: int
    name: str


@dataclass
class SignalsWorld:
    pathcast: str
    site: str
    headers: dict[str, str]
    wang: Reader  # the acceptance scenario
    li: Reader  # the contact page


def _seed_signals(database_url: str, site_origin: str) -> tuple[str, str, Reader, Reader]:
    """A rep with two accounts and a contact at each, and the tracked site.
    Returns the site key, the rep's API token and the two readers."""
    with unit_of_work(database_url) as session:
        rep = f.user(session, REP, team_obj=f.team(session, "East"))
        readers = []
        for account_name, contact_name, email in (
            ("北京协和医院", "王主任", "wang.zhuren@pumch.example"),
            ("上海瑞金医院", "李主任", "li.zhuren@rjh.example"),
        ):
            account = f.account(session, f.actor(rep), name=account_name)
            contact = crm.create_record(
                session,
                actor=f.actor(rep),
                spec=crm.SPECS["contact"],
                data={"name": contact_name, "account_id": account.id, "email": email},
            )
            readers.append(Reader(account.id, contact.id, contact_name))
        site = sites.create_site(session, name="www", allowed_origins=[site_origin], actor=f.SYSTEM)
        _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=rep)
        seeded = (site.key, secret, readers[0], readers[1])
    get_engine(database_url).dispose()
    return seeded


@pytest.fixture(scope="module")
def signals_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignalsWorld]:
    """Pathcast on 127.0.0.1 and the customer's site on ``localhost``: another site entirely."""
    directory = tmp_path_factory.mktemp("e2e-signals")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    site_dir = directory / "site"
    site_dir.mkdir()
    with serve_site(site_dir, host="localhost") as site:
        key, secret, wang, li = _seed_signals(database_url, site)
        with serve_pathcast(directory, database_url) as url:
            render_site(site_dir, url, key)
            yield SignalsWorld(url, site, {"Authorization": f"Bearer {secret}"}, wang, li)


def _poll(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s; last seen {last}")


def _asset(features: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((asset for asset in features["assets"] if asset["key"] == key), None)


def _tracked_link(api: httpx.Client, world: SignalsWorld, reader: Reader) -> str:
    """What the rep puts in an e-mail to ``reader``: the DSA page with a ``pc_t`` token."""
    answer = api.post(
        "/api/v1/signals/tracked-links",
        json={"contact_id": reader.contact_id, "url": f"{world.site}/dsa.html"},
    )
    assert answer.status_code == 200, answer.text
    url = str(answer.json()["url"])
    assert url.startswith(f"{world.site}/dsa.html?pc_t=")
    return url


def _read(
    context: BrowserContext, url: str, world: SignalsWorld, console: Console, *, hidden: bool = False
) -> None:
    """Open ``url`` in a new tab, keep it open 95 s (visible, or in the background), leave."""
    page = context.new_page()
    console.watch(page)
    if hidden:
        page.add_init_script(HIDDEN_FROM_THE_START)
    page.clock.install()
    page.goto(url)
    page.wait_for_function("window.pathcast && window.pathcast.visitor")
    assert "pc_t" not in page.url
    page.clock.run_for(95_000)
    page.goto(f"{world.site}/index.html")  # leaving sends the view's final dwell
    page.close()


def _account_dsa(api: httpx.Client, reader: Reader) -> dict[str, Any] | None:
    """The DSA figures of the reader's account: anonymous, so shown before the threshold too."""
    answer = api.get(
        f"/api/v1/signals/features/accounts/{reader.account_id}", params={"min_dwell": MIN_DWELL}
    )
    assert answer.status_code == 200, answer.text
    return _asset(answer.json(), DSA_KEY)


def _wait_for_account_dsa(
    api: httpx.Client, reader: Reader, field_name: str, expected: int
) -> dict[str, Any]:
    def check() -> tuple[bool, Any]:
        asset = _account_dsa(api, reader)
        return bool(asset and asset["windows"]["7d"][field_name] == expected), asset

    return dict(_poll(check, f"7-day {field_name} of the DSA page = {expected}"))


def _contact_features(api: httpx.Client, reader: Reader) -> dict[str, Any]:
    answer = api.get(
        f"/api/v1/signals/features/contacts/{reader.contact_id}", params={"min_dwell": MIN_DWELL}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _hold_meetings(api: httpx.Client, reader: Reader, numbers: range) -> None:
    """Meetings held with the contact: deep interactions towards the consent threshold (3)."""
    for number in numbers:
        held = (datetime.now(UTC) - timedelta(days=number, hours=1)).isoformat()
        answer = api.post(
            "/api/v1/activities",
            json={
                "kind": "meeting",
                "subject": f"拜访{reader.name}（第 {number} 次）",
                "account_id": reader.account_id,
                "contact_id": reader.contact_id,
                "occurred_at": held,
                "done_at": held,
            },
        )
        assert answer.status_code == 201, answer.text


def test_three_visible_readings_qualify_a_hidden_tab_does_not_and_only_past_the_threshold(
    browser: Browser, signals_world: SignalsWorld
) -> None:
    """The acceptance check: identified through a tracked link, 王主任 reads the DSA
    comparison three times for 95 s and once in a background tab for 95 s. Before the
    consent threshold his features show nothing; after it, 3 qualifying views, not 4."""
    world, wang = signals_world, signals_world.wang
    console = Console()
    with httpx.Client(base_url=world.pathcast, headers=world.headers, timeout=10.0) as api:
        tracked = _tracked_link(api, world, wang)
        context = browser.new_context(locale="zh-CN")  # one browser: one visitor
        try:
            for reading in (1, 2, 3):
                _read(context, tracked if reading == 1 else f"{world.site}/dsa.html", world, console)
                _wait_for_account_dsa(api, wang, "qualifying_views", reading)
            _read(context, f"{world.site}/dsa.html", world, console, hidden=True)
            account = _wait_for_account_dsa(api, wang, "views", 4)
            assert account["windows"]["7d"]["qualifying_views"] == 3
        finally:
            context.close()

        # before the consent threshold: nothing individual, however much was read
        _hold_meetings(api, wang, range(1, 3))
        before = _contact_features(api, wang)
        assert before["identified"] is False
        assert before["consent"]["crossed"] is False and before["consent"]["deep_interactions"] == 2
        assert before["assets"] == []
        assert before["windows"]["7d"] == {"views": 0, "dwell_seconds": 0.0, "qualifying_views": 0}
        assert before["last_seen_at"] is None

        # the third meeting crosses it: his own behaviour may now be shown
        _hold_meetings(api, wang, range(3, 4))
        after = _contact_features(api, wang)
        assert after["identified"] is True
        assert after["consent"]["crossed"] is True and after["consent"]["deep_interactions"] == 3
        dsa = _asset(after, DSA_KEY)
        assert dsa is not None, after["assets"]
        assert dsa["name"] == DSA_NAME
        week = dsa["windows"]["7d"]
        assert week["qualifying_views"] == 3, "three visible readings over 90 s; the hidden tab is not one"
        assert week["views"] == 4
        # 3 x 95 s visible (plus the moments the test itself takes); the hidden 95 s are not in it
        assert 3 * 95 <= week["dwell_seconds"] < 3 * 95 + 30
        assert after["windows"]["7d"]["qualifying_views"] == 3
    assert console.errors == []


def _sign_in(page: Page, world: SignalsWorld, path: str) -> None:
    page.goto(f"{world.pathcast}{path}")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("邮箱").fill(REP)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{world.pathcast}{path}")


def test_the_contact_page_shows_behaviour_only_past_the_threshold(
    browser: Browser, signals_world: SignalsWorld
) -> None:
    """李主任 reads the DSA comparison once through a tracked link. On his contact page the
    rep sees only the threshold state until three meetings are held; then the asset, its
    figures and the dwell heatmap (drawn by ECharts). Opting him out deletes it all."""
    world, li = signals_world, signals_world.li
    console = Console()
    with httpx.Client(base_url=world.pathcast, headers=world.headers, timeout=10.0) as api:
        reader = browser.new_context(locale="zh-CN")  # 李主任's browser
        try:
            _read(reader, _tracked_link(api, world, li), world, console)
            _wait_for_account_dsa(api, li, "qualifying_views", 1)
        finally:
            reader.close()

        rep = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        try:
            page = rep.new_page()
            console.watch(page)
            _sign_in(page, world, f"/contacts/{li.contact_id}")
            expect(page.get_by_role("heading", name=li.name)).to_be_visible()
            behaviour = page.get_by_test_id("behaviour")
            state = behaviour.get_by_test_id("consent-state")
            expect(state).to_have_attribute("data-state", "below")
            expect(state).to_contain_text("已有 0 / 3 次深度互动")
            expect(page.locator("main")).not_to_contain_text(DSA_NAME)  # below the threshold
            expect(behaviour.get_by_test_id("behaviour-assets")).to_have_count(0)
            expect(page.locator("[data-heatmap]")).to_have_count(0)

            _hold_meetings(api, li, range(1, 4))
            page.reload()
            expect(state).to_have_attribute("data-state", "crossed")
            expect(behaviour.get_by_test_id("behaviour-assets")).to_contain_text(DSA_NAME)
            heatmap = behaviour.locator("[data-heatmap]")
            expect(heatmap).to_have_attribute("data-rendered", "true")  # ECharts drew it
            expect(heatmap.locator("canvas")).to_have_count(1)
            expect(behaviour.get_by_test_id("identity-links")).to_contain_text("邮件跟踪链接")

            # Opting out asks for a confirmation first, then deletes his behaviour.
            confirm = behaviour.get_by_test_id("opt-out")
            expect(confirm).to_be_hidden()
            behaviour.get_by_test_id("opt-out-open").click()
            confirm.click()
            expect(page).to_have_url(f"{world.pathcast}/contacts/{li.contact_id}#behaviour")
            expect(state).to_have_attribute("data-state", "opted_out")
            expect(page.locator("main")).not_to_contain_text(DSA_NAME)
            expect(behaviour.get_by_test_id("opt-in")).to_be_visible()
        finally:
            rep.close()
    assert console.errors == []

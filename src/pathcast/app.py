"""Build the FastAPI application: API under /api/v1, pages at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from pathcast import __version__
from pathcast.auth.api import router as auth_router
from pathcast.automation.api import router as automation_router
from pathcast.crm.api import router as crm_router
from pathcast.db import unit_of_work
from pathcast.events_api import router as events_router
from pathcast.forecast.api import router as forecast_router
from pathcast.hives.api import router as hives_router
from pathcast.hives.api_archive import router as hives_archive_router
from pathcast.hives.api_board import router as hives_board_router
from pathcast.hives.api_capacity import router as hives_capacity_router
from pathcast.hives.api_health import router as hives_health_router
from pathcast.portal.api import router as portal_router
from pathcast.portal.api_admin import router as portal_admin_router
from pathcast.portal.api_audit import router as portal_audit_router
from pathcast.portal.api_exports import router as portal_exports_router
from pathcast.portal.api_grants import router as portal_grants_router
from pathcast.portal.api_pages import router as portal_pages_router
from pathcast.problems import install_problem_handlers
from pathcast.radar.api import router as radar_router
from pathcast.radar.api_cases import router as radar_cases_router
from pathcast.radar.api_knowledge import router as radar_knowledge_router
from pathcast.radar.api_matrix import router as radar_matrix_router
from pathcast.signals.api import public_router as signals_public_router
from pathcast.signals.api import router as signals_router
from pathcast.signals.api import snippet_router
from pathcast.signals.inbound_api import router as signals_inbound_router

API_PREFIX = "/api/v1"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work that lives as long as the server: mailbox polling, the automation
    engine, the forecast refresh."""
    from pathcast.automation.engine.worker import EngineThread
    from pathcast.config import get_settings
    from pathcast.forecast.tasks import Refresher
    from pathcast.radar.tasks import RadarPoller
    from pathcast.signals.tasks import Poller

    settings = get_settings()
    interval = settings.poll_interval_seconds
    poller = Poller(interval) if interval > 0 else None
    if poller is not None:
        poller.start()
    engine = EngineThread(settings.engine_poll_seconds) if settings.engine_poll_seconds > 0 else None
    if engine is not None:
        engine.start()
    refresher = (
        Refresher(settings.forecast_refresh_seconds) if settings.forecast_refresh_seconds > 0 else None
    )
    if refresher is not None:
        refresher.start()
    radar = RadarPoller(settings.radar_poll_seconds) if settings.radar_poll_seconds > 0 else None
    if radar is not None:
        radar.start()
    try:
        yield
    finally:
        if radar is not None:
            radar.stop()
        if refresher is not None:
            refresher.stop()
        if engine is not None:
            engine.stop()
        if poller is not None:
            poller.stop()


def create_app() -> FastAPI:
    """The whole application; every API route requires authentication unless marked public."""
    app = FastAPI(
        lifespan=lifespan,
        title="Pathcast API",
        version=__version__,
        description="Pathcast (推演) sales management. Authenticate with `Authorization: Bearer <token>` "
        "(see `pathcast token create`) or a session cookie plus an X-CSRF-Token header.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    install_problem_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth_router)
    api.include_router(crm_router)
    api.include_router(events_router)
    api.include_router(automation_router)
    api.include_router(signals_router)
    api.include_router(forecast_router)
    api.include_router(radar_router)
    api.include_router(radar_knowledge_router)
    api.include_router(radar_matrix_router)
    api.include_router(radar_cases_router)
    api.include_router(portal_exports_router)
    api.include_router(portal_pages_router)
    api.include_router(portal_grants_router)
    api.include_router(portal_admin_router)
    api.include_router(portal_audit_router)
    api.include_router(portal_router)
    # the hive's own routes (/hives/{hive_id}) last, after the fixed paths of the others
    api.include_router(hives_board_router)
    api.include_router(hives_capacity_router)
    api.include_router(hives_archive_router)
    api.include_router(hives_health_router)
    api.include_router(hives_router)
    api.include_router(signals_public_router)
    api.include_router(signals_inbound_router)
    app.include_router(api)
    app.include_router(snippet_router)

    @app.get("/healthz", tags=["public"], summary="Liveness and database check (public)")
    def healthz() -> dict[str, str]:
        with unit_of_work(write=False) as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    from pathcast.web.views import install_web

    install_web(app)
    return app

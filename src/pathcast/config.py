"""Runtime configuration, read from ``PATHCAST_*`` environment variables."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything an operator can set. Defaults give an embedded, single-machine install."""

    model_config = SettingsConfigDict(env_prefix="PATHCAST_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where the SQLite file and exports live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in the data directory."
    )
    secret_key: str | None = Field(
        default=None, description="Signs session cookies; generated into the data directory if unset."
    )
    queue_url: str | None = Field(
        default=None, description="Redis URL for background work; default in-process."
    )
    session_max_age_seconds: int = 14 * 24 * 3600
    secure_cookies: bool = False
    consent_threshold: int = Field(
        default=3,
        ge=1,
        description="Deep interactions (meeting held, call over 5 minutes, email reply, portal login) "
        "a contact needs before behaviour is shown against their name.",
    )
    poll_interval_seconds: int = Field(
        default=300, ge=0, description="How often the server polls IMAP mailboxes; 0 turns polling off."
    )
    qualifying_dwell_seconds: int = Field(
        default=30, ge=0, description="Default visible dwell for a view to count as qualifying."
    )
    engine_poll_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often the server's automation worker looks for new events and due runs "
        "(commits in the same process wake it at once); 0 turns the in-process worker off.",
    )
    forecast_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often the server refreshes the forecast: retrain when due, rescore open "
        "deals, record period distributions and renewal risk; 0 turns the in-process refresh off.",
    )
    forecast_retrain_hours: float = Field(
        default=168.0,
        gt=0,
        description="Age after which the active win model is retrained on schedule (default a week).",
    )
    radar_poll_seconds: int = Field(
        default=60,
        ge=0,
        description="How often the server polls due radar sources, analyses and routes; 0 turns it off.",
    )
    engine_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a worker holds a run it is executing; a crashed worker's runs are "
        "taken up by another once the lease expires.",
    )

    def resolved_database_url(self) -> str:
        """The database URL, falling back to ``<data_dir>/pathcast.db``."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'pathcast.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


def normalise_database_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver for both."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to change them)."""
    return Settings()

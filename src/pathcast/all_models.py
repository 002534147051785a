"""Import every package's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from pathcast import events
from pathcast.auth import models as auth_models
from pathcast.automation import models as automation_models
from pathcast.crm import models as crm_models
from pathcast.db import Base
from pathcast.forecast import models as forecast_models

# Importing the services registers their event reactions: signals counts crm's meetings,
# the forecast's guardrail turns a deal entering high risk into a suggestion to verify.
from pathcast.forecast.service import guardrail as forecast_guardrail  # noqa: F401
from pathcast.hives import models as hives_models

# The hive archive files every message signals receives (a reaction on signals.message_received).
from pathcast.hives.service import archive as hives_archive  # noqa: F401
from pathcast.portal import models as portal_models
from pathcast.radar import models as radar_models
from pathcast.signals import models as signals_models
from pathcast.signals import service as signals_service  # noqa: F401

metadata = Base.metadata

__all__ = [
    "auth_models",
    "automation_models",
    "crm_models",
    "events",
    "forecast_models",
    "hives_models",
    "metadata",
    "portal_models",
    "radar_models",
    "signals_models",
]

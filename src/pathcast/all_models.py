"""Import every package's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from pathcast import events
from pathcast.auth import models as auth_models
from pathcast.crm import models as crm_models
from pathcast.db import Base

metadata = Base.metadata

__all__ = ["auth_models", "crm_models", "events", "metadata"]

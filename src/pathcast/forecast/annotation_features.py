"""Point-in-time features from reps' annotations (filled in by the annotations work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from pathcast.events import Clock

ANNOTATION_COLUMNS: tuple[str, ...] = ()


def annotation_columns(
    session: Session, opportunity_ids: Sequence[int], at: datetime, *, clock: Clock = "occurred"
) -> npt.NDArray[np.float64]:
    """One row per deal (in ``opportunity_ids`` order), one column per ``ANNOTATION_COLUMNS``,
    counting only annotations known at ``at`` on ``clock``; NaN where a deal has none."""
    return np.full((len(opportunity_ids), len(ANNOTATION_COLUMNS)), np.nan)

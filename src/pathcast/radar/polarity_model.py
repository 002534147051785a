"""The active polarity model: a ``radar train`` model the live analysis scores polarity with.

Out of the box the radar's polarity is the lexicon's (``analysis.polarity``). A company
that trains a domain model on labelled text (``pathcast radar train … --activate``) makes
it *the* polarity of every signal analysed from then on: the file is copied to
``<data dir>/models/radar/polarity.npz`` and the analysis loads it (once per file
change). The lexicon's cue words stay on the analysis as the visible reasons.

Only a model whose labels are a polarity scheme (0/1, pos/neg, 正面/负面…) can be
activated; a topic or intent model cannot stand in for polarity.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathcast.config import get_settings
from pathcast.radar.training import DatasetInvalid, TextModel, TrainingInputError, polarity_mapping

ACTIVE_FILE = "polarity.npz"

PolarityScorer = Callable[[str], float]


def active_model_path(data_dir: Path | None = None) -> Path:
    """Where the active polarity model lives: ``<data dir>/models/radar/polarity.npz``."""
    return (data_dir or get_settings().data_dir) / "models" / "radar" / ACTIVE_FILE


def check_polarity_model(model: TextModel) -> dict[str, str]:
    """The model's label → polarity mapping; refuses a model whose labels are not polarity."""
    mapping = polarity_mapping(model.classes)
    if mapping is None or not {"positive", "negative"} <= set(mapping.values()):
        listed = ", ".join(model.classes)
        raise DatasetInvalid(
            f"只有极性模型可以启用（标签：{listed}）/ only a polarity model can be activated "
            f"(its labels: {listed}; expected 0/1, pos/neg, 正面/负面…)",
            column="label",
        )
    return mapping


def activate(model_file: Path, *, data_dir: Path | None = None) -> Path:
    """Check ``model_file`` is a polarity model and make it the active one (atomic copy)."""
    check_polarity_model(TextModel.load(model_file))
    target = active_model_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    if model_file.resolve() == target.resolve():
        return target
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".activating-")
    os.close(handle)
    try:
        shutil.copyfile(model_file, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def deactivate(data_dir: Path | None = None) -> bool:
    """Go back to the lexicon; True when there was an active model."""
    target = active_model_path(data_dir)
    existed = target.is_file()
    target.unlink(missing_ok=True)
    return existed


@dataclass(frozen=True)
class ActiveModel:
    """A loaded polarity model and what the analysis says about it."""

    model: TextModel
    mapping: dict[str, str]
    path: Path

    @property
    def name(self) -> str:
        """What the analysis names as the polarity's source."""
        source = self.model.info.get("source")
        return Path(str(source)).name if source else self.path.name

    def scores(self, texts: Sequence[str]) -> list[float]:
        """P(positive) − P(negative) per text, in −1..1 (neutral mass, if any, counts 0)."""
        if not texts:
            return []
        probabilities = self.model.predict_proba(list(texts))
        signs = [
            1.0 if self.mapping[label] == "positive" else -1.0 if self.mapping[label] == "negative" else 0.0
            for label in self.model.classes
        ]
        return [float(sum(p * s for p, s in zip(row, signs, strict=True))) for row in probabilities]

    def scorer(self) -> PolarityScorer:
        """A one-text scorer for ``analysis.analyse(polarity_model=…)``."""
        return lambda text: self.scores([text])[0]


_lock = threading.Lock()
_loaded: dict[Path, tuple[float, ActiveModel]] = {}


def load_active(data_dir: Path | None = None) -> ActiveModel | None:
    """The active model, loaded once per file version; None when the lexicon is in charge.

    A file that cannot be read is treated as absent (the lexicon keeps working) rather
    than stopping every analysis; ``pathcast radar model`` shows the error.
    """
    path = active_model_path(data_dir)
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    with _lock:
        cached = _loaded.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        model = TextModel.load(path)
        active = ActiveModel(model=model, mapping=check_polarity_model(model), path=path)
    except TrainingInputError:
        return None
    with _lock:
        _loaded[path] = (stamp, active)
    return active

"""The served win model: fit and calibrate, store without pickle, train versions on the
past only, activate one, refuse a history too small to learn from, retrain on schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event, events_by_type
from pathcast.forecast import annotation_features
from pathcast.forecast.features import COLUMNS
from pathcast.forecast.models import WinModel
from pathcast.forecast.service import scoring
from pathcast.forecast.snapshot import pipeline_as_of
from pathcast.forecast.training import (
    CalibratedModel,
    feature_columns,
    fit_calibrated,
    model_matrix,
    training_rows,
    training_set,
)
from tests import factories as f
from tests.forecast.test_backtest import build_history
from tests.forecast.test_snapshot import deal, move, product, stage_keys

SYSTEM = f.SYSTEM
CUTOFF = datetime(2024, 1, 1, tzinfo=UTC)
FAST = {"n_estimators": 20, "at": CUTOFF}


def synthetic(n: int = 600, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[rng.random((n, 5)) < 0.1] = np.nan
    logit = 1.5 * np.nan_to_num(x[:, 0]) - np.nan_to_num(x[:, 1])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


# --- fit and storage ------------------------------------------------------------------


def test_storage_round_trip_gives_identical_predictions() -> None:
    x, y = synthetic()
    model = fit_calibrated(x, y, n_estimators=40)
    booster, calibrator = model.to_storage()
    assert booster.startswith(b"tree")  # LightGBM's own text format, not a pickle
    assert calibrator["kind"] == model.calibration in ("isotonic", "sigmoid")
    restored = CalibratedModel.from_storage(booster, calibrator)
    assert np.array_equal(model.predict(x), restored.predict(x))
    assert np.array_equal(model.raw_contributions(x), restored.raw_contributions(x))
    contributions = model.raw_contributions(x[:7])
    assert contributions.shape == (7, 6)
    assert np.allclose(contributions.sum(axis=1), model.raw_score(x[:7]))
    p = model.predict(x)
    assert ((p >= 0) & (p <= 1)).all()
    # the model learnt something: probabilities follow the signal
    assert p[y == 1].mean() > p[y == 0].mean() + 0.1
    assert np.array_equal(fit_calibrated(x, y, n_estimators=40).predict(x), p), "same seed, same model"


def test_both_calibrations_store_and_match_sklearn() -> None:
    x, y = synthetic()
    model = fit_calibrated(x, y, n_estimators=40)
    raw = model.raw_score(x)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
    isotonic = CalibratedModel(
        model.booster,
        "isotonic",
        {"kind": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()},
    )
    probe = np.linspace(raw.min() - 1, raw.max() + 1, 101)
    assert np.allclose(isotonic.calibrate(probe), iso.predict(probe))
    platt = CalibratedModel(model.booster, "sigmoid", {"kind": "sigmoid", "coef": 2.0, "intercept": -0.5})
    assert np.allclose(platt.calibrate(np.array([0.25])), [0.5])
    for kept in (isotonic, platt):
        again = CalibratedModel.from_storage(*kept.to_storage())
        assert again.calibration == kept.calibration
        assert np.array_equal(again.predict(x), kept.predict(x))
    with pytest.raises(ValueError, match="calibration"):
        CalibratedModel.from_storage(model.to_storage()[0], {"kind": "pickle"})


# --- what a model may learn from ------------------------------------------------------


def test_training_set_holds_only_deals_closed_before_the_cutoff(session: Session) -> None:
    build_history(session)
    cutoff = datetime(2023, 7, 1, tzinfo=UTC)
    rows = training_rows(session, cutoff)
    matrix, y = training_set(session, cutoff)
    assert matrix.columns == feature_columns() and np.array_equal(
        matrix.values, rows.matrix.values, equal_nan=True
    )
    assert np.array_equal(y, rows.y) and len(y) == len(matrix.opportunity_ids) > 20
    final = {d.opportunity_id: d for d in pipeline_as_of(session, CUTOFF)}
    for deal_id, label, snapshot_at, closed_at in zip(
        matrix.opportunity_ids, y, rows.snapshot_at, rows.closed_at, strict=True
    ):
        assert snapshot_at < closed_at < cutoff
        outcome = final[deal_id]
        assert outcome.closed_at == closed_at
        assert label == int(outcome.stage_status == "won")
    later, _ = training_set(session, CUTOFF)
    assert len(later.opportunity_ids) > len(matrix.opportunity_ids)


def test_model_matrix_appends_whatever_annotation_columns_exist(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_history(session, deals=12)
    snapshots = [d for d in pipeline_as_of(session, CUTOFF) if d.is_open]
    monkeypatch.setattr(annotation_features, "ANNOTATION_COLUMNS", ("note_flag", "override_hint"))
    monkeypatch.setattr(
        annotation_features,
        "annotation_columns",
        lambda session, ids, at, clock="occurred": np.tile([1.0, np.nan], (len(ids), 1)),
    )
    matrix = model_matrix(session, snapshots, CUTOFF)
    assert matrix.columns == (*COLUMNS, "note_flag", "override_hint")
    assert matrix.values.shape == (len(snapshots), len(COLUMNS) + 2)
    assert (matrix.column("note_flag") == 1.0).all() and np.isnan(matrix.column("override_hint")).all()


# --- versions -------------------------------------------------------------------------


def test_versions_increment_and_activation_is_recorded(session: Session) -> None:
    build_history(session)
    first = scoring.train_model(session, actor=SYSTEM, **FAST)  # type: ignore[arg-type]
    second = scoring.train_model(session, actor=SYSTEM, seed=8, **FAST)  # type: ignore[arg-type]
    assert (first.version, second.version) == (1, 2)
    assert scoring.active_model(session) is second and not first.is_active
    assert set(second.metrics) == {"auc", "brier", "log_loss", "ece", "n"} and second.metrics["n"] > 0
    assert second.features == list(feature_columns()) and second.calibration in ("isotonic", "sigmoid")
    assert [m.version for m in scoring.list_models(session)] == [2, 1]

    trained = events_by_type(session, ["forecast.model_trained"])
    assert [e.entity_id for e in trained] == ["1", "2"] and trained[0].entity == "forecast_model"
    assert set(trained[0].payload) == {"version", "trigger", "training_rows", "metrics", "calibration"}
    assert trained[0].payload["trigger"] == "on_demand"
    assert trained[0].payload["training_rows"] == first.training_rows > 0

    scoring.activate_model(session, actor=SYSTEM, version=1)
    assert first.is_active and not second.is_active
    activated = events_by_type(session, ["forecast.model_activated"])
    assert [(e.payload["version"], e.payload["previous_version"]) for e in activated] == [
        (1, None),
        (2, 1),
        (1, 2),
    ]
    scoring.activate_model(session, actor=SYSTEM, version=1)  # already active: nothing recorded
    assert len(events_by_type(session, ["forecast.model_activated"])) == 3
    assert session.scalar(select(WinModel.version).where(WinModel.is_active.is_(True))) == 1

    with pytest.raises(NotFound):
        scoring.activate_model(session, actor=SYSTEM, version=9)
    reps = session.scalars(select(f.User).where(f.User.email == "rep0@example.com")).one()
    rep = f.actor(reps)
    with pytest.raises(PermissionDenied):
        scoring.activate_model(session, actor=rep, version=2)
    with pytest.raises(PermissionDenied):
        scoring.train_model(session, actor=rep, **FAST)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as unknown:
        scoring.train_model(session, actor=SYSTEM, trigger="whim", **FAST)  # type: ignore[arg-type]
    assert unknown.value.errors[0].field == "trigger"
    assert len(scoring.list_models(session)) == 2


def test_unactivated_version_leaves_the_active_one(session: Session) -> None:
    build_history(session)
    first = scoring.train_model(session, actor=SYSTEM, **FAST)  # type: ignore[arg-type]
    second = scoring.train_model(session, actor=SYSTEM, activate=False, **FAST)  # type: ignore[arg-type]
    assert first.is_active and not second.is_active
    assert len(events_by_type(session, ["forecast.model_activated"])) == 1


def test_too_small_a_history_is_refused_clearly(session: Session) -> None:
    build_history(session, deals=10)
    with pytest.raises(InvalidInput) as refused:
        scoring.train_model(session, actor=SYSTEM, **FAST)  # type: ignore[arg-type]
    [error] = refused.value.errors
    assert (error.field, error.code) == ("history", "too_few_closed_deals")
    assert (
        error.params["needed"] == scoring.MIN_CLOSED_DEALS and error.params["found"] < error.params["needed"]
    )
    assert session.scalar(select(Event.id).where(Event.type.like("forecast.%"))) is None


def test_a_single_outcome_is_refused(session: Session) -> None:
    keys = stage_keys(session)
    owner = f.user(session, "solo@example.com", password=None)
    account = f.account(session, name="Only losses")
    item = product(session, "CT-1")
    for i in range(25):
        opened = datetime(2023, 1, 2, tzinfo=UTC) + timedelta(days=5 * i)
        record = deal(
            session, opened=opened.date().isoformat(), account=account, owner_id=owner.id, product_obj=item
        )
        move(session, record, keys["lost"], (opened + timedelta(days=40)).date().isoformat())
    with pytest.raises(InvalidInput) as refused:
        scoring.train_model(session, actor=SYSTEM, **FAST)  # type: ignore[arg-type]
    [error] = refused.value.errors
    assert (error.field, error.code) == ("history", "single_outcome")
    assert error.params == {"won": 0, "lost": 25}


def test_retrain_on_schedule_when_due(session: Session) -> None:
    build_history(session)
    every = timedelta(days=7)
    now = datetime.now(UTC)
    # the history ends in 2024: the scheduled model learns from every closed deal
    first = scoring.retrain_if_due(session, actor=SYSTEM, now=now, every=every)
    assert first is not None and first.trigger == "schedule" and first.is_active
    assert scoring.retrain_if_due(session, actor=SYSTEM, now=now + timedelta(days=1), every=every) is None
    # trained_at is the wall clock when training ran, a moment after ``now``
    second = scoring.retrain_if_due(
        session, actor=SYSTEM, now=now + every + timedelta(minutes=5), every=every
    )
    assert second is not None and second.version == 2 and second.is_active
    assert [e.payload["trigger"] for e in events_by_type(session, ["forecast.model_trained"])] == [
        "schedule",
        "schedule",
    ]


def test_retrain_waits_for_enough_history(session: Session) -> None:
    build_history(session, deals=10)
    assert scoring.retrain_if_due(session, actor=SYSTEM, now=CUTOFF, every=timedelta(days=7)) is None
    assert scoring.list_models(session) == []

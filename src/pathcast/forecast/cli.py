"""``pathcast leads …``: score leads from history and say how well it works.

Registered by ``pathcast.cli``. Exit codes: 0 evaluated, 1 the file is missing or
unreadable, 2 the data cannot be evaluated (the message names the column).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from pathcast.forecast.evaluate import LeadEvaluation
    from pathcast.forecast.leads import LeadTable

leads_app = typer.Typer(help="Lead scoring from past leads and their outcome.", no_args_is_help=True)
console = Console(stderr=True)


@leads_app.command("evaluate")
def evaluate(
    path: Annotated[
        Path, typer.Argument(help="CSV of past leads, one row per lead, with an outcome column.")
    ],
    target: Annotated[
        str, typer.Option("--target", help="The outcome column (yes/no, 1/0, true/false, 是/否).")
    ],
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="A column to leave out, e.g. a leak (repeatable).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for the folds and the model; same seed, same numbers.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Cross-validate calibrated LightGBM against naive-Bayes lead scoring: AUC, Brier, log-loss, ECE."""
    from pathcast.forecast.evaluate import evaluate_leads
    from pathcast.forecast.leads import LeadDataError, load_leads

    try:
        table = load_leads(path, target=target, drop=tuple(drop or ()))
        result = evaluate_leads(table, folds=folds, seed=seed)
    except LeadDataError as error:
        _fail(str(error), 2)
        return
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}", 1)
        return
    report = evaluation_document(table, result)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_human(report, table.notes, [(c.name, c.note) for c in table.columns if c.note])


def evaluation_document(table: LeadTable, result: LeadEvaluation) -> dict[str, Any]:
    """The ``--json`` document (a public interface: keep its shape)."""
    return {
        "dataset": {
            "path": table.path,
            "rows": table.rows,
            "positives": table.positives,
            "positive_rate": round(table.positives / table.rows, 6),
            "columns": {
                "numeric": table.names_of("numeric"),
                "categorical": table.names_of("categorical"),
                "dropped": [{"column": d.column, "reason": d.reason} for d in table.dropped],
            },
        },
        "folds": result.folds,
        "seed": result.seed,
        "model": result.model.as_dict(),
        "baseline": result.baseline.as_dict(),
        "top_features": [{"feature": name, "gain": gain} for name, gain in result.top_features],
    }


def _print_human(
    report: dict[str, Any], notes: tuple[str, ...], column_notes: list[tuple[str, str | None]]
) -> None:
    out = Console()
    data = report["dataset"]
    out.print(
        f"[bold]{data['path']}[/bold]: {data['rows']} leads, {data['positives']} converted "
        f"({data['positive_rate']:.1%}); {report['folds']}-fold cross-validation, seed {report['seed']}"
    )
    table = Table(title="model vs baseline (mean ± std over folds; AUC higher is better, the rest lower)")
    table.add_column("metric")
    table.add_column("lightgbm (calibrated)", justify="right")
    table.add_column("naive bayes", justify="right")
    for metric in ("auc", "brier", "log_loss", "ece"):
        model, base = report["model"][metric], report["baseline"][metric]
        table.add_row(
            metric, f"{model['mean']:.4f} ± {model['std']:.4f}", f"{base['mean']:.4f} ± {base['std']:.4f}"
        )
    out.print(table)
    chosen = report["model"]["calibration"]
    out.print(
        f"calibration chosen per fold: isotonic {chosen['isotonic']}, sigmoid (Platt) {chosen['sigmoid']}"
    )
    columns = data["columns"]
    out.print(f"numeric ({len(columns['numeric'])}): {', '.join(columns['numeric']) or '-'}")
    out.print(f"categorical ({len(columns['categorical'])}): {', '.join(columns['categorical']) or '-'}")
    for dropped in columns["dropped"]:
        out.print(f"dropped {dropped['column']!r}: {dropped['reason']}")
    for name, note in column_notes:
        out.print(f"note {name!r}: {note}")
    for note in notes:
        out.print(f"note: {note}")
    features = ", ".join(f"{f['feature']} ({f['gain']:.0f})" for f in report["top_features"])
    out.print(f"top features by gain: {features or '-'}")


def _fail(message: str, code: int) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(code)


# --- pathcast forecast … --------------------------------------------------------------

forecast_app = typer.Typer(help="Pipeline forecasts and how well they would have done.", no_args_is_help=True)


@forecast_app.callback()
def forecast_callback() -> None:
    """Pipeline forecasts and how well they would have done."""


def _maven_folder(value: str) -> Path | None:
    """The Maven folder for ``--dataset maven`` or a path, else None."""
    if value != "maven":
        return Path(value)
    from pathcast.config import REPO_ROOT

    for folder in (
        Path("../shared/datasets/maven_crm"),
        REPO_ROOT.parent / "shared" / "datasets" / "maven_crm",
    ):
        if folder.is_dir():
            return folder
    return REPO_ROOT.parent / "shared" / "datasets" / "maven_crm"


@forecast_app.command("backtest")
def backtest(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="maven (imported into the configured database if absent), a Maven folder, "
            "demo (loaded if the database is empty), or current (the database as it is).",
        ),
    ] = "current",
    period: Annotated[str, typer.Option(help="quarter or month.")] = "quarter",
    min_train: Annotated[
        int, typer.Option("--min-train", help="Training rows (closed deals' snapshots) a cutoff needs.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed for the model and the Monte Carlo.")] = 7,
    annotations: Annotated[
        bool,
        typer.Option(
            "--annotations/--no-annotations",
            help="Read reps' annotations when deals have some, and report the lift with and without them.",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Roll a cutoff through history: calibrated LightGBM against stage-weighted, stage win rate
    and naive Bayes, per deal (AUC, Brier, log-loss, ECE) and per period (WAPE, P10–P90 coverage)."""
    from pathcast.db import unit_of_work
    from pathcast.forecast.backtest import BacktestError, maven_deal_ids, run_backtest

    if period not in ("quarter", "month"):
        _fail(f"--period must be quarter or month, got {period!r}", 2)
    deal_ids: set[int] | None = None
    if dataset == "demo":
        from pathcast.demo import load_demo_if_empty

        load_demo_if_empty()
    elif dataset != "current":
        folder = _maven_folder(dataset)
        assert folder is not None
        with unit_of_work(write=False) as session:
            present = bool(maven_deal_ids(session))
        if not present:
            if not folder.is_dir():
                _fail(f"Maven folder not found: {folder}", 1)
            from pathcast.crm.importers import ImportInputError, run_import

            console.print(f"importing {folder} (Maven) …")
            try:
                run_import(None, format="maven", paths=[folder])
            except ImportInputError as error:
                _fail(str(error), 1)
        with unit_of_work(write=False) as session:
            deal_ids = maven_deal_ids(session)
    try:
        with unit_of_work(write=False) as session:
            result = run_backtest(
                session,
                period="month" if period == "month" else "quarter",
                seed=seed,
                min_train=min_train,
                deal_ids=deal_ids,
                annotations=annotations,
            )
    except BacktestError as error:
        _fail(str(error), 2)
        return
    report = result.document("maven" if dataset not in ("demo", "current") else dataset)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_backtest(report)


def _print_backtest(report: dict[str, Any]) -> None:
    out = Console()
    cutoffs = ", ".join(c["cutoff"] for c in report["cutoffs"])
    out.print(
        f"[bold]{report['dataset']}[/bold] backtest by {report['period']}, seed {report['seed']}: {cutoffs}"
    )
    deals = Table(title="deal level (AUC higher is better, the rest lower)")
    periods = Table(title="period level: P50 revenue WAPE, actual inside P10–P90")
    for column in ("forecaster", "auc", "brier", "log_loss", "ece", "n"):
        deals.add_column(column, justify="left" if column == "forecaster" else "right")
    for column in ("forecaster", "wape", "coverage"):
        periods.add_column(column, justify="left" if column == "forecaster" else "right")
    for name, metrics in report["deal_level"].items():
        deals.add_row(
            name, *(_fmt(metrics[k]) for k in ("auc", "brier", "log_loss", "ece")), str(metrics["n"])
        )
        level = report["period_level"][name]
        periods.add_row(name, _fmt(level["wape"]), _fmt(level["coverage_p10_p90"]))
    out.print(deals)
    out.print(periods)
    for goal, met in report["goals"].items():
        out.print(f"goal {goal}: {'met' if met else 'NOT met'}")
    for note in report["notes"]:
        out.print(f"note: {note}")
    lift = report.get("annotation_lift")
    if lift:
        out.print(
            f"annotation lift ({lift['annotated_deals']} annotated deals, {lift['annotated_predictions']} "
            "predictions with a note known then): "
            + ", ".join(
                f"{key} {_fmt(lift['with'][key])} vs {_fmt(lift['without'][key])}"
                for key in ("auc", "brier", "log_loss", "ece", "wape")
            )
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# --- the served win model: train, score, list, activate -------------------------------


def _error_text(error: Exception) -> str:
    """A service refusal in English and Chinese, as the API would word it."""
    from pathcast.errors import InvalidInput, PathcastError
    from pathcast.i18n import translate
    from pathcast.problems import localised_params

    assert isinstance(error, PathcastError)
    lines: list[str] = []
    for locale in ("en", "zh-CN"):
        if isinstance(error, InvalidInput):
            for field_error in error.errors:
                params = localised_params(field_error.params, locale)
                message = translate(f"errors.field.{field_error.code}", locale, **params)
                lines.append(f"{field_error.field}: {message}")
        else:
            lines.append(translate(f"errors.{error.code}", locale, **localised_params(error.params, locale)))
    return "\n".join(lines)


def _model_document(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "trained_at": row.trained_at.isoformat(),
        "trained_by": row.trained_by,
        "trigger": row.trigger,
        "training_rows": row.training_rows,
        "calibration": row.calibration,
        "metrics": row.metrics,
        "is_active": row.is_active,
        "features": row.features,
        "notes": row.notes,
    }


def _run_service(action: Any) -> Any:
    """Run ``action(session, actor)`` in one unit of work as the system; a refusal exits
    with code 2 (the data cannot be used: too little history, no model yet) or 1."""
    from pathcast.auth.permissions import Actor
    from pathcast.db import unit_of_work
    from pathcast.errors import Conflict, InvalidInput, PathcastError

    try:
        with unit_of_work() as session:
            return action(session, Actor.system("cli"))
    except PathcastError as error:
        _fail(_error_text(error), 2 if isinstance(error, InvalidInput | Conflict) else 1)


@forecast_app.command("train")
def train_command(
    seed: Annotated[int, typer.Option(help="Seed for the split and the model; same seed, same model.")] = 7,
    n_estimators: Annotated[int, typer.Option("--n-estimators", help="At most this many trees.")] = 300,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="Make the new version the active one.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Train the next win-model version on every deal closed so far (and activate it)."""
    from pathcast.forecast.service import scoring

    document = _run_service(
        lambda session, actor: _model_document(
            scoring.train_model(session, actor=actor, seed=seed, n_estimators=n_estimators, activate=activate)
        )
    )
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    metrics = document["metrics"]
    Console().print(
        f"win model v{document['version']} trained on {document['training_rows']} rows, "
        f"calibration {document['calibration']}"
        + (", active" if document["is_active"] else "")
        + "; validation "
        + ", ".join(f"{k} {_fmt(metrics.get(k))}" for k in ("auc", "brier", "log_loss", "ece"))
        + f" (n {metrics.get('n')})"
    )


@forecast_app.command("score")
def score_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Score every open deal now with the active model, with each deal's drivers."""
    from pathcast.forecast.service import scoring

    def run(session: Any, actor: Any) -> dict[str, Any]:
        result = scoring.score_run(session, actor=actor)
        return {
            "model_version": result.model_version,
            "scored_at": result.scored_at.isoformat(),
            "scored": len(result.scores),
            "risk_changes": result.risk_changes,
            "deals": [
                {
                    "opportunity_id": score.opportunity_id,
                    "probability": score.probability,
                    "drivers": score.drivers[:3],
                }
                for score in sorted(result.scores, key=lambda s: (s.probability, s.opportunity_id))
            ],
        }

    document = _run_service(run)
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    out = Console()
    out.print(
        f"scored {document['scored']} open deals with win model v{document['model_version']}; "
        f"{document['risk_changes']} material risk change(s)"
    )
    table = Table(title="riskiest first")
    for column in ("deal", "probability", "top driver"):
        table.add_column(column, justify="right" if column == "probability" else "left")
    for deal in document["deals"][:20]:
        top = deal["drivers"][0]["en"] if deal["drivers"] else "-"
        table.add_row(str(deal["opportunity_id"]), f"{deal['probability']:.1%}", top)
    out.print(table)


@forecast_app.command("models")
def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """List the trained win-model versions, newest first, and which one is active."""
    from pathcast.forecast.service import scoring

    documents = _run_service(
        lambda session, actor: [_model_document(row) for row in scoring.list_models(session)]
    )
    if as_json:
        sys.stdout.write(json.dumps(documents, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="win models")
    for column in ("version", "active", "trained at", "trigger", "rows", "calibration", "auc", "brier"):
        table.add_column(column)
    for doc in documents:
        table.add_row(
            str(doc["version"]),
            "yes" if doc["is_active"] else "",
            doc["trained_at"][:19],
            doc["trigger"],
            str(doc["training_rows"]),
            doc["calibration"],
            _fmt(doc["metrics"].get("auc")),
            _fmt(doc["metrics"].get("brier")),
        )
    Console().print(table)


@forecast_app.command("activate")
def activate_command(
    version: Annotated[int, typer.Argument(help="The model version scoring should use.")],
) -> None:
    """Make a trained version the active one."""
    from pathcast.forecast.service import scoring

    _run_service(lambda session, actor: scoring.activate_model(session, actor=actor, version=version))
    Console().print(f"win model v{version} is active")


@forecast_app.command("refresh")
def refresh_command(
    retrain_hours: Annotated[
        float | None,
        typer.Option(
            help="Retrain when the active model is older than this (default PATHCAST_FORECAST_RETRAIN_HOURS)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """What the server does every PATHCAST_FORECAST_REFRESH_SECONDS, once: retrain when due,
    rescore open deals, record period distributions, score renewal risk (for cron)."""
    from datetime import timedelta

    from pathcast.forecast.service.refresh import refresh

    every = timedelta(hours=retrain_hours) if retrain_hours is not None else None
    report = refresh(retrain_every=every).document()
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        out = Console()
        out.print(
            f"active model v{report['active_version'] or '-'}"
            f"{' (trained now)' if report['trained_version'] else ''}; "
            f"{report['scored_deals']} deals scored, {report['periods_recorded']} period rows, "
            f"{report['renewals_scored']} renewals scored"
        )
        for step, reason in report["notes"].items():
            out.print(f"{step}: {reason}")
        for step, reason in report["failures"].items():
            out.print(f"[red]{step} failed[/red]: {reason}")
    if report["failures"]:
        raise typer.Exit(1)


# Commands of other concerns register themselves on ``forecast_app`` when imported.
from pathcast.forecast import cli_renewal, cli_revenue  # noqa: E402, F401

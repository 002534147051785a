"""``pathcast radar …``: fit and evaluate a domain text model on a labelled CSV.

Registered by ``pathcast.cli``. No database. Exit codes: 0 done, 1 the file (or model
file) cannot be read, 2 a column or the labels are unusable; the message names the
column or the line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pathcast.config import get_settings
from pathcast.radar.training import Evaluation, LabelledTexts, TrainingInputError

radar_app = typer.Typer(help="Customer signal radar: domain text models.", no_args_is_help=True)

console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
PathArgument = Annotated[Path, typer.Argument(help="A labelled CSV (UTF-8 or GB18030).", show_default=False)]
TextColumn = Annotated[
    str, typer.Option("--text-column", help="The column holding the text.", show_default=False)
]
LabelColumn = Annotated[
    str, typer.Option("--label-column", help="The column holding the label (0/1, pos/neg, 正面/负面…).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the fold split and the model.")]
EncodingOption = Annotated[
    str | None, typer.Option("--encoding", help="File encoding; detected (UTF-8 or GB18030) when omitted.")
]


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(error: TrainingInputError) -> None:
    # escaped: a column name or a CSV field may hold [brackets] that rich would eat;
    # soft_wrap: a path in the message must stay whole to be copied
    console.print(f"[red]error:[/red] {escape(error.message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def _load(path: Path, text_column: str, label_column: str, encoding: str | None) -> LabelledTexts:
    from pathcast.radar.training import load_labelled

    return load_labelled(path, text_column=text_column, label_column=label_column, encoding=encoding)


def _dataset_summary(data: LabelledTexts) -> dict[str, Any]:
    return {
        "source": data.source,
        "encoding": data.encoding,
        "text_column": data.text_column,
        "label_column": data.label_column,
        "rows_read": data.rows_read,
        "rows_used": len(data.texts),
        "empty_dropped": data.empty_dropped,
        "label_counts": data.counts(),
        "polarity_mapping": data.polarity_mapping,
    }


def _print_summary(data: LabelledTexts) -> None:
    console.print(
        f"{data.source}: {len(data.texts)} rows used / 使用 {len(data.texts)} 行 "
        f"({data.empty_dropped} empty texts dropped / 丢弃空文本 {data.empty_dropped} 行), encoding {data.encoding}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    mapping = data.polarity_mapping
    if mapping:
        pairs = ", ".join(f"{label} → {polarity}" for label, polarity in sorted(mapping.items()))
        console.print(f"label mapping / 标签映射: {pairs}", highlight=False, markup=False, soft_wrap=True)
    else:
        console.print(
            f"classes / 类别: {', '.join(data.classes)} (not a polarity scheme)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _print_evaluation(evaluation: Evaluation) -> None:
    method = f"{evaluation.folds}-fold CV" if evaluation.folds else "saved model / 已保存模型"
    console.print(
        f"{method} on {evaluation.rows} rows: accuracy / 准确率 {evaluation.accuracy:.2%}, "
        f"macro-F1 {evaluation.macro_f1:.4f}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    table = Table("label", "precision", "recall", "F1", "support")
    for metrics in evaluation.per_class:
        table.add_row(
            escape(metrics.label),
            f"{metrics.precision:.3f}",
            f"{metrics.recall:.3f}",
            f"{metrics.f1:.3f}",
            str(metrics.support),
        )
    console.print(table)
    confusion = Table("true \\ predicted", *(escape(label) for label in evaluation.classes))
    for label, row in zip(evaluation.classes, evaluation.confusion, strict=True):
        confusion.add_row(escape(label), *(str(n) for n in row))
    console.print(confusion)
    if evaluation.baseline:
        console.print(
            f"lexicon baseline / 词典基线: accuracy {evaluation.baseline.accuracy:.2%}, "
            f"macro-F1 {evaluation.baseline.macro_f1:.4f}, neutral {evaluation.baseline.neutral_share:.1%} "
            f"(accuracy where not neutral {evaluation.baseline.decided_accuracy:.2%})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"lexicon baseline / 词典基线: {evaluation.baseline_note}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


WithCorrections = Annotated[
    bool,
    typer.Option(
        "--with-corrections",
        help="Add the polarity corrections reps made to signals (from the database) to the rows.",
    ),
]
ActivateOption = Annotated[
    bool,
    typer.Option("--activate", help="Make the model the polarity of every signal analysed from now on."),
]


def _add_corrections(data: LabelledTexts) -> dict[str, int]:
    """Append the reps' polarity corrections to ``data`` in the file's own label scheme."""
    from pathcast.db import unit_of_work
    from pathcast.radar.service.signals import export_corrections
    from pathcast.radar.training import DatasetInvalid

    mapping = data.polarity_mapping
    if mapping is None:
        raise DatasetInvalid(
            "--with-corrections 需要极性标签（0/1、pos/neg、正面/负面）/ --with-corrections needs "
            f"polarity labels (0/1, pos/neg, 正面/负面); column {data.label_column!r} is not one",
            column=data.label_column,
        )
    by_polarity = {polarity: label for label, polarity in mapping.items()}
    with unit_of_work(write=False) as session:
        rows = [row for row in export_corrections(session) if row["field"] == "polarity"]
    added = skipped = 0
    for row in rows:
        label = by_polarity.get(str(row["label"]))
        if label is None or not str(row["text"]).strip():
            skipped += 1  # a "neutral" correction has no place in a binary scheme
            continue
        data.texts.append(str(row["text"]))
        data.labels.append(label)
        added += 1
    return {"corrections_added": added, "corrections_skipped": skipped}


@radar_app.command("train")
def train(
    path: PathArgument,
    text_column: TextColumn,
    label_column: LabelColumn,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Model file to write; default <data dir>/models/radar/<csv name>.npz."),
    ] = None,
    seed: SeedOption = 7,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds to report; 0 skips CV.")] = 5,
    encoding: EncodingOption = None,
    with_corrections: WithCorrections = False,
    activate: ActivateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Fit a text model on every row of a labelled CSV, save it, and print CV metrics."""
    from pathcast.radar import polarity_model
    from pathcast.radar.training import check_classes, default_model_path, evaluate, fit_text_model

    corrections: dict[str, int] | None = None
    try:
        data = _load(path, text_column, label_column, encoding)
        if with_corrections:
            corrections = _add_corrections(data)
        check_classes(data.labels, column=data.label_column, folds=folds)
        evaluation = (
            evaluate(data.texts, data.labels, folds=folds, seed=seed, label_column=data.label_column)
            if folds
            else None
        )
        model = fit_text_model(data.texts, data.labels, seed=seed)
        if activate:
            polarity_model.check_polarity_model(model)
    except TrainingInputError as error:
        _fail(error)
        return
    model.info["source"] = data.source
    model.info["text_column"] = data.text_column
    model.info["label_column"] = data.label_column
    if corrections is not None:
        model.info.update(corrections)
    if evaluation is not None:
        model.info["cv_accuracy"] = evaluation.accuracy
        model.info["cv_macro_f1"] = evaluation.macro_f1
    target = model.save(out if out is not None else default_model_path(get_settings().data_dir, path))
    active = polarity_model.activate(target) if activate else None
    if as_json:
        _emit(
            {
                "model": str(target),
                "active": str(active) if active else None,
                "corrections": corrections,
                "dataset": _dataset_summary(data),
                "evaluation": evaluation.as_dict() if evaluation else None,
            }
        )
        return
    _print_summary(data)
    if corrections is not None:
        console.print(
            f"corrections / 修正: {corrections['corrections_added']} added / 加入, "
            f"{corrections['corrections_skipped']} skipped / 跳过",
            highlight=False,
            markup=False,
        )
    if evaluation is not None:
        _print_evaluation(evaluation)
    console.print(f"model saved / 模型已保存: {target}", highlight=False, markup=False, soft_wrap=True)
    if active is not None:
        console.print(
            f"active polarity model / 已启用为情感极性模型: {active}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _model_file(model: str) -> Path | None:
    """``default`` → None (the lexicon), ``trained`` → the active model file, else a path."""
    from pathcast.radar import polarity_model
    from pathcast.radar.training import DatasetUnreadable

    if model == "default":
        return None
    if model == "trained":
        path = polarity_model.active_model_path()
        if not path.is_file():
            raise DatasetUnreadable(
                f"还没有启用的训练模型：{path}（先运行 pathcast radar train … --activate）/ no trained "
                f"model is active at {path} (run pathcast radar train … --activate first)"
            )
        return path
    return Path(model)


@radar_app.command("evaluate")
def evaluate_command(
    path: PathArgument,
    text_column: TextColumn,
    label_column: LabelColumn,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (at least 2).")] = 5,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="default: the lexicon Pathcast ships; trained: the active model (radar train "
            "--activate); or a model FILE. Omitted: cross-validate a new model on the file.",
        ),
    ] = None,
    seed: SeedOption = 7,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accuracy, macro-F1, per-class metrics: k-fold CV, or a model on rows it never saw."""
    from pathcast.radar.training import TextModel, evaluate, evaluate_lexicon, evaluate_model

    model_file: Path | None = None
    try:
        data = _load(path, text_column, label_column, encoding)
        if model is None:
            evaluation = evaluate(
                data.texts, data.labels, folds=folds, seed=seed, label_column=data.label_column
            )
        else:
            model_file = _model_file(model)
            evaluation = (
                evaluate_lexicon(data.texts, data.labels, label_column=data.label_column)
                if model_file is None
                else evaluate_model(
                    TextModel.load(model_file), data.texts, data.labels, label_column=data.label_column
                )
            )
    except TrainingInputError as error:
        _fail(error)
        return
    used = "cross-validation" if model is None else (str(model_file) if model_file else "default (lexicon)")
    if as_json:
        _emit(
            {
                "dataset": _dataset_summary(data),
                "model": used,
                "evaluation": evaluation.as_dict(),
            }
        )
        return
    _print_summary(data)
    console.print(f"model / 模型: {used}", highlight=False, markup=False, soft_wrap=True)
    _print_evaluation(evaluation)

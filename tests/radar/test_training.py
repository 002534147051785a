"""The radar text model: labelled CSV loading, fitting, storage, cross-validation, CLI.

Small CSVs are written per test; one test reads the shared Chinese review corpus (a
sample, to stay fast) and skips when ``../shared`` is absent.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pathcast.config import get_settings
from pathcast.radar.cli import radar_app
from pathcast.radar.training import (
    DatasetInvalid,
    DatasetUnreadable,
    TextModel,
    evaluate,
    evaluate_model,
    fit_text_model,
    load_labelled,
    polarity_mapping,
)

runner = CliRunner()

SUBJECTS = ["这台设备", "物流", "客服", "这款手机", "酒店房间", "包装", "质量", "售后服务"]
POSITIVE = ["非常好，很满意", "速度很快，推荐购买", "性价比高，值得", "做工精致，好评", "服务热情，下次还来"]
NEGATIVE = [
    "太差了，很失望",
    "交付延迟，非常生气",
    "质量有问题，退货",
    "态度恶劣，差评",
    "坏了没人管，不推荐",
]
ENGLISH_POSITIVE = ["works great, very happy", "fast delivery, highly recommend", "excellent quality"]
ENGLISH_NEGATIVE = ["broke after a week, terrible", "late delivery and rude support", "awful quality, refund"]


def reviews(count: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` (text, label) pairs, half positive ("1"), half negative ("0")."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        positive = i % 2 == 0
        if i % 5 == 4:
            text = rng.choice(ENGLISH_POSITIVE if positive else ENGLISH_NEGATIVE)
        else:
            text = rng.choice(SUBJECTS) + rng.choice(POSITIVE if positive else NEGATIVE)
        rows.append((text, "1" if positive else "0"))
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- loading ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_load_detects_the_encoding_and_drops_empty_texts(tmp_path: Path, encoding: str) -> None:
    rows = [["交付延迟，很生气", "负面"], ["  ", "正面"], ["物流很快", "正面"], ["", ""]]
    path = write_csv(tmp_path / "r.csv", ["Review", "Label"], rows, encoding=encoding)

    data = load_labelled(path, text_column="review", label_column="label")

    assert data.texts == ["交付延迟，很生气", "物流很快"]
    assert data.labels == ["负面", "正面"]
    assert (data.rows_read, data.empty_dropped) == (4, 2)
    assert data.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030"}[encoding]
    assert (data.text_column, data.label_column) == ("Review", "Label")
    assert data.polarity_mapping == {"正面": "positive", "负面": "negative"}


def test_a_stray_bom_inside_a_field_and_line_breaks_are_not_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["review", "label"], [["\ufeff很好\n用", "1"]])
    assert load_labelled(path, text_column="review", label_column="label").texts == ["很好 用"]


def test_a_missing_column_is_named_with_the_columns_the_file_has(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["cat", "label", "review"], [["书籍", "1", "好"]])
    with pytest.raises(DatasetInvalid) as caught:
        load_labelled(path, text_column="text", label_column="label")
    assert caught.value.column == "text"
    assert "'text'" in caught.value.message and "'review'" in caught.value.message


def test_a_text_without_a_label_names_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["review", "label"], [["好", "1"], ["差", " "]])
    with pytest.raises(DatasetInvalid) as caught:
        load_labelled(path, text_column="review", label_column="label")
    assert (caught.value.column, caught.value.row) == ("label", 3)
    assert "line 3" in caught.value.message and "第 3 行" in caught.value.message


def test_a_short_row_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("label,review\n1,好\n0\n", encoding="utf-8")
    with pytest.raises(DatasetInvalid) as caught:
        load_labelled(path, text_column="review", label_column="label")
    assert (caught.value.column, caught.value.row) == ("review", 3)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnreadable):
        load_labelled(tmp_path / "absent.csv", text_column="review", label_column="label")
    garbage = tmp_path / "bad.csv"
    garbage.write_bytes(b"review,label\nok,1\n\x80\xff\xfe,0\n")
    with pytest.raises(DatasetUnreadable) as caught:
        load_labelled(garbage, text_column="review", label_column="label")
    assert caught.value.row == 3
    with pytest.raises(DatasetUnreadable):
        load_labelled(garbage, text_column="review", label_column="label", encoding="no-such-codec")


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (["0", "1"], {"0": "negative", "1": "positive"}),
        (["neg", "POS"], {"neg": "negative", "POS": "positive"}),
        (["正面", "负面"], {"正面": "positive", "负面": "negative"}),
        (["-1", "0", "1"], {"-1": "negative", "0": "neutral", "1": "positive"}),
        (["price", "delivery", "quality"], None),
        (["1", "positive"], None),
    ],
)
def test_polarity_mapping_says_which_label_means_what(
    classes: list[str], expected: dict[str, str] | None
) -> None:
    assert polarity_mapping(classes) == expected


# --- model -----------------------------------------------------------------------------


def test_fit_predicts_and_survives_a_round_trip_through_a_file(tmp_path: Path) -> None:
    texts, labels = zip(*reviews(80), strict=True)
    model = fit_text_model(list(texts), list(labels))

    assert model.classes == ["0", "1"]
    unseen = ["这款手机质量有问题，退货", "客服服务热情，下次还来", "terrible, broke after a week"]
    assert model.predict(unseen) == ["0", "1", "0"]
    probabilities = model.predict_proba(unseen)
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)

    path = model.save(tmp_path / "models" / "m.npz")
    loaded = TextModel.load(path)
    assert loaded.predict(unseen) == model.predict(unseen)
    assert np.allclose(loaded.predict_proba(unseen), probabilities)
    assert loaded.info["polarity_mapping"] == {"0": "negative", "1": "positive"}
    assert model.predict([]) == [] and model.predict_proba([]).shape == (0, 2)


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(DatasetUnreadable):
        TextModel.load(path)
    np.savez(tmp_path / "other.npz", meta=np.frombuffer(b'{"kind": "x", "format": 1}', dtype=np.uint8))
    with pytest.raises(DatasetUnreadable):
        TextModel.load(tmp_path / "other.npz")


def test_multi_class_labels_are_learnt() -> None:
    topics = {"price": "价格太贵了", "delivery": "交付延迟三周", "compat": "PLC通讯协议兼容性"}
    texts = [f"{phrase}{suffix}" for phrase in topics.values() for suffix in ("", "！", "，怎么办", "。")]
    labels = [topic for topic in topics for _ in range(4)]
    model = fit_text_model(texts, labels)
    assert model.predict(["这个价格太贵", "交付延迟了"]) == ["price", "delivery"]


def test_one_class_is_refused_naming_the_labels() -> None:
    with pytest.raises(DatasetInvalid) as caught:
        fit_text_model(["好", "很好"], ["1", "1"])
    assert "'1'" in caught.value.message


# --- evaluation ------------------------------------------------------------------------


def test_evaluate_cross_validates_with_per_class_metrics() -> None:
    texts, labels = zip(*reviews(90, seed=3), strict=True)
    evaluation = evaluate(list(texts), list(labels), folds=3)

    assert evaluation.rows == 90 and evaluation.folds == 3 and len(evaluation.fold_accuracy) == 3
    assert evaluation.accuracy >= 0.9
    assert evaluation.classes == ["0", "1"]
    assert sum(map(sum, evaluation.confusion)) == 90
    correct = evaluation.confusion[0][0] + evaluation.confusion[1][1]
    assert evaluation.accuracy == pytest.approx(correct / 90)
    assert [m.support for m in evaluation.per_class] == [45, 45]
    assert evaluation.polarity_mapping == {"0": "negative", "1": "positive"}
    assert evaluation.baseline_note  # says whether the lexicon baseline ran, and why not
    json.dumps(evaluation.as_dict())


def test_evaluate_refuses_classes_smaller_than_the_folds() -> None:
    with pytest.raises(DatasetInvalid) as caught:
        evaluate(["好", "很好", "差"], ["1", "1", "0"], folds=2, label_column="sentiment")
    assert caught.value.column == "sentiment"
    assert "'0' (1)" in caught.value.message


def test_a_saved_model_scores_a_file_with_other_polarity_labels(tmp_path: Path) -> None:
    texts, labels = zip(*reviews(80), strict=True)
    model = TextModel.load(fit_text_model(list(texts), list(labels)).save(tmp_path / "m.npz"))
    unseen = reviews(30, seed=11)
    words = {"1": "正面", "0": "负面"}

    evaluation = evaluate_model(model, [t for t, _ in unseen], [words[label] for _, label in unseen])

    assert evaluation.folds == 0 and evaluation.rows == 30
    assert evaluation.classes == ["正面", "负面"]
    assert evaluation.polarity_mapping == {"正面": "positive", "负面": "negative"}
    assert evaluation.accuracy >= 0.9


def test_a_saved_model_refuses_labels_it_cannot_map() -> None:
    model = fit_text_model(["很好", "非常好", "很差", "太差了"], ["1", "1", "0", "0"])
    with pytest.raises(DatasetInvalid) as caught:
        evaluate_model(model, ["价格太贵"], ["price"], label_column="topic")
    assert caught.value.column == "topic" and "'price'" in caught.value.message


# --- command line ----------------------------------------------------------------------


def test_train_saves_under_the_data_dir_and_reports_cv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATHCAST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    path = write_csv(tmp_path / "reviews.csv", ["review", "label"], [list(row) for row in reviews(60)])
    try:
        result = runner.invoke(
            radar_app,
            [
                "train",
                str(path),
                "--text-column",
                "review",
                "--label-column",
                "label",
                "--folds",
                "3",
                "--json",
            ],
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert Path(report["model"]) == tmp_path / "data" / "models" / "radar" / "reviews.npz"
    assert report["dataset"]["polarity_mapping"] == {"0": "negative", "1": "positive"}
    assert report["evaluation"]["folds"] == 3
    model = TextModel.load(report["model"])
    assert model.info["cv_accuracy"] == report["evaluation"]["accuracy"]


def test_evaluate_command_prints_metrics(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["text", "sentiment"], [list(row) for row in reviews(45)])
    result = runner.invoke(
        radar_app,
        ["evaluate", str(path), "--text-column", "text", "--label-column", "sentiment", "--folds", "3"],
    )
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "0 → negative" in result.output


def test_evaluate_command_scores_a_trained_model_on_another_file(tmp_path: Path) -> None:
    train_csv = write_csv(tmp_path / "train.csv", ["review", "label"], [list(row) for row in reviews(60)])
    test_csv = write_csv(
        tmp_path / "test.csv", ["review", "label"], [list(row) for row in reviews(20, seed=5)]
    )
    model = tmp_path / "m.npz"
    trained = runner.invoke(
        radar_app,
        [
            "train",
            str(train_csv),
            "--text-column",
            "review",
            "--label-column",
            "label",
            "--folds",
            "0",
            "--out",
            str(model),
        ],
    )
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(
        radar_app,
        [
            "evaluate",
            str(test_csv),
            "--text-column",
            "review",
            "--label-column",
            "label",
            "--model",
            str(model),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["evaluation"]["folds"] == 0 and report["evaluation"]["rows"] == 20
    assert report["evaluation"]["accuracy"] >= 0.9
    unreadable = runner.invoke(
        radar_app,
        [
            "evaluate",
            str(test_csv),
            "--text-column",
            "review",
            "--label-column",
            "label",
            "--model",
            str(test_csv),
        ],
    )
    assert unreadable.exit_code == 1 and "test.csv" in unreadable.output


def test_train_activate_then_evaluate_default_and_trained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATHCAST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    train_csv = write_csv(tmp_path / "train.csv", ["review", "label"], [list(row) for row in reviews(60)])
    test_csv = write_csv(
        tmp_path / "test.csv", ["review", "label"], [list(row) for row in reviews(20, seed=5)]
    )
    args = ["evaluate", str(test_csv), "--text-column", "review", "--label-column", "label", "--json"]
    try:
        before = runner.invoke(radar_app, [*args, "--model", "trained"])
        trained = runner.invoke(
            radar_app,
            [
                "train",
                str(train_csv),
                "--text-column",
                "review",
                "--label-column",
                "label",
                "--folds",
                "0",
                "--activate",
                "--json",
            ],
        )
        after = runner.invoke(radar_app, [*args, "--model", "trained"])
        lexicon = runner.invoke(radar_app, [*args, "--model", "default"])
    finally:
        get_settings.cache_clear()

    assert before.exit_code == 1 and "--activate" in before.output
    assert trained.exit_code == 0, trained.output
    active = tmp_path / "data" / "models" / "radar" / "polarity.npz"
    assert json.loads(trained.stdout)["active"] == str(active) and active.is_file()
    assert after.exit_code == 0, after.output
    report = json.loads(after.stdout)
    assert report["model"] == str(active) and report["evaluation"]["accuracy"] >= 0.9
    assert lexicon.exit_code == 0, lexicon.output
    scored = json.loads(lexicon.stdout)
    assert scored["model"] == "default (lexicon)" and scored["evaluation"]["rows"] == 20
    assert scored["evaluation"]["polarity_mapping"] == {"0": "negative", "1": "positive"}


def test_only_a_polarity_model_can_be_activated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATHCAST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    rows = [["价格太贵了", "price"], ["交付太慢", "delivery"]] * 10
    path = write_csv(tmp_path / "topics.csv", ["text", "topic"], rows)
    try:
        result = runner.invoke(
            radar_app,
            [
                "train",
                str(path),
                "--text-column",
                "text",
                "--label-column",
                "topic",
                "--folds",
                "0",
                "--activate",
            ],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "only a polarity model" in result.output
    assert not (tmp_path / "data" / "models" / "radar" / "polarity.npz").exists()


def test_an_active_model_scores_polarity_and_the_lexicon_cues_stay(tmp_path: Path) -> None:
    from pathcast.radar import polarity_model
    from pathcast.radar.analysis import analyse

    texts, labels = zip(*reviews(60), strict=True)
    saved = fit_text_model(list(texts), list(labels)).save(tmp_path / "m.npz")
    polarity_model.activate(saved, data_dir=tmp_path)
    active = polarity_model.load_active(tmp_path)
    assert active is not None and polarity_model.load_active(tmp_path) is active  # cached
    text = "质量很好，非常满意，推荐"
    result = analyse(text, polarity_model=active.scorer(), polarity_model_name=active.name)
    assert result.polarity.label == "positive" and result.polarity.cues
    assert any("trained model" in note["en"] for note in result.notes)
    assert polarity_model.deactivate(tmp_path) and polarity_model.load_active(tmp_path) is None


def test_cli_exit_codes_name_the_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["review", "label"], [list(row) for row in reviews(20)])
    bad_column = runner.invoke(
        radar_app, ["evaluate", str(path), "--text-column", "body", "--label-column", "label"]
    )
    assert bad_column.exit_code == 2 and "'body'" in bad_column.output
    missing = runner.invoke(
        radar_app, ["train", str(tmp_path / "nope.csv"), "--text-column", "review", "--label-column", "label"]
    )
    assert missing.exit_code == 1 and "nope.csv" in missing.output
    too_few = runner.invoke(
        radar_app,
        ["evaluate", str(path), "--text-column", "review", "--label-column", "label", "--folds", "20"],
    )
    assert too_few.exit_code == 2 and "'label'" in too_few.output


# --- the shared Chinese review corpus --------------------------------------------------


def test_the_shared_chinese_reviews_reach_a_useful_accuracy(datasets: Path, tmp_path: Path) -> None:
    data = load_labelled(
        datasets / "online_shopping_10_cats" / "online_shopping_10_cats.csv",
        text_column="review",
        label_column="label",
    )
    assert data.polarity_mapping == {"0": "negative", "1": "positive"}
    assert data.empty_dropped == 1  # the corpus has one empty review (see its PROVENANCE.md)
    rows = random.Random(7).sample(list(zip(data.texts, data.labels, strict=True)), 1500)
    train, test = rows[:1200], rows[1200:]
    model = fit_text_model([t for t, _ in train], [label for _, label in train])
    predicted = model.predict([t for t, _ in test])
    accuracy = sum(p == label for p, (_, label) in zip(predicted, test, strict=True)) / len(test)
    # 1,200 training rows reach 87.7 % here; the full corpus reaches 93.7 % (docs/radar_models.md)
    assert accuracy >= 0.85, accuracy

"""Evaluation: task inference, class weights, baselines, metrics checked against scikit-learn and
hand computation, calibration tables, undefined metrics reported as None, baseline comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import label_binarize
from sklearn.utils.class_weight import compute_class_weight

from skewless.errors import TrainingError
from skewless.training._evaluation import (
    CalibrationBin,
    ClassificationMetrics,
    MeanBaseline,
    PriorBaseline,
    RegressionMetrics,
    calibration_table,
    class_weights,
    compare_to_baseline,
    evaluate,
    fit_baseline,
    infer_task,
    sample_weights,
)

# Metrics on awkward splits must not lean on sklearn warnings (or produce NaN) to get by.
pytestmark = pytest.mark.filterwarnings("error")

RNG_SEED = 7


def binary_data(rows: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    y = rng.integers(0, 2, rows)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, rows), 0, 1)
    return y, np.column_stack([1 - p, p])


def multiclass_data(rows: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    y = rng.choice(np.array(["cat", "dog", "eel"]), rows)
    logits = rng.normal(size=(rows, 3)) + 1.5 * label_binarize(y, classes=["cat", "dog", "eel"])
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


# -- infer_task ------------------------------------------------------------------------------


@pytest.mark.parametrize(("y", "task"), [
    ([0, 1, 1, 0], "binary"),
    (["yes", "no", "yes"], "binary"),
    ([True, False, True], "binary"),
    (pd.Series([0.0, 1.0, 1.0]), "binary"),
    ([1.0, None, 0.0], "binary"),
    ([1, 2, 3, 2], "multiclass"),
    (np.array([1.0, 2.0, 3.0]), "multiclass"),
    (["a", "b", "c"], "multiclass"),
    (pd.Series(pd.Categorical([10, 20, 30, 40] * 10)), "multiclass"),
    ([0.5, 1.25, 3.0], "regression"),
    (pd.Series([0.0, 0.1]), "regression"),
    (list(range(50)), "regression"),
])
def test_infer_task(y: object, task: str) -> None:
    assert infer_task(y) == task


def test_infer_task_max_classes_splits_classes_from_counts() -> None:
    y = [0, 1, 2, 3, 4, 5]
    assert infer_task(y, max_classes=6) == "multiclass"
    assert infer_task(y, max_classes=5) == "regression"
    assert infer_task([f"c{i}" for i in range(50)], max_classes=5) == "multiclass"


def test_infer_task_refuses_a_single_value_naming_the_column() -> None:
    with pytest.raises(TrainingError, match=r"label column 'churned' holds a single value \(1\) "
                                            r"in all 2 non-null rows.*check the label"):
        infer_task(pd.Series([1, 1], name="churned"))
    with pytest.raises(TrainingError, match=r"single value \(1.0\) in all 2 non-null rows"):
        infer_task(pd.Series([1, None, 1], name="churned"))
    with pytest.raises(TrainingError, match=r"label column 'target' holds a single value \('x'\)"):
        infer_task(["x", "x"], column="target")


def test_infer_task_refuses_null_and_empty_labels() -> None:
    with pytest.raises(TrainingError, match=r"label column 'y' is null in all 3 rows; fill it"):
        infer_task(pd.Series([np.nan, np.nan, np.nan], name="y"))
    with pytest.raises(TrainingError, match=r"label column 'label' is null in all 2 rows"):
        infer_task([None, None])
    with pytest.raises(TrainingError, match=r"label column 'label' has no rows"):
        infer_task([])
    with pytest.raises(TrainingError, match=r"label column 'price' holds infinite values"):
        infer_task([1.5, np.inf], column="price")


# -- class weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("y", [
    np.array([0, 0, 0, 0, 1, 1, 2]),
    np.array(["rare", "common", "common", "common", "common", "common"]),
])
def test_class_weights_match_sklearn_balanced(y: np.ndarray) -> None:
    weights = class_weights(y)
    classes = np.unique(y)
    expected = compute_class_weight("balanced", classes=classes, y=y)
    assert list(weights) == classes.tolist()
    assert list(weights.values()) == pytest.approx(expected.tolist())
    assert all(type(label) in (int, str) for label in weights)


def test_sample_weights_give_each_row_its_class_weight() -> None:
    y = pd.Series(["a", "b", "b", "b"])
    weights = class_weights(y)
    rows = sample_weights(y, weights)
    np.testing.assert_allclose(rows, [2.0, 2 / 3, 2 / 3, 2 / 3])
    assert rows.mean() == pytest.approx(1.0)
    assert rows[y == "a"].sum() == pytest.approx(rows[y == "b"].sum())


def test_sample_weights_refuse_a_label_without_weight() -> None:
    with pytest.raises(TrainingError, match=r"no class weight for labels \['c'\]"):
        sample_weights(["a", "c"], {"a": 1.0, "b": 2.0})


def test_class_weights_refuse_null_labels() -> None:
    with pytest.raises(TrainingError, match=r"1 of 3 labels are null.*drop the rows"):
        class_weights(["a", None, "b"])


# -- baselines -------------------------------------------------------------------------------


def test_prior_baseline_predicts_majority_with_training_priors() -> None:
    y_train = ["b", "a", "b", "c", "b", "a"]
    baseline = fit_baseline("multiclass", y_train)
    assert isinstance(baseline, PriorBaseline)
    assert baseline.classes == ("a", "b", "c")
    assert baseline.priors == pytest.approx((2 / 6, 3 / 6, 1 / 6))
    X = np.zeros((4, 3))
    assert baseline.predict(X).tolist() == ["b"] * 4
    np.testing.assert_allclose(baseline.predict_proba(X), np.tile([2 / 6, 3 / 6, 1 / 6], (4, 1)))
    assert baseline.classes_.tolist() == ["a", "b", "c"]


def test_prior_baseline_auc_is_a_coin_flip() -> None:
    y, _ = binary_data()
    baseline = fit_baseline("binary", y)
    metrics = evaluate("binary", y, baseline.predict_proba(y), classes=baseline.classes_)
    assert isinstance(metrics, ClassificationMetrics)
    assert metrics.auc_roc == 0.5
    assert metrics.log_loss == pytest.approx(skm.log_loss(y, np.tile(baseline.priors, (len(y), 1))))


def test_mean_baseline_predicts_training_mean() -> None:
    baseline = fit_baseline("regression", [1.0, 2.0, 6.0])
    assert baseline == MeanBaseline(3.0)
    np.testing.assert_array_equal(baseline.predict(pd.DataFrame({"x": [0, 1]})), [3.0, 3.0])


def test_fit_baseline_refuses_wrong_class_count_and_unknown_task() -> None:
    with pytest.raises(TrainingError, match=r"binary baseline needs 2 classes.*\[0, 1, 2\]"):
        fit_baseline("binary", [0, 1, 2])
    with pytest.raises(TrainingError, match=r"unknown task 'ranking'"):
        fit_baseline("ranking", [0, 1])  # type: ignore[arg-type]


# -- binary metrics --------------------------------------------------------------------------


def test_binary_metrics_match_sklearn() -> None:
    y, scores = binary_data()
    metrics = evaluate("binary", y, scores, threshold=0.4, classes=[0, 1])
    assert isinstance(metrics, ClassificationMetrics)
    p = scores[:, 1]
    assert metrics.task == "binary"
    assert metrics.auc_roc == pytest.approx(skm.roc_auc_score(y, p))
    assert metrics.average_precision == pytest.approx(skm.average_precision_score(y, p))
    assert metrics.f1 == pytest.approx(skm.f1_score(y, (p >= 0.4).astype(int)))
    assert metrics.threshold == 0.4
    assert metrics.log_loss == pytest.approx(skm.log_loss(y, scores))
    assert metrics.brier == pytest.approx(skm.brier_score_loss(y, p))
    assert metrics.rows == 200
    assert metrics.positive_rate == pytest.approx(y.mean())
    assert metrics.notes == ()


def test_binary_positive_class_is_the_second_class() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes"])
    p_yes = np.array([0.2, 0.9, 0.6, 0.55, 0.3])
    metrics = evaluate("binary", y, np.column_stack([1 - p_yes, p_yes]))
    assert isinstance(metrics, ClassificationMetrics)
    positive = y == "yes"
    assert metrics.positive_rate == pytest.approx(0.6)
    assert metrics.auc_roc == pytest.approx(skm.roc_auc_score(positive, p_yes))
    assert metrics.f1 == pytest.approx(skm.f1_score(positive, p_yes >= 0.5))
    assert metrics.brier == pytest.approx(np.mean((p_yes - positive) ** 2))
    assert evaluate("binary", y, p_yes) == metrics


def test_f1_counts_a_probability_equal_to_the_threshold_as_positive() -> None:
    metrics = evaluate("binary", [1, 0], [0.5, 0.2])
    assert isinstance(metrics, ClassificationMetrics)
    assert metrics.f1 == 1.0


def test_single_class_split_gives_none_auc_with_reason() -> None:
    y = [1, 1, 1]
    scores = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    metrics = evaluate("binary", y, scores, classes=[0, 1])
    assert isinstance(metrics, ClassificationMetrics)
    assert metrics.auc_roc is None
    assert metrics.average_precision is None
    assert "auc_roc: undefined, the split holds one class only (positive)" in metrics.notes
    assert metrics.log_loss == pytest.approx(-np.mean(np.log([0.8, 0.4, 0.9])))
    assert metrics.f1 == pytest.approx(skm.f1_score(y, [1, 0, 1]))
    assert metrics.positive_rate == 1.0
    logged = metrics.as_dict("valid.")
    assert "valid.auc_roc" not in logged
    assert "valid.average_precision" not in logged
    assert logged["valid.log_loss"] == pytest.approx(metrics.log_loss)


def test_all_negative_split_without_positive_predictions_leaves_f1_undefined() -> None:
    metrics = evaluate("binary", [0, 0], [0.2, 0.3], classes=[0, 1])
    assert isinstance(metrics, ClassificationMetrics)
    assert metrics.f1 is None
    assert "f1: undefined, no positive rows and no positive predictions" in metrics.notes
    assert metrics.brier == pytest.approx((0.2**2 + 0.3**2) / 2)


def test_single_class_split_without_classes_is_refused() -> None:
    with pytest.raises(TrainingError, match=r"do not match 2 labels and 1 classes.*classes="):
        evaluate("binary", [1, 1], [[0.2, 0.8], [0.1, 0.9]])


# -- calibration -----------------------------------------------------------------------------


def test_calibration_table_counts_and_means() -> None:
    y, scores = binary_data()
    p = scores[:, 1]
    metrics = evaluate("binary", y, scores)
    assert isinstance(metrics, ClassificationMetrics)
    table = metrics.calibration
    assert sum(b.count for b in table) == metrics.rows
    for b in table:
        inside = (p >= b.lower) & ((p < b.upper) | (b.upper == 1.0))
        assert b.count == inside.sum() > 0
        assert b.mean_predicted == pytest.approx(p[inside].mean())
        assert b.fraction_positive == pytest.approx(y[inside].mean())
        assert b.upper - b.lower == pytest.approx(0.1)


def test_calibration_bins_edges_and_empty_bins() -> None:
    table = calibration_table([0, 1, 1, 0, 1], [0.0, 0.3, 0.35, 0.3 - 1e-12, 1.0], bins=10)
    assert table == (
        CalibrationBin(0.0, 0.1, 1, 0.0, 0.0),
        CalibrationBin(0.2, 0.3, 1, pytest.approx(0.3 - 1e-12), 0.0),
        CalibrationBin(0.3, 0.4, 2, pytest.approx(0.325), 1.0),
        CalibrationBin(0.9, 1.0, 1, 1.0, 1.0),
    )
    quarters = calibration_table([1, 0, 1], [0.1, 0.2, 0.9], bins=4)
    assert [(b.lower, b.upper, b.count) for b in quarters] == [(0.0, 0.25, 2), (0.75, 1.0, 1)]


# -- multiclass metrics ----------------------------------------------------------------------


def test_multiclass_metrics_match_sklearn() -> None:
    y, scores = multiclass_data()
    classes = ["cat", "dog", "eel"]
    metrics = evaluate("multiclass", y, scores, classes=classes)
    assert isinstance(metrics, ClassificationMetrics)
    one_hot = label_binarize(y, classes=classes)
    predicted = np.array(classes)[scores.argmax(axis=1)]
    assert metrics.auc_roc == pytest.approx(
        skm.roc_auc_score(y, scores, multi_class="ovr", average="macro", labels=classes))
    assert metrics.average_precision == pytest.approx(
        skm.average_precision_score(one_hot, scores, average="macro"))
    assert metrics.f1 == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert metrics.log_loss == pytest.approx(skm.log_loss(y, scores, labels=classes))
    assert metrics.brier == pytest.approx(np.mean(np.sum((one_hot - scores) ** 2, axis=1)))
    assert metrics.brier == pytest.approx(skm.brier_score_loss(y, scores, labels=classes))
    assert metrics.threshold is None
    assert metrics.positive_rate is None
    assert metrics.rows == len(y)

    confidence, correct = scores.max(axis=1), predicted == y
    assert sum(b.count for b in metrics.calibration) == len(y)
    for b in metrics.calibration:
        inside = (confidence >= b.lower) & (confidence < b.upper)
        assert b.count == inside.sum()
        assert b.mean_predicted == pytest.approx(confidence[inside].mean())
        assert b.fraction_positive == pytest.approx(correct[inside].mean())


def test_multiclass_split_missing_a_class_averages_over_present_classes() -> None:
    y = np.array(["a", "b", "a", "b"])
    scores = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.4, 0.3], [0.5, 0.1, 0.4]])
    metrics = evaluate("multiclass", y, scores, classes=["a", "b", "c"])
    assert isinstance(metrics, ClassificationMetrics)
    expected = np.mean([skm.roc_auc_score(y == "a", scores[:, 0]),
                        skm.roc_auc_score(y == "b", scores[:, 1])])
    assert metrics.auc_roc == pytest.approx(expected)
    assert "auc_roc: macro over the classes in the split; absent: ['c']" in metrics.notes
    assert metrics.log_loss == pytest.approx(skm.log_loss(y, scores, labels=["a", "b", "c"]))


def test_multiclass_single_class_split_gives_none_auc() -> None:
    scores = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    metrics = evaluate("multiclass", [2, 2], scores, classes=[0, 1, 2])
    assert isinstance(metrics, ClassificationMetrics)
    assert metrics.auc_roc is None
    assert metrics.average_precision is None
    assert "auc_roc: undefined, the split holds one class only" in metrics.notes
    assert metrics.log_loss == pytest.approx(-np.mean(np.log([0.1, 0.3])))


# -- regression metrics ----------------------------------------------------------------------


def test_regression_metrics_match_sklearn() -> None:
    y = np.array([3.0, -0.5, 2.0, 7.0, 4.2])
    predicted = np.array([2.5, 0.0, 2.0, 8.0, 3.9])
    metrics = evaluate("regression", pd.Series(y), predicted)
    assert isinstance(metrics, RegressionMetrics)
    assert metrics.rmse == pytest.approx(skm.root_mean_squared_error(y, predicted))
    assert metrics.mae == pytest.approx(skm.mean_absolute_error(y, predicted))
    assert metrics.r2 == pytest.approx(skm.r2_score(y, predicted))
    assert metrics.rows == 5
    assert metrics.task == "regression"


def test_constant_target_leaves_r2_undefined() -> None:
    metrics = evaluate("regression", [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert isinstance(metrics, RegressionMetrics)
    assert metrics.r2 is None
    assert metrics.notes == ("r2: undefined, the split's target is constant",)
    assert metrics.rmse == pytest.approx(np.sqrt(2 / 3))
    assert metrics.as_dict("test.") == {"test.rmse": pytest.approx(np.sqrt(2 / 3)),
                                        "test.mae": pytest.approx(2 / 3), "test.rows": 3.0}


def test_as_dict_flattens_scalars_with_prefix() -> None:
    y, scores = binary_data()
    metrics = evaluate("binary", y, scores)
    assert isinstance(metrics, ClassificationMetrics)
    logged = metrics.as_dict("valid.")
    assert set(logged) == {f"valid.{name}" for name in (
        "auc_roc", "average_precision", "f1", "threshold", "log_loss", "brier", "rows",
        "positive_rate")}
    assert logged["valid.auc_roc"] == metrics.auc_roc
    assert all(type(value) is float for value in logged.values())
    assert set(metrics.as_dict()) == {key.removeprefix("valid.") for key in logged}


# -- evaluate refuses bad input --------------------------------------------------------------


def test_evaluate_refuses_labels_the_scores_do_not_cover() -> None:
    with pytest.raises(TrainingError, match=r"labels \[2\] are not among the classes.*\[0, 1\]"):
        evaluate("binary", [0, 1, 2], [0.2, 0.3, 0.1], classes=[0, 1])


@pytest.mark.parametrize(("scores", "message"), [
    ([[0.5, 0.5]], r"scores of shape \(1, 2\) do not match 2 labels"),
    ([[-0.1, 1.1], [0.5, 0.5]], r"outside \[0, 1\].*not raw margins"),
    ([[0.5, np.nan], [0.5, 0.5]], r"outside \[0, 1\] or NaN"),
    ([[0.5, 0.4], [0.5, 0.5]], r"sum to between 0.9 and 1, not 1"),
])
def test_evaluate_refuses_scores_that_are_not_probabilities(scores: list, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        evaluate("binary", [0, 1], scores)


def test_evaluate_refuses_bad_threshold_and_regression_input() -> None:
    with pytest.raises(TrainingError, match=r"threshold 1.5 is not a probability"):
        evaluate("binary", [0, 1], [0.2, 0.7], threshold=1.5)
    with pytest.raises(TrainingError, match=r"3 predictions for 2 labels"):
        evaluate("regression", [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(TrainingError, match=r"targets for evaluation hold null"):
        evaluate("regression", [1.0, None], [1.0, 2.0])


# -- baseline comparison ---------------------------------------------------------------------


def classification_pair(model_scores: np.ndarray, y: np.ndarray, y_train: np.ndarray) -> tuple[
        ClassificationMetrics, ClassificationMetrics]:
    baseline = fit_baseline("binary", y_train)
    model = evaluate("binary", y, model_scores, classes=[0, 1])
    prior = evaluate("binary", y, baseline.predict_proba(y), classes=baseline.classes_)
    assert isinstance(model, ClassificationMetrics)
    assert isinstance(prior, ClassificationMetrics)
    return model, prior


def test_a_fitted_classifier_beats_the_prior_baseline() -> None:
    rng = np.random.default_rng(RNG_SEED)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X[:300], y[:300])
    scored, prior = classification_pair(model.predict_proba(X[300:]), y[300:], y[:300])
    comparison = compare_to_baseline(scored, prior)
    assert comparison.primary_metric == "brier"
    assert comparison.model == scored.brier
    assert comparison.baseline == prior.brier
    assert comparison.beats_baseline is True
    by_auc = compare_to_baseline(scored, prior, metric="auc_roc")  # higher is better
    assert (by_auc.model, by_auc.baseline, by_auc.beats_baseline) == (scored.auc_roc, 0.5, True)


def test_one_confident_miss_loses_on_log_loss_but_not_on_brier() -> None:
    y = np.array([0] * 98 + [1, 1])
    scores = np.column_stack([1 - (p := np.r_[np.zeros(98), 0.9, 0.0]), p])
    scored, prior = classification_pair(scores, y, y)
    assert compare_to_baseline(scored, prior, metric="log_loss").beats_baseline is False
    assert compare_to_baseline(scored, prior).beats_baseline is True


def test_comparison_by_an_unknown_or_undefined_metric_is_refused() -> None:
    y, scores = binary_data()
    scored, prior = classification_pair(scores, y, y)
    with pytest.raises(TrainingError, match=r"cannot compare by 'accuracy'.*usable metrics: "
                                            r"brier, log_loss"):
        compare_to_baseline(scored, prior, metric="accuracy")


def test_an_inverted_classifier_does_not_beat_the_prior_baseline() -> None:
    y, scores = binary_data()
    scored, prior = classification_pair(scores[:, ::-1], y, y)
    comparison = compare_to_baseline(scored, prior)
    assert comparison.model > comparison.baseline
    assert comparison.beats_baseline is False


def test_a_tie_does_not_beat_the_baseline() -> None:
    y, _ = binary_data()
    baseline = fit_baseline("binary", y)
    _, prior = classification_pair(baseline.predict_proba(y), y, y)
    comparison = compare_to_baseline(prior, prior)
    assert comparison.model == comparison.baseline
    assert comparison.beats_baseline is False


def test_regression_comparison_uses_rmse() -> None:
    rng = np.random.default_rng(RNG_SEED)
    X = rng.normal(size=(200, 2))
    y = 3 * X[:, 0] + rng.normal(size=200)
    baseline = fit_baseline("regression", y[:150])
    prior = evaluate("regression", y[150:], baseline.predict(X[150:]))
    fitted = evaluate("regression", y[150:], LinearRegression().fit(X[:150], y[:150])
                      .predict(X[150:]))
    assert isinstance(prior, RegressionMetrics)
    assert isinstance(fitted, RegressionMetrics)
    better = compare_to_baseline(fitted, prior)
    assert (better.primary_metric, better.beats_baseline) == ("rmse", True)
    assert better.model == fitted.rmse
    worse = compare_to_baseline(evaluate("regression", y[150:], -y[150:]), prior)
    assert worse.beats_baseline is False
    assert worse.model > worse.baseline


def test_comparison_refuses_mismatched_metrics() -> None:
    y, scores = binary_data()
    classification = evaluate("binary", y, scores)
    regression = evaluate("regression", y, scores[:, 1])
    with pytest.raises(TrainingError, match=r"cannot compare binary metrics with regression"):
        compare_to_baseline(classification, regression)
    with pytest.raises(TrainingError, match=r"200 rows and baseline metrics 100"):
        compare_to_baseline(classification, evaluate("binary", y[:100], scores[:100]))

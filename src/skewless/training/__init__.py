"""Training: frames, time-based splits, baselines, evaluation and model bindings.

::

    frame = store.get_training_frame(labels, "fraud_service")
    split = skewless.training.time_split(frame, valid="7d", test="7d", gap="1d")
    model.fit(split.train.X(), split.train.y())
    with skewless.start_run("fraud") as run:
        run.log_model(model, "fraud", training_frame=split)
"""

from skewless.training._evaluation import (
    CalibrationBin,
    ClassificationMetrics,
    Comparison,
    MeanBaseline,
    PriorBaseline,
    RegressionMetrics,
    class_weights,
    compare_to_baseline,
    evaluate,
    fit_baseline,
    infer_task,
    sample_weights,
)
from skewless.training._frame import FeatureColumn, TrainingFrame
from skewless.training._split import Split, TimeLeakageWarning, random_split, time_split

__all__ = [
    "CalibrationBin",
    "ClassificationMetrics",
    "Comparison",
    "FeatureColumn",
    "MeanBaseline",
    "PriorBaseline",
    "RegressionMetrics",
    "Split",
    "TimeLeakageWarning",
    "TrainingFrame",
    "class_weights",
    "compare_to_baseline",
    "evaluate",
    "fit_baseline",
    "infer_task",
    "random_split",
    "sample_weights",
    "time_split",
]

"""qualityfm.tasks: task datasets (vt-alarm, af, abp), fine-tuning, baselines, metrics, reports."""

from __future__ import annotations

from qualityfm.quality.features import feature_names, signal_features, window_features
from qualityfm.tasks import metrics
from qualityfm.tasks.baselines import ClassicalBaseline, ResNet1d, load_estimator
from qualityfm.tasks.calibration import Calibrator, choose_threshold
from qualityfm.tasks.datasets import (
    RHYTHMS,
    TASKS,
    TaskDataset,
    build_task_dataset,
    iter_task_datasets,
    record_dataset,
)
from qualityfm.tasks.evaluate import (
    af_rhythm_decisions,
    binary_report,
    bp_report,
    cross_validate,
    multiclass_report,
    paired_difference,
    regression_report,
    rhythm_report,
)
from qualityfm.tasks.finetune import Finetuner, TaskEstimator
from qualityfm.tasks.pipeline import compare_run, evaluate_run, finetune_run, predict_run
from qualityfm.tasks.report import markdown_table, report
from qualityfm.tasks.splits import assert_disjoint, group_kfold, group_split

__all__ = [
    "RHYTHMS", "TASKS", "Calibrator", "ClassicalBaseline", "Finetuner", "ResNet1d",
    "TaskDataset", "TaskEstimator", "af_rhythm_decisions", "assert_disjoint", "binary_report",
    "bp_report", "build_task_dataset", "choose_threshold", "compare_run", "cross_validate",
    "evaluate_run", "feature_names", "finetune_run", "group_kfold", "group_split",
    "iter_task_datasets", "load_estimator", "markdown_table", "metrics", "multiclass_report",
    "paired_difference", "predict_run", "record_dataset", "regression_report", "report",
    "rhythm_report", "signal_features", "window_features",
]

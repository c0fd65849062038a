"""OVCOS (class-aware) and COS (class-agnostic) evaluation: per-image measures, the mmengine
metrics and folder evaluation."""
from .folder_eval import (GTSample, MissingPredictionsError, PredictionNameError,
                          PredictionTask, evaluate_predictions, evaluate_task, evaluate_tasks,
                          load_test_samples, match_predictions)
from .ovcos_measures import (CURVE_KEYS, OFFICIAL_KEYS, PAPER_KEYS, SCALAR_KEYS, CountEmeasure,
                             aggregate_measures, binarize_gt, compute_image_measures,
                             image_measures, paper_metrics, probability_to_uint8,
                             wrong_class_measures)
from .cos_metric import COS_KEYS, COSMetric, cos_results
from .ovcos_metric import OVCOSMetric
from .ovcos_summary import flatten_summary, image_record, subset_results, summarize

__all__ = [
    'OVCOSMetric', 'CountEmeasure', 'compute_image_measures', 'image_measures',
    'wrong_class_measures', 'aggregate_measures', 'paper_metrics', 'probability_to_uint8',
    'binarize_gt', 'image_record', 'summarize', 'flatten_summary', 'evaluate_predictions',
    'evaluate_tasks', 'evaluate_task', 'load_test_samples', 'match_predictions', 'GTSample',
    'PredictionTask', 'PredictionNameError', 'MissingPredictionsError', 'OFFICIAL_KEYS',
    'PAPER_KEYS', 'SCALAR_KEYS', 'CURVE_KEYS', 'COSMetric', 'COS_KEYS', 'cos_results',
    'subset_results'
]

"""mmwsss.evaluation: seed scores, the SeedMetric and the seed tools' scoring.

Seed files themselves are read and written by :mod:`mmwsss.io`."""
from mmwsss.compat import apply_all

apply_all()  # before mmseg: its imports reach mmcv's compiled ops (compat)

from .seed_eval import (BUILTIN_DATASETS, GTItem, SeedEvalError,  # noqa: E402
                        build_seed_eval_dataset, collect_gt_items,
                        find_missing_seeds, load_dataset_cfg, load_gt,
                        parse_named_dirs, score_seed_dirs)
from .seed_metric import SeedMetric  # noqa: E402
from .seed_scores import (SCORE_KEYS, format_comparison_markdown,  # noqa: E402
                          format_seed_table, scores_from_confusion,
                          seed_confusion, seed_report)

__all__ = [
    'SeedMetric', 'seed_confusion', 'scores_from_confusion', 'seed_report',
    'format_seed_table', 'format_comparison_markdown', 'SCORE_KEYS',
    'SeedEvalError', 'BUILTIN_DATASETS', 'build_seed_eval_dataset',
    'score_seed_dirs', 'parse_named_dirs'
]

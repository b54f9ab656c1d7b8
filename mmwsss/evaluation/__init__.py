"""mmwsss.evaluation: seed I/O, seed scores and the SeedMetric."""
from .seed_eval import (BUILTIN_DATASETS, GTItem, SeedEvalError,
                        build_seed_eval_dataset, collect_gt_items,
                        find_missing_seeds, load_dataset_cfg, load_gt,
                        parse_named_dirs, score_seed_dirs)
from .seed_io import (SEED_SUFFIX, atomic_write_bytes, dump_json_atomic,
                      is_done, read_seed_png, render_seed_overlay,
                      seed_palette_colors, seed_path, write_seed_overlay,
                      write_seed_png)
from .seed_metric import SeedMetric
from .seed_scores import (SCORE_KEYS, format_comparison_markdown,
                          format_seed_table, scores_from_confusion,
                          seed_confusion, seed_report)

__all__ = [
    'SeedMetric', 'seed_confusion', 'scores_from_confusion', 'seed_report',
    'format_seed_table', 'format_comparison_markdown', 'SCORE_KEYS',
    'SEED_SUFFIX', 'seed_path', 'is_done', 'write_seed_png', 'read_seed_png',
    'write_seed_overlay', 'render_seed_overlay', 'seed_palette_colors',
    'atomic_write_bytes', 'dump_json_atomic', 'SeedEvalError', 'GTItem',
    'BUILTIN_DATASETS', 'load_dataset_cfg', 'build_seed_eval_dataset',
    'collect_gt_items', 'load_gt', 'find_missing_seeds', 'score_seed_dirs',
    'parse_named_dirs'
]

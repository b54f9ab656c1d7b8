"""End-to-end FMA-WSSS on the bundled VOC images (``make demo``).

The one-command pipeline (tools/run_pipeline.py, :mod:`mmwsss.apis`) on
``data/voc_mini`` (10 train + 5 val real VOC 2012 images): SAM masks ->
two-phase prompts -> seeds + seed mIoU -> stage-2 DeepLabV3+ (shrunk) ->
val mIoU, plain and with SAMS TTA. Outputs go to ``--work-dir``
(``work_dirs/demo``); ``demo_results.json`` there records finished stages,
so a rerun resumes (``--force STAGE`` redoes a stage and the later ones),
and ``configs/`` holds the config each stage ran.

Weights: without any, tiny RANDOM CLIP and SAM models run. Real models::

    MMWSSS_CLIP=ViT-B-16 MMWSSS_CLIP_PRETRAINED=/path/ViT-B-16.pt \\
    MMWSSS_SAM_TYPE=vit_h MMWSSS_SAM_CHECKPOINT=/path/sam_vit_h_4b8939.pth \\
    make demo

Every option of tools/run_pipeline.py is accepted.
"""
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import run_pipeline  # noqa: E402


def main(argv: Optional[List[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if '--work-dir' not in argv:
        argv += ['--work-dir', 'work_dirs/demo']
    args = run_pipeline.parse_args(['data/voc_mini'] + argv)
    run_pipeline.build_runner(
        args,
        results_name='demo_results.json',
        title='FMA-WSSS demo on data/voc_mini').run()


if __name__ == '__main__':
    main()

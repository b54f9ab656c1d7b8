"""End-to-end FMA-WSSS on the bundled VOC images (``make demo``).

The one-command pipeline (``mmwsss-pipeline``, :mod:`mmwsss.apis`) on
``data/voc_mini`` (10 train + 5 val real VOC 2012 images): SAM masks ->
two-phase prompts -> seeds + seed mIoU -> stage-2 DeepLabV3+ (shrunk) ->
val mIoU, plain and with SAMS TTA. Outputs go to ``--work-dir``
(``work_dirs/demo``); ``demo_results.json`` there records finished stages,
so a rerun resumes (``--force STAGE`` redoes a stage and the later ones),
and ``configs/`` holds the config each stage ran.

Weights: without any, a tiny RANDOM CLIP runs. Real models::

    MMWSSS_CLIP=ViT-B-16 MMWSSS_CLIP_PRETRAINED=/path/ViT-B-16.pt \\
    MMWSSS_SAM_TYPE=vit_h MMWSSS_SAM_CHECKPOINT=/path/sam_vit_h_4b8939.pth \\
    make demo

Without a SAM checkpoint the quasi-superpixels come from the weight-free
Felzenszwalb generator (configs/sams/felzenszwalb.py), so that seeds,
phase 2 and SAMS TTA have structure to work on. The demo fails (exit
code 1, naming the figure) when one of the figures that show this is 0
(``--allow-zero`` makes it a loud warning instead): ``seed_fg_fraction``,
``coarse_seed_fg_fraction`` (share of foreground pixels in the fine /
coarse seeds), ``phase2_cal_loss_last`` (last logged CAL loss) or
``tta_changed_fraction`` (share of val pixels SAMS TTA relabels).

At the end the HTML report (``mmwsss-report``) is written to
``<work-dir>/report/report.html`` and its path printed.

Every option of tools/run_pipeline.py is accepted, and ``--allow-zero``.
"""
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.cli import pipeline as run_pipeline  # noqa: E402

#: (stage, result key) of the figures that must not be 0 (see above).
NONZERO = (('prompts', 'coarse_seed_fg_fraction'),
           ('prompts', 'phase2_cal_loss_last'), ('seeds', 'seed_fg_fraction'),
           ('test_sams', 'tta_changed_fraction'))


def check_nonzero(results: Dict[str, dict], strict: bool = True) -> bool:
    """Say loudly when a figure of :data:`NONZERO` is 0 or missing.

    Args:
        results (dict): The runner's results per stage.
        strict (bool): Exit with an error (default) instead of a warning.

    Returns:
        bool: True when every figure is above 0.

    Raises:
        SystemExit: With ``strict``, naming each such figure.
    """
    bad = [
        f'{stage}.{key} = {results.get(stage, {}).get(key)}'
        for stage, key in NONZERO if not results.get(stage, {}).get(key)
    ]
    if not bad:
        return True
    msg = ('demo CHECK FAILED: ' + '; '.join(bad) + ' (a seed map without '
           'foreground, a phase 2 without CAL loss or a SAMS TTA that '
           'changes nothing; README "Two commands" says what each figure '
           'shows; --allow-zero makes this a warning)')
    if strict:
        raise SystemExit(msg)
    print('\n' + '!' * 72 + '\n!! ' + msg + '\n' + '!' * 72, flush=True)
    return False


def main(argv: Optional[List[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    strict = '--allow-zero' not in argv
    argv = [a for a in argv if a != '--allow-zero']
    if '--work-dir' not in argv:
        argv += ['--work-dir', 'work_dirs/demo']
    # the bundled images: data/voc_mini of a clone, or of an installed
    # mmwsss (mmwsss/.mim/data/voc_mini)
    data = osp.join(_REPO, 'data', 'voc_mini')
    if not osp.isdir(data):
        from mmwsss.utils.package_files import package_root
        data = osp.join(package_root(), 'data', 'voc_mini')
    if osp.abspath(data) == osp.abspath(osp.join(os.getcwd(), 'data',
                                                 'voc_mini')):
        data = 'data/voc_mini'  # as the demo has always shown it
    args = run_pipeline.parse_args([data] + argv)
    runner = run_pipeline.build_runner(
        args,
        results_name='demo_results.json',
        title='FMA-WSSS demo on data/voc_mini')
    results = runner.run()
    if not args.no_report:
        run_pipeline.write_run_report(runner)
    check_nonzero(results, strict)


if __name__ == '__main__':
    main()

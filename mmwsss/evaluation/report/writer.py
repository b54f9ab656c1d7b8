"""Write ``report.html`` (figures beside it in ``report_files/``, or
embedded) and ``report.json`` (its numbers)."""
import base64
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image

from mmwsss.io import (atomic_write_bytes, dump_json_atomic, read_seed_png,
                       seed_palette_colors, seed_path)
from ..seed_eval import collect_gt_items, load_gt
from . import figures
from .data import report_data
from .html import fmt, render_html
from .inputs import ReportInputs, inputs_from_work_dir

__all__ = ['write_report', 'REPORT_NAME', 'FILES_DIR']

REPORT_NAME = 'report.html'
FILES_DIR = 'report_files'


class _Images:
    """Saves figures into ``<out_dir>/report_files`` and hands out their
    ``src`` (relative path, or a ``data:`` URI when embedding)."""

    def __init__(self, out_dir: str, embed: bool) -> None:
        self.dir = osp.join(out_dir, FILES_DIR)
        self.embed = embed
        os.makedirs(self.dir, exist_ok=True)

    def add(self, fig, name: str) -> str:
        path = figures.save_figure(fig, osp.join(self.dir, name + '.png'))
        if not self.embed:
            return f'{FILES_DIR}/{name}.png'
        with open(path, 'rb') as f:
            return 'data:image/png;base64,' + base64.b64encode(
                f.read()).decode('ascii')


def _slug(text: str) -> str:
    return ''.join(c if c.isalnum() else '_' for c in text).strip('_')


def _chart_figures(data: dict, images: _Images) -> Dict[str, str]:
    """Score bars, pixel shares, confusion maps, curves and stage times."""
    figs = {}
    for key in ('IoU', 'Precision', 'Recall') if data['seed_sets'] else ():
        figs[f'scores {key}'] = images.add(
            figures.score_bars(data['seed_sets'], key), f'scores_{key}')
    if data['seed_sets']:
        figs['pixel shares'] = images.add(
            figures.pixel_share_bars(data['pixel_shares']), 'pixel_shares')
    for name, rep in data['seed_sets'].items():
        figs[f'confusion {name}'] = images.add(
            figures.confusion_heatmap(rep, name), f'confusion_{_slug(name)}')
    for name, series in data['curves'].items():
        split = data['phase_split'] if name.startswith('phase') else None
        figs[f'curve {name}'] = images.add(
            figures.training_plot(name, series, split), f'curve_{_slug(name)}')
    if data['stage_seconds']:
        figs['stage times'] = images.add(
            figures.stage_time_bars(data['stage_seconds']), 'stage_times')
    return figs


def _strip_cams(inputs: ReportInputs, stems: List[str],
                device: str) -> Tuple[dict, List[str]]:
    """Recomputed CAMs of the strip images and the notes about them."""
    if not (inputs.cam_config and inputs.cam_checkpoint):
        return {}, [
            'No CAMs in the strips: seed folders hold seeds, not CAMs, and '
            'no model to recompute them was given (a seed config and its '
            'prompt checkpoint: --cam-config, --cam-checkpoint).'
        ]
    from .cams import recompute_cams
    seed_dir = inputs.seed_dirs[inputs.rank_set or list(inputs.seed_dirs)[-1]]
    try:
        cams = recompute_cams(inputs.cam_config, inputs.cam_checkpoint, stems,
                              seed_dir, device)
    except Exception as err:  # noqa: BLE001 (the report goes on without)
        return {}, [
            f'No CAMs in the strips: recomputing them with '
            f'{inputs.cam_config} and {inputs.cam_checkpoint} failed: '
            f'{err!r}'
        ]
    notes = [
        f'CAMs recomputed with {inputs.cam_config} and '
        f'{inputs.cam_checkpoint} (the pipeline stores no CAMs); under the '
        'first CAM of a strip: the share of pixels where the seed made from '
        'these CAMs equals the saved seed.'
    ]
    bad = [
        s for s, c in cams.items()
        if c.seed_agreement is not None and c.seed_agreement < 1.0
    ]
    if bad:
        notes.append(f'{len(bad)} of {len(cams)} images: the recomputed '
                     'seed differs from the saved one, so these CAMs are '
                     'not exactly those that made it: ' + ', '.join(bad))
    missing = sorted(set(stems) - set(cams))
    if missing:
        notes.append('No CAM for ' + ', '.join(missing) + ' (not in the '
                     'config\'s dataset).')
    return cams, notes


def _strips(data: dict, inputs: ReportInputs, dataset, images: _Images,
            device: str) -> Tuple[Dict[str, List[str]], List[str]]:
    """Strips of the worst and best images."""
    stems = data['worst'] + data['best']
    if not stems:
        return {}, []
    cams, notes = _strip_cams(inputs, stems, device)
    items = {
        osp.splitext(osp.basename(it.img_path))[0]: it
        for it in collect_gt_items(dataset)
    }
    colors = seed_palette_colors(dataset.metainfo.get('palette'))
    seed_dir = inputs.seed_dirs[data['rank_set']]
    per_image = data['seed_sets'][data['rank_set']]['per_image']
    out: Dict[str, List[str]] = {}
    for which in ('worst', 'best'):
        out[which] = []
        for stem in data[which]:
            item = items[stem]
            cam = cams.get(stem)
            fig = figures.image_strip(
                f'{stem}: mIoU {fmt(per_image[stem]["mIoU"])} '
                f'({data["rank_set"]})',
                np.asarray(Image.open(item.img_path).convert('RGB')),
                read_seed_png(seed_path(seed_dir, item.img_path)),
                load_gt(item),
                data['classes'],
                colors,
                cams=None if cam is None else cam.cams,
                cam_ids=() if cam is None else cam.class_ids,
                cam_note=None if cam is None or cam.seed_agreement is None else
                f'seed agreement {100 * cam.seed_agreement:.1f}%',
                ignore_index=inputs.ignore_index)
            out[which].append(images.add(fig, f'{which}_{_slug(stem)}'))
    return out, notes


def write_report(source: Union[str, ReportInputs],
                 out_dir: Optional[str] = None,
                 baselines: Optional[Dict[str, str]] = None,
                 cams: bool = True,
                 num_images: int = 4,
                 embed_images: bool = False,
                 device: str = 'cpu') -> str:
    """Write the HTML report of a pipeline run or of seed folders.

    Args:
        source (str | ReportInputs): A pipeline work dir (what
            ``tools/run_pipeline.py`` / ``make demo`` wrote) or explicit
            inputs (seed folders plus a ground-truth dataset).
        out_dir (str, optional): Output folder; default
            ``<work dir>/report`` (required with explicit inputs).
        baselines (dict[str, str], optional): More seed sets (name ->
            folder) beside a work dir's coarse and fine seeds.
        cams (bool): Recompute the strips' CAMs from a work dir's seed
            config and phase-2 checkpoint. Defaults to True.
        num_images (int): Worst and best images shown. Defaults to 4.
        embed_images (bool): Embed the figures as ``data:`` URIs (one
            file) instead of linking ``report_files/*.png``. Defaults to
            False.
        device (str): Device of the CAM model. Defaults to ``'cpu'``.

    Returns:
        str: Path of ``report.html``; ``report.json`` beside it holds its
        numbers (:func:`~.data.report_data`).
    """
    if isinstance(source, ReportInputs):
        if out_dir is None:
            raise ValueError('out_dir is needed with explicit inputs')
        inputs = source
    else:
        inputs = inputs_from_work_dir(source, baselines, cams)
        out_dir = out_dir or osp.join(source, 'report')
    os.makedirs(out_dir, exist_ok=True)
    data, dataset = report_data(inputs, num_images)
    images = _Images(out_dir, embed_images)
    figs = _chart_figures(data, images)
    strips, cam_notes = _strips(data, inputs, dataset, images, device)
    data['cam_notes'] = cam_notes
    dump_json_atomic(data, osp.join(out_dir, 'report.json'))
    path = osp.join(out_dir, REPORT_NAME)
    atomic_write_bytes(
        path,
        render_html(data, figs, strips, cam_notes).encode('utf-8'))
    return osp.abspath(path)

"""The report's figures, drawn with matplotlib (object API, Agg canvas: no
pyplot state, no display needed), each saved as a PNG."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = [
    'save_figure', 'score_bars', 'pixel_share_bars', 'confusion_heatmap',
    'training_plot', 'stage_time_bars', 'image_strip'
]

DPI = 80


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str) -> str:
    """Save a figure as PNG (tight layout) and return the path."""
    fig.savefig(path, format='png', bbox_inches='tight', dpi=DPI)
    return path


def _num(x: Optional[float]) -> float:
    return float('nan') if x is None else float(x)


def score_bars(seed_sets: Dict[str, dict], key: str) -> Figure:
    """Grouped bars of one per-class score (percent), a group per class
    and the mean last, one bar per seed set.

    Args:
        seed_sets (dict[str, dict]): Name -> seed-scoring report.
        key (str): ``'IoU'``, ``'Precision'`` or ``'Recall'``.

    Returns:
        Figure: The chart.
    """
    names = list(seed_sets)
    classes = next(iter(seed_sets.values()))['classes']
    labels = list(classes) + ['mean']
    x = np.arange(len(labels))
    width = 0.8 / len(names)
    fig = _figure(max(8.0, 0.5 * len(labels) * max(1, len(names)) / 1.5), 3.6)
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        rep = seed_sets[name]
        vals = [_num(rep['per_class'][c][key]) for c in classes]
        vals.append(_num(rep['m' + key]))
        ax.bar(
            x + (i - (len(names) - 1) / 2) * width,
            vals,
            width,
            label=f'{name} (m{key} {_num(rep["m" + key]):.1f})')
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha='right', fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f'{key} (%)')
    ax.set_title(
        f'{key} per class (missing bar: class absent from the '
        'ground truth and the seeds)',
        fontsize=9)
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=8, loc='upper right')
    return fig


def pixel_share_bars(shares: Dict[str, Dict[str, float]]) -> Figure:
    """Stacked horizontal bars: background / ignore / foreground share of
    the scored pixels of each seed set."""
    names = list(shares)
    fig = _figure(8.0, 0.6 + 0.45 * len(names))
    ax = fig.add_subplot()
    left = np.zeros(len(names))
    colors = dict(background='#444444', ignore='#dddddd', foreground='#2a9d8f')
    for part in ('background', 'ignore', 'foreground'):
        vals = np.array([100 * shares[n][part] for n in names])
        ax.barh(
            names,
            vals,
            left=left,
            color=colors[part],
            label=part,
            edgecolor='white')
        for y, (v, l0) in enumerate(zip(vals, left)):
            if v >= 6:
                ax.text(
                    l0 + v / 2,
                    y,
                    f'{v:.1f}%',
                    ha='center',
                    va='center',
                    fontsize=8,
                    color='white' if part != 'ignore' else 'black')
        left += vals
    ax.set_xlim(0, 100)
    ax.set_xlabel('share of the scored pixels (%)')
    ax.invert_yaxis()
    ax.legend(
        ncol=3,
        fontsize=8,
        loc='lower center',
        bbox_to_anchor=(0.5, 1.0),
        frameon=False)
    return fig


def confusion_heatmap(report: dict, name: str) -> Figure:
    """Heat map of the confusion matrix, each GT row normalised to 100%
    (what share of a class's pixels each prediction takes); the last column
    is "no class" (ignore)."""
    conf = np.asarray(report['confusion'], dtype=np.float64)
    rows = conf.sum(axis=1, keepdims=True)
    norm = np.divide(100 * conf, rows, out=np.zeros_like(conf), where=rows > 0)
    classes = report['classes']
    n = len(classes)
    size = max(4.0, 0.22 * n + 1.5)
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap='viridis', vmin=0, vmax=100)
    ax.set_xticks(range(n + 1))
    ax.set_xticklabels(list(classes) + ['(no class)'], rotation=90, fontsize=7)
    ax.set_yticks(range(n))
    ax.set_yticklabels(classes, fontsize=7)
    for g in range(n):
        if rows[g, 0] == 0:
            ax.text(
                n / 2,
                g,
                'not in the ground truth',
                ha='center',
                va='center',
                fontsize=6,
                color='#888888')
    ax.set_xlabel('seed label')
    ax.set_ylabel('ground truth')
    ax.set_title(f'{name}: % of each ground-truth class', fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig


def training_plot(name: str,
                  series: Dict[str, list],
                  phase_split: Optional[int] = None) -> Figure:
    """Losses (left axis, log scale when positive) and learning rate (right
    axis) of one training curve against the iteration."""
    fig = _figure(6.0, 3.0)
    ax = fig.add_subplot()
    steps = series['step']
    losses = [k for k in series if k not in ('step', 'lr')]
    for key in losses:
        ax.plot(steps, series[key], marker='o', markersize=3, label=key)
    if losses and all(v > 0 for k in losses for v in series[k]):
        ax.set_yscale('log')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title(name, fontsize=9)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if 'lr' in series:
        ax2 = ax.twinx()
        ax2.plot(
            steps, series['lr'], color='#999999', linestyle='--', label='lr')
        ax2.set_ylabel('learning rate')
        ax2.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if phase_split is not None and steps and \
            min(steps) <= phase_split <= max(steps):
        ax.axvline(phase_split, color='black', linewidth=0.8)
    ax.legend(handles, labels, fontsize=7, loc='best')
    return fig


def stage_time_bars(seconds: Dict[str, float]) -> Figure:
    """Horizontal bars of the wall seconds of each pipeline stage."""
    names = list(seconds)
    fig = _figure(7.0, 0.6 + 0.35 * len(names))
    ax = fig.add_subplot()
    vals = [seconds[n] for n in names]
    ax.barh(names, vals, color='#457b9d')
    for y, v in enumerate(vals):
        ax.text(v, y, f' {v:.1f} s', va='center', fontsize=8)
    ax.set_xlim(0, max(vals) * 1.2 if vals and max(vals) > 0 else 1)
    ax.invert_yaxis()
    ax.set_xlabel(f'wall seconds (total {sum(vals):.1f} s)')
    return fig


def _color_labels(labels: np.ndarray, colors: np.ndarray) -> np.ndarray:
    return colors[labels.astype(np.int64)]


def image_strip(title: str,
                image: np.ndarray,
                seed: np.ndarray,
                gt: np.ndarray,
                classes: Sequence[str],
                colors: np.ndarray,
                cams: Optional[np.ndarray] = None,
                cam_ids: Sequence[int] = (),
                cam_note: Optional[str] = None,
                ignore_index: int = 255) -> Figure:
    """One image as a strip: image | CAM of each labelled class | seed |
    ground truth, with a legend of the classes that appear.

    Args:
        title (str): Strip title (image name, its mIoU).
        image (np.ndarray): (H, W, 3) uint8 RGB.
        seed (np.ndarray): (H, W) class indices.
        gt (np.ndarray): (H, W) class indices, ``ignore_index`` void.
        classes (sequence[str]): Class names, background first.
        colors (np.ndarray): (256, 3) uint8 colour table.
        cams (np.ndarray, optional): (K, H, W) CAMs in [0, 1].
        cam_ids (sequence[int]): Their class indices.
        cam_note (str, optional): Shown under the CAM panels (e.g. the
            seed agreement of recomputed CAMs).
        ignore_index (int): Void label. Defaults to 255.

    Returns:
        Figure: The strip.
    """
    panels: List[tuple] = [('image', image, None)]
    if cams is not None:
        for cam, cid in zip(cams, cam_ids):
            panels.append((f'CAM: {classes[cid]}', image, cam))
        if not len(cam_ids):
            panels.append(('CAM: no labelled class', image, None))
    panels += [('seed', _color_labels(seed, colors), None),
               ('ground truth', _color_labels(gt, colors), None)]
    h, w = image.shape[:2]
    panel_w = 2.4
    fig = _figure(panel_w * len(panels) + 1.8, panel_w * h / w + 0.7)
    for i, (label, img, cam) in enumerate(panels, 1):
        ax = fig.add_subplot(1, len(panels), i)
        ax.imshow(img)
        if cam is not None:
            ax.imshow(cam, cmap='jet', alpha=0.5, vmin=0, vmax=1)
            if cam_note and i == 2:
                ax.set_xlabel(cam_note, fontsize=7)
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    present = sorted(
        set(np.unique(seed).tolist())
        | set(np.unique(gt).tolist()))
    handles = [
        Patch(
            facecolor=colors[c] / 255.0,
            edgecolor='black',
            label='void / no class'
            if c == ignore_index or c >= len(classes) else classes[c])
        for c in present
    ]
    fig.legend(handles=handles, loc='center right', fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(
        right=1 - 1.6 / (panel_w * len(panels) + 1.8), wspace=0.05)
    return fig

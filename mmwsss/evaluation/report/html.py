"""The report page: plain HTML and inline CSS, no script, no network.

Numbers are printed from the report data (the seed-scoring tool's reports)
with two decimals; every figure is an ``<img>`` whose ``src`` is given by
the caller (a file beside the page or a ``data:`` URI).
"""
from html import escape
from typing import Dict, List, Optional

__all__ = ['render_html', 'fmt']

CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1150px;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em;
  border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.settings td, table.settings th { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 1em; }
img { max-width: 100%; display: block; margin: 0.4em 0; }
.note { background: #fff4d6; border-left: 4px solid #e9a400;
        padding: 0.4em 0.8em; margin: 0.4em 0; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""


def fmt(x: Optional[float], digits: int = 2) -> str:
    """A score as printed in the report: ``-`` when undefined."""
    if x is None or x != x:
        return '-'
    return f'{x:.{digits}f}'


def _table(header: List[str],
           rows: List[List[str]],
           cls: str = '',
           attrs: str = '') -> str:
    head = ''.join(f'<th>{escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{escape(str(c))}</td>'
                                    for c in row) + '</tr>' for row in rows)
    cls_attr = f' class="{cls}"' if cls else ''
    return (f'<div class="scroll"><table{cls_attr}{attrs}><thead><tr>'
            f'{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _img(src: str, alt: str) -> str:
    return f'<img src="{escape(src)}" alt="{escape(alt)}">'


def _row(images: List[str]) -> str:
    """Images side by side (wrapping), '' for none."""
    return '<div class="row">' + ''.join(images) + '</div>' if images else ''


def _notes(notes: List[str]) -> str:
    return ''.join(f'<p class="note">{escape(n)}</p>' for n in notes)


def _summary(data: dict) -> str:
    rows = []
    for name, rep in data['seed_sets'].items():
        sh = data['pixel_shares'][name]
        rows.append([
            name, rep['num_images'], rep['num_missing_seeds'],
            fmt(rep['mIoU']),
            fmt(rep['mPrecision']),
            fmt(rep['mRecall']),
            fmt(rep['aAcc']),
            fmt(100 * sh['background'], 1),
            fmt(100 * sh['ignore'], 1),
            fmt(100 * sh['foreground'], 1), rep['seed_dir']
        ])
    return _table([
        'seed set', 'images', 'missing', 'mIoU', 'mPrecision', 'mRecall',
        'aAcc', 'background %', 'ignore %', 'foreground %', 'folder'
    ],
                  rows,
                  attrs=' id="seed-summary"')


def _per_class(data: dict) -> str:
    sets = list(data['seed_sets'])
    header = ['class'] + [
        f'{s} {k}' for s in sets for k in ('IoU', 'Precision', 'Recall')
    ]
    rows = []
    for c in data['classes']:
        row = [c]
        for s in sets:
            pc = data['seed_sets'][s]['per_class'][c]
            row += [fmt(pc['IoU']), fmt(pc['Precision']), fmt(pc['Recall'])]
        rows.append(row)
    return _table(header, rows, attrs=' id="per-class"')


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def _seed_section(data: dict, figs: Dict[str, str]) -> str:
    if not data['seed_sets']:
        return _section('Seed quality',
                        _notes(['Not scored: no ground truth.']), 'seeds')
    parts = [
        '<p>Scored by the seed-scoring tool\'s function (as '
        '<code>tools/eval_seeds.py</code>), percent; shares are of the '
        'scored pixels (ground truth not void).</p>',
        _summary(data)
    ]
    parts += [_img(figs[k], k) for k in figs if k.startswith('scores ')]
    if 'pixel shares' in figs:
        parts.append(_img(figs['pixel shares'], 'pixel shares'))
    parts.append('<details><summary>per-class table</summary>' +
                 _per_class(data) + '</details>')
    return _section('Seed quality', ''.join(parts), 'seeds')


def _strip_section(data: dict, strips: Dict[str, List[str]],
                   cam_notes: List[str]) -> str:
    if data['rank_set'] is None:
        return ''
    body = [
        f'<p>Ranked by the per-image mIoU of <b>{escape(data["rank_set"])}'
        '</b>. Each strip: image | CAM of each labelled class | seed | '
        'ground truth.</p>',
        _notes(cam_notes)
    ]
    for which in ('worst', 'best'):
        body.append(f'<h3>{which} images</h3>')
        body += [
            _img(src, f'{which} {i}')
            for i, src in enumerate(strips.get(which, []))
        ]
        if not strips.get(which):
            body.append('<p>none (too few scored images)</p>')
    return _section('Worst and best images', ''.join(body), 'images')


def _training_section(data: dict, figs: Dict[str, str]) -> str:
    curves = [_row([_img(figs[k], k) for k in figs if k.startswith('curve ')])]
    if not curves[0] and not data['missing_curves']:
        curves = [
            '<p class="note">No mmengine scalars.json found: no '
            'training curves.</p>'
        ]
    curves.append(
        _notes([
            f'{n}: no record in the scalars.json logs (fewer iterations '
            'than the logger interval?)' for n in data['missing_curves']
        ]))
    times = data['stage_seconds']
    if times:
        curves.append('<h3>stage times</h3>')
        curves.append(_img(figs['stage times'], 'stage times'))
        rows = [[k, fmt(v, 1)] for k, v in times.items()]
        rows.append(['total', fmt(sum(times.values()), 1)])
        curves.append(
            _table(['stage', 'wall s'], rows, attrs=' id="stage-times"'))
    return _section('Training', ''.join(curves), 'training')


def render_html(data: dict, figs: Dict[str, str], strips: Dict[str, List[str]],
                cam_notes: List[str]) -> str:
    """The report page.

    Args:
        data (dict): From :func:`~.data.report_data`.
        figs (dict[str, str]): Figure name -> image ``src``: ``'scores
            <key>'``, ``'pixel shares'``, ``'confusion <set>'``,
            ``'curve <name>'``, ``'stage times'``.
        strips (dict[str, list[str]]): ``'worst'`` / ``'best'`` -> strip
            image ``src`` list.
        cam_notes (list[str]): Remarks on the CAMs of the strips.

    Returns:
        str: The HTML document.
    """
    settings = _table(['setting', 'value'],
                      [list(s) for s in data['settings']],
                      cls='settings',
                      attrs=' id="settings"')
    confusion = _row(
        [_img(figs[k], k) for k in figs if k.startswith('confusion ')])
    body = [
        f'<h1>{escape(data["title"])}</h1>', settings,
        _notes(data['notes']),
        _seed_section(data, figs),
        _section('Confusion matrix', confusion, 'confusion')
        if data['seed_sets'] else '',
        _strip_section(data, strips, cam_notes),
        _training_section(data, figs)
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{escape(data["title"])}</title><style>{CSS}</style>'
            '</head><body>' + '\n'.join(body) + '</body></html>\n')

"""What several tests share: the tiny random FMAPromptModel, the bundled
VOC images (``data/voc_mini``) as a dataset or a batch of crops, the
settings of the "changes off == stock AMG" tests and a hand-scored toy
seed.

Imported as ``_helpers``: ``tests/conftest.py`` appends this folder to
``sys.path`` (a ``tests`` package in site-packages hides ``tests.*``).
"""
import copy
import os.path as osp
from typing import List

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

#: The tiny random CLIP of the model tests (no weights to download).
TINY_CLIP = dict(
    type='FrozenCLIP', model_name='mmwsss-tiny-ViT-16', pretrained=None)
#: CLIP's data preprocessor: ``clip_data_preprocessor`` of
#: configs/_base_/models/clip_vit_b16.py (CLIP's mean / std on 0..255 input,
#: padded to the 16-pixel patch grid).
CLIP_PREPROCESSOR = Config.fromfile(
    osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_',
        'models', 'clip_vit_b16.py')).clip_data_preprocessor.to_dict()
VOC_MINI_TRAIN = 'ImageSets/Segmentation/train.txt'


def tiny_prompt_model_cfg(**kwargs) -> dict:
    """Config of an FMAPromptModel on the tiny CLIP with threshold seeders
    (cls 0.4, seg 0.5).

    Args:
        **kwargs: Entries that replace the defaults (whole values).

    Returns:
        dict: A fresh config.
    """
    cfg = dict(
        type='FMAPromptModel',
        clip=copy.deepcopy(TINY_CLIP),
        data_preprocessor=copy.deepcopy(CLIP_PREPROCESSOR),
        seeder=dict(
            cls=dict(type='ThresholdSeeder', bg_threshold=0.4),
            seg=dict(type='ThresholdSeeder', bg_threshold=0.5)))
    cfg.update(kwargs)
    return cfg


def build_tiny_prompt_model(**kwargs) -> torch.nn.Module:
    """The model of :func:`tiny_prompt_model_cfg`, built after
    ``torch.manual_seed(0)`` (the same random weights every time).

    Args:
        **kwargs: Config entries that replace the defaults.

    Returns:
        torch.nn.Module: The FMAPromptModel.
    """
    torch.manual_seed(0)
    return MODELS.build(tiny_prompt_model_cfg(**kwargs))


def voc_mini_dataset(voc_mini_root: str,
                     pipeline: List[dict],
                     ann_file: str = VOC_MINI_TRAIN):
    """The bundled VOC images as a VOCImageLabelDataset (labels from the GT
    masks, no label cache), in mmseg's default scope.

    Args:
        voc_mini_root (str): ``data/voc_mini``.
        pipeline (list[dict]): The data pipeline.
        ann_file (str): The split. Defaults to the 10 train
            images.

    Returns:
        VOCImageLabelDataset: The dataset.
    """
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='VOCImageLabelDataset',
            data_root=voc_mini_root,
            ann_file=ann_file,
            seg_map_fallback=[],
            label_cache=None,
            pipeline=pipeline))


def voc_mini_crops(voc_mini_root: str, num: int, size: int = 64) -> dict:
    """The first ``num`` bundled training images resized to ``size`` x
    ``size`` with their GT (D_C of the seg phase), collated as one batch.

    Args:
        voc_mini_root (str): ``data/voc_mini``.
        num (int): Number of images.
        size (int): Side of the resized images. Defaults to 64.

    Returns:
        dict: ``pseudo_collate`` of the packed samples.
    """
    ds = voc_mini_dataset(voc_mini_root, [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='PackWSSSInputs'),
    ])
    return pseudo_collate([ds[i] for i in range(num)])


#: Automatic-mask-generator settings of the "changes off == the stock AMG"
#: tests on the tiny SAMs (64-pixel image; any IoU, low stability cut, one
#: crop layer).
STOCK_AMG_PARAMS = dict(
    points_per_side=8,
    points_per_batch=50,
    pred_iou_thresh=0.0,
    stability_score_thresh=0.3,
    stability_score_offset=0.002,
    box_nms_thresh=0.7,
    crop_n_layers=1,
    crop_nms_thresh=0.7,
    crop_n_points_downscale_factor=2,
    min_mask_region_area=20)


#: A 3 x 4 GT and seed of 4 classes, scored by hand in
#: tests/evaluation/test_seed_scores.py: class 3 is absent from both maps;
#: 255 in the GT = ignore, 255 in the seed = "no class".
TOY_GT = np.array([[0, 0, 1, 1],
                   [0, 255, 1, 1],
                   [2, 2, 1, 255]], np.uint8)
TOY_SEED = np.array([[0, 1, 1, 1],
                     [0, 0, 1, 0],
                     [2, 255, 2, 2]], np.uint8)


# ------------------------------------------------- the tiny pipeline run
#: Classes of the tiny pipeline's folder, in an order unlike VOC's, with
#: their VOC class ids.
PIPELINE_CLASSES = {'person': 15, 'car': 7, 'plane': 1}
PIPELINE_TRAIN = ('2007_000032', '2007_000033', 'dlv3p_3597d9a_0417',
                  'dlv3p_c516a72_0294', 'dlv3p_d1182fc_0582')
PIPELINE_VAL = ('dlv3p_977985f_0001', 'dlv3p_c516a72_0166')


def make_label_folder(voc_root: str,
                      out: str,
                      ids,
                      with_masks=None,
                      max_side: int = 96) -> dict:
    """An ImageLabelFolderDataset folder of bundled images: ``images/``,
    ``masks/`` (for ``with_masks``, default all), ``labels.json`` and
    ``classes.txt`` (:data:`PIPELINE_CLASSES`), images shrunk to
    ``max_side``.

    Returns:
        dict: Image id -> its class names.
    """
    import json
    import os

    from PIL import Image
    names = list(PIPELINE_CLASSES)
    for sub in ('images', 'masks'):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    labels = {}
    for i in ids:
        img = Image.open(osp.join(voc_root, 'JPEGImages', i + '.jpg'))
        gt = np.array(
            Image.open(osp.join(voc_root, 'SegmentationClass', i + '.png')))
        ours = np.where(gt == 255, 255, 0).astype(np.uint8)
        for k, voc in enumerate(PIPELINE_CLASSES.values(), 1):
            ours[gt == voc] = k
        f = max_side / max(img.size)
        size = (round(img.size[0] * f), round(img.size[1] * f))
        img.convert('RGB').resize(size, Image.BILINEAR).save(
            osp.join(out, 'images', i + '.jpg'))
        mask = Image.fromarray(ours).resize(size, Image.NEAREST)
        if with_masks is None or i in with_masks:
            mask.save(osp.join(out, 'masks', i + '.png'))
        present = sorted(set(np.unique(np.array(mask)).tolist()) - {0, 255})
        labels[i] = [names[c - 1] for c in present]
    with open(osp.join(out, 'labels.json'), 'w') as f:
        json.dump(labels, f)
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    return labels


def fast_mask_generator(folder: str) -> str:
    """A mask-generator config in ``folder``: tiny SAM, 4x4 point grid."""
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    path = osp.join(folder, 'sam_fast.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{repo}/configs/sams/sam_tiny.py']\n"
                'sam_generator = dict(points_per_side=4, crop_n_layers=0)\n')
    return path


# -------------------------------------------------- headless Chromium
#: Flags of a quiet, offline headless Chromium (Debian's package).
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync')


def chromium_or_skip() -> str:
    """The ``chromium`` executable; skip the test when it is missing,
    except in CI (``CI=true``), where that is a failure."""
    import os
    import shutil

    import pytest
    path = shutil.which('chromium')
    if path is None:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail('chromium is not installed but CI=true: .ci/run '
                        'installs it (apt-get install -y chromium)')
        pytest.skip('chromium is not installed (apt-get install -y '
                    'chromium); CI runs this test')
    return path


class _DevToolsPipe:
    """Chrome DevTools protocol over ``--remote-debugging-pipe`` (the
    browser reads NUL-terminated JSON commands on fd 3 and writes replies
    and events on fd 4): no websocket client needed."""

    def __init__(self, chromium: str, user_dir: str, timeout: float) -> None:
        import os
        import subprocess
        import time
        self.deadline = time.monotonic() + timeout
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        def child_fds():  # the pipe ends as fds 3 and 4 of the browser
            import fcntl
            high = [
                fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (cmd_r, out_w)
            ]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        cmd = [
            chromium, *CHROMIUM_FLAGS, '--remote-debugging-pipe',
            f'--user-data-dir={user_dir}', 'about:blank'
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,
            pass_fds=(3, 4))
        os.close(cmd_r)
        os.close(out_w)
        self._buf, self._id, self.events = b'', 0, []

    def _read_message(self) -> dict:
        import json
        import os
        import select
        import time
        while b'\0' not in self._buf:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self._out_r], [], [], left)[0]:
                raise TimeoutError('chromium did not answer in time')
            chunk = os.read(self._out_r, 1 << 16)
            if not chunk:
                raise RuntimeError('chromium closed the DevTools pipe')
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method: str, session: str = None, **params) -> dict:
        """Send a command; collect events until its reply; return the
        result (raises on a protocol error)."""
        import json
        import os
        self._id += 1
        msg = dict(id=self._id, method=method, params=params)
        if session:
            msg['sessionId'] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b'\0')
        while True:
            reply = self._read_message()
            if reply.get('id') == self._id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply.get('result', {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        """Collect events until ``method`` arrives; return it."""
        for ev in self.events:
            if ev.get('method') == method:
                return ev
        while True:
            ev = self._read_message()
            self.events.append(ev)
            if ev.get('method') == method:
                return ev

    def close(self) -> None:
        import os
        try:
            self.send('Browser.close')
        except Exception:  # noqa: BLE001 (closing anyway)
            pass
        for fd in (self._cmd_w, self._out_r):
            os.close(fd)
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait()


#: Page script: every <img> with its src head, complete and naturalWidth.
_IMAGES_JS = ('Array.from(document.images).map(i => ({src: '
              'i.getAttribute("src").slice(0, 80), complete: i.complete, '
              'width: i.naturalWidth}))')


def _console_errors(events: List[dict]) -> List[str]:
    """Console errors, uncaught exceptions and error log entries (e.g. a
    resource that failed to load) among DevTools events."""
    errors = []
    for ev in events:
        method, params = ev.get('method'), ev.get('params', {})
        if method == 'Runtime.exceptionThrown':
            errors.append(str(params.get('exceptionDetails')))
        elif method == 'Runtime.consoleAPICalled' and params.get(
                'type') in ('error', 'assert'):
            errors.append(str(params.get('args')))
        elif method == 'Log.entryAdded' and params.get(
                'entry', {}).get('level') == 'error':
            entry = params['entry']
            errors.append(f'{entry.get("text")} {entry.get("url", "")}')
    return errors


def open_in_chromium(html_path: str,
                     screenshot: str,
                     width: int = 1200,
                     height: int = 2000,
                     timeout: float = 90) -> dict:
    """Open a page in headless Chromium and report what a user would see.

    Args:
        html_path (str): The page.
        screenshot (str): PNG written of the first ``width`` x ``height``
            pixels.
        width (int): Window width. Defaults to 1200.
        height (int): Window height. Defaults to 2000.
        timeout (float): Seconds for the whole visit. Defaults to 90.

    Returns:
        dict: ``images`` (one ``{src, complete, width}`` per ``<img>``),
        ``errors`` (console errors, exceptions, failed loads) and
        ``title``.
    """
    import base64
    import pathlib
    import tempfile
    chromium = chromium_or_skip()
    with tempfile.TemporaryDirectory() as user_dir:
        cdp = _DevToolsPipe(chromium, user_dir, timeout)
        try:
            target = cdp.send('Target.createTarget', url='about:blank')
            session = cdp.send(
                'Target.attachToTarget',
                targetId=target['targetId'],
                flatten=True)['sessionId']
            for domain in ('Page', 'Runtime', 'Log'):
                cdp.send(f'{domain}.enable', session)
            cdp.send(
                'Emulation.setDeviceMetricsOverride',
                session,
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False)
            cdp.send(
                'Page.navigate',
                session,
                url=pathlib.Path(html_path).resolve().as_uri())
            cdp.wait_event('Page.loadEventFired')
            images = cdp.send(
                'Runtime.evaluate',
                session,
                expression=_IMAGES_JS,
                returnByValue=True)['result']['value']
            title = cdp.send(
                'Runtime.evaluate',
                session,
                expression='document.title',
                returnByValue=True)['result']['value']
            shot = cdp.send('Page.captureScreenshot', session, format='png')
            with open(screenshot, 'wb') as f:
                f.write(base64.b64decode(shot['data']))
        finally:
            cdp.close()
    return dict(
        images=images, errors=_console_errors(cdp.events), title=title)


def is_blank_png(path: str) -> bool:
    """True when a screenshot is (almost) one flat colour."""
    from PIL import Image
    img = np.asarray(Image.open(path).convert('RGB'), dtype=np.float32)
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    return colours < 16 or float(img.std()) < 5.0

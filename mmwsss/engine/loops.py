"""The FMA-WSSS training schedule as one mmengine loop.

``python tools/train.py configs/fma/voc_prompts.py`` runs, in one process
group and one work dir:

1. **phase 1** (iterations ``[0, cls_iters)``): the cls prompts learn with
   the MCL loss on ``train_dataloader`` (image-level labels);
2. **coarse seeds**: every training image gets a coarse seed map D_C from the
   cls prompts (Softmax-GradCAM -> CAA -> SAMS, alpha 0.6 on VOC), written
   as PNGs to ``<work_dir>/coarse_seeds`` (atomic, resumable, each rank
   writing its own share). With several ``alphas`` (COCO: 0.3, 0.4, 0.5) the
   seeds of each are scored against the training ground truth and the best
   alpha is kept, as the authors' driver does;
3. **phase 2** (iterations ``[cls_iters, cls_iters + seg_iters)``): the seg
   prompts learn with the CAL loss against D_C, read through
   ``seg_dataloader`` (a :class:`PseudoLabelDataset` over the same images).

``--resume`` restores the iteration from the checkpoint and picks up in the
right phase: phase 1 continues; a run stopped during or after the coarse
seeds skips the seeds already written and goes on with phase 2. A
checkpoint is saved at the end of phase 1 so the seed stage never needs
phase 1 again. On resume the data iterators are not fast-forwarded (that
would decode every skipped batch); the sampling order after a resume
therefore differs from an uninterrupted run, all model/optimizer/scheduler
state is restored exactly.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import (all_reduce, barrier, get_dist_info, is_main_process)
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop, set_random_seed
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmseg.registry import DATASETS, LOOPS
from torch.utils.data import DataLoader

from mmwsss.engine.derived_data import (fill_coarse_dataloader,
                                        fill_seg_dataloader)
from mmwsss.io import (pending_seeds, read_seed_png, seed_path,
                       write_seed_png)
from mmwsss.evaluation.seed_scores import (scores_from_confusion,
                                           seed_confusion)
from mmwsss.utils.progress import Progress

__all__ = ['FMATwoPhaseTrainLoop', 'write_model_seeds']


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


# ---------------------------------------------------------------------------
# The private mmengine 0.10 APIs this module needs, in one place. Each has
# no public equivalent in mmengine 0.10.x; check them when mmengine changes.
# ---------------------------------------------------------------------------
def _infinite_iterator(loader: DataLoader):
    """mmengine's ``_InfiniteDataloaderIterator`` (what IterBasedTrainLoop
    iterates with: restarts the loader and bumps the sampler's epoch)."""
    return _InfiniteDataloaderIterator(loader)


def _diff_rank_seed(runner) -> bool:
    """``randomness.diff_rank_seed`` as the Runner stored it."""
    return runner._randomness_cfg.get('diff_rank_seed', False)


def _save_via_checkpoint_hook(runner, done_iters: int) -> bool:
    """Save through the CheckpointHook (its naming, ``max_keep_ckpts`` and
    ``last_checkpoint``) as the checkpoint of ``done_iters`` completed
    iterations; False when the runner has no such hook.

    The hook's own ``_save_checkpoint`` runs inside ``after_train_iter``,
    before the loop counts the iteration, and so names it ``iter + 1``;
    between the phases the iteration is already counted.
    """
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and not hook.by_epoch:
            hook._save_checkpoint_with_step(
                runner, done_iters,
                dict(epoch=runner.epoch, iter=done_iters))
            return True
    return False


# ---------------------------------------------------------------------------
# write_model_seeds, step by step
# ---------------------------------------------------------------------------
def _pending_images(dataset, dirs: Dict, overwrite: bool):
    """Data infos, the indices with every seed written, the others
    (:func:`~mmwsss.io.pending_seeds`)."""
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    todo = pending_seeds([info['img_path'] for info in infos],
                         list(dirs.values()), overwrite)
    done = sorted(set(range(len(dataset))) - set(todo))
    return infos, done, todo


def _loader_of(runner, dataloader, cfg: Optional[dict], dataset,
               done: Sequence[int], todo: Sequence[int]):
    """The loader over the images still to do (the given one if none is
    done; an empty list if all are)."""
    if cfg is None:
        if done:
            raise ValueError('write_model_seeds: pass a dataloader config '
                             'to skip finished images')
        return dataloader
    if not todo:
        return []  # everything written before: score the files only
    subset = copy.deepcopy(dataset)
    subset.get_subset_(list(todo))
    cfg['dataset'] = subset
    return runner.build_dataloader(cfg, seed=runner.seed)


class _SeedScores:
    """Confusion matrices per alpha, summed over images and ranks."""

    def __init__(self, alphas: Sequence, num_classes: int) -> None:
        self.num_classes = num_classes
        self.conf = {  # (C, C + 1): last column = predictions outside 0..C-1
            a: torch.zeros(num_classes, num_classes + 1, dtype=torch.float64)
            for a in alphas
        }
        self.n_gt = torch.zeros(1, dtype=torch.float64)

    def add(self, alpha, seed: np.ndarray, gt: np.ndarray) -> None:
        self.conf[alpha] += torch.from_numpy(
            seed_confusion(seed, gt, self.num_classes))

    def gather(self, dirs: Dict, task: str) -> Dict[str, dict]:
        """All-reduce; scores per folder (None without GT)."""
        all_reduce(self.n_gt)
        results = {}
        for a, conf in self.conf.items():
            all_reduce(conf)
            scores = (
                scores_from_confusion(conf.numpy())
                if self.n_gt.item() else None)
            results[dirs[a]] = dict(dir=dirs[a], alpha=a, scores=scores)
            if scores is not None:
                print_log(
                    f'{task} seeds in {dirs[a]}: mIoU '
                    f'{scores["mIoU"] * 100:.2f} on {int(self.n_gt.item())} '
                    'images with ground truth',
                    logger='current')
        return results


def _seed_batch(model, seeder, batch, task: str, dirs: Dict, palette,
                scores: _SeedScores, overwrite: bool) -> None:
    """Seeds of one batch for every alpha: written (over what is there with
    ``overwrite``, so the files are the seeds scored), scored against GT."""
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    for (cams, fg), ds in zip(
            model.predict_cams(data['inputs'], samples, task), samples):
        ori = tuple(ds.metainfo['ori_shape'][:2])
        gt = (
            ds.gt_sem_seg.data[0].cpu().numpy()
            if 'gt_sem_seg' in ds else None)
        if gt is not None:
            scores.n_gt += 1
        for a, folder in dirs.items():
            kwargs = {} if a is None else dict(alpha=a)
            seed = seeder(cams, fg, ori, data_sample=ds, **kwargs)
            seed = seed.cpu().numpy().astype(np.uint8)
            write_seed_png(
                seed_path(folder, ds.img_path),
                seed,
                palette,
                overwrite=overwrite)
            if gt is not None:
                scores.add(a, seed, gt)


def _score_written(infos: Sequence[dict], done: Sequence[int], dirs: Dict,
                   scores: _SeedScores) -> None:
    """Seeds written by an earlier run still count (this rank's share)."""
    rank, world = get_dist_info()
    for i in done[rank::world]:
        gt_path = infos[i].get('seg_map_path')
        if not gt_path:
            continue
        gt = read_seed_png(gt_path)
        scores.n_gt += 1
        for a, folder in dirs.items():
            scores.add(a, read_seed_png(seed_path(folder,
                                                  infos[i]['img_path'])), gt)


def write_model_seeds(runner,
                      dataloader: Union[DataLoader, dict],
                      out_dir: str,
                      task: str,
                      alphas: Optional[Sequence[float]] = None,
                      overwrite: bool = False) -> Dict[str, dict]:
    """Write seed PNGs of a prompt model for every image of a dataloader.

    Images whose seed PNG exists are skipped unless ``overwrite``. Each rank
    handles the share its sampler gives it (the derived loaders'
    ``round_up=False``: no image twice); files are written atomically, and
    every rank returns only when all seeds are written.
    With ground truth in the batches the seeds are scored (confusion summed
    over ranks).

    Args:
        runner (Runner): The runner (model, logger, dataloader building).
        dataloader (DataLoader | dict): Batch-size-1 dataloader (config) over
            the images; its pipeline loads GT with ``LoadAnnotations`` when
            the seeds should be scored.
        out_dir (str): Seed folder. With several ``alphas``: one sub-folder
            per alpha (``alpha_<a>``).
        task (str): Prompts to use (``'cls'`` or ``'seg'``).
        alphas (Sequence[float], optional): SAMS alphas to try; default the
            seeder's own.
        overwrite (bool): Recompute seeds that exist.

    Returns:
        dict[str, dict]: Per output folder: ``{'dir', 'alpha', 'scores'}``
        (scores from :func:`scores_from_confusion`, None without GT).
    """
    model = _unwrap(runner.model)
    seeder = model.seed_predictor.seeder(task)
    alphas = list(alphas) if alphas else [getattr(seeder, 'alpha', None)]
    dirs = {
        a: (out_dir if len(alphas) == 1 else osp.join(out_dir, f'alpha_{a}'))
        for a in alphas
    }
    cfg = copy.deepcopy(dataloader) if isinstance(dataloader, dict) else None
    dataset = cfg['dataset'] if cfg is not None else dataloader.dataset
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    infos, done, todo = _pending_images(dataset, dirs, overwrite)
    # every rank lists the pending images before any rank writes one: a
    # rank that listed late would see another's new seeds as done, shard a
    # shorter list and leave images of its share to nobody
    barrier()
    loader = _loader_of(runner, dataloader, cfg, dataset, done, todo)
    scores = _SeedScores(alphas, len(model.dataset_classes))
    print_log(
        f'Writing {task} seeds to {out_dir}: {len(dataset)} images, '
        f'{len(done)} already done' +
        (f', alphas {alphas}' if len(alphas) > 1 else ''),
        logger='current')
    prev_task, model.test_task = model.test_task, task
    model.eval()
    bar = Progress(len(loader), f'{task} seeds (batches)') \
        if get_dist_info()[0] == 0 and len(loader) else None
    with torch.no_grad():
        for batch in loader:
            _seed_batch(model, seeder, batch, task, dirs,
                        dataset.metainfo.get('palette'), scores, overwrite)
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    model.test_task = prev_task
    _score_written(infos, done, dirs, scores)
    barrier()
    return scores.gather(dirs, task)


@LOOPS.register_module()
class FMATwoPhaseTrainLoop(IterBasedTrainLoop):
    """Phase 1 (cls prompts, MCL) -> coarse seeds -> phase 2 (seg prompts,
    CAL), in one run; see the module docstring.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Phase-1 dataloader (image labels).
        cls_iters (int): Phase-1 iterations.
        seg_iters (int): Phase-2 iterations.
        seg_dataloader (dict): Phase-2 dataloader config; its dataset (a
            ``PseudoLabelDataset``) gets ``seed_dir`` = the coarse seed
            folder when it has none, and its inner image dataset is derived
            from ``train_dataloader.dataset`` when None
            (:func:`~mmwsss.engine.derived_data.fill_seg_dataloader`).
        coarse_seeds (dict): ``dataloader`` (batch-size-1 config over the
            training images at full size; None, or a ``dataset`` None,
            derives it from ``train_dataloader.dataset`` with
            :data:`~mmwsss.engine.derived_data.SEED_PIPELINE`),
            ``out_dir`` (default ``<work_dir>/coarse_seeds``),
            ``alphas`` (optional list to choose from by GT mIoU),
            ``overwrite`` (default False).
        val_begin (int): See IterBasedTrainLoop.
        val_interval (int): See IterBasedTrainLoop.
        dynamic_intervals: See IterBasedTrainLoop.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, dict],
                 cls_iters: int,
                 seg_iters: int,
                 seg_dataloader: dict,
                 coarse_seeds: Optional[dict] = None,
                 val_begin: int = 1,
                 val_interval: int = 10**9,
                 dynamic_intervals=None) -> None:
        if cls_iters < 0 or seg_iters < 0:
            raise ValueError('cls_iters and seg_iters must be >= 0')
        train_loader = dataloader if isinstance(dataloader, dict) else None
        self.seg_dataloader_cfg = fill_seg_dataloader(seg_dataloader,
                                                      train_loader)
        self.coarse_cfg = dict(copy.deepcopy(coarse_seeds or {}))
        self.coarse_cfg['dataloader'] = fill_coarse_dataloader(
            self.coarse_cfg.get('dataloader'), train_loader)
        super().__init__(
            runner,
            dataloader,
            max_iters=cls_iters + seg_iters,
            val_begin=val_begin,
            val_interval=val_interval,
            dynamic_intervals=dynamic_intervals)
        self.cls_iters = int(cls_iters)
        self.seg_iters = int(seg_iters)

    @property
    def coarse_dir(self) -> str:
        """Folder of the coarse seeds D_C."""
        return self.coarse_cfg.get('out_dir') or osp.join(
            self.runner.work_dir, 'coarse_seeds')

    def _save_phase_checkpoint(self) -> None:
        """The checkpoint of phase 1, named and recorded as the iterations it
        completed (``iter_<cls_iters>.pth``, ``meta.iter == cls_iters``), so a
        resumed run starts phase 2 at its first iteration."""
        if not _save_via_checkpoint_hook(self.runner, self._iter):
            self.runner.save_checkpoint(
                self.runner.work_dir,
                f'iter_{self._iter}.pth',
                meta=dict(iter=self._iter),
                by_epoch=False)

    def _train_until(self, stop: int) -> None:
        while self._iter < stop and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()

    def _coarse_seed_dir(self) -> str:
        """Make (or reuse) the coarse seeds; return the folder to train on.
        """
        out_dir = self.coarse_dir
        choice_file = osp.join(out_dir, 'selection.json')
        alphas = self.coarse_cfg.get('alphas')
        if alphas and len(alphas) > 1 and osp.isfile(choice_file) and \
                not self.coarse_cfg.get('overwrite', False):
            # every alpha was written and scored before: reuse the choice
            with open(choice_file) as f:
                choice = json.load(f)
            if all(osp.isdir(osp.join(out_dir, f'alpha_{a}')) for a in alphas):
                return choice['dir']
        results = write_model_seeds(
            self.runner,
            self.coarse_cfg['dataloader'],
            out_dir,
            task='cls',
            alphas=alphas,
            overwrite=self.coarse_cfg.get('overwrite', False))
        # as data for whoever ran the loop (mmwsss.apis.stages.train)
        self.coarse_seed_results = dict(folders=results, kept=None)
        if len(results) == 1:
            self.coarse_seed_results['kept'] = next(iter(results.values()))
            return next(iter(results))
        scored = [r for r in results.values() if r['scores'] is not None]
        if not scored:
            raise RuntimeError(
                'train_cfg.coarse_seeds.alphas picks alpha by ground-truth '
                'mIoU, but the coarse-seed dataloader yields no gt_sem_seg '
                '(add LoadAnnotations and GT masks, or give one alpha)')
        best = max(scored, key=lambda r: r['scores']['mIoU'])
        self.coarse_seed_results['kept'] = best
        if is_main_process():
            os.makedirs(out_dir, exist_ok=True)
            tmp = choice_file + '.tmp'
            with open(tmp, 'w') as f:
                json.dump(
                    dict(
                        dir=best['dir'],
                        alpha=best['alpha'],
                        mIoU={
                            str(r['alpha']): r['scores']['mIoU']
                            for r in scored
                        }),
                    f,
                    indent=2)
            os.replace(tmp, choice_file)
        print_log(
            f'Coarse seeds: alpha {best["alpha"]} kept (best GT mIoU '
            f'{best["scores"]["mIoU"] * 100:.2f})',
            logger='current')
        barrier()
        return best['dir']

    def _forget_losses(self) -> None:
        """Drop phase-1 loss histories so phase-2 logs show CAL only."""
        scalars = self.runner.message_hub.log_scalars
        for key in [k for k in scalars if k.startswith('train/loss')]:
            scalars.pop(key)

    def _build_seg_iterator(self, seed_dir: str) -> None:
        # Phase 2 starts from the run's random seed, whether phase 1 ran in
        # this process or was resumed from its checkpoint: the batches and
        # augmentations of a resumed run are those of an uninterrupted one.
        set_random_seed(
            self.runner.seed, diff_rank_seed=_diff_rank_seed(self.runner))
        cfg = copy.deepcopy(self.seg_dataloader_cfg)
        dataset = cfg['dataset']
        if isinstance(dataset, dict) and not dataset.get('seed_dir'):
            dataset['seed_dir'] = seed_dir
        loader = self.runner.build_dataloader(
            cfg,
            seed=self.runner.seed,
            diff_rank_seed=_diff_rank_seed(self.runner))
        self.dataloader = loader
        self.dataloader_iterator = _infinite_iterator(loader)
        self._skip_trained(self._iter - self.cls_iters)

    def _skip_trained(self, steps: int) -> None:
        """On resume, draw the batches the killed run trained on, as
        mmengine's ``IterBasedTrainLoop`` does, so the resumed run trains on
        the batches (and augmentations) of an uninterrupted one."""
        if steps <= 0:
            return
        print_log(
            f'Advance dataloader {steps} steps to skip data that has already '
            'been trained',
            logger='current')
        for _ in range(steps):
            next(self.dataloader_iterator)

    def _check_classes(self, model) -> None:
        """The model's class list must be the training dataset's."""
        mine = getattr(model, 'dataset_classes', None)
        theirs = self.dataloader.dataset.metainfo.get('classes')
        if mine is None or theirs is None:
            return
        if [c.lower() for c in mine] != [c.lower() for c in theirs]:
            raise ValueError(
                f'model classes {list(mine)} differ from '
                f'train_dataloader.dataset classes {list(theirs)}: set '
                'model.classes to the dataset\'s class list')

    def run(self) -> torch.nn.Module:
        """Run phase 1, the coarse seeds and phase 2."""
        model = _unwrap(self.runner.model)
        self._check_classes(model)
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if hasattr(model, 'log_param_count'):
            model.log_param_count()
        if self._iter < self.cls_iters:
            print_log(
                f'Phase 1/2: cls prompts, MCL loss, iterations '
                f'{self._iter}..{self.cls_iters}',
                logger='current')
            model.phase = 'cls'
            self._skip_trained(self._iter)
            self._train_until(self.cls_iters)
            if self.stop_training:
                return self._finish()
            if self.cls_iters > 0:
                self._save_phase_checkpoint()
        if self.seg_iters > 0:
            seed_dir = self._coarse_seed_dir()
            print_log(
                f'Phase 2/2: seg prompts, CAL loss against {seed_dir}, '
                f'iterations {self._iter}..{self._max_iters}',
                logger='current')
            model.phase = 'seg'
            if self._iter == self.cls_iters:  # a resumed phase 2 keeps its
                self._forget_losses()  # restored CAL history
            self._build_seg_iterator(seed_dir)
            self._train_until(self._max_iters)
        return self._finish()

    def _finish(self) -> torch.nn.Module:
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

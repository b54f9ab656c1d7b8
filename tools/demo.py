"""End-to-end FMA-WSSS on the bundled VOC images (``make demo``).

Runs every stage with the repository's own tools and configs, in order, on
``data/voc_mini`` (10 train + 5 val real VOC 2012 images):

1. ``sam_masks``  SAM quasi-superpixels of all 15 images
   (tools/gen_sam_masks.py configs/sams/voc_mini_tiny.py)
2. ``prompts``    prompt learning, phase 1 -> coarse seeds -> phase 2
   (tools/train.py configs/fma/voc_mini_prompts_demo.py)
3. ``seeds``      fine seeds of the training images + seed mIoU
   (tools/test.py configs/fma/voc_mini_seeds_demo.py)
4. ``stage2``     DeepLabV3+ (shrunk) trained on the seeds
   (tools/train.py configs/deeplabv3plus/...voc-mini-pseudo-128x128.py)
5. ``test``       val mIoU of the stage-2 model, plain
6. ``test_sams``  val mIoU with multi-scale + flip + SAMS refinement (--tta)

and prints a final table. Everything goes under ``--work-dir``
(``work_dirs/demo``); ``demo_results.json`` there records finished stages,
so a rerun resumes where the last one stopped (``--force STAGE`` redoes a
stage and the ones after it; the tools themselves skip finished images and
resume training from ``last_checkpoint``).

Weights: without any, tiny RANDOM CLIP and SAM models run (numbers then
only show that the pipeline works). Real models, no code change::

    MMWSSS_CLIP=ViT-B-16 MMWSSS_CLIP_PRETRAINED=/path/ViT-B-16.pt \\
    MMWSSS_SAM_TYPE=vit_h MMWSSS_SAM_CHECKPOINT=/path/sam_vit_h_4b8939.pth \\
    make demo

(``MMWSSS_CLIP_PRETRAINED=openai`` downloads the OpenAI weights when
online.) The same settings are available as ``--clip``, ``--clip-pretrained``,
``--sam-type``, ``--sam-checkpoint``.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGES = ('sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams')
PROMPT_CFG = 'configs/fma/voc_mini_prompts_demo.py'
SEED_CFG = 'configs/fma/voc_mini_seeds_demo.py'
SAM_CFG = 'configs/sams/voc_mini_tiny.py'
STAGE2_CFG = ('configs/deeplabv3plus/'
              'deeplabv3plus_r18-tiny_1xb4-40iter_voc-mini-pseudo-128x128.py')
PROMPT_ITERS = 40  # cls_iters + seg_iters of PROMPT_CFG
STAGE2_ITERS = 40  # max_iters of STAGE2_CFG
MIOU = re.compile(r'mIoU: ([0-9.]+)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='FMA-WSSS end to end on data/voc_mini (resumable).')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument(
        '--force', choices=STAGES, help='redo this stage and every later one')
    p.add_argument(
        '--clip',
        default=os.environ.get('MMWSSS_CLIP'),
        help='open_clip model name (env MMWSSS_CLIP); default: '
        'tiny random CLIP')
    p.add_argument(
        '--clip-pretrained',
        default=os.environ.get('MMWSSS_CLIP_PRETRAINED'),
        help="'openai' or a local checkpoint "
        '(env MMWSSS_CLIP_PRETRAINED)')
    p.add_argument(
        '--sam-type',
        default=os.environ.get('MMWSSS_SAM_TYPE'),
        help='vit_h / vit_l / vit_b (env MMWSSS_SAM_TYPE)')
    p.add_argument(
        '--sam-checkpoint',
        default=os.environ.get('MMWSSS_SAM_CHECKPOINT'),
        help='SAM checkpoint path (env MMWSSS_SAM_CHECKPOINT)')
    p.add_argument('--python', default=sys.executable)
    return p.parse_args(argv)


def weights_banner(args: argparse.Namespace) -> str:
    """Which weights the run uses, loudly when they are random."""
    clip = (f'{args.clip} ({args.clip_pretrained})'
            if args.clip and args.clip_pretrained else None)
    sam = (f'{args.sam_type} ({args.sam_checkpoint})'
           if args.sam_type and args.sam_checkpoint else None)
    lines = [
        f'CLIP: {clip or "mmwsss-tiny-ViT-16 with RANDOM weights"}',
        f'SAM:  {sam or "tiny SAM with RANDOM weights"}',
    ]
    if not (clip and sam):
        lines += [
            '', '!' * 72,
            '!! RANDOM WEIGHTS: every number below only shows that the '
            'stages run.', '!! They say nothing about FMA-WSSS. Set '
            'MMWSSS_CLIP/_PRETRAINED and', '!! MMWSSS_SAM_TYPE/_CHECKPOINT '
            'for real CLIP and SAM (see README).', '!' * 72
        ]
    return '\n'.join(lines)


def clip_options(args: argparse.Namespace) -> List[str]:
    if args.clip and args.clip_pretrained:
        return [
            f'model.clip.model_name={args.clip}',
            f'model.clip.pretrained={args.clip_pretrained}'
        ]
    return []


def sam_options(args: argparse.Namespace) -> List[str]:
    if args.sam_type and args.sam_checkpoint:
        # real SAM: the paper's generator settings (configs/sams/sam_vit_h)
        return [
            f'sam_generator.model_type={args.sam_type}',
            f'sam_generator.checkpoint={args.sam_checkpoint}',
            'sam_generator.points_per_side=32',
            'sam_generator.pred_iou_thresh=0.86',
            'sam_generator.stability_score_thresh=0.92',
            'sam_generator.stability_score_offset=1.0',
        ]
    return []


class Demo:
    """Runs the stages as subprocesses and records what they produced."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = osp.abspath(args.work_dir)
        self.masks = osp.join(self.work, 'sam_masks')
        self.seeds = osp.join(self.work, 'seeds')
        self.results_file = osp.join(self.work, 'demo_results.json')
        os.makedirs(self.work, exist_ok=True)
        self.results: Dict[str, dict] = {}
        if osp.isfile(self.results_file):
            with open(self.results_file) as f:
                self.results = json.load(f)
        if args.force:
            for s in STAGES[STAGES.index(args.force):]:
                self.results.pop(s, None)

    def save(self) -> None:
        tmp = self.results_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.results, f, indent=2)
        os.replace(tmp, self.results_file)

    def tool(self, name: str, log: str, *argv: str) -> str:
        """Run tools/<name> with live output to a log; return the output."""
        cmd = [self.args.python, osp.join(REPO, 'tools', name), *argv]
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        env.setdefault('OMP_NUM_THREADS', '1')
        log_path = osp.join(self.work, 'logs', log)
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        print(
            '  $ ' + ' '.join([
                osp.relpath(c, REPO) if c.startswith(REPO) else c
                for c in cmd[1:]
            ]),
            flush=True)
        out = []
        with open(log_path, 'w') as f, subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True) as proc:
            for line in proc.stdout:
                f.write(line)
                out.append(line)
                if self.worth_showing(line):
                    print('    ' + line.rstrip()[-150:], flush=True)
            proc.wait()
        if proc.returncode != 0:
            sys.stdout.write(''.join(out[-40:]))
            raise SystemExit(f'stage failed ({name}, exit code '
                             f'{proc.returncode}); full log: {log_path}')
        return ''.join(out)

    @staticmethod
    def worth_showing(line: str) -> bool:
        """Progress lines of the tools (the full output is in the log)."""
        if line.lstrip().startswith(("'", '"')):  # config dump
            return False
        return any(
            k in line
            for k in ('Iter(', 'Phase', 'seeds in', 'Seed scores over',
                      'SAM masks in', 'RANDOM', 'PseudoLabelDataset:'))

    @staticmethod
    def last_miou(text: str) -> float:
        found = MIOU.findall(text)
        if not found:
            raise SystemExit('no mIoU in the tool output')
        return float(found[-1])

    # ------------------------------------------------------------ stages
    def sam_masks(self) -> dict:
        self.tool('gen_sam_masks.py', 'sam_masks.log', SAM_CFG, '--work-dir',
                  osp.join(self.work, 'sam_masks_log'), '--cfg-options',
                  f'mask_dir={self.masks}', *sam_options(self.args))
        n = len([f for f in os.listdir(self.masks) if f.endswith('.npz')])
        return dict(images=n)

    def prompts(self) -> dict:
        wd = osp.join(self.work, 'prompts')
        resume = ['--resume'] if osp.isfile(osp.join(
            wd, 'last_checkpoint')) else []
        text = self.tool('train.py', 'prompts.log', PROMPT_CFG, '--work-dir',
                         wd, *resume, '--cfg-options',
                         f'model.seeder.cls.mask_dir={self.masks}',
                         f'model.seeder.seg.mask_dir={self.masks}',
                         *clip_options(self.args))
        coarse = re.findall(r'cls seeds in .*: mIoU ([0-9.]+)', text)
        return dict(
            checkpoint=osp.join(wd, f'iter_{PROMPT_ITERS}.pth'),
            coarse_seed_mIoU=float(coarse[-1]) if coarse else None)

    def seeds_stage(self) -> dict:
        ckpt = self.results['prompts']['checkpoint']
        text = self.tool(
            'test.py', 'seeds.log', SEED_CFG, ckpt, '--work-dir',
            osp.join(self.work, 'seeds_log'), '--cfg-options',
            f'model.seeder.seg.mask_dir={self.masks}',
            f'model.reuse_seeds_from={self.seeds}',
            f'test_evaluator.seed_dir={self.seeds}',
            f'test_evaluator.out_dir={self.work}',
            f'test_evaluator.overlay_dir={osp.join(self.work, "overlays")}',
            *clip_options(self.args))
        return dict(seed_mIoU=self.last_miou(text), seed_dir=self.seeds)

    def stage2(self) -> dict:
        wd = osp.join(self.work, 'stage2')
        resume = ['--resume'] if osp.isfile(osp.join(
            wd, 'last_checkpoint')) else []
        self.tool('train.py', 'stage2.log', STAGE2_CFG, '--work-dir', wd,
                  *resume, '--cfg-options',
                  f'train_dataloader.dataset.seed_dir={self.seeds}')
        return dict(checkpoint=osp.join(wd, f'iter_{STAGE2_ITERS}.pth'))

    def test(self) -> dict:
        text = self.tool('test.py', 'test.log', STAGE2_CFG,
                         self.results['stage2']['checkpoint'], '--work-dir',
                         osp.join(self.work, 'stage2'))
        return dict(val_mIoU=self.last_miou(text))

    def test_sams(self) -> dict:
        text = self.tool('test.py', 'test_sams.log', STAGE2_CFG,
                         self.results['stage2']['checkpoint'], '--tta',
                         '--work-dir', osp.join(self.work, 'stage2'),
                         '--cfg-options', f'tta_model.mask_dir={self.masks}')
        return dict(val_mIoU=self.last_miou(text))

    def run(self) -> None:
        print(weights_banner(self.args), flush=True)
        funcs = dict(
            sam_masks=self.sam_masks,
            prompts=self.prompts,
            seeds=self.seeds_stage,
            stage2=self.stage2,
            test=self.test,
            test_sams=self.test_sams)
        for i, stage in enumerate(STAGES, 1):
            if stage in self.results:
                print(
                    f'\n[{i}/{len(STAGES)}] {stage}: done before '
                    f'({self.results[stage]["seconds"]:.1f} s), skipped',
                    flush=True)
                continue
            print(f'\n[{i}/{len(STAGES)}] {stage}', flush=True)
            t0 = time.time()
            res = funcs[stage]()
            res['seconds'] = round(time.time() - t0, 1)
            self.results[stage] = res
            self.save()
        print('\n' + self.table(), flush=True)
        print('\n' + weights_banner(self.args).split('\n\n')[0])

    def table(self) -> str:
        r = self.results

        def fmt(x):
            return '-' if x is None else f'{x:.2f}'

        rows = [
            ('SAM quasi-superpixels', f'{r["sam_masks"]["images"]} images',
             r['sam_masks']['seconds']),
            ('prompt learning (2 phases)',
             'coarse seed mIoU ' + fmt(r['prompts'].get('coarse_seed_mIoU')),
             r['prompts']['seconds']),
            ('fine seeds (train)', f'seed mIoU {fmt(r["seeds"]["seed_mIoU"])}',
             r['seeds']['seconds']),
            ('stage 2: DeepLabV3+ (tiny)', f'{STAGE2_ITERS} iterations',
             r['stage2']['seconds']),
            ('test (val)', f'mIoU {fmt(r["test"]["val_mIoU"])}',
             r['test']['seconds']),
            ('test + SAMS TTA (val)',
             f'mIoU {fmt(r["test_sams"]["val_mIoU"])}',
             r['test_sams']['seconds']),
        ]
        w = max(len(a) for a, _, _ in rows)
        v = max(len(b) for _, b, _ in rows)
        lines = [
            f'| {"stage":<{w}} | {"result":<{v}} | wall s |',
            f'|{"-" * (w + 2)}|{"-" * (v + 2)}|--------|'
        ]
        lines += [f'| {a:<{w}} | {b:<{v}} | {c:6.1f} |' for a, b, c in rows]
        total = sum(x[2] for x in rows)
        lines.append(f'| {"total":<{w}} | {"":<{v}} | {total:6.1f} |')
        return 'FMA-WSSS demo on data/voc_mini\n' + '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    Demo(parse_args(argv)).run()


if __name__ == '__main__':
    main()

# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/convert_weclip_checkpoint.py SRC DST``: an authors'
WeCLIP / WeCLIP+ checkpoint (``wetr_iter_<n>.pth``, their module's
``state_dict()``) -> an mmengine checkpoint of
:class:`mmwsss.models.weclip.WeCLIP` holding the trained heads and decoder
(:func:`mmwsss.models.weclip.convert_weclip_state_dict`; the frozen CLIP
and DINOv2 come from their own files, as the config names them).

Then: ``python tools/test.py CONFIG DST``.
"""
import argparse
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help="the authors' .pth")
    parser.add_argument('dst', help='the converted checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Convert; print what was kept. Returns the exit code."""
    args = parse_args(argv)
    import torch

    from mmwsss.models.weclip.checkpoint import convert_weclip_state_dict
    if not osp.isfile(args.src):
        print(f'error: {args.src}: no such file', file=sys.stderr)
        return 2
    try:
        state = convert_weclip_state_dict(
            torch.load(args.src, map_location='cpu'))
    except ValueError as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 2
    if osp.dirname(args.dst):
        import os
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(dict(state_dict=state, meta=dict(converted_from=args.src)),
               args.dst)
    dino = any(k.startswith('dino_decoder_fts_fuse.') for k in state)
    print(f'{args.dst}: {len(state)} tensors of '
          f'{"WeCLIP+" if dino else "WeCLIP"} (heads and decoder)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Make ``tests/data/seed_reference.npz``: the seed-ready maps of one small
real image, computed ONCE from the formulas of the authors' code, not from
mmwsss's CAM path (``tests/models/test_seed_reference.py`` compares
``FMAPromptModel.predict`` with it).

Regenerate (only when the tiny CLIP, its random init or the prompt
learners change on purpose; say why in the commit):

    python tests/data/make_seed_reference.py

What is formula-level here and what is shared with the code under test:

- shared inputs: the tiny random CLIP (``mmwsss-tiny-ViT-16``, torch seed
  0) and its seg prompts, i.e. ``FrozenCLIP.encode_image`` (tokens entering
  the last block = the GradCAM target, and the pooled embedding) and the
  prompt learner + ``encode_text``;
- written out below: the CAM input (crop of the JPEG, PIL bicubic to the
  sides rounded UP to multiples of 16, ``ToTensor`` + ``Normalize`` with
  CLIP's mean/std), the logits (scaled cosine), AlchemyCat's masked softmax
  (max over ALL logits, mask = present fg + every bg prompt, eps 1e-5),
  GradCAM with one ``autograd.grad`` per class (weights = mean gradient of
  the patch tokens, CAM = activations @ weights), then ReLU, bilinear
  resize to the image size (``align_corners=False``) and min-max per class
  (eps 1e-7). No CAA (the model under test is built with ``caa`` None).
"""
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
REFERENCE = osp.join(HERE, 'seed_reference.npz')

# tests/ holds the shared builders (_helpers.py; tests/conftest.py adds it
# under pytest, this adds it when run as a script).
if osp.dirname(HERE) not in sys.path:
    sys.path.append(osp.dirname(HERE))
from _helpers import tiny_prompt_model_cfg  # noqa: E402

IMAGE = '2007_000032'  # data/voc_mini, 500 x 281, aeroplane + person
CROP = (120, 147, 180, 215)  # rows 120:147, cols 180:215 -> 27 x 35
LABELS = (1, 15)  # 1-based VOC ids of the crop's image-level labels
PATCH = 16
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

#: The model whose seed-ready maps the reference describes (test_task seg).
MODEL_CFG = tiny_prompt_model_cfg(
    caa=dict(cls=None, seg=None),
    seeder=dict(seg=dict(type='ThresholdSeeder', bg_threshold=0.5)))


def build_model():
    """The tiny random FMAPromptModel of the reference (torch seed 0)."""
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(MODEL_CFG)
    model.eval()
    return model


def crop_rgb() -> np.ndarray:
    """(27, 35, 3) uint8 RGB crop of the bundled JPEG."""
    path = osp.join(REPO, 'data', 'voc_mini', 'JPEGImages', IMAGE + '.jpg')
    r0, r1, c0, c1 = CROP
    return np.array(Image.open(path).convert('RGB'))[r0:r1, c0:c1].copy()


def reference_maps(model) -> np.ndarray:
    """(len(LABELS), H, W) float32 seed-ready maps from the formulas."""
    rgb = crop_rgb()
    h, w = rgb.shape[:2]
    H = -(-h // PATCH) * PATCH
    W = -(-w // PATCH) * PATCH
    resized = np.array(Image.fromarray(rgb).resize((W, H), Image.BICUBIC))
    x = torch.from_numpy(resized).permute(2, 0, 1).float() / 255
    x = (x - torch.tensor(CLIP_MEAN).view(
        3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1)
    clip = model.clip
    with torch.no_grad():
        embeds, eot = model.seg_prompt()
        text = F.normalize(clip.encode_text(embeds, eot), dim=-1)
    with torch.enable_grad():
        out = clip.encode_image(x[None], target_grad=True, attn_layers=0)
        img = F.normalize(out.embedding, dim=-1)
        logits = clip.logit_scale * img @ text.t()  # (1, K)
        mask = torch.ones_like(logits)
        mask[0, :model.num_fg] = 0
        for c in LABELS:
            mask[0, c - 1] = 1
        e = torch.exp(logits - logits.max()) * mask
        p = e / (e.sum() + 1e-5)
        maps = []
        gh, gw = out.grid
        for c in LABELS:
            g, = torch.autograd.grad(
                p[0, c - 1], out.target, retain_graph=True)
            weights = g[0, 1:].mean(dim=0)
            cam = (out.target[0, 1:].detach() @ weights).view(gh, gw)
            cam = F.interpolate(
                cam.clamp(min=0)[None, None],
                size=(h, w),
                mode='bilinear',
                align_corners=False)[0, 0]
            lo, hi = cam.min(), cam.max()
            maps.append((cam - lo) / (hi - lo + 1e-7))
    return torch.stack(maps).numpy().astype(np.float32)


def main() -> None:
    maps = reference_maps(build_model())
    np.savez_compressed(
        REFERENCE,
        maps=maps,
        labels=np.asarray(LABELS),
        crop=np.asarray(CROP),
        image=np.asarray(IMAGE))
    print(f'wrote {REFERENCE}: maps {maps.shape}, '
          f'{osp.getsize(REFERENCE)} bytes')


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()

# SAM ViT-B (faster, lower quality) with the paper's generation settings.
# Weights: https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth
_base_ = ['./sam_vit_h.py']

sam_generator = dict(
    model_type='vit_b', checkpoint='checkpoints/sam_vit_b_01ec64.pth')
